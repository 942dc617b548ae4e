"""Every FLOP rule against truth computed apart from convcalc.

For each layer kind: the MACs (and, where the definition is short, the
``flops`` count) are counted by hand from the shapes Paddle's eager forward
really produces (forward hooks), and the ``paddle`` convention is compared
with ``paddle.flops`` itself.  For transposed convolutions the number of
products landing in the output is measured by Paddle: with all-ones input and
weights, each output value *is* the number of products summed into it.
Models are single small layers, written as users write them, so CI stays fast.
"""

from __future__ import annotations

import contextlib
import io
from math import prod

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as PF
import pytest

from convcalc.analysis.engine import analyze
from convcalc.trace.build import trace_model


def report(model, shape, convention):
    model.eval()
    trace = trace_model(model, shape)
    return analyze(model, shape, convention=convention, trace=trace)


def eager_shapes(model, shape) -> dict:
    """{layer: (input shape, output shape)} of every sublayer, from an eager forward."""
    seen = {}
    handles = []
    for _, layer in model.named_sublayers(include_self=True):
        def hook(lay, inputs, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            seen[id(lay)] = (tuple(inputs[0].shape), tuple(out.shape))
        handles.append(layer.register_forward_post_hook(hook))
    model.eval()
    try:
        model(paddle.rand(shape))
    finally:
        for h in handles:
            h.remove()
    return seen


def paddle_flops(model, shape) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return int(paddle.flops(model, list(shape), print_detail=False))


def row(rep, kind):
    rows = [r for r in rep.records if r.kind == kind]
    assert len(rows) == 1, [r.kind for r in rep.records]
    return rows[0]


# ------------------------------------------------------------------ convolutions
CONVS = [
    # (layer, input shape, channels-last)
    (lambda: nn.Conv1D(4, 8, 3, padding=1), (1, 4, 64), False),
    (lambda: nn.Conv1D(4, 8, 3, stride=2, dilation=2, groups=2, data_format="NLC"), (2, 33, 4), True),
    (lambda: nn.Conv2D(6, 8, 3, stride=2, dilation=2, groups=2, padding=1), (2, 6, 17, 15), False),
    (lambda: nn.Conv2D(16, 8, 3, padding=1, data_format="NHWC"), (1, 8, 8, 16), True),
    (lambda: nn.Conv3D(4, 8, 3), (1, 4, 8, 8, 8), False),
    (lambda: nn.Conv3D(4, 6, (1, 3, 3), groups=2, bias_attr=False, data_format="NDHWC"), (1, 5, 7, 7, 4), True),
]


@pytest.mark.parametrize("make,shape,last", CONVS)
def test_conv_macs_and_flops_by_hand(make, shape, last):
    model = nn.Sequential(make())
    layer = model[0]
    x_shape, y_shape = eager_shapes(model, shape)[id(layer)]
    c_in = x_shape[-1] if last else x_shape[1]
    k = prod(layer.weight.shape[1:])  # weights per output value: C_in/groups * kernel
    assert layer.weight.shape[1] == c_in // layer._groups
    n_out = prod(y_shape)
    macs = n_out * k
    bias = int(layer.bias is not None)
    assert int(row(report(model, shape, "macs"), layer.__class__.__name__).flops) == macs
    assert int(row(report(model, shape, "flops"), layer.__class__.__name__).flops) == n_out * (2 * k - 1 + bias)


@pytest.mark.parametrize("make,shape,last", CONVS)
def test_conv_paddle_convention_is_paddle_flops(make, shape, last):
    model = nn.Sequential(make())
    assert int(report(model, shape, "paddle").totals.flops) == paddle_flops(model, shape)


def test_nhwc_conv_counts_channels_not_height():
    """The issue's case: NHWC 3x3 conv 16 -> 8 on 8x8: 8*8*8*16*9 MACs, not H=8 read as channels twice over."""
    model = nn.Sequential(nn.Conv2D(16, 8, 3, padding=1, data_format="NHWC"))
    assert int(report(model, (1, 8, 8, 16), "macs").totals.flops) == 8 * 8 * 8 * 16 * 9 == 73_728


TRANSPOSED = [
    (lambda: nn.Conv2DTranspose(16, 8, 2, stride=2), (1, 16, 6, 6), False),
    (lambda: nn.Conv1DTranspose(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), (2, 4, 9), False),
    (lambda: nn.Conv2DTranspose(4, 4, 3, stride=3, padding=2, dilation=2, bias_attr=False), (1, 4, 5, 6), False),
    (lambda: nn.Conv2DTranspose(6, 4, 3, stride=2, padding=1, data_format="NHWC"), (1, 5, 5, 6), True),
    (lambda: nn.Conv3DTranspose(2, 4, 2, stride=2), (1, 2, 3, 4, 3), False),
]


def _measured_products(layer, shape, last):
    """Products landing in each output value, measured by Paddle: ones in, ones weights, no bias."""
    x = paddle.ones(shape)
    w = paddle.ones(layer.weight.shape)
    fn = {3: PF.conv1d_transpose, 4: PF.conv2d_transpose, 5: PF.conv3d_transpose}[len(shape)]
    fmt = layer._data_format
    out = fn(x, w, None, stride=layer._stride, padding=layer._padding, output_padding=layer.output_padding,
             dilation=layer._dilation, groups=layer._groups, data_format=fmt)
    return out.numpy()


@pytest.mark.parametrize("make,shape,last", TRANSPOSED)
def test_conv_transpose_against_measured_products(make, shape, last):
    model = nn.Sequential(make())
    layer = model[0]
    kind = layer.__class__.__name__
    per_output = _measured_products(layer, shape, last)
    macs = int(per_output.sum())
    reached = int(np.count_nonzero(per_output))
    bias = int(layer.bias is not None)
    assert int(row(report(model, shape, "macs"), kind).flops) == macs
    flops = 2 * macs - reached + bias * per_output.size
    assert int(row(report(model, shape, "flops"), kind).flops) == flops
    assert int(report(model, shape, "paddle").totals.flops) == paddle_flops(model, shape)


def test_upsampling_transpose_is_not_stride_squared_too_high():
    """The issue's 2x upsampling: 18,432 MACs (each input value meets 8 x 2 x 2 weights), not 73,728."""
    model = nn.Sequential(nn.Conv2DTranspose(16, 8, 2, stride=2))
    assert int(report(model, (1, 16, 6, 6), "macs").totals.flops) == 16 * 6 * 6 * 8 * 4 == 18_432
    assert paddle_flops(model, (1, 16, 6, 6)) == 73_728 + 8 * 12 * 12  # paddle.flops: like a conv, + bias


# ------------------------------------------------------------------ pooling
POOLS = [
    # (layer, input, flops per output value by hand from the window; None: adaptive, computed below)
    (lambda: nn.AvgPool1D(2), (1, 8, 62), 2),
    (lambda: nn.MaxPool1D(3, stride=2), (2, 4, 21), 2),
    (lambda: nn.AvgPool2D(3, stride=2, padding=1), (1, 4, 9, 9), 9),
    (lambda: nn.MaxPool2D(2, data_format="NHWC"), (1, 8, 8, 3), 3),
    (lambda: nn.AvgPool3D(2), (1, 8, 6, 6, 6), 8),
    (lambda: nn.MaxPool3D((1, 2, 2)), (1, 2, 4, 6, 6), 3),
]


@pytest.mark.parametrize("make,shape,per_out", POOLS)
def test_pool_by_hand_and_paddle(make, shape, per_out):
    model = nn.Sequential(make())
    layer = model[0]
    _, y_shape = eager_shapes(model, shape)[id(layer)]
    kind = layer.__class__.__name__
    assert int(row(report(model, shape, "flops"), kind).flops) == prod(y_shape) * per_out
    assert int(row(report(model, shape, "macs"), kind).flops) == 0
    assert int(report(model, shape, "paddle").totals.flops) == paddle_flops(model, shape)


ADAPTIVE = [
    (lambda: nn.AdaptiveAvgPool1D(3), (1, 4, 10), False),
    (lambda: nn.AdaptiveAvgPool2D(1, data_format="NHWC"), (1, 4, 4, 5), True),
    (lambda: nn.AdaptiveAvgPool2D((2, 3)), (2, 3, 7, 9), False),
    (lambda: nn.AdaptiveMaxPool2D(2), (1, 3, 5, 5), False),
    (lambda: nn.AdaptiveAvgPool3D(1), (1, 8, 3, 3, 3), False),
    (lambda: nn.AdaptiveMaxPool1D(4), (1, 2, 9), False),
]


def _windows(size: int, out: int) -> list[int]:
    return [-(-(i + 1) * size // out) - (i * size) // out for i in range(out)]


@pytest.mark.parametrize("make,shape,last", ADAPTIVE)
def test_adaptive_pool_by_hand_and_paddle(make, shape, last):
    model = nn.Sequential(make())
    layer = model[0]
    x_shape, y_shape = eager_shapes(model, shape)[id(layer)]
    kind = layer.__class__.__name__
    spatial_in = x_shape[1:-1] if last else x_shape[2:]
    spatial_out = y_shape[1:-1] if last else y_shape[2:]
    channels = x_shape[0] * (x_shape[-1] if last else x_shape[1])
    window_values = channels * prod(sum(_windows(m, o)) for m, o in zip(spatial_in, spatial_out))
    want = window_values if "Avg" in kind else window_values - prod(y_shape)
    assert int(row(report(model, shape, "flops"), kind).flops) == want
    assert int(report(model, shape, "paddle").totals.flops) == paddle_flops(model, shape)


def test_nhwc_adaptive_avgpool_paddle_convention_is_paddle_flops():
    """The issue's case: paddle.flops gives 80 here (it reads W and C as the spatial axes); so does convcalc."""
    model = nn.Sequential(nn.AdaptiveAvgPool2D(1, data_format="NHWC"))
    assert paddle_flops(model, (1, 4, 4, 5)) == int(report(model, (1, 4, 4, 5), "paddle").totals.flops)


# ------------------------------------------------------------------ linear, norms, softmax, resampling
def test_linear_on_a_sequence():
    model = nn.Sequential(nn.Linear(16, 8))
    x_shape, y_shape = eager_shapes(model, (2, 5, 16))[id(model[0])]
    rows = prod(y_shape[:-1])
    assert int(report(model, (2, 5, 16), "macs").totals.flops) == rows * 16 * 8
    assert int(report(model, (2, 5, 16), "flops").totals.flops) == rows * 8 * (2 * 16 - 1 + 1)
    assert int(report(model, (2, 5, 16), "paddle").totals.flops) == paddle_flops(model, (2, 5, 16))


NORMS = [
    # (layer, input, (groups, values per group) by hand from the input shape, affine ops per value)
    (lambda: nn.LayerNorm(16), (2, 5, 16), lambda s: (2 * 5, 16)),
    (lambda: nn.LayerNorm([5, 16]), (2, 5, 16), lambda s: (2, 5 * 16)),
    (lambda: nn.GroupNorm(2, 8), (2, 8, 4, 4), lambda s: (2 * 2, 4 * 4 * 4)),
    (lambda: nn.InstanceNorm2D(3), (2, 3, 5, 5), lambda s: (2 * 3, 25)),
    (lambda: nn.InstanceNorm1D(3), (2, 3, 7), lambda s: (2 * 3, 7)),
]


@pytest.mark.parametrize("make,shape,groups", NORMS)
def test_statistic_norms_by_hand(make, shape, groups):
    model = nn.Sequential(make())
    g, n = groups(shape)
    assert g * n == prod(shape)
    kind = model[0].__class__.__name__
    # mean n, centred n, squares n, sum n-1, /n, +eps, sqrt, divide n: 5n+2; then scale and shift: 2n
    assert int(row(report(model, shape, "flops"), kind).flops) == g * (5 * n + 2 + 2 * n)
    assert int(report(model, shape, "paddle").totals.flops) == paddle_flops(model, shape) == 0


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1D, (4, 6, 10)), (nn.BatchNorm2D, (2, 6, 5, 5)),
                                       (nn.BatchNorm3D, (1, 6, 3, 4, 4)), (nn.BatchNorm, (2, 6, 3, 3))])
