"""FLOPs of ops that cost a fixed number of operations per element or per window: norms, pooling,
activations and other elementwise ops, softmax, interpolation, embedding lookups.

The conventions are those of :mod:`convcalc.formulas.flops` (book eqs. 5.4, 5.8, 5.21).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from convcalc.errors import UnknownNameError
from convcalc.formulas._common import Quantity, as_expr, check_at_least, pair, product, seq
from convcalc.formulas.conventions import Convention, as_convention
from convcalc.formulas.numbers import ceiling, div, expand, floor, floor_div, is_number, total

if TYPE_CHECKING:
    import sympy

__all__ = [
    "ELEMENTWISE_OPS",
    "batchnorm_flops",
    "norm_flops",
    "avgpool_flops",
    "maxpool_flops",
    "adaptive_avgpool_flops",
    "adaptive_maxpool_flops",
    "adaptive_pool_flops",
    "activation_flops",
    "elementwise_flops",
    "add_flops",
    "softmax_flops",
    "interpolate_flops",
    "embedding_flops",
]


ELEMENTWISE_OPS: dict[str, int] = {
    # arithmetic on two inputs, per output element
    "add": 1, "subtract": 1, "multiply": 1, "divide": 1, "maximum": 1, "minimum": 1,
    "elementwise_pow": 1, "remainder": 1, "floor_divide": 1,
    # one elementary function or comparison per element
    "relu": 1, "tanh": 1, "exp": 1, "log": 1, "sqrt": 1, "rsqrt": 1, "abs": 1, "pow": 1,
    "square": 1, "erf": 1, "sin": 1, "cos": 1, "reciprocal": 1, "floor": 1, "ceil": 1, "sign": 1,
    "equal": 1, "not_equal": 1, "less_than": 1, "less_equal": 1, "greater_than": 1, "greater_equal": 1,
    # the operations of each activation's formula
    "relu6": 2,          # min(max(x, 0), 6)
    "leaky_relu": 2,     # max(x, a*x)
    "prelu": 2,          # x > 0 ? x : a*x (a learned per channel)
    "hardtanh": 2,       # min(max(x, lo), hi)
    "clip": 2,
    "sigmoid": 4,        # 1 / (1 + exp(-x)): negate, exp, add, divide
    "silu": 5,           # x * sigmoid(x)
    "swish": 5,
    "gelu": 5,           # 0.5 * x * (1 + erf(x / sqrt(2)))
    "gelu_tanh": 9,      # 0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x**3))), GELU(approximate=True)
    "hardswish": 5,      # x * min(max(x + 3, 0), 6) / 6
    "hardsigmoid": 4,    # max(min(x/6 + 1/2, 1), 0)
    "elu": 4,            # x > 0 ? x : a*(exp(x) - 1)
    "selu": 5,           # scale * elu
    "softplus": 3,       # log(1 + exp(x))
    "mish": 5,           # x * tanh(softplus(x))
    "softsign": 3,       # x / (1 + |x|)
    "tanh_shrink": 2,    # x - tanh(x)
    "log_sigmoid": 5,    # log(sigmoid(x))
    "logsigmoid": 5,     # the op F.log_sigmoid / nn.LogSigmoid trace as
    # no arithmetic on the values
    "cast": 0, "assign": 0, "dropout": 0,
}
"""Arithmetic operations per element in the ``flops`` convention, by Paddle op name.

