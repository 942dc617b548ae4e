"""Every layer counted through what it runs (issue 20, Deliver 4 and 6).

A leaf layer without a rule of its own (a hand-written LayerNorm, a learnable affine block, a
DropPath, a PyLayer) is counted through the ops its forward runs, as functional ops are; one
that computes nothing costs 0 and is no gap; only ops without a rule make a report
incomplete.  DeformConv2D (v1, and v2 with a mask) is counted through its op.  Truth: counts
by hand from the shapes of Paddle's eager forward, and ``paddle.flops``.
"""

from __future__ import annotations

import paddle
import paddle.nn as nn
import pytest
from paddle.autograd import PyLayer
from paddle.vision.ops import DeformConv2D

from convcalc.analysis import analyze


def row(report, path):
    return next(r for r in report.records if r.path == path)


class MyLayerNorm(nn.Layer):
    """A LayerNorm over channels written by hand, with its own parameters (a leaf without a rule)."""

    def __init__(self, c):
        super().__init__()
        self.w = self.create_parameter([c], default_initializer=nn.initializer.Constant(1.0))
        self.b = self.create_parameter([c], is_bias=True)

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        d = x - u
        s = (d * d).mean(1, keepdim=True)
        return self.w[:, None, None] * (d / paddle.sqrt(s + 1e-6)) + self.b[:, None, None]


class DropPath(nn.Layer):
    """As timm/PaddleClas write it: in eval it hands on its input."""

    def __init__(self, p=0.1):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.p == 0.0 or not self.training:
            return x
        keep = paddle.bernoulli(paddle.full([x.shape[0], 1, 1, 1], 1 - self.p))
        return x / (1 - self.p) * keep


class Unknown(nn.Layer):
    """A leaf whose forward runs an op no rule counts (a cumulative sum)."""

    def forward(self, x):
        return paddle.cumsum(x, axis=1)


class Net(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.norm = MyLayerNorm(8)
        self.drop = DropPath()
        self.idle = nn.Identity()

    def forward(self, x):
        return self.idle(self.drop(self.norm(self.conv(x))))


def test_a_leaf_without_a_rule_is_counted_through_its_own_ops():
    model = Net()
    report = analyze(model, (1, 3, 16, 16), convention="flops")
    n, m = 8 * 16 * 16, 16 * 16  # values of the map; of one channel-mean map
    # mean n (n_in - n_out folds + one divide per result), subtract n, multiply n, mean n, +eps m, sqrt m,
    # divide n, the weight's multiply n, the bias' add n
    assert int(row(report, "norm").flops) == 7 * n + 2 * m
    assert row(report, "norm").has_rule and "sum of its ops" in row(report, "norm").formula
    assert int(row(report, "drop").flops) == 0 and row(report, "drop").has_rule
    assert report.gaps.flops_complete and report.gaps.layers_without_rule == ()
    paddle_report = analyze(model, (1, 3, 16, 16))
    assert int(paddle_report.totals.flops) == paddle.flops(model, [1, 3, 16, 16], print_detail=False)


def test_only_a_cost_that_is_unknown_makes_a_report_incomplete():
    model = nn.Sequential(nn.Conv2D(3, 4, 3), DropPath(), Unknown())
    report = analyze(model, (1, 3, 8, 8), convention="macs")
    assert report.gaps.layers_without_rule == ("2",)  # the cumsum leaf; not the DropPath
    assert not report.gaps.flops_complete
    assert any("no FLOP rule for cumsum" in note for note in row(report, "2").notes)


class Double(PyLayer):
    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        return g * 2.0


class WithPyLayer(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2D(8, 8, 3, padding=1)

    def forward(self, x):
        x = Double.apply(self.conv1(x))
        return Double.apply(self.conv2(x))


def test_a_pylayer_is_counted_once_and_the_next_conv_once():
    model = WithPyLayer()
    macs = analyze(model, (1, 3, 16, 16), convention="macs")
    convs = [r for r in macs.records if r.kind in ("Conv2D", "conv2d")]
    assert [r.path for r in convs] == ["conv1", "conv2"]
    assert int(macs.totals.flops) == 16 * 16 * 8 * 27 + 16 * 16 * 8 * 72
    pylayers = [r for r in macs.records if r.kind == "pylayer"]
    assert len(pylayers) == 2
    flops = analyze(model, (1, 3, 16, 16), convention="flops")
    assert [int(r.flops) for r in flops.records if r.kind == "pylayer"] == [16 * 16 * 8] * 2  # x * 2.0
    assert flops.gaps.flops_complete


class Deformable(nn.Layer):
    def __init__(self, v2: bool):
        super().__init__()
        self.v2 = v2
        self.offset = nn.Conv2D(3, 18, 3, padding=1)
        self.mask = nn.Conv2D(3, 9, 3, padding=1)
        self.dcn = DeformConv2D(3, 8, 3, padding=1)

    def forward(self, x):
        mask = paddle.nn.functional.sigmoid(self.mask(x)) if self.v2 else None
        return self.dcn(x, self.offset(x), mask)


@pytest.mark.parametrize("v2", [False, True])
def test_deform_conv2d_v1_and_v2(v2):
    model = Deformable(v2)
    out, samples = 16 * 16 * 8, 16 * 16 * 3 * 9  # output values; sampled values (C*k*k per position)
    macs = analyze(model, (1, 3, 16, 16), convention="macs")
    assert int(row(macs, "dcn").flops) == out * 27 + 4 * samples
    flops = analyze(model, (1, 3, 16, 16), convention="flops")
    assert int(row(flops, "dcn").flops) == out * 53 + out + (9 + int(v2)) * samples  # conv, bias, sampling
    paddle_report = analyze(model, (1, 3, 16, 16))
    assert int(row(paddle_report, "dcn").flops) == 0
    assert int(paddle_report.totals.flops) == paddle.flops(model, [1, 3, 16, 16], print_detail=False)
    assert macs.gaps.flops_complete