def test_batchnorm_by_hand_and_paddle(cls, shape):
    model = nn.Sequential(cls(6))
    numel = prod(shape)
    # stored statistics: subtract, divide, scale, shift per value; var + eps and sqrt once per channel
    assert int(report(model, shape, "flops").totals.flops) == 4 * numel + 2 * 6
    assert int(report(model, shape, "macs").totals.flops) == 0
    assert int(report(model, shape, "paddle").totals.flops) == paddle_flops(model, shape)


def test_batchnorm_frozen_still_scales_and_shifts():
    """Freezing a BatchNorm's weight changes its backward, not its forward; weight_attr=False drops the affine."""
    shape = (2, 6, 5, 5)
    numel = prod(shape)
    frozen = nn.Sequential(nn.BatchNorm2D(6))
    for p in frozen.parameters():
        p.stop_gradient = True
    plain = nn.Sequential(nn.BatchNorm2D(6, weight_attr=False, bias_attr=False))
    assert int(report(frozen, shape, "flops").totals.flops) == 4 * numel + 2 * 6
    assert int(report(plain, shape, "flops").totals.flops) == 2 * numel + 2 * 6


def test_softmax_by_hand():
    model = nn.Sequential(nn.Softmax(axis=1))
    rows, n = 2 * 4, 7  # (2, 7, 4): softmax over 7 values, 8 rows
    assert int(report(model, (2, 7, 4), "flops").totals.flops) == rows * (n + (n - 1) + n)
    assert int(report(model, (2, 7, 4), "paddle").totals.flops) == paddle_flops(model, (2, 7, 4)) == 0


