"""The stored zoo reports (convcalc.analysis.stored) against the live trace, field by field.

The truth is `convcalc report --live`'s own path (build, trace, eager check, analysis) run now in
this process; the stored data was written by `convcalc validate --write-zoo-data`, possibly by
an older convcalc.  A difference means the data is stale: regenerate it.

Every zoo model is checked at its default input, a small one (about 2/7 of the side), an odd
non-square one (97x131) and batch 2: wherever the data serves the input its JSON must be the live
one's; wherever it declines, the live path answers (so a refusal is Paddle's own, identical by
construction); a served input the live path refuses is a failure.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import paddle
import pytest

from convcalc.analysis import stored
from convcalc.cli import build_parser
from convcalc.commands.report import _live_report, _stored_report
from convcalc.models.zoo import list_entries
from convcalc.render.report import report_dict

ZOO = {e.name: e.default_input for e in list_entries()}
STALE = "the stored report differs from the live trace: regenerate with `convcalc validate --write-zoo-data`"


def _args(*argv):
    return build_parser().parse_args(["report", *argv])


def _json(report) -> dict:
    d = report_dict(report)
    d.pop("source")
    return json.loads(json.dumps(d))


def _live(*argv) -> dict:
    with paddle.utils.unique_name.guard():  # layer names as in the fresh process of a real `convcalc report`
        report, _ = _live_report(_args(*argv, "--live"))
    return _json(report)


def _live_or_refusal(*argv) -> dict | str:
    from convcalc.errors import ConvcalcError

    try:
        return _live(*argv)
    except ConvcalcError as err:
        return f"refused: {err}"


def _small(c: int, h: int, w: int) -> str:
    return f"{c}x{max(2 * h // 7, 8)}x{max(2 * w // 7, 8)}"


@pytest.mark.parametrize("name", sorted(ZOO))
def test_stored_report_is_the_live_one_field_for_field(name):
    c, h, w = ZOO[name]
    assert stored.load(name) is not None, f"no stored report of {name} for Paddle {stored.paddle_version()}"
    for argv in ((name,), (name, "--batch", "2")):
        served = _stored_report(_args(*argv))
        assert served is not None and served.source, argv  # the data answers these two
        assert _json(served) == _live(*argv), f"{' '.join(argv)}: {STALE}"
    for size in (_small(c, h, w), f"{c}x97x131"):  # other sizes: where the data serves them, the live report
        argv = (name, "--input", size)
        served = _stored_report(_args(*argv))
        if served is not None:
            assert _json(served) == _live_or_refusal(*argv), f"{' '.join(argv)}: {STALE}"


@pytest.mark.parametrize("argv", [
    ("resnet18", "--input", "3x97x131"), ("resnet18", "--input", "3x64x64"), ("resnet18", "--input", "3x100x150"),
    ("mobilenet_v2", "--input", "3x97x131"), ("mobilenet_v2", "--input", "3x64x64", "--batch", "3"),
    ("vgg16", "--input", "3x97x131"), ("vgg16", "--input", "3x64x64"),
])
def test_common_sizes_are_served_by_the_data(argv):
    """Not only declines: these sizes come from the data (100x150 is none of the sizes the writer sampled)."""
    served = _stored_report(_args(*argv))
    assert served is not None, f"{' '.join(argv)} was left to the live path"
    assert _json(served) == _live(*argv), f"{' '.join(argv)}: {STALE}"


@pytest.mark.parametrize("argv", [("book_lenet", "--input", "1x8x8"), ("alexnet", "--input", "3x32x32"),
                                  ("vit_b_16", "--input", "3x97x131"), ("book_lenet", "--input", "1x97x131")])
def test_what_paddle_refuses_is_never_served(argv):
    """Too small for a layer, ViT's fixed token count, a Linear after flatten: the live path refuses, so the
    data declines (the refusal the user sees is the live one, word for word)."""
    assert _live_or_refusal(*argv).startswith("refused: ")
    assert _stored_report(_args(*argv)) is None


@pytest.mark.parametrize("name, convention", [("resnet18", "macs"), ("mobilenet_v2", "flops"),
                                              ("vit_b_16", "flops"), ("book_lenet", "macs")])
def test_every_convention_is_stored(name, convention):
    argv = (name, "--convention", convention, "--batch", "5")  # batch 5: beyond the three traced (1, 2, 3)
    assert _json(_stored_report(_args(*argv))) == _live(*argv), STALE


@pytest.mark.parametrize("argv", [
    ("resnet18", "--symbolic"), ("resnet18", "--training"), ("resnet18", "--input", "1x224x224"),
    ("resnet18", "--input", "3x224x224:float16"), ("resnet18", "--input", "2x3x224x224"),
    ("resnet18", "--live"), ("tests/data/some.py:Net",), ("not_a_model",),
])
def test_only_a_stored_zoo_model_at_its_own_channels_and_dtype_is_served(argv):
    args = _args(*argv)
    assert args.live or _stored_report(args) is None


def test_another_paddle_or_a_damaged_file_means_a_live_trace(tmp_path, monkeypatch):
    assert stored.load("resnet18") is not None
    monkeypatch.setattr(stored, "paddle_version", lambda: "2.6.0")
    assert stored.load("resnet18") is None
    monkeypatch.setattr(stored, "paddle_version", lambda: "3.3.1")
    bad = tmp_path / "paddle-3.3.1"
    bad.mkdir()
    (bad / "resnet18.paddle.json.gz").write_bytes(b"not gzip")
    assert stored.load("resnet18", folder=tmp_path) is None
    good = stored.load("resnet18")
    damaged = [dict(good.node, **{"$": "Evil"}), dict(good.node, colour=1), {"$": "LayerRecord"}, 7]
    for node in damaged:  # readable JSON, but not a report: the command traces instead of failing
        monkeypatch.setattr(stored, "load", lambda *a, node=node: dataclasses.replace(good, node=node))
        assert _stored_report(_args("resnet18")) is None
    monkeypatch.undo()
    monkeypatch.setenv("CONVCALC_LIVE", "1")
    assert stored.load("resnet18") is None


def test_a_failing_condition_or_a_forged_expression_means_a_live_trace(monkeypatch):
    good = stored.load("resnet18")
    assert good.sizes is not None and good.report(1, (3, 97, 131)) is not None
    forged = [dict(good.sizes, checks=[["(H < 0)", "never"]]),  # a condition that fails
              dict(good.sizes, regimes={"1": [["(H == 1)"]]}, alternatives=[]),  # no regime holds
              dict(good.sizes, exprs=["__import__('os').getcwd()"] + good.sizes["exprs"][1:]),
              dict(good.sizes, atoms=[["f0", "H.__class__"]] + good.sizes["atoms"][1:]),
              dict(good.sizes, exprs=["(lambda: 1)()"] + good.sizes["exprs"][1:]),
              dict(good.sizes, exprs=["2**H"] + good.sizes["exprs"][1:])]
    for sizes in forged:
        assert dataclasses.replace(good, sizes=sizes).report(1, (3, 97, 131)) is None
    assert dataclasses.replace(good, sizes=None).report(1, (3, 97, 131)) is None  # no sizes: the default only


def test_size_expressions_are_exact_integer_arithmetic():
    from convcalc.analysis.size_exprs import BadExpression, Sizes

    sizes = Sizes([["f0", "(H - 1)//2"], ["f1", "(-((-(W))//4))"]], ["N*f0*f1", "max(f0, 3)", "H**2"])
    env = sizes.env(2, 0, 9)
    assert (env["f0"], env["f1"]) == (-1, 3)  # floor(-1/2) = -1, ceil(9/4) = 3: by hand
    assert sizes.values(env) == [-6, 3, 0]
    assert Sizes.holds("(f0 < 0 and N == 2)", env) and not Sizes.holds("(f1 != 3)", env)
    for text in ("H.real", "[H]", "H if N else W", "open('x')", "H / 2", "f'{H}'", "H**99"):
        with pytest.raises(BadExpression):
            Sizes([], [text]).values({"N": 1, "H": 3, "W": 3})


def test_a_traced_size_logs_every_decision_taken_on_it():
    import sympy

    from convcalc.analysis.stored_sizes import TracedInt
    from convcalc.analysis.symbolic import H

    TracedInt.log = []
    h = TracedInt(7, H)
    half = (h - 1) // 2
    assert half == 3 and isinstance(half, TracedInt)
    assert h > 3 and not (h == 1)
    assert int(h) == 7 and f"{h}" == "7"
    assert TracedInt.log == [sympy.Eq(sympy.floor((H - 1) / 2), 3), sympy.Gt(H, 3), sympy.Not(sympy.Eq(H, 1)),
                             sympy.Eq(H, 7), sympy.Eq(H, 7)]
    TracedInt.log = []
    assert abs(h) == 7 and TracedInt.log == [sympy.Eq(H, 7)]  # any other int operation pins the size
    TracedInt.log = []


def test_the_codec_refuses_what_it_cannot_give_back():
    from convcalc.errors import ConvcalcError

    with pytest.raises(ConvcalcError, match="has no stored form"):
        stored._plain(object(), "report")
    with pytest.raises(ConvcalcError, match="not linear in the batch"):
        stored._merge(1, 2, 4, "report.totals.flops")
    assert stored._merge(10, 20, 30, "x") == {"$n": [10, 10]} and stored._build({"$n": [10, 10]}, 7) == 70


@pytest.mark.parametrize("size", ["3x224x224", "3x97x131"])
def test_the_stored_path_imports_neither_paddle_nor_sympy(size):
    code = ("import sys, io, contextlib\nfrom convcalc.cli import main\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            f"    code = main(['report', 'resnet18', '--input', '{size}', '--format', 'json'])\n"
            "d = __import__('json').loads(buf.getvalue())\n"
            "print(code, d['source'], d['totals']['params'], d['totals']['flops'], 'paddle' in sys.modules, "
            "'sympy' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    c, h, w = (int(d) for d in size.split("x"))
    with paddle.utils.unique_name.guard():
        model = paddle.vision.models.resnet18()
        truth = paddle.summary(model, (1, c, h, w))["total_params"], paddle.flops(model, [1, c, h, w])
    assert proc.stdout.split() == ["0", "stored", str(truth[0]), str(truth[1]), "False", "False"]


def test_the_table_says_where_its_numbers_came_from():
    from test_pictures import run_cli

    stored_run = run_cli("report", "lenet", "--format", "markdown")
    assert stored_run.returncode == 0 and "From convcalc's stored zoo report (Paddle" in stored_run.stdout
    live_run = run_cli("report", "lenet", "--format", "markdown", "--live")
    assert live_run.returncode == 0 and "stored zoo report" not in live_run.stdout
    assert json.loads(run_cli("report", "lenet", "--format", "json", "--live").stdout)["source"] == "traced"
