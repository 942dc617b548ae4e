"""`convcalc report/compare/models`: outputs, custom rules, and one-line errors for bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap

import pytest

paddle = pytest.importorskip("paddle")

from convcalc.analysis import analyze  # noqa: E402
from convcalc.cli import main  # noqa: E402


def run(*argv, capsys):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_table_names_convention_and_totals(capsys):
    code, out, err = run("report", "book_paddle_lenet", capsys=capsys)
    assert code == 0
    assert "FLOPs convention: paddle" in out
    assert "Total params: 61,706" in out
    assert "Total FLOPs (paddle): 423,344" in out
    # by hand: the 1x1x32x32 input (4,096 B) and, inside conv1, the conv's result and the bias add's result
    # (6x28x28 floats = 18,816 B each) alive at once: 41,728 B = 40.75 KiB; params 61,706 x 4 B = 241.0 KiB
    assert ("Inference memory: activations at their peak 40.8 KiB in conv1 (the input's 4.0 KiB included) "
            "+ params 241.0 KiB = 281.8 KiB") in out


def test_report_json_csv_markdown_agree(capsys):
    code, out, _ = run("report", "book_resnet18", "--format", "json", capsys=capsys)
    assert code == 0
    data = json.loads(out)
    assert data["totals"]["params"] == 11_185_034
    assert data["totals"]["flops"] == 35_529_728
    leaves = [layer for layer in data["layers"] if layer["leaf"]]
    assert sum(layer["flops"] for layer in leaves) == data["totals"]["flops"]

    code, out, _ = run("report", "book_resnet18", "--format", "csv", capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[-1]["path"] == "TOTAL" and int(rows[-1]["flops"]) == 35_529_728
    assert sum(int(r["flops"]) for r in rows[:-1]) == 35_529_728

    code, out, _ = run("report", "book_resnet18", "--format", "markdown", "--depth", "2", capsys=capsys)
    assert out.startswith("### book_resnet18")
    assert "| Layer (type) |" in out and "35,529,728" in out


def test_report_output_file_and_symbolic(tmp_path, capsys):
    target = tmp_path / "r.json"
    code, out, _ = run("report", "resnet18", "--symbolic", "--format", "json", "-o", str(target), capsys=capsys)
    assert code == 0 and out == ""
    data = json.loads(target.read_text())
    assert data["symbolic"] and data["symbols"] == ["H", "W"]
    assert "H*W" in data["totals"]["flops"]


@pytest.mark.usefixtures("flops_numpy")
def test_compare_exits_zero_when_equal(capsys):
    code, out, _ = run("compare", "book_lenet", capsys=capsys)
    assert code == 0, out
    assert "all equal" in out


@pytest.mark.usefixtures("flops_numpy")
def test_compare_exits_one_on_difference(tmp_path, capsys, monkeypatch):
    """A deliberately wrong rule must make `compare` fail."""
    from convcalc.rules import layers as rules

    real = rules.find_rule

    def wrong(layer):
        found = real(layer)
        if found and type(layer).__name__ == "Linear":
            cls, rule = found
            return cls, rules.Rule(lambda ctx: rules.Cost(flops=rule.cost(ctx).flops + 1, formula="wrong"))
        return found

    monkeypatch.setattr("convcalc.analysis.engine.find_rule", wrong)
    code, out, _ = run("compare", "book_paddle_lenet", capsys=capsys)
    assert code == 1
    assert "✗" in out


def test_models_lists_zoo(capsys):
    code, out, _ = run("models", "--format", "json", capsys=capsys)
    names = {m["name"] for m in json.loads(out)}
    assert {"book_lenet", "book_resnet18", "book_resnet18_plain", "resnet18", "mobilenet_v2"} <= names


def test_user_rule_for_custom_layer(tmp_path):
    """A layer with no rule whose forward runs an op convcalc cannot count is a gap; registering a rule fills it
    (and paddle.flops gets it too).  (A layer without a rule whose ops are all counted is no gap: it is counted
    through them, tests/test_counting_functional.py.)"""
    import paddle
    import paddle.nn as nn

    from convcalc import formulas
    from convcalc.rules.layers import _RULES, Cost, register_rule

    class Doubler(nn.Layer):
        def forward(self, x):
            return paddle.sort(x, axis=-1) * 2

    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(1, 2, 3)
            self.dbl = Doubler()

        def forward(self, x):
            return self.dbl(self.conv(x))

    net = Net()
    before = analyze(net, (1, 8, 8))
    assert before.gaps.layers_without_rule == ("dbl",)
    try:
        @register_rule(Doubler)
        def doubler(ctx):
            n = formulas.activation_flops(2 * 6 * 6, ctx.convention, counted_by_paddle=True)
            return Cost(flops=n, formula="one multiply per element")

        after = analyze(net, (1, 8, 8))
        assert after.gaps.layers_without_rule == ()
        assert int(after.totals.flops) == int(before.totals.flops) + 72
    finally:
        _RULES.pop(Doubler, None)


BAD_INPUTS = [
    (["report", "resnt18"], "did you mean 'resnet18'"),
    (["report", "resnet18", "--input", "3x-2x4"], "malformed shape"),
    (["report", "resnet18", "--input", "3x32"], "takes a 4-D input"),
    (["report", "book_paddle_lenet", "--input", "1x8x8"], "too small for book_paddle_lenet: layer conv3"),
    (["report", "nofile.py:Net"], "does not exist"),
    (["report", "resnet18", "--depth", "x"], "depth"),
    (["report", "resnet18", "--convention", "gflops"], "invalid choice"),
    (["compare", "nosuch"], "unknown model"),
]


@pytest.mark.parametrize("argv, expected", BAD_INPUTS)
def test_bad_input_one_line_exit_2(argv, expected, capsys):
    with pytest.raises(SystemExit) if "--depth" in argv or "--convention" in argv else _nullcontext() as exc:
        code = main(argv)
    out, err = capsys.readouterr()
    if exc is not None and hasattr(exc, "value"):
        code = exc.value.code
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert "Traceback" not in err


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_file_model_errors_and_forward_raising(tmp_path, capsys):
    bad = tmp_path / "net.py"
    bad.write_text(textwrap.dedent("""
        import paddle.nn as nn

        class Broken(nn.Layer):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                raise RuntimeError("boom")
        """))
    code, _, err = run("report", f"{bad}:Missing", "--input", "1x2x2", capsys=capsys)
    assert code == 2 and "Missing" in err and len(err.strip().splitlines()) == 1
    code, _, err = run("report", f"{bad}:Broken", "--input", "1x2x2", capsys=capsys)
    assert code == 2 and "raised RuntimeError" in err and "boom" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run("report", f"{bad}:Broken", capsys=capsys)
    assert code == 2 and "--input" in err


def test_an_error_quoting_hostile_text_stays_one_visible_line(tmp_path, capsys):
    """A file name or an exception message with a newline and an ANSI escape in it: shown, not obeyed."""
    import unicodedata

    (tmp_path / "net.py").write_text(textwrap.dedent("""
        import paddle.nn as nn

        class Net(nn.Layer):
            def forward(self, x):
                raise RuntimeError("\\x1b[2K\\rconvcalc report: all fine\\nboom")
        """))
    errors = []
    for spec in (f"{tmp_path / 'net.py'}:Net", f"{tmp_path}/a\nb\x1b[2K.py:Net"):
        code, out, err = run("report", spec, "--input", "1x2x2", capsys=capsys)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
        assert not [c for c in err.rstrip("\n") if unicodedata.category(c) == "Cc"], repr(err)
        errors.append(err)
    assert "raised RuntimeError at input 1x2x2: \\x1b[2K" in errors[0]  # the escape shown as text


_HOSTILE_MODEL = """
import paddle.nn as nn

