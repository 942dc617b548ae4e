"""Every layer rule of convcalc.rules.layers, in all three conventions, against counts made by hand.

One case per registered layer class (a test below fails when a rule is registered without a case here).
For each case the layer runs once eagerly (forward hooks give its real input and output shapes) and:

- ``macs`` and ``flops`` equal the counts written here by hand from those shapes and the layer's weights;
- ``paddle`` equals ``paddle.flops`` of the same model (which counts 0 for the layers it has no rule for),
  or, for the book's own operators that ``paddle.flops`` cannot see, the book's eq. 5.21 by hand.

The hand counts restate the conventions' definitions (docs/formulas.md, "What one FLOP is"): a dot product of
length K is K multiplies + K-1 adds, a bias one more add; an activation the operations of its formula.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as PF
import pytest
from test_rules_counting import paddle_flops

from convcalc.analysis.engine import analyze
from convcalc.trace.build import trace_model
from convcalc.trace.inputs import ModelInput


class Wrap(nn.Layer):
    """A model holding one layer, as a user tries a layer out (RNNs and cells return (output, state))."""

    def __init__(self, layer: nn.Layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        out = self.layer(x)
        return out[0] if isinstance(out, (tuple, list)) else out


@dataclass(frozen=True)
class LayerCase:
    id: str
    make: Callable[[], nn.Layer]
    shape: tuple[int, ...]
    hand: Callable[[nn.Layer, tuple, tuple], tuple[int, int]]  # (layer, x shape, y shape) -> (macs, flops)
    paddle_by_hand: Callable[[nn.Layer, tuple, tuple], int] | None = None  # when paddle.flops cannot see it


def _bias(layer) -> int:
    return int(getattr(layer, "bias", None) is not None)


def conv_hand(layer, x, y):
    k = prod(layer.weight.shape[1:])  # C_in/groups * kernel: products per output value
    n = prod(y)
    return n * k, n * (2 * k - 1 + _bias(layer))


def transposed_hand(layer, x, y):
    """Products landing in each output value, measured by Paddle: ones in, ones weights, no bias."""
    fn = {3: PF.conv1d_transpose, 4: PF.conv2d_transpose, 5: PF.conv3d_transpose}[len(x)]
    per = fn(paddle.ones(x), paddle.ones(layer.weight.shape), None, stride=layer._stride, padding=layer._padding,
             output_padding=layer.output_padding, dilation=layer._dilation, groups=layer._groups,
             data_format=layer._data_format).numpy()
    macs = int(per.sum())
    return macs, 2 * macs - int(np.count_nonzero(per)) + _bias(layer) * per.size


def linear_hand(layer, x, y):
    i, o = layer.weight.shape
    rows = prod(y[:-1])
    return rows * i * o, rows * o * (2 * i - 1 + _bias(layer))


def batchnorm_hand(layer, x, y):
    c = x[1]  # NC... layouts here
    return 0, 4 * prod(x) + 2 * c  # subtract, divide, scale, shift per value; var + eps, sqrt per channel


def stat_norm_hand(groups: Callable[[tuple], int]):
    def hand(layer, x, y):
        g = groups(x)
        n = prod(x) // g
        # mean n (n-1 adds, a divide), centred n, squares n, sum n-1, /n, +eps, sqrt, divide n: 5n+2; scale, shift
        return 0, g * (5 * n + 2 + 2 * n)

    return hand


def pool_hand(window: int, kind: str):
    def hand(layer, x, y):
        return 0, prod(y) * (window if kind == "avg" else window - 1)

    return hand


def _windows(size: int, out: int) -> int:
    """Values summed over all adaptive windows along one axis (Paddle's floor/ceil bounds)."""
    return sum(-(-(i + 1) * size // out) - (i * size) // out for i in range(out))


def adaptive_hand(kind: str):
    def hand(layer, x, y):
        values = x[0] * x[1] * prod(_windows(m, o) for m, o in zip(x[2:], y[2:]))
        return 0, values if kind == "avg" else values - prod(y)

    return hand


def per_element(ops: int):
    def hand(layer, x, y):
        return 0, ops * prod(y)

    return hand


def softmax_hand(log: bool):
    def hand(layer, x, y):
        n = x[layer._axis]
        rows = prod(x) // n
        return 0, rows * (n + (n - 1) + (1 if log else 0) + n)  # exps, adds, (log), divides or subtracts

    return hand


def resample_hand(taps: int):
    def hand(layer, x, y):
        return taps * prod(y), (2 * taps - 1) * prod(y) if taps else 0

    return hand


def zero_hand(layer, x, y):
    return 0, 0


def rnn_hand(gates: int, tail: int):
    """Every step of every layer and direction: G gates of x.W_ih + b_ih + h.W_hh + b_hh per hidden unit
    (2I - 1 + 1 + 2H - 1 + 1 + 1 = 2I + 2H + 1 ops each), then the cell's tail per unit."""

    def hand(layer, x, y):
        cell = isinstance(layer, nn.RNNCellBase)
        h = layer.hidden_size
        if cell:
            batch, steps, inputs = x[0], 1, [layer.input_size]
            directions = 1
        else:
            steps, batch = (x[0], x[1]) if layer.time_major else (x[1], x[0])
            directions = layer.num_directions
            inputs = [layer.input_size] + [h * directions] * (layer.num_layers - 1)
        macs = sum(batch * steps * directions * gates * h * (i + h) for i in inputs)
        flops = sum(batch * steps * directions * h * (gates * (2 * i + 2 * h + 1) + tail) for i in inputs)
        return macs, flops

    return hand


def book_conv_paddle(layer, x, y):
    """Book eq. 5.21: M'N'P (D U V + 1)."""
    p, d, kh, kw = layer.weight.shape
    return prod(y) * (d * kh * kw + _bias(layer))


def _book(name: str, *args, **kwargs):
    def make():
        from convcalc.models import book

        return getattr(book, name)(*args, **kwargs)

    return make


LAYER_CASES = [
    LayerCase("Conv1D", lambda: nn.Conv1D(4, 8, 3, stride=2, dilation=2, groups=2, data_format="NLC"), (2, 33, 4),
              conv_hand),
    LayerCase("Conv2D", lambda: nn.Conv2D(6, 8, 3, stride=2, padding=1, groups=2), (2, 6, 11, 9), conv_hand),
    LayerCase("Conv3D", lambda: nn.Conv3D(4, 6, (1, 3, 3), bias_attr=False), (1, 4, 3, 7, 7), conv_hand),
    LayerCase("Conv1DTranspose", lambda: nn.Conv1DTranspose(4, 6, 3, stride=2, padding=1, output_padding=1,
                                                            groups=2), (2, 4, 9), transposed_hand),
    LayerCase("Conv2DTranspose", lambda: nn.Conv2DTranspose(4, 4, 3, stride=3, padding=2, dilation=2), (1, 4, 5, 6),
              transposed_hand),
    LayerCase("Conv3DTranspose", lambda: nn.Conv3DTranspose(2, 4, 2, stride=2), (1, 2, 3, 4, 3), transposed_hand),
    LayerCase("Linear", lambda: nn.Linear(16, 8), (2, 5, 16), linear_hand),
    LayerCase("BatchNorm", lambda: nn.BatchNorm(6), (2, 6, 3, 3), batchnorm_hand),
    LayerCase("BatchNorm1D", lambda: nn.BatchNorm1D(6), (4, 6, 10), batchnorm_hand),
    LayerCase("BatchNorm2D", lambda: nn.BatchNorm2D(6), (2, 6, 5, 5), batchnorm_hand),
    LayerCase("BatchNorm3D", lambda: nn.BatchNorm3D(6), (1, 6, 3, 4, 4), batchnorm_hand),
    LayerCase("LayerNorm", lambda: nn.LayerNorm([5, 16]), (2, 5, 16), stat_norm_hand(lambda x: x[0])),
    LayerCase("GroupNorm", lambda: nn.GroupNorm(2, 8), (2, 8, 4, 4), stat_norm_hand(lambda x: x[0] * 2)),
    LayerCase("InstanceNorm1D", lambda: nn.InstanceNorm1D(3), (2, 3, 7), stat_norm_hand(lambda x: x[0] * x[1])),
    LayerCase("InstanceNorm2D", lambda: nn.InstanceNorm2D(3), (2, 3, 5, 5), stat_norm_hand(lambda x: x[0] * x[1])),
    LayerCase("InstanceNorm3D", lambda: nn.InstanceNorm3D(3), (1, 3, 3, 4, 4),
              stat_norm_hand(lambda x: x[0] * x[1])),
    LayerCase("MaxPool1D", lambda: nn.MaxPool1D(3, stride=2), (2, 4, 21), pool_hand(3, "max")),
    LayerCase("AvgPool1D", lambda: nn.AvgPool1D(2), (1, 8, 62), pool_hand(2, "avg")),
    LayerCase("MaxPool2D", lambda: nn.MaxPool2D(2), (1, 3, 8, 8), pool_hand(4, "max")),
    LayerCase("AvgPool2D", lambda: nn.AvgPool2D(3, stride=2, padding=1), (1, 4, 9, 9), pool_hand(9, "avg")),
    LayerCase("MaxPool3D", lambda: nn.MaxPool3D((1, 2, 2)), (1, 2, 4, 6, 6), pool_hand(4, "max")),
    LayerCase("AvgPool3D", lambda: nn.AvgPool3D(2), (1, 8, 6, 6, 6), pool_hand(8, "avg")),
    LayerCase("AdaptiveAvgPool1D", lambda: nn.AdaptiveAvgPool1D(3), (1, 4, 10), adaptive_hand("avg")),
    LayerCase("AdaptiveAvgPool2D", lambda: nn.AdaptiveAvgPool2D((2, 3)), (2, 3, 7, 9), adaptive_hand("avg")),
    LayerCase("AdaptiveAvgPool3D", lambda: nn.AdaptiveAvgPool3D(2), (1, 2, 5, 4, 3), adaptive_hand("avg")),
    LayerCase("AdaptiveMaxPool1D", lambda: nn.AdaptiveMaxPool1D(4), (1, 2, 9), adaptive_hand("max")),
    LayerCase("AdaptiveMaxPool2D", lambda: nn.AdaptiveMaxPool2D(2), (1, 3, 5, 5), adaptive_hand("max")),
    LayerCase("AdaptiveMaxPool3D", lambda: nn.AdaptiveMaxPool3D((1, 2, 2)), (1, 2, 3, 5, 4), adaptive_hand("max")),
    # activations: the operations of each formula per element
    LayerCase("ReLU", nn.ReLU, (2, 3, 4), per_element(1)),                  # max(x, 0)
    LayerCase("ReLU6", nn.ReLU6, (2, 3, 4), per_element(2)),                # min(max(x, 0), 6)
    LayerCase("LeakyReLU", nn.LeakyReLU, (2, 3, 4), per_element(2)),        # max(x, a*x)
    LayerCase("Hardswish", nn.Hardswish, (2, 3, 4), per_element(5)),        # x * min(max(x + 3, 0), 6) / 6
    LayerCase("Hardsigmoid", nn.Hardsigmoid, (2, 3, 4), per_element(4)),    # max(min(x/6 + 1/2, 1), 0)
    LayerCase("Sigmoid", nn.Sigmoid, (2, 3, 4), per_element(4)),            # 1 / (1 + exp(-x))
    LayerCase("Swish", nn.Swish, (2, 3, 4), per_element(5)),                # x * sigmoid(x)
    LayerCase("Silu", nn.Silu, (2, 3, 4), per_element(5)),
    LayerCase("GELU", nn.GELU, (2, 3, 4), per_element(5)),                  # 0.5 x (1 + erf(x / sqrt 2))
    LayerCase("GELU-tanh", lambda: nn.GELU(approximate=True), (2, 3, 4), per_element(9)),  # tanh form
    LayerCase("Tanh", nn.Tanh, (2, 3, 4), per_element(1)),
    LayerCase("ELU", nn.ELU, (2, 3, 4), per_element(4)),                    # x > 0 ? x : a (exp(x) - 1)
    LayerCase("SELU", nn.SELU, (2, 3, 4), per_element(5)),                  # scale * elu
    LayerCase("Softplus", nn.Softplus, (2, 3, 4), per_element(3)),          # log(1 + exp(x))
    LayerCase("Mish", nn.Mish, (2, 3, 4), per_element(5)),                  # x * tanh(softplus(x))
    LayerCase("Hardtanh", nn.Hardtanh, (2, 3, 4), per_element(2)),          # min(max(x, lo), hi)
    LayerCase("Softsign", nn.Softsign, (2, 3, 4), per_element(3)),          # x / (1 + |x|)
    LayerCase("Tanhshrink", nn.Tanhshrink, (2, 3, 4), per_element(2)),      # x - tanh(x)
    LayerCase("LogSigmoid", nn.LogSigmoid, (2, 3, 4), per_element(5)),      # log(sigmoid(x))
    LayerCase("Softmax", lambda: nn.Softmax(axis=1), (2, 7, 4), softmax_hand(False)),
    LayerCase("LogSoftmax", lambda: nn.LogSoftmax(axis=-1), (2, 7, 4), softmax_hand(True)),
    # resampling: each output a weighted sum of t inputs (nearest: a copy)
    LayerCase("Upsample", lambda: nn.Upsample(scale_factor=2, mode="bicubic"), (1, 3, 5, 6), resample_hand(16)),
    LayerCase("Upsample-linear", lambda: nn.Upsample(scale_factor=2, mode="linear", data_format="NCW"), (1, 3, 5),
              resample_hand(2)),
    LayerCase("Upsample-trilinear", lambda: nn.Upsample(scale_factor=2, mode="trilinear"), (1, 2, 3, 3, 3),
              resample_hand(8)),
    LayerCase("Upsample-area", lambda: nn.Upsample(size=(3, 2), mode="area"), (1, 2, 7, 5), adaptive_hand("avg")),
    LayerCase("UpsamplingNearest2D", lambda: nn.UpsamplingNearest2D(scale_factor=2), (1, 3, 4, 4), resample_hand(0)),
    LayerCase("UpsamplingBilinear2D", lambda: nn.UpsamplingBilinear2D(scale_factor=2), (1, 3, 4, 4),
              resample_hand(4)),
    LayerCase("Embedding", lambda: nn.Embedding(10, 4), (2, 3), zero_hand),  # rows copied, nothing computed
    LayerCase("SimpleRNN", lambda: nn.SimpleRNN(4, 8, time_major=True), (6, 3, 4), rnn_hand(1, 1)),
    LayerCase("LSTM", lambda: nn.LSTM(4, 8), (3, 6, 4), rnn_hand(4, 18)),
    LayerCase("GRU", lambda: nn.GRU(4, 8, num_layers=2, direction="bidirect"), (3, 6, 4), rnn_hand(3, 13)),
    LayerCase("SimpleRNNCell", lambda: nn.SimpleRNNCell(8, 16), (3, 8), rnn_hand(1, 1)),
    LayerCase("LSTMCell", lambda: nn.LSTMCell(8, 16), (3, 8), rnn_hand(4, 18)),
    LayerCase("GRUCell", lambda: nn.GRUCell(8, 16), (3, 8), rnn_hand(3, 13)),
    # no arithmetic on the values
    LayerCase("Dropout", lambda: nn.Dropout(0.5), (2, 3, 4), zero_hand),
    LayerCase("Dropout2D", lambda: nn.Dropout2D(0.5), (2, 3, 4, 4), zero_hand),
    LayerCase("Dropout3D", lambda: nn.Dropout3D(0.5), (2, 3, 2, 4, 4), zero_hand),
    LayerCase("AlphaDropout", lambda: nn.AlphaDropout(0.5), (2, 3, 4), zero_hand),
    LayerCase("Flatten", nn.Flatten, (2, 3, 4, 4), zero_hand),
    LayerCase("Identity", nn.Identity, (2, 3, 4), zero_hand),
    LayerCase("Unflatten", lambda: nn.Unflatten(1, [2, 6]), (2, 12, 4), zero_hand),
    LayerCase("Pad1D", lambda: nn.Pad1D(2), (1, 3, 8), zero_hand),
    LayerCase("Pad2D", lambda: nn.Pad2D(1), (1, 3, 8, 8), zero_hand),
    LayerCase("Pad3D", lambda: nn.Pad3D(1), (1, 3, 4, 4, 4), zero_hand),
    LayerCase("ZeroPad2D", lambda: nn.ZeroPad2D(1), (1, 3, 8, 8), zero_hand),
    LayerCase("PixelShuffle", lambda: nn.PixelShuffle(2), (1, 8, 4, 4), zero_hand),
    LayerCase("PixelUnshuffle", lambda: nn.PixelUnshuffle(2), (1, 2, 4, 4), zero_hand),
    LayerCase("ChannelShuffle", lambda: nn.ChannelShuffle(2), (1, 4, 4, 4), zero_hand),
    # the book's operators (paddle.flops cannot see them: its eq. 5.21 by hand)
    LayerCase("book.Conv2D", _book("Conv2D", 3, 4, 3, stride=2, padding=1), (1, 3, 9, 9), conv_hand,
              book_conv_paddle),
    LayerCase("book.VectorizedConv2D", _book("VectorizedConv2D", 3, 4, 3), (1, 3, 8, 8), conv_hand, book_conv_paddle),
    LayerCase("book.Pool2D", _book("Pool2D", (2, 2), mode="max", stride=2), (1, 3, 8, 8), pool_hand(4, "max"),
              lambda layer, x, y: 0),
    LayerCase("book.VectorizedPool2D", _book("VectorizedPool2D", (2, 2), mode="avg", stride=2), (1, 3, 8, 8),
              pool_hand(4, "avg"), lambda layer, x, y: prod(y)),
]


def _eager_shapes(model: Wrap, shape: tuple) -> tuple[tuple, tuple]:
    seen = {}

    def hook(layer, inputs, output):
        out = output[0] if isinstance(output, (tuple, list)) else output
        seen["io"] = (tuple(inputs[0].shape), tuple(out.shape))

    h = model.layer.register_forward_post_hook(hook)
    try:
        x = paddle.randint(0, 10, shape) if isinstance(model.layer, nn.Embedding) else paddle.rand(shape)
        with paddle.no_grad():
            model(x)
    finally:
        h.remove()
    return seen["io"]


@pytest.mark.parametrize("case", LAYER_CASES, ids=[c.id for c in LAYER_CASES])
def test_layer_rule_by_hand_in_every_convention(case):
    model = Wrap(case.make())
    model.eval()
    x_shape, y_shape = _eager_shapes(model, case.shape)
    macs, flops = case.hand(model.layer, x_shape, y_shape)
    dtype = "int64" if isinstance(model.layer, nn.Embedding) else "float32"
    inputs = [ModelInput(tuple(case.shape), dtype)]
    trace = trace_model(model, inputs)
    got = {}
    for convention in ("macs", "flops", "paddle"):
        rep = analyze(model, inputs, convention=convention, trace=trace)
        (row,) = [r for r in rep.records if r.path == "layer"]
        assert row.has_rule
        got[convention] = int(row.flops)
        assert int(rep.totals.flops) == got[convention]  # nothing else in the model counts
    paddle_count = (case.paddle_by_hand(model.layer, x_shape, y_shape) if case.paddle_by_hand
                    else paddle_flops(model, case.shape) if dtype == "float32" else 0)
    assert got == {"macs": macs, "flops": flops, "paddle": paddle_count}


def test_every_layer_rule_has_a_case():
    from convcalc.rules.layers import _RULES, find_rule

    find_rule(nn.ReLU())  # loads the built-in rules
    covered = {type(c.make()) for c in LAYER_CASES} | {nn.SyncBatchNorm}  # test_sync_batchnorm_rule_by_hand
    missing = sorted(cls.__name__ for cls in _RULES if cls not in covered)
    assert missing == []


def test_sync_batchnorm_rule_by_hand():
    """SyncBatchNorm has no CPU kernel, so no model with it runs here: its rule is applied to the shapes of the
    same normalisation run eagerly as BatchNorm2D (the same arithmetic at inference)."""
    from convcalc.formulas import as_convention
    from convcalc.rules.layers import RuleContext, find_rule

    twin = Wrap(nn.BatchNorm2D(6))
    twin.eval()
    x_shape, y_shape = _eager_shapes(twin, (2, 6, 4, 4))
    layer = nn.SyncBatchNorm(6)
    _, rule = find_rule(layer)
    got = {c: int(rule.cost(RuleContext(layer, (x_shape,), y_shape, as_convention(c))).flops)
           for c in ("macs", "flops", "paddle")}
    # paddle.flops has no SyncBatchNorm rule: 0 (it counts only BatchNorm and BatchNorm2D)
    assert got == {"macs": 0, "flops": batchnorm_hand(layer, x_shape, y_shape)[1], "paddle": 0}