@pytest.mark.parametrize("mode,taps", [("nearest", 0), ("bilinear", 4), ("bicubic", 16)])
def test_upsample_by_hand(mode, taps):
    model = nn.Sequential(nn.Upsample(scale_factor=2, mode=mode))
    _, y_shape = eager_shapes(model, (1, 3, 5, 6))[id(model[0])]
    assert int(report(model, (1, 3, 5, 6), "macs").totals.flops) == taps * prod(y_shape)
    assert int(report(model, (1, 3, 5, 6), "paddle").totals.flops) == paddle_flops(model, (1, 3, 5, 6)) == 0


def test_layers_paddle_counts_as_zero_or_per_element():
    """ReLU6 and Dropout (paddle.flops: 0), LeakyReLU (numel), Linear after them, as paddle.flops counts."""
    model = nn.Sequential(nn.ReLU6(), nn.Dropout(0.5), nn.LeakyReLU(), nn.Linear(4, 3))
    assert int(report(model, (2, 3, 4), "paddle").totals.flops) == paddle_flops(model, (2, 3, 4)) == 24 + 6 * 12


def test_activations_by_their_formulas():
    model = nn.Sequential(nn.ReLU(), nn.Sigmoid(), nn.LeakyReLU(), nn.GELU())
    n = 2 * 3 * 4
    got = {r.kind: int(r.flops) for r in report(model, (2, 3, 4), "flops").records if r.is_leaf}
    assert got == {"ReLU": n, "Sigmoid": 4 * n, "LeakyReLU": 2 * n, "GELU": 5 * n}
    assert int(report(model, (2, 3, 4), "paddle").totals.flops) == paddle_flops(model, (2, 3, 4)) == n