class Net(nn.Layer):
    def __init__(self):
        super().__init__()
        self.add_sublayer("=HYPERLINK(\\"http://x\\")\\x1b[2K\\rok", nn.Conv2D(3, 4, 3))
        self.add_sublayer("@sum", nn.ReLU())

    def forward(self, x):
        for layer in self.children():
            x = layer(x)
        return x

Evil = type("Evil\\x1b]0;pwned\\x07", (Net,), {})
"""


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown", "html"])
def test_a_hostile_model_files_names_reach_no_terminal_or_spreadsheet_raw(tmp_path, capsys, fmt):
    """A teacher reports a student's model file: its layer and class names are shown, escapes as text, and no
    CSV cell starts a formula."""
    import unicodedata

    (tmp_path / "student.py").write_text(_HOSTILE_MODEL)
    code, out, err = run("report", f"{tmp_path / 'student.py'}:Evil", "--input", "3x8x8",
                         *([] if fmt == "table" else ["--format", fmt]), capsys=capsys)
    assert code == 0, err
    assert not [c for c in out if unicodedata.category(c) == "Cc" and c != "\n"], repr(out)
    assert "\\x1b[2K" in out and "HYPERLINK" in out and "@sum" in out  # shown, as text
    if fmt == "csv":
        cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
        assert not [c for c in cells if c.lstrip(" ").startswith(("=", "+", "-", "@"))], cells


@pytest.mark.parametrize("argv", [["compare"], ["profile", "--repeat", "2"],
                                  ["profile", "--repeat", "2", "--format", "csv"], ["diff"]])
def test_other_commands_show_a_hostile_model_files_names_as_text(tmp_path, capsys, argv):
    import unicodedata

    (tmp_path / "student.py").write_text(_HOSTILE_MODEL)
    spec = f"{tmp_path / 'student.py'}:Evil"
    models = [spec, spec] if argv[0] == "diff" else [spec]
    code, out, err = run(argv[0], *models, *argv[1:], "--input", "3x8x8", capsys=capsys)
    assert code == 0, err
    assert not [c for c in out + err if unicodedata.category(c) == "Cc" and c != "\n"], repr(out + err)
    if "csv" in argv:
        cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
        assert not [c for c in cells if c.lstrip(" ").startswith(("=", "+", "@"))], cells


def test_cli_subprocess_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "convcalc", "report", "book_lenet", "--input", "1x4x4"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "too small" in proc.stderr
    # Paddle's C++ log lines and import warnings are kept out: exactly one line.
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_compare_refuses_numpy_that_breaks_paddle_flops(monkeypatch, capsys):
    """paddle.flops (Paddle 3.3.1) crashes with numpy >= 2.4: compare says so in one line."""
    import numpy

    monkeypatch.setattr(numpy, "__version__", "2.4.0")
    code, _, err = run("compare", "book_lenet", capsys=capsys)
    assert code == 2
    assert "numpy<2.4" in err and len(err.strip().splitlines()) == 1