``scale`` (``a*x + b``) is 1 or 2 by its bias and is decided by its handler.
"""


def batchnorm_flops(
    numel: Quantity, convention: str | Convention = Convention.PADDLE, channels: Quantity = 0, affine: bool = True
) -> sympy.Expr:
    """FLOPs of BatchNorm at inference on ``numel`` elements of ``channels`` channels.

    ``y = (x - mean) / sqrt(var + eps) * gamma + beta`` with stored statistics:
    paddle: ``2*numel``; macs: 0; flops: ``(2 + 2*affine)*numel + 2*C``
    (subtract and divide per element, scale and shift if affine; ``var + eps``
    and its square root once per channel).

    >>> batchnorm_flops(64 * 16 * 16)
    32768
    >>> batchnorm_flops(64 * 16 * 16, 'flops', channels=64)
    65664
    """
    conv = as_convention(convention)
    n, c = as_expr(numel, "numel"), as_expr(channels, "channels")
    if conv is Convention.PADDLE:
        return 2 * n
    if conv is Convention.MACS:
        return 0
    return expand((4 if affine else 2) * n + 2 * c)


def norm_flops(
    groups: Quantity, group_size: Quantity, affine: int = 2,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of a normalisation that computes its statistics (LayerNorm, GroupNorm, InstanceNorm).

    Per group of ``n`` values: mean ``n`` (``n-1`` adds, a divide), centred
    values ``n``, squares ``n``, their sum ``n-1``, divide 1, ``+ eps`` 1,
    square root 1, divide by it ``n``: ``5n + 2``; plus ``affine`` ops per
    value (2: a scale and a shift; 1: only one of them; 0: none).  paddle and
    macs: 0 (``paddle.flops`` has no rule for these).

    >>> norm_flops(197, 768, convention='flops')   # one ViT LayerNorm
    1059466
    """
    conv = as_convention(convention)
    if conv is not Convention.FLOPS:
        return 0
    g, n = as_expr(groups, "groups"), as_expr(group_size, "group_size")
    return expand(g * (5 * n + 2 + affine * n))


def _window(kernel_size) -> sympy.Expr:
    """Values in a pooling window: one number means a square 2-D window (the book's U x U)."""
    if isinstance(kernel_size, (tuple, list)):
        return product(seq(kernel_size, "kernel_size"))
    u, v = pair(kernel_size, "kernel_size")
    return u * v


def avgpool_flops(
    out_numel: Quantity, kernel_size, convention: str | Convention = Convention.PADDLE
) -> sympy.Expr:
    """FLOPs of average pooling (1/2/3-D) producing ``out_numel`` values over windows of ``prod(k)`` values.

    paddle: ``numel(out)``; macs: 0; flops: ``prod(k)*numel(out)`` (``prod(k)-1``
    adds and one divide per output; padded positions counted as window values).

    >>> avgpool_flops(16 * 5 * 5, 2)   # LeNet S4 in the book
    400
    >>> avgpool_flops(8 * 31, (2,), convention='flops')   # AvgPool1D(2)
    496
    """
    conv = as_convention(convention)
    n = as_expr(out_numel, "out_numel")
    k = _window(kernel_size)
    return {Convention.PADDLE: n, Convention.MACS: 0, Convention.FLOPS: expand(n * k)}[conv]


def maxpool_flops(
    out_numel: Quantity, kernel_size, convention: str | Convention = Convention.PADDLE
) -> sympy.Expr:
    """FLOPs of max pooling (1/2/3-D): 0 in paddle and macs; ``(prod(k)-1)*numel(out)`` comparisons in flops.

    >>> maxpool_flops(6 * 14 * 14, 2, convention='flops')
    3528
    """
    conv = as_convention(convention)
    n = as_expr(out_numel, "out_numel")
    if conv is Convention.FLOPS:
        return expand(n * (_window(kernel_size) - 1))
    return 0


