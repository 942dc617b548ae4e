"""The trainer, reproduce and edges (book §5.1.7, 5.3-5.4)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from convcalc.cli import main
from convcalc.errors import InvalidParameterError, UnknownNameError
from convcalc.train import experiments as E
from convcalc.train.data import BookMNIST, load_book_splits
from convcalc.train.runner import TrainConfig, evaluate, load_model, make_loader, train

SMALL = dict(train_limit=96, dev_limit=64, test_limit=64, batch_size=32, eval_steps=2)


@pytest.fixture(scope="module")
def splits(mnist_dir):
    return load_book_splits(mnist_dir)


@pytest.fixture(scope="module")
def small_run(splits, tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("ckpt") / "best.pdparams"
    config = TrainConfig(model="lenet", epochs=3, checkpoint=str(ckpt), **SMALL)
    return train(config, splits)


# --- end to end ---


def test_end_to_end_trains_evaluates_and_checkpoints(small_run):
    r = small_run.result
    assert r.model == "book_lenet" and r.learning_rate == 0.1  # the book's rate (5.3.3)
    assert r.sizes == (96, 64, 64)
    assert r.steps == 9 and r.steps_per_epoch == 3  # ceil(96 / 32) per epoch
    assert len(r.train_losses) == 9 and len(r.epoch_losses) == 3
    assert all(math.isfinite(v) for v in r.train_losses)
    assert [p.step for p in r.dev] == [2, 4, 6, 8]  # every 2 steps, and the last (8)
    assert r.best_dev_accuracy == max(p.accuracy for p in r.dev)
    first_best = next(p for p in r.dev if p.accuracy == r.best_dev_accuracy)
    assert r.best_step == first_best.step  # ties keep the earlier model, as RunnerV3
    assert 0.0 <= r.test_accuracy <= 1.0 and r.test_loss > 0
    assert r.checkpoint and r.notes  # offline split said so


def test_checkpoint_reloads_to_the_same_test_score(small_run, splits):
    r = small_run.result
    model = load_model(r.checkpoint, "book_lenet")
    loader = make_loader(BookMNIST(splits.test, limit=64), batch_size=32)
    acc, loss = evaluate(model, loader)
    assert acc == r.test_accuracy
    assert loss == pytest.approx(r.test_loss, rel=1e-6)
    # the returned in-memory model is the best one too
    acc2, _ = evaluate(small_run.model, loader)
    assert acc2 == r.test_accuracy


def test_no_half_written_files_next_to_the_checkpoint(small_run):
    from pathlib import Path

    folder = Path(small_run.result.checkpoint).parent
    assert sorted(p.name for p in folder.iterdir()) == ["best.pdparams"]


def test_same_seed_same_numbers(splits):
    config = TrainConfig(model="book_lenet", epochs=2, seed=7, **SMALL)
    a, b = train(config, splits).result, train(config, splits).result
    assert a.train_losses == b.train_losses
    assert a.dev == b.dev
    assert (a.test_accuracy, a.test_loss) == (b.test_accuracy, b.test_loss)
    c = train(TrainConfig(model="book_lenet", epochs=2, seed=8, **SMALL), splits).result
    assert c.train_losses != a.train_losses


def test_book_evaluation_schedule(splits):
    # 80 steps, eval every 15 -> the book's log evaluates at 15, 30, 45, 60, 75 and 79 (5.3.3)
    config = TrainConfig(model="book_paddle_lenet", epochs=5, batch_size=5, train_limit=80, dev_limit=10, test_limit=10)
    r = train(config, splits).result
    assert r.steps == 80
    assert [p.step for p in r.dev] == [15, 30, 45, 60, 75, 79]


def test_other_optimizers_run(splits):
    for opt in ("adam", "momentum"):
        r = train(TrainConfig(model="lenet", optimizer=opt, lr=0.001, epochs=1, **SMALL), splits).result
        assert math.isfinite(r.test_loss)


# --- configuration checks ---


def test_book_learning_rates():
    assert TrainConfig(model="lenet").learning_rate == 0.1
    assert TrainConfig(model="resnet18").learning_rate == 0.01
    assert TrainConfig(model="resnet18", no_residual=True).learning_rate == 0.005
    assert TrainConfig(model="book_resnet18_plain").spec.name == "book_resnet18_plain"
    assert TrainConfig(model="lenet", lr=0.3).learning_rate == 0.3


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"epochs": -1}, InvalidParameterError),
        ({"epochs": 0}, InvalidParameterError),
        ({"lr": -0.1}, InvalidParameterError),
        ({"lr": float("nan")}, InvalidParameterError),
        ({"batch_size": 0}, InvalidParameterError),
        ({"model": "alexnet"}, UnknownNameError),
        ({"optimizer": "rmsprop"}, UnknownNameError),
        ({"model": "lenet", "no_residual": True}, InvalidParameterError),
    ],
)
def test_bad_config(kwargs, error):
    with pytest.raises(error):
        TrainConfig(**kwargs)


# --- the CLI: bad input -> one line, exit 2, nothing written ---


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "lenet", "--data-dir", "{tmp}/missing"], "no MNIST data folder"),
        (["train", "lenet", "--data-dir", "{tmp}/corrupt"], "magic"),
        (["train", "nosuchnet", "--data-dir", "{mnist}"], "unknown trainable model"),
        (["train", "lenet", "--epochs", "-1", "--data-dir", "{mnist}"], "epochs"),
        (["train", "lenet", "--lr", "-0.5", "--data-dir", "{mnist}"], "learning rate"),
        (
            ["train", "lenet", "--checkpoint", "{tmp}/no/such/dir/best.pdparams", "--data-dir", "{mnist}"],
            "does not exist",
        ),
        (["train", "lenet", "--checkpoint", "{tmp}", "--data-dir", "{mnist}"], "is a folder"),
        (["train", "resnet18", "--naive", "--data-dir", "{mnist}"], "--naive"),
        (["reproduce", "--seeds", "0", "--data-dir", "{mnist}"], "--seeds"),
        (["edges", "{tmp}/missing.png", "--out", "{tmp}/e.png"], "no image"),
    ],
    ids=[
        "missing-folder",
        "corrupt-idx",
        "unknown-model",
        "negative-epochs",
        "negative-lr",
        "checkpoint-folder-missing",
        "checkpoint-is-folder",
        "naive-resnet",
        "zero-seeds",
        "missing-image",
    ],
)
def test_cli_bad_input(capsys, tmp_path, mnist_dir, argv, needle):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(12))
    (corrupt / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(4))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    argv = [a.format(tmp=tmp_path, mnist=mnist_dir) for a in argv]
    code, out, err = _run(capsys, argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"convcalc {argv[0]}: error:") and needle in lines[0]
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing half-written


def test_cli_train_json_and_plot(capsys, tmp_path, mnist_dir):
    plot, ckpt = tmp_path / "curves.png", tmp_path / "best.pdparams"
    code, out, err = _run(
        capsys,
        [
            "train",
            "book_paddle_lenet",
            "--data-dir",
            str(mnist_dir),
            "--limit",
            "64",
            "--epochs",
            "2",
            "--eval-steps",
            "1",
            "--batch-size",
            "32",
            "--json",
            "--quiet",
            "--plot",
            str(plot),
            "--checkpoint",
            str(ckpt),
        ],
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["model"] == "book_paddle_lenet" and summary["sizes"] == [64, 64, 64]
    assert [p["step"] for p in summary["dev"]] == [1, 2, 3]
    assert summary["notes"] and "offline" in summary["notes"][0]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pdparams", "curves.png"]


def test_cli_train_table_mentions_the_offline_split(capsys, mnist_dir):
    code, out, err = _run(
        capsys, ["train", "lenet", "--data-dir", str(mnist_dir), "--limit", "32", "--epochs", "1", "--batch-size", "16"]
    )
    assert code == 0
    assert "offline split" in err  # said before training starts
    assert "test accuracy" in out and "test 32 = t10k[0:32]" in out  # --limit 32
    assert "offline split" in out


def test_piped_train_output_cuts_no_line(splits, mnist_dir):
    """Piped (a log file, CI), every note and log line is one line, and the result comes as `what: value` lines
    (issue 22, finding 6d: rich's default 80 columns cut them mid-sentence)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-m", "convcalc", "train", "book_lenet", "--data-dir", str(mnist_dir),
                           "--limit", "64", "--max-steps", "2", "--batch-size", "32"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    err, out = proc.stderr.splitlines(), proc.stdout.splitlines()
    assert splits.notes  # the offline split's note is long (over 200 characters)
    for note in splits.notes:
        assert f"note: {note}" in err and f"note: {note}" in out
    assert any(line.startswith("predicted per step: ") and line.endswith("every multiply and add counted")
               for line in err)
    assert out[0] == "convcalc train book_lenet" and any(line.startswith("test accuracy / loss: ") for line in out)
    assert not any(ch in proc.stdout for ch in "│┃")  # no table squeezed into a pipe


def test_naive_lenet_starts_from_the_same_weights():
    import paddle

    from convcalc.train import models
    from convcalc.train.runner import seed_everything

    spec = models.resolve("book_lenet")
    seed_everything(3)
    fast = models.build(spec)
    seed_everything(3)
    slow = models.build(spec, naive=True)
    assert type(fast.conv1).__name__ == "VectorizedConv2D"
    assert type(slow.conv1).__name__ == "Conv2D"
    for (k, a), (k2, b) in zip(fast.state_dict().items(), slow.state_dict().items(), strict=True):
        assert k == k2 and np.array_equal(a.numpy(), b.numpy())
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((1, 1, 32, 32)), "float32")
    with paddle.no_grad():
        assert np.allclose(fast(x).numpy(), slow(x).numpy(), atol=1e-5)


