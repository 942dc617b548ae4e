"""Training cost against Paddle's own backward program (convcalc.checks.backward_program), and its CLI.

The fast subset runs by default (the book's models, resnet18, mobilenet_v2, a
model with frozen layers, one whose first layer is an embedding); the rest of
the zoo with --runslow.  Two tests break convcalc on purpose and expect the
check to say so.
"""

from __future__ import annotations

import json

import pytest

paddle = pytest.importorskip("paddle")

from convcalc.checks.training_cost import TRAINING_MODELS, TRAINING_MODELS_FAST, TrainingCheck, check_training  # noqa: E402
from convcalc.cli import main  # noqa: E402

# the CI subset at small inputs (book_lenet's loop operators trace as its vectorised twin's ops: that one is cheaper)
FAST = {"book_lenet_vectorized": None, "book_paddle_lenet": None, "book_resnet18": None, "resnet18": (3, 64, 64),
        "mobilenet_v2": (3, 64, 64), "frozen_resnet18": None, "token_classifier": None, "mixed_layers": None,
        "shared_layer": None}


def test_fast_list_covers_the_ci_subset():
    assert set(TRAINING_MODELS_FAST) - set(FAST) == {"book_lenet"}


@pytest.mark.parametrize("name", FAST)
def test_fast_subset_matches_paddles_backward_program(name):
    result = check_training(name, sample=FAST[name])
    assert result.ok, result.mismatches[:5]
    assert result.rows_checked > 0 and result.grad_ops > 0
    assert result.activations_ours == result.activations_paddle > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in TRAINING_MODELS() if n not in FAST])
def test_whole_zoo_matches_paddles_backward_program(name):
    result = check_training(name)
    assert result.ok, result.mismatches[:5]


def test_check_catches_a_frozen_parameter_counted_as_trainable(monkeypatch):
    from convcalc.analysis import training

    real = training._Graph
    monkeypatch.setattr(training, "_Graph", lambda trace, trainable: real(trace, dict.fromkeys(trainable, True)))
    result = check_training("frozen_resnet18")
    assert not result.ok
    assert any("layer1.0.conv1: convcalc counts a backward, Paddle builds no grad op" in m for m in result.mismatches)


def test_check_catches_a_wrong_saved_value(monkeypatch):
    from convcalc.rules import gradients as grad_rules

    monkeypatch.setitem(grad_rules.SAVED, "relu", ((0,), (0,)))  # "relu's backward reads its input too": it does not
    result = check_training("book_paddle_lenet")
    assert any("saved bytes" in m for m in result.mismatches)


def test_validation_markdown_has_the_training_table():
    from convcalc.checks.validation import ValidationRun
    from convcalc.render.validation import validation_dict, validation_from_dict, validation_markdown

    checks = (TrainingCheck("book_lenet", "2x1x32x32", 12, 23, 4_000_000, 3_000_000, 73_824, 73_824),
              TrainingCheck("bad_model", "2x3x8x8", 3, 4, 10, 5, 100, 96, ("conv: saved bytes convcalc 100 vs "
                                                                           "Paddle 96",)))
    run = ValidationRun((), (), None, True, 1.0, {}, None, checks)
    text = validation_markdown(run)
    assert "## Training cost against Paddle's backward program" in text
    assert "| book_lenet | 2x1x32x32 | 12 | 23 | 4,000,000 | 73,824 | 0 |" in text
    assert "- bad_model: conv: saved bytes convcalc 100 vs Paddle 96" in text
    assert not run.ok and run.training_mismatches == 1
    again = validation_from_dict(json.loads(json.dumps(validation_dict(run))))
    assert validation_dict(again) == validation_dict(run)


# ------------------------------------------------------------------ the CLI
def test_report_training_in_every_format(tmp_path, capsys):
    args = ["report", "book_paddle_lenet", "--training", "--batch", "64", "--samples", "1000", "--optimizer", "adam"]
    assert main(args + ["--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    t = data["training"]
    assert (t["optimizer"], t["batch"], t["samples"], t["steps_per_epoch"]) == ("adam", 64, 1000, 16)
    assert t["step"] == t["forward"] + t["backward_input"] + t["backward_weight"]
    conv1 = next(layer for layer in data["layers"] if layer["path"] == "conv1")["training"]
    assert conv1["backward_input"] == 0 and conv1["backward_weight"] == conv1["forward"] > 0

    assert main(args + ["--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert header[-4:] == ["forward", "backward_input", "backward_weight", "saved_bytes"]

    assert main(args + ["--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "| Bwd dx (paddle) | Bwd dW (paddle) | Saved |" in text
    assert "Per epoch (1,000 samples = 16 steps of batch 64, the last one of 40 counted as a full batch)" in text
    assert "Training memory (adam, float32)" in text

    target = tmp_path / "r.html"
    assert main(args + ["--format", "html", "-o", str(target)]) == 0
    assert "Bwd dW (paddle)" in target.read_text()

    assert main(["report", "book_paddle_lenet", "--training", "--dtype", "float16"]) == 0
    assert "fp32 master weights" in capsys.readouterr().out


def test_explain_training_agrees_with_the_report(capsys):
    """LeNet's conv3 derived alone equals its row in a training report (one source of truth, two routes)."""
    assert main(["explain", "conv2d", "--input", "6x14x14", "--out-channels", "16", "--kernel", "5", "--training",
                 "--json"]) == 0
    steps = {s["quantity"]: s["result"] for s in json.loads(capsys.readouterr().out)["steps"]}
    assert main(["report", "book_paddle_lenet", "--training", "--convention", "flops", "--format", "json"]) == 0
    conv3 = next(x for x in json.loads(capsys.readouterr().out)["layers"] if x["path"] == "conv3")["training"]
    assert (steps["backward_input_flops"], steps["backward_weight_flops"]) == (conv3["backward_input"],
                                                                              conv3["backward_weight"])
    by_hand = 2 * (16 * 6 * 50 * 50) - 6 * 14 * 14  # 2*MACs - the input values reached
    assert steps["backward_input_flops"] == by_hand


def test_training_report_of_an_exported_program_is_refused_in_one_line(tmp_path, capsys):
    from paddle.static import InputSpec

    model = paddle.vision.models.LeNet()
    model.eval()
    paddle.jit.save(model, str(tmp_path / "inference"), input_spec=[InputSpec([None, 1, 28, 28], "float32", "x")])
    code = main(["report", str(tmp_path / "inference.json"), "--training"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "exported inference program" in err and "Python model" in err