# ------------------------------------------------------------------ recurrent cells
class _Cell(nn.Layer):
    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x):
        out, _ = self.cell(x)
        return out


@pytest.mark.parametrize("make", [lambda: nn.SimpleRNNCell(8, 16), lambda: nn.LSTMCell(8, 16),
                                  lambda: nn.GRUCell(8, 16)])
def test_rnn_cells_macs_from_their_weights(make):
    model = _Cell(make())
    batch = 3
    macs = batch * (prod(model.cell.weight_ih.shape) + prod(model.cell.weight_hh.shape))
    assert int(report(model, (batch, 8), "macs").totals.flops) == macs
    assert int(report(model, (batch, 8), "paddle").totals.flops) == paddle_flops(model, (batch, 8)) == 0


def test_simple_rnn_cell_flops_by_hand():
    model = _Cell(nn.SimpleRNNCell(8, 16))
    # per unit: x.W (8 mults, 7 adds) + b_ih, h.W (16, 15) + b_hh, their sum, tanh
    assert int(report(model, (3, 8), "flops").totals.flops) == 3 * 16 * (8 + 7 + 1 + 16 + 15 + 1 + 1 + 1)


def test_embedding_rule_counts_nothing():
    from convcalc.rules.layers import RuleContext, find_rule

    layer = nn.Embedding(10, 4)
    out = layer(paddle.to_tensor([[1, 2, 3]]))
    _, rule = find_rule(layer)
    for conv in ("paddle", "macs", "flops"):
        from convcalc.formulas import as_convention

        cost = rule.cost(RuleContext(layer, ((1, 3),), tuple(out.shape), as_convention(conv)))
        assert int(cost.flops) == 0


@pytest.mark.parametrize("make", [lambda: nn.LSTM(4, 8), lambda: nn.GRU(4, 8, num_layers=2, direction="bidirect"),
                                  lambda: nn.SimpleRNN(4, 8, time_major=True)])
def test_rnn_layers_macs_from_their_weights(make):
    """RNN layers (one leaf each): every weight matrix meets every step of every sequence once."""
    from convcalc.formulas import as_convention
    from convcalc.rules.layers import RuleContext, find_rule

    layer = make()
    layer.eval()
    x = paddle.rand([6, 3, 4]) if layer.time_major else paddle.rand([3, 6, 4])  # 3 sequences of 6 steps
    out, _ = layer(x)
    weights = sum(prod(p.shape) for name, p in layer.named_parameters() if name.startswith("weight"))
    _, rule = find_rule(layer)
    cost = rule.cost(RuleContext(layer, (tuple(x.shape),), tuple(out.shape), as_convention("macs")))
    assert int(cost.flops) == 3 * 6 * weights
    paddle_cost = rule.cost(RuleContext(layer, (tuple(x.shape),), tuple(out.shape), as_convention("paddle")))
    assert int(paddle_cost.flops) == paddle_flops(layer, tuple(x.shape)) == 0  # paddle.flops has no RNN rule