@pytest.mark.slow
def test_naive_and_vectorised_lenet_agree(capsys, mnist_dir):
    argv = [
        "train",
        "book_lenet",
        "--data-dir",
        str(mnist_dir),
        "--limit",
        "4",
        "--batch-size",
        "4",
        "--max-steps",
        "1",
        "--json",
        "--quiet",
    ]
    code, fast, _ = _run(capsys, argv)
    assert code == 0
    code, slow, _ = _run(capsys, [*argv, "--naive"])
    assert code == 0
    fast, slow = json.loads(fast), json.loads(slow)
    assert slow["config"]["naive"] and not fast["config"]["naive"]
    assert slow["train_losses"] == pytest.approx(fast["train_losses"], rel=1e-5)
    assert slow["test_loss"] == pytest.approx(fast["test_loss"], rel=1e-4)
    assert slow["test_accuracy"] == fast["test_accuracy"]


# --- reproduce: the verdict and the table (a real run is slow) ---


def _fake(model, seed, acc, loss=0.5):
    config = TrainConfig(model=model, seed=seed)
    from convcalc.train.runner import TrainResult

    return TrainResult(
        model,
        config,
        config.learning_rate,
        "data",
        (),
        (1, 1, 1),
        1,
        1,
        (1.0,),
        (1.0,),
        (),
        0,
        0.5,
        acc,
        loss,
        1.0,
        1.0,
    )