def adaptive_window_total(size: sympy.Expr, out: sympy.Expr) -> sympy.Expr:
    """Sum of the adaptive window lengths on one axis.

    Window ``i`` spans ``[floor(i*M/M'), ceil((i+1)*M/M'))``.  Exact for
    numbers, and for a symbolic ``M`` with a numeric ``M'`` (the sum of the
    ``M'`` window lengths in ``M``); for a symbolic ``M'`` it assumes ``M'``
    divides ``M`` (total ``M``).

    >>> adaptive_window_total(10, 3)
    12
    """
    if is_number(size) and is_number(out):
        m, o = int(size), int(out)
        return sum(-((-(i + 1) * m) // o) - (i * m) // o for i in range(o))
    if is_number(out):
        o = int(out)
        return total([ceiling(div((i + 1) * size, o)) - floor(div(i * size, o)) for i in range(o)])
    return size


def adaptive_pool_flops(
    in_sizes: Sequence,
    out_sizes: Sequence,
    channels: Quantity,
    batch: Quantity = 1,
    mode: str = "avg",
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of adaptive average or max pooling (1/2/3-D), ``in_sizes -> out_sizes`` per axis.

    paddle (avg): ``(prod(floor(M/M')) + 1)*numel(out)`` (what ``paddle.flops``
    computes, even when the windows overlap); paddle (max) and macs: 0;
    flops: the window values summed over all windows (adds plus one divide
    each) for avg, that minus one per window (comparisons) for max.

    >>> adaptive_pool_flops((7, 7), (1, 1), 512)
    25600
    >>> adaptive_pool_flops((10,), (3,), 4, mode='avg', convention='flops')   # windows 4, 4, 4
    48
    """
    conv = as_convention(convention)
    if mode not in ("avg", "max"):
        raise UnknownNameError("adaptive pooling mode", str(mode), ("avg", "max"))
    ins = tuple(as_expr(s, "in_size") for s in in_sizes)
    outs = tuple(as_expr(s, "out_size") for s in out_sizes)
    c, b = as_expr(channels, "channels"), as_expr(batch, "batch")
    for val in outs:
        check_at_least(val, 1, "out_size", "an adaptive pool produces at least one value per axis")
    out_numel = b * c * product(outs)
    if conv is Convention.MACS or (conv is Convention.PADDLE and mode == "max"):
        return 0
    if conv is Convention.PADDLE:
        return expand((product([floor_div(i, o) for i, o in zip(ins, outs)]) + 1) * out_numel)
    window_sum = b * c * product([adaptive_window_total(i, o) for i, o in zip(ins, outs)])
    return expand(window_sum if mode == "avg" else window_sum - out_numel)


def adaptive_avgpool_flops(
    in_h: Quantity,
    in_w: Quantity,
    out_h: Quantity,
    out_w: Quantity,
    channels: Quantity,
    batch: Quantity = 1,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of 2-D adaptive average pooling ``(M, N) -> (M', N')``; :func:`adaptive_pool_flops`.

    paddle: ``(floor(M/M')*floor(N/N') + 1) * numel(out)``; macs: 0; flops:
    the sum of all window sizes (adds plus one divide each).

    >>> adaptive_avgpool_flops(1, 1, 1, 1, 512)    # ResNet18 head at 32x32 input
    1024
    >>> adaptive_avgpool_flops(7, 7, 1, 1, 512)
    25600
    """
    return adaptive_pool_flops((in_h, in_w), (out_h, out_w), channels, batch, "avg", convention)


def adaptive_maxpool_flops(
    in_h: Quantity,
    in_w: Quantity,
    out_h: Quantity,
    out_w: Quantity,
    channels: Quantity,
    batch: Quantity = 1,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of 2-D adaptive max pooling: 0 in paddle and macs; comparisons (window size - 1) in flops.

    >>> adaptive_maxpool_flops(4, 4, 1, 1, 8, convention='flops')
    120
    """
    return adaptive_pool_flops((in_h, in_w), (out_h, out_w), channels, batch, "max", convention)


def elementwise_flops(
    numel: Quantity, ops_per_element: Quantity = 1, convention: str | Convention = Convention.PADDLE
) -> sympy.Expr:
    """FLOPs of an elementwise op doing ``ops_per_element`` operations per output value.

    paddle and macs: 0; flops: ``ops_per_element*numel`` (see :data:`ELEMENTWISE_OPS`).

    >>> elementwise_flops(10, ELEMENTWISE_OPS["sigmoid"], 'flops')
    40
    """
    conv = as_convention(convention)
    if conv is not Convention.FLOPS:
        return 0
    return expand(as_expr(numel, "numel") * as_expr(ops_per_element, "ops_per_element"))


def activation_flops(
    numel: Quantity, convention: str | Convention = Convention.PADDLE, counted_by_paddle: bool = False,
    kind: str | None = None,
) -> sympy.Expr:
    """FLOPs of an elementwise activation on ``numel`` elements.

    paddle: ``numel`` only for the activations ``paddle.flops`` counts
    (LeakyReLU; pass ``counted_by_paddle=True``), otherwise 0; macs: 0;
    flops: the operations of the activation's formula per element
    (``ELEMENTWISE_OPS[kind]``, 1 when ``kind`` is not given).

    >>> activation_flops(100, convention='flops')
    100
    >>> activation_flops(100, convention='flops', kind='sigmoid')
    400
    """
    conv = as_convention(convention)
    n = as_expr(numel, "numel")
    if conv is Convention.PADDLE and counted_by_paddle:
        return n
    ops = 1 if kind is None else ELEMENTWISE_OPS[kind]
    return elementwise_flops(n, ops, conv)


def add_flops(numel: Quantity, convention: str | Convention = Convention.PADDLE, inputs: int = 2) -> sympy.Expr:
    """FLOPs of an elementwise sum of ``inputs`` tensors (a residual add, book eq. 5.22).

    paddle and macs: 0 (``paddle.flops`` only sees layers); flops:
    ``(inputs-1)*numel``.

    >>> add_flops(64 * 8 * 8, convention='flops')
    4096
    """
    return elementwise_flops(numel, inputs - 1, convention)


def softmax_flops(
    numel: Quantity, axis_size: Quantity, log: bool = False, convention: str | Convention = Convention.PADDLE
) -> sympy.Expr:
    """FLOPs of softmax (or log-softmax) over an axis of ``n = axis_size`` values.

    softmax ``exp(x_i) / sum_j exp(x_j)`` per row: ``n`` exps, ``n-1`` adds,
    ``n`` divides = ``3n - 1``; log-softmax ``x_i - log(sum_j exp(x_j))``:
    ``n`` exps, ``n-1`` adds, one log, ``n`` subtracts = ``3n``.  The
    max-subtraction kernels add for numerical safety is not part of the
    definition and not counted.  paddle and macs: 0.

    >>> softmax_flops(12 * 197 * 197, 197, convention='flops')   # one ViT attention map
    1394760
    """
    conv = as_convention(convention)
    if conv is not Convention.FLOPS:
        return 0
    numel_, n = as_expr(numel, "numel"), as_expr(axis_size, "axis_size")
    return expand(div(numel_, n) * (3 * n - (0 if log else 1)))


_INTERPOLATION_TAPS = {"nearest": 0, "linear": 2, "bilinear": 4, "trilinear": 8, "bicubic": 16}


def interpolate_flops(out_numel: Quantity, mode: str, convention: str | Convention = Convention.PADDLE) -> sympy.Expr:
    """FLOPs of ``F.interpolate`` / ``nn.Upsample`` producing ``out_numel`` values.

    Each output is a weighted sum of ``t`` input values: ``t`` = 0 (nearest,
    a copy), 2 (linear), 4 (bilinear), 8 (trilinear), 16 (bicubic).  The
    weights depend on coordinates only and are not counted.  paddle: 0;
    macs: ``t*numel(out)``; flops: ``(2t - 1)*numel(out)`` (0 for nearest).

    >>> interpolate_flops(8 * 32 * 32, 'bilinear', 'flops')
    57344
    """
    conv = as_convention(convention)
    try:
        taps = _INTERPOLATION_TAPS[mode.lower()]
    except (KeyError, AttributeError):
        raise UnknownNameError("interpolation mode", str(mode), _INTERPOLATION_TAPS) from None
    n = as_expr(out_numel, "out_numel")
    if conv is Convention.PADDLE or taps == 0:
        return 0
    return expand(n * (taps if conv is Convention.MACS else 2 * taps - 1))


def embedding_flops(out_numel: Quantity, convention: str | Convention = Convention.PADDLE) -> sympy.Expr:
    """FLOPs of an embedding lookup: 0 in every convention (rows are copied, nothing is computed).

    >>> embedding_flops(12 * 64, 'flops')
    0
    """
    as_convention(convention)
    as_expr(out_numel, "out_numel")
    return 0
