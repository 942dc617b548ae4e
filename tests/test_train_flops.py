"""``convcalc train``: predicted FLOPs per step and achieved FLOP/s per epoch (issue 12, point 4).

Tiny runs (a few steps of LeNet on a slice of the MNIST test set).  The truth
for the per-step figure is a hand count (MACs, below) and, for the 'flops'
convention the trainer reports, ``training_cost`` called here on a model the
test builds itself; the per-epoch sums are checked against the batch sizes the
loader really yields (hand-worked: 80 images at batch 32 -> 32, 32, 16).
"""

from __future__ import annotations

import json
import math

import pytest

from convcalc.cli import main
from convcalc.train import models
from convcalc.train.data import load_book_splits
from convcalc.train.runner import FLOPS_CONVENTION, StepCost, TrainConfig, TrainResult, predict_step_cost, train

# The book's LeNet on one 1x32x32 image, multiply-accumulates counted by hand (docs/training-cost.md):
#   conv1  6 out x 28x28 x (1 in x 5x5)   = 117,600   no input gradient (the image needs none)
#   conv3 16 out x 10x10 x (6 in x 5x5)   = 240,000
#   conv5 120 out x 1x1 x (16 in x 5x5)   =  48,000
#   linear6 120 x 84 = 10,080; linear7 84 x 10 = 840
LENET_FORWARD_MACS = 117_600 + 240_000 + 48_000 + 10_080 + 840
LENET_INPUT_GRAD_MACS = 240_000 + 48_000 + 10_080 + 840
LENET_WEIGHT_GRAD_MACS = LENET_FORWARD_MACS  # every weight: one MAC per product of the forward


@pytest.fixture(scope="module")
def splits(mnist_dir):
    return load_book_splits(mnist_dir)


@pytest.fixture(scope="module")
def run(splits):
    # 80 training images at batch 32: steps of 32, 32 and 16 images per epoch
    config = TrainConfig(
        model="lenet", epochs=2, batch_size=32, eval_steps=2, train_limit=80, dev_limit=32, test_limit=32
    )
    return train(config, splits).result


def _flops_of_step(batch: int) -> int:
    from convcalc.analysis.training import training_cost

    model = models.build(models.resolve("book_lenet"))
    return int(training_cost(model, [batch, 1, 32, 32], convention=FLOPS_CONVENTION).totals.step)


def test_predicted_step_matches_the_hand_count_in_macs():
    cost = predict_step_cost(models.resolve("lenet"), [3], convention="macs")[3]
    assert (cost.forward, cost.backward_input, cost.backward_weight) == (
        3 * LENET_FORWARD_MACS,
        3 * LENET_INPUT_GRAD_MACS,
        3 * LENET_WEIGHT_GRAD_MACS,
    )
    assert cost.step == 3 * (LENET_FORWARD_MACS + LENET_INPUT_GRAD_MACS + LENET_WEIGHT_GRAD_MACS)


def test_run_records_the_full_batch_step_in_the_flops_convention(run):
    cost = run.step_cost
    assert cost.batch == 32 and cost.convention == "flops"
    assert cost.step == _flops_of_step(32)
    assert cost.step == cost.forward + cost.backward_input + cost.backward_weight


def test_epoch_flops_follow_the_batches_the_loader_yields(run):
    assert run.steps == 6 and run.steps_per_epoch == 3
    per_epoch = 2 * _flops_of_step(32) + _flops_of_step(16)
    assert run.epoch_flops == (per_epoch, per_epoch)
    assert len(run.epoch_seconds) == 2 and all(s > 0 for s in run.epoch_seconds)
    assert sum(run.epoch_seconds) <= run.seconds  # training steps only; dev evaluations are timed apart
    assert run.achieved_flops_per_second == tuple(f / s for f, s in zip(run.epoch_flops, run.epoch_seconds))


def test_max_steps_stops_the_count_mid_epoch(splits):
    config = TrainConfig(
        model="lenet", epochs=3, batch_size=32, max_steps=4, train_limit=80, dev_limit=16, test_limit=16
    )
    r = train(config, splits).result
    assert r.steps == 4
    assert r.epoch_flops == (2 * _flops_of_step(32) + _flops_of_step(16), _flops_of_step(32))


def test_json_round_trip_and_old_files(run):
    data = json.loads(json.dumps(run.to_dict()))
    assert data["step_cost"]["step"] == run.step_cost.step
    assert data["achieved_flops_per_second"] == pytest.approx(list(run.achieved_flops_per_second))
    assert TrainResult.from_dict(data) == run
    for key in ("step_cost", "epoch_seconds", "epoch_flops", "achieved_flops_per_second"):
        data.pop(key)  # a summary saved before these existed still loads
    old = TrainResult.from_dict(data)
    assert old.step_cost is None and old.achieved_flops_per_second == ()


def test_step_cost_sums_its_parts():
    c = StepCost(batch=2, forward=5, backward_input=7, backward_weight=11)
    assert c.step == 23 and c.convention == "flops"


def test_cli_prints_predicted_and_achieved(capsys, mnist_dir, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps at the terminal's width; keep each phrase on one line
    argv = ["train", "lenet", "--data-dir", str(mnist_dir), "--limit", "40", "--epochs", "2", "--batch-size", "16"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    full = _flops_of_step(16)
    assert f"{full:,}" in out and "predicted FLOPs per step" in out and "achieved per epoch" in out
    assert "FLOP/s" in out and "'flops' convention" in out
    # the progress log says it before training and after each epoch
    assert f"predicted per step: {full:,}" in err
    assert "epoch 1:" in err and "epoch 2:" in err and "FLOP/s achieved" in err

    assert main([*argv, "--json", "--quiet"]) == 0
    out, _ = capsys.readouterr()
    summary = json.loads(out)
    assert summary["step_cost"]["step"] == full and summary["step_cost"]["convention"] == "flops"
    epoch = 2 * full + _flops_of_step(8)  # 40 images: 16, 16, 8
    assert summary["epoch_flops"] == [epoch, epoch]
    rates = summary["achieved_flops_per_second"]
    assert len(rates) == 2 and all(math.isfinite(v) and v > 0 for v in rates)
    assert rates == pytest.approx([epoch / s for s in summary["epoch_seconds"]])


def test_time_training_steps_runs_real_steps_on_the_cpu():
    import paddle

    from convcalc.errors import InvalidParameterError
    from convcalc.train.measure import time_training_steps

    model = models.build(models.resolve("book_paddle_lenet"))
    before = [p.numpy().copy() for p in model.parameters()]
    timing = time_training_steps(model, (4, 1, 32, 32), steps=2, warmup=1, lr=0.1)
    assert timing.batch == 4 and len(timing.seconds) == 2 and timing.median > 0
    assert timing.device == paddle.get_device()
    if not timing.device.startswith("gpu"):
        assert timing.peak_bytes is None
    after = [p.numpy() for p in model.parameters()]
    assert all((a != b).any() for a, b in zip(after, before, strict=True))  # 3 SGD steps moved every parameter
    with pytest.raises(InvalidParameterError):
        time_training_steps(model, (4, 1, 32, 32), steps=0)