def test_reproduce_verdict_is_by_mean():
    runs = [
        _fake("book_lenet", 100, 0.86),
        _fake("book_lenet", 101, 0.80),
        _fake("book_resnet18_plain", 100, 0.84),
        _fake("book_resnet18_plain", 101, 0.78),
        _fake("book_resnet18", 100, 0.88),
        _fake("book_resnet18", 101, 0.90),
    ]
    rep = E.summarize(runs, 5, "data")
    assert rep.conclusion_holds  # 0.89 > 0.83 > 0.81
    lenet = rep.rows[0]
    assert lenet.mean_accuracy == pytest.approx(0.83)
    assert lenet.std_accuracy == pytest.approx(np.std([0.86, 0.80], ddof=1))
    assert (lenet.min_accuracy, lenet.max_accuracy) == (0.80, 0.86)
    runs[4] = _fake("book_resnet18", 100, 0.70)
    assert not E.summarize(runs, 5, "data").conclusion_holds


def test_reproduce_table_has_the_books_numbers():
    from rich.console import Console

    from convcalc.render.training import reproduction_markdown, reproduction_table

    runs = [_fake(e.model, 100, 0.9) for e in E.BOOK_EXPERIMENTS]
    rep = E.summarize(runs, 5, "data")
    console = Console(width=200, record=True)
    console.print(reproduction_table(rep))
    text = console.export_text()
    markdown = reproduction_markdown(rep)
    for acc, loss in (("0.8600", "0.4435"), ("0.8300", "0.5282"), ("0.8950", "0.4043")):  # 5.3.4-5.4.3.2
        assert acc in text and loss in text
        assert f"| {acc} |" in markdown and f"| {loss} |" in markdown
    assert "does NOT hold" in text


def test_seed_list():
    assert E.seed_list(3) == (100, 101, 102)
    assert E.seed_list([5, 9]) == (5, 9)


@pytest.mark.slow
def test_cli_reproduce_one_seed(capsys, mnist_dir):
    code, out, err = _run(
        capsys, ["reproduce", "--seeds", "1", "--epochs", "1", "--json", "--quiet", "--data-dir", str(mnist_dir)]
    )
    assert code in (0, 1)
    rep = json.loads(out)
    assert [r["model"] for r in rep["rows"]] == [e.model for e in E.BOOK_EXPERIMENTS]
    assert rep["conclusion_holds"] == (code == 0)


# --- edges (5.1.7) ---


def test_laplacian_of_a_single_bright_pixel():
    from convcalc.train.edges import LAPLACIAN_8, detect_edges

    image = np.zeros((5, 5), np.float32)
    image[2, 2] = 1.0
    out = detect_edges(image).output
    assert out.shape == (3, 3)  # (5 - 3) / 1 + 1 (5.6)
    assert np.array_equal(out, LAPLACIAN_8[::-1, ::-1])  # 8 at the centre, -1 around
    flat = detect_edges(np.full((6, 6), 200.0, np.float32)).output
    assert np.array_equal(flat, np.zeros((4, 4)))  # the kernel sums to 0


def test_naive_and_vectorised_edges_agree():
    from convcalc.train.edges import detect_edges, synthetic_image

    image = synthetic_image(24)
    fast, slow = detect_edges(image), detect_edges(image, naive=True)
    assert np.allclose(fast.output, slow.output)


def test_cli_edges_writes_an_image(capsys, tmp_path, mnist_dir):
    from PIL import Image

    out = tmp_path / "edges.png"
    code, stdout, err = _run(
        capsys, ["edges", "--data-dir", str(mnist_dir), "--size", "40", "--out", str(out), "--json"]
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["output_shape"] == [38, 38] and "MNIST" in summary["source"]
    with Image.open(out) as img:
        assert img.size == (38, 38) and img.mode == "L"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edges.png"]


def test_result_round_trips_through_json(small_run):
    from convcalc.train.runner import TrainResult

    r = small_run.result
    assert TrainResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
