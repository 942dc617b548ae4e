"""Symbolic reports say where they hold: shape tests taken in forward and fixed-size layers become
conditions; FLOPs are self-checked at the traced size; ``Report.subs`` takes user symbols or refuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sympy

paddle = pytest.importorskip("paddle")
from paddle import nn  # noqa: E402

from convcalc.analysis import analyze  # noqa: E402
from convcalc.analysis.records import SubstitutionError  # noqa: E402
from convcalc.errors import ConvcalcError  # noqa: E402
from convcalc.render.report import report_dict, totals_text  # noqa: E402


class Branchy(nn.Layer):
    """Downsamples only wide inputs: a branch on a shape, decided when Paddle traces the forward."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.down = nn.Conv2D(8, 8, 3, stride=2, padding=1)

    def forward(self, x):
        x = self.conv(x)
        if x.shape[-1] > 16:
            x = self.down(x)
        return x


class FlatHead(nn.Layer):
    """A Linear after flatten: only works where 4 * H/2 * W/2 == 64."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(1, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(paddle.flatten(self.conv(x), 1))


class AdaptiveOdd(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2D(3)

    def forward(self, x):
        return self.pool(self.conv(x))


H, W = sympy.symbols("H W")  # user-made symbols, without the report's assumptions


def eager_shape(model, shape):
    model.eval()
    return list(model(paddle.zeros(shape)).shape)


def test_shape_branch_becomes_a_condition():
    report = analyze(Branchy(), (3, 32, 32), symbolic=True)
    (cond,) = [c for c in report.conditions if c.kind != "divisible"]  # (and the stride's, below)
    assert cond.kind == "range"
    assert cond.relation == sympy.Gt(report.symbols[1], 16)
    assert "Branchy.forward" in cond.where and "x.shape[-1] > 16" in cond.where
    text = totals_text(report).plain
    assert "valid for W > 16" in text
    assert report_dict(report)["conditions"][0]["relation"] == "W > 16"
    # Inside its domain the report is right (truth: Paddle's eager forward at 40x40).
    out = report.subs({H: 40, W: 40}).records[-1].output_shape
    assert [int(d) for d in out] == eager_shape(Branchy(), [1, 3, 40, 40])


def test_traced_below_the_threshold_says_so():
    report = analyze(Branchy(), (3, 12, 12), symbolic=True)
    (cond,) = [c for c in report.conditions if c.kind != "divisible"]  # (and the stride's, below)
    assert "W <= 16" in sympy.sstr(cond.relation)
    assert [int(d) for d in report.subs({H: 12, W: 12}).records[-1].output_shape] == eager_shape(
        Branchy(), [1, 3, 12, 12])


def test_subs_outside_the_condition_is_refused():
    report = analyze(Branchy(), (3, 32, 32), symbolic=True)
    with pytest.raises(SubstitutionError, match="does not hold at H = 8, W = 8"):
        report.subs({H: 8, W: 8})


def test_fixed_size_linear_becomes_valid_only_at():
    report = analyze(FlatHead(), (1, 8, 8), symbolic=True)
    (cond,) = [c for c in report.conditions if c.kind != "divisible"]  # (and the stride's, below)
    assert cond.kind == "fixed"
    h, w = report.symbols
    # 4 channels x (H/2) x (W/2) = 64 features (by hand): holds wherever H*W = 64
    assert cond.relation.xreplace({h: 8, w: 8}) is sympy.true
    assert cond.relation.xreplace({h: 4, w: 16}) is sympy.true
    assert cond.relation.xreplace({h: 16, w: 16}) is sympy.false
    assert dict((str(s), v) for s, v in cond.at) == {"H": 8, "W": 8}
    text = totals_text(report).plain
    assert "valid only at" in text and "traced at H = 8, W = 8" in text and "fc (Linear)" in text
    data = json.loads(json.dumps(report_dict(report)))
    assert data["conditions"][0]["kind"] == "fixed" and data["conditions"][0]["at"] == {"H": 8, "W": 8}
    with pytest.raises(SubstitutionError):
        report.subs({H: 16, W: 16})  # Paddle's Linear refuses 256 features; so does the report
    assert [int(d) for d in report.subs({"H": 8, "W": 8}).records[-1].output_shape] == [1, 10]


def test_plain_model_has_no_conditions():
    report = analyze(nn.Sequential(nn.Conv2D(3, 4, 3, padding=1), nn.ReLU()), (3, 16, 16), symbolic=True)
    assert report.conditions == ()
    assert "Condition" not in totals_text(report).plain


def test_subs_with_user_symbols_strings_and_unknown_names():
    report = analyze(nn.Sequential(nn.Conv2D(3, 4, 3, stride=2, padding=1)), (3, 16, 16), symbolic=True)
    hand = 4 * 10 * 12 * (3 * 3 * 3 + 1)  # out 4 x 10 x 12 at 20x24, paddle convention: MACs + bias
    assert int(report.subs({H: 20, W: 24}).totals.flops) == hand
    assert int(report.subs({"H": 20, "W": 24}).totals.flops) == hand
    with pytest.raises(SubstitutionError, match="no symbol 'X'"):
        report.subs({sympy.Symbol("X"): 3})
    assert issubclass(SubstitutionError, ConvcalcError)


def test_symbolic_flops_of_a_non_dividing_adaptive_pool_match_at_the_traced_size():
    """AdaptiveAvgPool2D(3) on 10x10: windows [0,4), [3,7), [6,10): 12 per axis, 12*12*4 channels = 576 in the
    flops convention (the sum of the window sizes); the symbolic report must give the same at 10x10."""
    report = analyze(AdaptiveOdd(), (3, 10, 10), symbolic=True, convention="flops")
    pool = next(r for r in report.records if r.path == "pool")
    assert int(report.subs({H: 10, W: 10}).records[pool.index].flops) == 576
    # and at another size: 11x13 -> windows per axis sum to 13 (11: [0,4),[3,8),[7,11)) and 15
    assert int(report.subs({H: 11, W: 13}).records[pool.index].flops) == 4 * 13 * 15


def test_records_do_not_import_the_analysis_layer():
    """The records are read by renderers and checks: importing them must not load the engine (or paddle)."""
    code = ("import sys, convcalc.analysis.records; print(any(m.startswith(('convcalc.analysis.', 'convcalc.trace', "
            "'paddle')) and m != 'convcalc.analysis.records' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


class SquareNHWC(nn.Layer):
    """Channel-last, a square-only assertion, and a reshape built from the traced shape."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, stride=2, padding="SAME", data_format="NHWC")

    def forward(self, x):
        assert x.shape[1] == x.shape[2], "square images only"
        n, h, w, c = x.shape
        return paddle.reshape(self.conv(x), [n, h // 2, w // 2 * 8])


def test_channel_last_symbolic_with_an_equality_test_and_a_reshape():
    report = analyze(SquareNHWC(), (1, 16, 16, 3), symbolic=True)
    (cond,) = [c for c in report.conditions if c.kind != "divisible"]  # (and the stride's, below)
    h, w = report.symbols
    assert cond.relation == sympy.Eq(h, w)
    assert "square images only" in cond.where
    for size in (24, 32):
        got = [int(d) for d in report.subs({H: size, W: size}).records[-1].output_shape]
        assert got == eager_shape(SquareNHWC(), [1, size, size, 3])
    with pytest.raises(SubstitutionError):
        report.subs({H: 16, W: 32})


def test_divisibility_is_a_condition_subs_outside_it_is_refused_naming_it():
    """Issue 20, Deliver 5: sizes simplified for H, W multiples of the total stride (4 here) hold only there."""
    model = nn.Sequential(nn.Conv2D(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2D(4, 4, 3, stride=2, padding=1))
    simplified = analyze(model, (1, 3, 16, 16), symbolic=True)
    (cond,) = [c for c in simplified.conditions if c.kind == "divisible"]
    assert "divisible by 4" in cond.where
    with pytest.raises(SubstitutionError, match="divisible by 4"):
        simplified.subs({H: 9, W: 10})
    concrete = analyze(model, (1, 3, 9, 10))
    exact = analyze(model, (1, 3, 16, 16), symbolic=True, assume_divisible=False)
    assert not [c for c in exact.conditions if c.kind == "divisible"]
    assert exact.subs({H: 9, W: 10}).totals.flops == concrete.totals.flops
    assert simplified.subs({H: 12, W: 20}).totals.flops == analyze(model, (1, 3, 12, 20)).totals.flops


class SqueezedHead(nn.Layer):
    """A conv whose output is squeezed on H and W (as the book's Paddle LeNet does before its Linears)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(1, 4, 5)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(paddle.squeeze(self.conv(x), axis=[2, 3]))


def test_an_explicit_squeeze_holds_only_where_the_axis_is_1():
    """Paddle leaves an axis larger than 1 in place (the Linear then refuses): the report says where it holds."""
    report = analyze(SqueezedHead(), (1, 5, 5), symbolic=True, assume_divisible=False)
    conds = [c for c in report.conditions if "squeezes" in c.where]
    assert len(conds) == 2 and all(c.kind == "fixed" for c in conds), report.conditions
    assert [int(d) for d in report.subs({"H": 5, "W": 5}).records[-1].output_shape] == [1, 2] \
        == eager_shape(SqueezedHead(), (1, 1, 5, 5))
    with pytest.raises(ConvcalcError):
        analyze(SqueezedHead(), (1, 6, 5))  # the truth: Paddle refuses (the squeeze keeps H = 2)
    with pytest.raises(SubstitutionError):
        report.subs({"H": 6, "W": 5})  # and so does the symbolic report
