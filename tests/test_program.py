"""`convcalc report` on exported inference programs (issue 14, point 3).

Each model is exported here with Paddle's own ``paddle.jit.save`` and the
report of the exported program is checked against the report of the traced
Python model, and against Paddle itself: ``model.parameters()`` for the
parameter count, ``paddle.flops`` for the FLOPs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from math import prod
from pathlib import Path

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")

from paddle.static import InputSpec  # noqa: E402

from convcalc.analysis import analyze  # noqa: E402
from convcalc.cli import main  # noqa: E402
from convcalc.errors import InputSpecError, ModelLoadError  # noqa: E402
from convcalc.trace.program import load_program  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

MODELS = {
    # name: (factory, input C x H x W)
    "lenet": (lambda: paddle.vision.models.LeNet(), (1, 28, 28)),
    "resnet18": (lambda: paddle.vision.models.resnet18(), (3, 64, 64)),
    "mobilenet_v2": (lambda: paddle.vision.models.mobilenet_v2(), (3, 224, 224)),
}


def _export(model, folder: Path, chw: tuple, batch: int | None = None) -> Path:
    model.eval()
    paddle.jit.save(model, str(folder / "inference"), input_spec=[InputSpec([batch, *chw], "float32", "x")])
    return folder / "inference.json"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    """name -> (model, input shape, path of its exported inference.json)."""
    out = {}
    for name, (make, chw) in MODELS.items():
        paddle.seed(1)
        model = make()
        out[name] = (model, chw, _export(model, tmp_path_factory.mktemp(name), chw))
    return out


def _rows(report) -> list[tuple]:
    """Everything of a row but its path (the program keeps class scopes, not attribute names)."""
    return [
        (r.is_leaf, r.is_functional, r.kind, r.depth, r.output_shape, r.params_trainable, r.params_non_trainable,
         r.flops, r.rf_h, r.rf_w)
        for r in report.records
        if r.path
    ]


@pytest.mark.parametrize("name", list(MODELS))
def test_exported_program_reports_what_the_traced_model_does(exported, name) -> None:
    model, chw, path = exported[name]
    program = load_program(str(path))
    assert program.default_input == chw
    for convention in ("paddle", "flops"):
        traced = analyze(model, (2, *chw), convention=convention)
        ours = analyze(program, (2, *chw), convention=convention, name=str(path))
        assert _rows(ours) == _rows(traced)
        assert ours.totals == traced.totals
        assert not ours.gaps.layers_without_rule and not ours.gaps.ops_without_rf_rule
    # and against Paddle itself
    assert int(ours.totals.params) == sum(prod(p.shape) for p in model.parameters())
    paddle_ = analyze(program, (1, *chw), name=str(path))
    assert int(paddle_.totals.flops) == paddle.flops(model, [1, *chw])


def test_rows_are_grouped_by_the_programs_name_scopes(exported) -> None:
    _, chw, path = exported["mobilenet_v2"]
    report = analyze(load_program(str(path)), (1, *chw))
    # scope names carry Paddle's per-process counters (Sequential, Sequential_6, ...): match the classes
    pattern = re.compile(r"^Sequential(_\d+)?\.InvertedResidual(_\d+)?\.Sequential(_\d+)?\.ConvNormActivation\.Conv2D$")
    assert [r for r in report.records if pattern.match(r.path) and r.kind == "Conv2D"]
    assert report.records[-1].kind == "Linear" and report.records[-1].depth == 2
    # the first residual add (block features.2 of the Python model) is that block's own functional row
    adds = [r for r in report.records if r.kind == "add" and r.is_functional]
    containers = {r.path: r.kind for r in report.records if not r.is_leaf}
    assert adds and containers[adds[0].parent] == "InvertedResidual"


def test_dynamic_batch_takes_the_batch_of_input(exported) -> None:
    _, chw, path = exported["lenet"]
    program = load_program(str(path))
    one, four = analyze(program, (1, *chw)), analyze(program, (4, *chw))
    assert four.records[1].output_shape[0] == 4
    assert four.totals.flops == 4 * one.totals.flops
    with pytest.raises(InputSpecError, match="only set the dimensions that are -1"):
        analyze(program, (1, 1, 32, 32))


def test_layers_without_a_paddle_class_are_counted_through_their_ops(tmp_path, capsys) -> None:
    """The book's vectorized LeNet, exported: its own VectorizedConv2D/Pool2D layers have no rule and are counted
    through the ops of their forward (unfold + matmul), so no gap is left."""
    from convcalc.models.book import Model_LeNet

    model = Model_LeNet(1, 10, vectorized=True)
    path = _export(model, tmp_path, (1, 32, 32))
    report = analyze(load_program(str(path)), (1, 32, 32), convention="macs")
    assert int(report.totals.params) == 61706  # the book's LeNet-5 total (5.3.2)
    assert report.gaps.layers_without_rule == ()
    convs = [int(r.flops) for r in report.records if r.kind == "VectorizedConv2D"]
    # by hand: C_out x H_out x W_out x (C_in x k x k) for 6@28x28 (1x5x5), 16@10x10 (6x5x5), 120@1x1 (16x5x5)
    assert convs == [6 * 28 * 28 * 25, 16 * 10 * 10 * 150, 120 * 400]
    # paddle.flops counts only layer types it knows: 0 for these, as the paddle convention says
    paddle_report = analyze(load_program(str(path)), (1, 32, 32), convention="paddle")
    assert {int(r.flops) for r in paddle_report.records if r.kind.startswith("Vectorized")} == {0}
    assert main(["compare", str(path), "--format", "json"]) == 0
    assert "leaves out" not in json.dumps(json.loads(capsys.readouterr().out)["totals"]["flops"])


def test_cli_formats_on_a_program(exported, capsys) -> None:
    _, _, path = exported["lenet"]
    assert main(["report", str(path), "--format", "json", "--input", "3x1x28x28"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_shape"] == [3, 1, 28, 28]
    assert data["totals"]["params"] == 61610
    for fmt, start in (("csv", "index,"), ("markdown", "### ")):
        assert main(["report", str(path), "--format", fmt]) == 0
        assert capsys.readouterr().out.startswith(start)


def _pdmodel_export(folder: Path, code: str) -> None:
    script = textwrap.dedent(
        f"""
        import paddle
        from paddle.static import InputSpec
        model = {code}
        model.eval()
        paddle.jit.save(model, {str(folder / 'inference')!r}, input_spec=[InputSpec([None, 3, 64, 64], 'float32')])
        """
    )
    env = dict(os.environ, FLAGS_enable_pir_api="0")  # Paddle 3 writes the older .pdmodel only with PIR off
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True, timeout=300)


def test_pdmodel_program_reports_the_traced_totals(tmp_path, capsys) -> None:
    _pdmodel_export(tmp_path, "paddle.vision.models.resnet18()")
    path = tmp_path / "inference.pdmodel"
    assert path.exists() and not (tmp_path / "inference.json").exists()
    report = analyze(load_program(str(path)), (1, 3, 64, 64))
    traced = analyze(paddle.vision.models.resnet18(), (1, 3, 64, 64))
    assert report.totals.params == traced.totals.params
    assert report.totals.params_non_trainable == traced.totals.params_non_trainable  # BN running statistics
    assert report.totals.flops == traced.totals.flops
    # the layers come from parameter names: conv2d_0 ... and batch_norm2d_0 ...
    kinds = [r.kind for r in report.records if not r.is_functional]
    assert kinds.count("Conv2D") == 20 and kinds.count("BatchNorm2D") == 20 and kinds.count("Linear") == 1
    assert kinds.count("MaxPool2D") == 1 and kinds.count("AdaptiveAvgPool2D") == 1
    leaves = [r for r in report.records if r.is_leaf]
    assert leaves[-1].rf_h is not None
    # compare loads a .pdmodel with the older IR; rf builds its gradient on the translated program
    assert main(["compare", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["params"]["paddle_summary"] == int(traced.totals.params)
    from convcalc.analysis.effective import unit_field

    image = np.random.default_rng(1).random((3, 64, 64)).astype("float32")
    field = unit_field(load_program(str(path)), report, None, None, image)
    assert field.gradient.sum() > 0 and field.outside == 0


# ------------------------------------------------------------- bad files


@pytest.fixture
def pair(exported, tmp_path) -> Path:
    """A private copy of the exported LeNet pair, for tests that damage it."""
    _, _, path = exported["lenet"]
    for suffix in (".json", ".pdiparams"):
        (tmp_path / f"inference{suffix}").write_bytes(path.with_suffix(suffix).read_bytes())
    return tmp_path / "inference.json"


def test_damaged_program_is_a_one_line_error_exit_2(pair) -> None:
    pair.write_text(pair.read_text()[:3000])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "convcalc", "report", str(pair)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("convcalc")]
    assert len(lines) == 1 and "cannot load" in lines[0] and "parse error" in lines[0]


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("other_params", "different amount of data"),
        ("no_params", "no parameter file"),
        ("truncated_params", "does not hold exactly the 10 parameter tensors"),
        ("missing", "does not exist"),
    ],
)
def test_mismatched_or_missing_files_are_load_errors(pair, exported, damage, match) -> None:
    params = pair.with_suffix(".pdiparams")
    if damage == "other_params":
        params.write_bytes(exported["resnet18"][2].with_suffix(".pdiparams").read_bytes())
    elif damage == "no_params":
        params.unlink()
    elif damage == "truncated_params":
        params.write_bytes(params.read_bytes()[:-100])
    else:
        pair.unlink()
    with pytest.raises(ModelLoadError, match=match):
        load_program(str(pair))


def test_same_size_parameters_of_other_shapes_are_refused(tmp_path) -> None:
    # Two exports whose parameter files hold equally many values in differently shaped tensors.
    a, b = tmp_path / "a", tmp_path / "b"
    _export(paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(4, 6)), a, (1, 2, 2))
    _export(paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(4, 6, bias_attr=False),
                                 paddle.nn.Linear(6, 1, bias_attr=False)), b, (1, 2, 2))
    (a / "inference.pdiparams").write_bytes((b / "inference.pdiparams").read_bytes())
    with pytest.raises(ModelLoadError, match="does not match|different amount|does not hold exactly"):
        load_program(str(a / "inference.json"))


def test_compare_on_a_program_checks_it_against_paddles_loaded_program(exported, capsys) -> None:
    model, chw, path = exported["resnet18"]
    assert main(["compare", str(path), "--input", f"2x{'x'.join(map(str, chw))}", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # truth: the Python model the program came from, and Paddle running the program itself
    total = sum(prod(p.shape) for p in model.parameters())
    trainable = sum(prod(p.shape) for p in model.parameters() if not p.stop_gradient)
    assert data["totals"]["params"] == {"ours": total, "paddle_summary": total}
    assert data["totals"]["trainable_params"] == {"ours": trainable, "paddle_summary": trainable}
    out = paddle.jit.load(str(path.with_suffix("")))(paddle.zeros([2, *chw]))
    (row,) = data["rows"]
    assert row["output"] == {"ours": str(list(out.shape)), "paddle": str(list(out.shape))}
    # paddle.flops counts a loaded program as 0: said, not compared
    assert paddle.flops(paddle.jit.load(str(path.with_suffix(""))), [1, *chw]) == 0
    assert data["totals"]["flops"]["paddle_flops"] is None and "no count function" in data["totals"]["flops"][
        "not_compared"]
    assert data["ok"] and data["mismatches"] == 0
    # per layer: every conv and linear layer against Paddle's cost formula for its op (paddle.utils.flops)
    layers = [m for m in model.sublayers() if isinstance(m, (paddle.nn.Conv2D, paddle.nn.Linear))]
    assert len(data["layer_flops"]) == len(layers) == 21 and all(r["ok"] for r in data["layer_flops"])


def test_compare_checks_depthwise_convs_of_a_program_per_layer(exported, capsys) -> None:
    model, chw, path = exported["mobilenet_v2"]
    assert main(["compare", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    convs = [m for m in model.sublayers() if isinstance(m, paddle.nn.Conv2D)]
    assert sum(r["type"] == "Conv2D" for r in data["layer_flops"]) == len(convs)
    assert any(r["op"] == "pd_op.depthwise_conv2d" for r in data["layer_flops"])
    assert all(r["ok"] for r in data["layer_flops"]) and data["ok"]


def test_compare_on_a_program_finds_a_difference(exported, capsys, monkeypatch) -> None:
    # the comparison can fail: a report that miscounts one parameter tensor is caught by paddle.summary's total
    from convcalc.checks import crosscheck

    _, _, path = exported["lenet"]
    real = crosscheck.summary_rows
    monkeypatch.setattr(crosscheck, "summary_rows",
                        lambda *a, **k: (lambda rows, t: (rows, {**t, "total_params": t["total_params"] + 1}))(
                            *real(*a, **k)))
    assert main(["compare", str(path)]) == 1
    assert "Total params: ours 61,610, paddle.summary 61,611  ✗" in capsys.readouterr().out
    monkeypatch.setattr(crosscheck, "summary_rows", real)
    op_flops = crosscheck._paddle_op_flops
    monkeypatch.setattr(crosscheck, "_paddle_op_flops", lambda *a: None if op_flops(*a) is None else op_flops(*a) + 2)
    assert main(["compare", str(path)]) == 1
    assert "Conv/linear layers: 0 of 5 equal to paddle.utils.flops" in capsys.readouterr().out


def test_diff_and_html_take_a_program(exported, capsys, tmp_path) -> None:
    _, _, path = exported["lenet"]
    # inference.json is a program here (its .pdiparams is beside it), not a saved JSON report
    assert main(["diff", str(path), "-i", "1x1x28x28", "-i", "2x1x28x28", "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["params"]["delta"] == 0 and totals["flops"]["b"] == 2 * totals["flops"]["a"] == 2 * 347560
    html = tmp_path / "lenet.html"
    assert main(["report", str(path), "--format", "html", "--output", str(html)]) == 0
    assert "61,610" in html.read_text()


def test_diff_aligns_a_program_with_its_model_and_a_saved_report(exported, capsys, tmp_path) -> None:
    model, chw, path = exported["resnet18"]
    shape = "x".join(map(str, chw))
    assert main(["diff", str(path), "resnet18", "-i", shape, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["aligned_by"] == "structure (flat)"  # scope names vs attribute names: the leaf sequences aligned
    assert data["counts"]["same"] == len(data["layers"]) > 60 and not data["counts"]["changed"]
    assert data["totals"]["params"]["a"] == data["totals"]["params"]["b"] == sum(
        prod(p.shape) for p in model.parameters())
    saved = tmp_path / "resnet18.json"
    assert main(["report", "resnet18", "-i", shape, "--format", "json", "-o", str(saved)]) == 0
    capsys.readouterr()
    assert main(["diff", str(path), str(saved), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["same"] == len(data["layers"])
    # and a real difference shows: the program against resnet34
    assert main(["diff", str(path), "resnet34", "-i", shape, "--format", "json"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["counts"]["inserted"] > 0 and other["totals"]["params"]["delta"] > 0


def _eager_field(model, layer, image, unit) -> np.ndarray:
    """Paddle's own eager gradient of one unit of ``layer``'s output with respect to the input."""
    captured = []
    handle = layer.register_forward_post_hook(lambda _l, _i, out: captured.append(out))
    x = paddle.to_tensor(image[None], stop_gradient=False)
    model.eval()
    model(x)
    handle.remove()
    captured[0][0, :, unit[0], unit[1]].sum().backward()
    return np.abs(x.grad.numpy()[0]).sum(axis=0)


def test_rf_on_a_program_draws_the_models_effective_field(exported, tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    from convcalc.analysis.effective import unit_field

    model, chw, path = exported["resnet18"]
    program = load_program(str(path))
    report = analyze(program, (1, *chw))
    image = np.random.default_rng(0).random(chw).astype("float32")
    # the program's rows come in the traced model's order: the conv at layer2.0.conv1's place is that layer
    convs = [r.path for r in report.records if r.kind == "Conv2D"]
    traced_records = {r.path: r for r in analyze(model, (1, *chw)).records}
    traced = [p for p, r in traced_records.items() if r.kind == "Conv2D"]
    field = unit_field(program, report, convs[traced.index("layer2.0.conv1")], (2, 3), image)
    truth = _eager_field(model, model.layer2[0].conv1, image, (2, 3))
    np.testing.assert_allclose(field.gradient, truth, rtol=1e-4, atol=1e-6)
    conv = traced_records["layer2.0.conv1"]
    assert field.outside == 0 and field.size == (conv.rf_h.size, conv.rf_w.size)
    assert main(["rf", str(path), "--image", str(ROOT / "examples" / "shapes.png"), "-o", str(tmp_path / "f.png")]) == 0
    assert "theoretical field" in capsys.readouterr().out and (tmp_path / "f.png").stat().st_size > 0
    assert main(["rf", str(path), "--weights", "w.pdparams", "-o", str(tmp_path / "g.png")]) == 2
    assert "--weights does not apply" in capsys.readouterr().err


def test_a_fixed_batch_is_the_default_input(tmp_path) -> None:
    model = paddle.vision.models.LeNet()
    path = _export(model, tmp_path, (1, 28, 28), batch=3)
    program = load_program(str(path))
    assert program.default_input == (3, 1, 28, 28)
    report = analyze(program, program.default_input)
    assert int(report.totals.flops) == paddle.flops(model, [3, 1, 28, 28])


def test_a_dynamic_size_is_said_first_and_never_asks_for_input(tmp_path, capsys) -> None:
    """A program exported with InputSpec([None, 3, None, None]): the one fix is a fixed-size export, so that is the
    one line, with or without --input (issue 22, finding 6e); no CONVCALC_INPUT for a program."""
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 8, 3, padding=1), paddle.nn.ReLU(), paddle.nn.AdaptiveAvgPool2D(1),
                               paddle.nn.Flatten(), paddle.nn.Linear(8, 10))
    net.eval()
    paddle.jit.save(net, str(tmp_path / "inference"), input_spec=[InputSpec([None, 3, None, None], "float32")])
    for extra in ([], ["--input", "3x32x32"]):
        assert main(["report", str(tmp_path / "inference.json"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "with a dynamic size" in err
        assert "export it with a fixed input size" in err
        assert "CONVCALC_INPUT" not in err and "--input" not in err
