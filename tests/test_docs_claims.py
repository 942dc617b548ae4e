"""Claims of README.md and docs/ that issue 15 found untrue, each checked against Paddle or by hand.

(The examples themselves run in tests/test_docs.py; these are the statements in prose.)
"""

from __future__ import annotations

import json
import textwrap

import pytest

from convcalc.cli import main


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own exits
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- docs/cli.md: usage errors are one line
@pytest.mark.parametrize("argv, names", [([], "a command is required"), (["explain"], "a layer kind is required")])
def test_missing_command_is_a_one_line_usage_error(argv, names, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert names in err and "--help" in err


# ---------------------------------------------------------------- README.md: the validation counts
def test_readme_states_the_counts_of_docs_validation_md():
    """README's sentence on validation carries the counts docs/validation.md's summary states (regenerating the
    validation report fails this test until README follows)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    validation = (root / "docs" / "validation.md").read_text(encoding="utf-8")
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    models, sizes = re.search(r"\*\*(\d+) models\*\* at \*\*([\d,]+) model-sizes\*\*", validation).groups()
    not_taken = re.search(r"([\d,]+) model-sizes not taken", validation).group(1)
    assert f"{models} models at {sizes} model-sizes" in readme
    assert f"{not_taken} model-sizes not taken" in readme


# ---------------------------------------------------------------- docs/formulas.md: 'VALID' with ceil_mode
def test_valid_with_ceil_mode_is_refused_like_paddle_by_both_formulas():
    paddle = pytest.importorskip("paddle")
    from convcalc.errors import InvalidParameterError
    from convcalc.formulas import conv_output_size, pool_output_size

    x = paddle.zeros([1, 1, 7, 7])
    with pytest.raises(ValueError):  # Paddle refuses the pair for pooling
        paddle.nn.functional.max_pool2d(x, 2, 2, "VALID", ceil_mode=True)
    for fn in (lambda: conv_output_size(7, 2, 2, "VALID", ceil_mode=True),
               lambda: pool_output_size(7, 2, 2, "VALID", ceil_mode=True)):
        with pytest.raises(InvalidParameterError, match="VALID"):
            fn()


# ---------------------------------------------------------------- models written the way users write them
MODELS = textwrap.dedent(
    """
    import paddle.nn as nn


    class MyConv(nn.Conv2D):
        '''A user's subclass of nn.Conv2D (paddle.flops matches types exactly).'''


    class SubclassNet(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = MyConv(3, 8, 3)
            self.pool = nn.AdaptiveAvgPool2D(3)

        def forward(self, x):
            return self.pool(self.conv(x))


    class TooSmall(nn.Layer):
        '''At 3x6x6 the 5x5 pool gets a 4x4 map: no window fits (floor((4-5)/3)+1 = 0).'''

        def __init__(self, features=4):
            super().__init__()
            self.conv = nn.Conv2D(3, 4, 3)
            self.pool = nn.AvgPool2D(5, stride=3)
            self.fc = nn.Linear(features, 2)

        def forward(self, x):
            return self.fc(self.pool(self.conv(x)).flatten(1))


    def too_small_and_mismatched():
        return TooSmall(features=36)
    """
)


@pytest.fixture(scope="module")
def models_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("claims") / "user_models.py"
    path.write_text(MODELS)
    return path


@pytest.mark.usefixtures("flops_numpy")
def test_conv2d_subclass_note_shown_in_table_and_markdown(models_file, capsys):
    paddle = pytest.importorskip("paddle")
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_models", models_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.SubclassNet()
    # Paddle counts the pool only, (floor(8/3)^2 + 1) per output value, and the subclassed conv as 0
    assert paddle.flops(net, [1, 3, 10, 10], print_detail=False) == (2 * 2 + 1) * 8 * 3 * 3
    for fmt in ("table", "markdown"):
        code, out, _ = run(["report", f"{models_file}:SubclassNet", "--input", "3x10x10", "--format", fmt], capsys)
        assert code == 0
        row = next(line for line in out.splitlines() if "(MyConv)" in line)
        assert "[1]" in row, row
        assert "[1] conv: MyConv subclasses Conv2D; paddle.flops counts it as 0" in out


def test_unknown_field_of_uneven_adaptive_pool_has_its_reason(models_file, capsys):
    """AdaptiveAvgPool2D(3) on 8x8: Paddle's windows differ in size (by gradient: 3 and 4 rows), so '?'."""
    paddle = pytest.importorskip("paddle")
    x = paddle.rand([1, 1, 8, 8])
    x.stop_gradient = False
    out = paddle.nn.AdaptiveAvgPool2D(3)(x)
    rows = []
    for i in (0, 1):
        (g,) = paddle.grad(out[0, 0, i, 0], x, retain_graph=True)
        rows.append(int((g.numpy()[0, 0].sum(axis=1) != 0).sum()))
    assert rows[0] != rows[1]  # no single field size
    code, text, _ = run(["report", f"{models_file}:SubclassNet", "--input", "3x10x10"], capsys)
    assert code == 0
    pool_row = next(line for line in text.splitlines() if "(AdaptiveAvgPool2D)" in line)
    assert "?" in pool_row
    assert "Receptive field unknown after ops:" in text and "adaptive pooling 8->3" in text
    code, text, _ = run(["report", f"{models_file}:SubclassNet", "--input", "3x10x10", "--format", "json"], capsys)
    assert any("adaptive pooling 8->3" in g for g in json.loads(text)["gaps"]["ops_without_rf_rule"])


@pytest.mark.parametrize("name", ["TooSmall", "too_small_and_mismatched"])
def test_too_small_input_names_the_layer_whose_output_is_empty(models_file, name, capsys):
    code, out, err = run(["report", f"{models_file}:{name}", "--input", "3x6x6"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "layer pool (AvgPool2D) would produce an empty output" in err


def test_too_small_googlenet_names_its_pool_not_the_linear(capsys):
    """The issue's own example: the empty output is _pool_o1's (docs/validation.md says so too)."""
    code, _, err = run(["report", "googlenet", "--input", "3x64x64"], capsys)
    assert code == 2
    assert "layer _pool_o1 (AvgPool2D) would produce an empty output" in err


# ---------------------------------------------------------------- docs/report.md: compare shows input shapes
def test_compare_table_shows_input_shapes(capsys):
    code, out, _ = run(["compare", "book_paddle_lenet"], capsys)
    assert code == 0
    assert "Input (ours | paddle)" in out
    # LeNet-5 by hand: the second layer, S2, reads C1's 6x28x28 map and gives 6x14x14
    pool_row = next(line for line in out.splitlines() if "pool2" in line)
    assert "[1, 6, 28, 28]" in pool_row and "[1, 6, 14, 14]" in pool_row


# ---------------------------------------------------------------- docs/report.md: Report.subs
def test_report_subs_takes_any_symbols_named_h_and_w():
    sympy = pytest.importorskip("sympy")
    pytest.importorskip("paddle")
    from convcalc import analyze
    from convcalc.models.zoo import build_model

    sym = analyze(build_model("book_paddle_lenet").model, (1, 32, 32), symbolic=True)
    H, W = sympy.symbols("H W")  # plain symbols, as a user writes them
    for values in ({H: 32, W: 32}, {"H": 32, "W": 32}):
        at = sym.subs(values)
        assert at.totals.flops == 423_344  # book §5.3.2: LeNet-5's paddle.flops total
        assert at.totals.params == 61_706
