"""``convcalc formulas`` and ``convcalc explain``: happy paths and bad input.

Numbers expected are the book's (5.20/5.21, LeNet and ResNet18 tables).
Bad input must give exactly one line on stderr, exit code 2 and no
traceback, and the library must raise the documented exception with the
same message.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sympy

from convcalc import formulas as f
from convcalc.cli import main
from convcalc.errors import (
    ConvcalcError,
    InputSpecError,
    InvalidParameterError,
    ShapeError,
    UnknownNameError,
)
from convcalc.explain.layers import explain_layer
from convcalc.formulas import catalog
from convcalc.trace.inputs import parse_shape


def run(argv, capsys):
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------ happy paths
def test_explain_conv2d_seed_example(capsys):
    rc, out, err = run(["explain", "conv2d", "--input", "3x32x32", "--out-channels", "6", "--kernel", "3"], capsys)
    assert rc == 0 and err == ""
    for text in ("168", "151,200", "(6, 30, 30)", "6*3*3*3 + 6", "floor((32 + 0 + 0 - 3)/1) + 1", "book eq. 5.21"):
        assert text in out


def test_explain_conv2d_json(capsys):
    rc, out, _ = run(
        ["explain", "conv2d", "--input", "1x32x32", "--out-channels", "64", "--kernel", "7",
         "--stride", "2", "--padding", "3", "--json"],
        capsys,
    )
    assert rc == 0
    data = json.loads(out)
    steps = {s["quantity"]: s for s in data["steps"]}
    assert data["kind"] == "conv2d" and data["input_shape"] == [1, 32, 32]
    assert steps["output_shape"]["result"] == [64, 16, 16]
    assert steps["params"]["result"] == 3200  # ResNet18 stem, seed table
    assert steps["flops_paddle"]["result"] == 819200
    assert steps["rf_size"]["result"] == 7 and steps["rf_jump"]["result"] == 2
    assert steps["params"]["equation"] == "5.20"


def test_explain_pool_linear_batchnorm(capsys):
    rc, out, _ = run(["explain", "pool2d", "--input", "6x28x28", "--kernel", "2"], capsys)
    assert rc == 0 and "(6, 14, 14)" in out
    rc, out, _ = run(["explain", "pool2d", "--input", "16x10x10", "--kernel", "2", "--mode", "avg", "--json"], capsys)
    steps = {s["quantity"]: s["result"] for s in json.loads(out)["steps"]}
    assert steps["output_shape"] == [16, 5, 5] and steps["flops_paddle"] == 400  # LeNet S4
    rc, out, _ = run(["explain", "linear", "--in-features", "120", "--out-features", "84"], capsys)
    assert rc == 0 and "10,164" in out and "10,080" in out
    rc, out, _ = run(
        ["explain", "linear", "--in-features", "512", "--out-features", "10", "--no-bias", "--json"], capsys
    )
    steps = {s["quantity"]: s["result"] for s in json.loads(out)["steps"]}
    assert steps["params"] == 5120
    rc, out, _ = run(["explain", "batchnorm", "--input", "64x16x16"], capsys)
    assert rc == 0 and "256" in out and "32,768" in out


def test_explain_symbolic_input(capsys):
    rc, out, _ = run(
        ["explain", "conv2d", "--input", "3xHxW", "--out-channels", "6", "--kernel", "3", "--json"], capsys
    )
    assert rc == 0
    steps = {s["quantity"]: s["result"] for s in json.loads(out)["steps"]}
    assert steps["output_shape"] == [6, "H - 2", "W - 2"]
    H, W = sympy.symbols("H W", positive=True, integer=True)
    assert sympy.expand(sympy.sympify(steps["flops_paddle"], locals={"H": H, "W": W}) - 168 * (H - 2) * (W - 2)) == 0


@pytest.mark.parametrize(
    "padding, expected",
    [("same", [6, 16, 16]), ("valid", [6, 14, 14]), ("0,1", [6, 15, 15]), ("1,1,0,0", [6, 16, 14]),
     ("SAME", [6, 16, 16])],
)
def test_explain_padding_forms(capsys, padding, expected):
    rc, out, _ = run(
        ["explain", "conv2d", "--input", "3x16x16", "--out-channels", "6", "--kernel", "3",
         "--padding", padding, "--json"],
        capsys,
    )
    assert rc == 0
    steps = {s["quantity"]: s["result"] for s in json.loads(out)["steps"]}
    assert steps["output_shape"] == expected


def test_explain_latex(capsys):
    rc, out, _ = run(
        ["explain", "conv2d", "--input", "3x32x32", "--out-channels", "6", "--kernel", "3", "--latex"], capsys
    )
    assert rc == 0 and r"\left\lfloor" in out


def test_formulas_all_and_one(capsys):
    rc, out, _ = run(["formulas"], capsys)
    assert rc == 0
    for name in catalog.names():
        assert name in out
    assert "book eq. 5.20" in out and "book eq. 5.6, 5.7" in out
    rc, out, _ = run(["formulas", "conv_output_size", "--latex"], capsys)
    assert rc == 0 and r"\left\lfloor" in out and "conv_flops" not in out
    rc, out, _ = run(["formulas", "--json"], capsys)
    data = json.loads(out)
    assert [e["name"] for e in data] == list(catalog.names())
    conv = next(e for e in data if e["name"] == "conv_params")
    assert conv["equations"] == "5.20" and conv["forms"][0]["expr"] == "D*P*U*V/g + P"


def test_catalogue_covers_every_formula():
    skip = {"Convention", "as_convention", "Field", "INPUT_FIELD", "WHOLE_INPUT"}
    public = {n for n in f.__all__ if n not in skip}
    assert public <= set(catalog.names())
    for name in catalog.names():
        assert callable(getattr(f, name))


def test_catalogue_forms_are_the_functions():
    """The printed form, evaluated at numbers, gives what the function computes."""
    form = catalog.entry("conv_output_size").forms[0].expr
    values = dict(M=32, U=3, S=2, P=1, d=2)
    assert form.subs({sympy.Symbol(k): v for k, v in values.items()}) == f.conv_output_size(32, 3, 2, 1, 2)


def test_help_has_examples(capsys):
    for argv in (["formulas", "--help"], ["explain", "--help"], ["explain", "conv2d", "--help"],
                 ["explain", "pool2d", "--help"], ["explain", "linear", "--help"], ["explain", "batchnorm", "--help"]):
        rc, out, _ = run(argv, capsys)
        assert rc == 0 and "example" in out and ("convcalc explain" in out or "convcalc formulas" in out)


# ------------------------------------------------------------------ bad input
BAD = [
    # (argv, library call that must raise the same message, exception type)
    (["explain", "conv2d", "--input", "3x2x2", "--out-channels", "6", "--kernel", "3"],
     lambda: explain_layer("conv2d", (3, 2, 2), out_channels=6, kernel=3), ShapeError),
    (["explain", "conv2d", "--input", "3x8x8", "--out-channels", "6", "--kernel", "3", "--stride", "0"],
     lambda: explain_layer("conv2d", (3, 8, 8), out_channels=6, kernel=3, stride=0), InvalidParameterError),
    (["explain", "conv2d", "--input", "3x8x8", "--out-channels", "6", "--kernel", "3", "--stride", "-1"],
     lambda: explain_layer("conv2d", (3, 8, 8), out_channels=6, kernel=3, stride=-1), InvalidParameterError),
    (["explain", "conv2d", "--input", "3x8x8", "--out-channels", "6", "--kernel", "3", "--dilation", "0"],
     lambda: explain_layer("conv2d", (3, 8, 8), out_channels=6, kernel=3, dilation=0), InvalidParameterError),
    (["explain", "conv2d", "--input", "3x8x8", "--out-channels", "6", "--kernel", "3", "--padding", "-1"],
     lambda: explain_layer("conv2d", (3, 8, 8), out_channels=6, kernel=3, padding=-1), InvalidParameterError),
    (["explain", "conv2d", "--input", "3x8x8", "--out-channels", "6", "--kernel", "3", "--groups", "2"],
     lambda: explain_layer("conv2d", (3, 8, 8), out_channels=6, kernel=3, groups=2), InvalidParameterError),
    (["explain", "conv2d", "--input", "3x8x8", "--out-channels", "6", "--kernel", "0"],
     lambda: explain_layer("conv2d", (3, 8, 8), out_channels=6, kernel=0), InvalidParameterError),
    (["explain", "pool2d", "--input", "6x1x1", "--kernel", "2"],
     lambda: explain_layer("pool2d", (6, 1, 1), kernel=2), ShapeError),
    (["explain", "pool2d", "--input", "6x8x8", "--kernel", "2", "--padding", "valid", "--ceil-mode"],
     lambda: explain_layer("pool2d", (6, 8, 8), kernel=2, padding="VALID", ceil_mode=True), InvalidParameterError),
    (["explain", "conv2d", "--input", "3x32", "--out-channels", "6", "--kernel", "3"],
     lambda: parse_shape("3x32", allow_symbols=True, min_dims=3, max_dims=3), InputSpecError),
    (["explain", "conv2d", "--input", "3x-1x5", "--out-channels", "6", "--kernel", "3"],
     lambda: parse_shape("3x-1x5", allow_symbols=True, min_dims=3, max_dims=3), InputSpecError),
    (["explain", "batchnorm", "--input", "64x16x16x2x3"],
     lambda: parse_shape("64x16x16x2x3", allow_symbols=True, min_dims=3, max_dims=3), InputSpecError),
    (["formulas", "conv_outptu_size"], lambda: catalog.entry("conv_outptu_size"), UnknownNameError),
]


@pytest.mark.parametrize("argv, library_call, exc_type", BAD, ids=[" ".join(b[0][:2] + b[0][-2:]) for b in BAD])
def test_bad_input_one_line_exit_2_same_message(capsys, argv, library_call, exc_type):
    rc, out, err = run(argv, capsys)
    assert rc == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    with pytest.raises(exc_type) as info:
        library_call()
    assert isinstance(info.value, ConvcalcError)
    assert lines[0].endswith(str(info.value)), (lines[0], str(info.value))


def test_unknown_layer_suggests_closest(capsys):
    rc, out, err = run(["explain", "conv3d", "--input", "3x8x8"], capsys)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "unknown layer kind 'conv3d'" in err and "'conv2d'" in err
    with pytest.raises(UnknownNameError) as info:
        explain_layer("conv3d", (3, 8, 8))
    assert str(info.value) in err


def test_malformed_number_argument(capsys):
    rc, _, err = run(["explain", "conv2d", "--input", "3x8x8", "--out-channels", "6", "--kernel", "3.5"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "--kernel '3.5' is not a whole number" in err


def test_real_process_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "convcalc", "explain", "conv2d", "--input", "3x2x2",
         "--out-channels", "6", "--kernel", "3"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "larger than the padded input" in proc.stderr


# ------------------------------------------------------------------ library API details
def test_step_lookup_errors():
    d = explain_layer("linear", (120,), out_features=84)
    with pytest.raises(UnknownNameError, match="whole input"):
        d.step("rf_size")
    with pytest.raises(UnknownNameError, match="did you mean 'params'"):
        d.step("parms")
    with pytest.raises(UnknownNameError, match="conv2d option 'kernal'"):
        explain_layer("conv2d", (3, 8, 8), out_channels=6, kernal=3)
    with pytest.raises(InvalidParameterError, match="needs out_channels and kernel"):
        explain_layer("conv2d", (3, 8, 8))


def test_to_json_dict_is_json():
    from convcalc.render.derivation import to_json_dict

    H = sympy.Symbol("H", positive=True, integer=True)
    for d in (
        explain_layer("conv2d", (3, H, 32), out_channels=6, kernel=(3, 5), padding="SAME", dilation=2),
        explain_layer("pool2d", (3, 7, 7), kernel=3, stride=2, ceil_mode=True, mode="avg"),
    ):
        data = json.loads(json.dumps(to_json_dict(d)))
        assert data["steps"] and all("latex" in s for s in data["steps"])


def test_docs_list_every_formula():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[1] / "docs" / "formulas.md").read_text(encoding="utf-8")
    missing = [name for name in catalog.names() if f"`{name}(" not in docs]
    assert missing == []


@pytest.mark.parametrize("module", ["convcalc.explain.layers", "convcalc.formulas.catalog"])
def test_module_doctests(module):
    """The docstring examples outside ``convcalc/formulas`` (not in pytest's doctest paths) hold."""
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
