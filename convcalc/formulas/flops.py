"""FLOPs in three named conventions (seed eqs. 5.4, 5.8, 5.21).

``paddle`` (default)
    What ``paddle.flops`` counts, which is also the seed's 5.21: conv
    ``M'N'P*(D/g*U*V + bias)``, linear ``in*out`` (bias not counted),
    BatchNorm ``2*numel``, AvgPool ``numel(out)``, AdaptiveAvgPool
    ``(floor(M/M')*floor(N/N') + 1)*numel(out)``, LeakyReLU ``numel``;
    ReLU, max pooling, elementwise adds and anything else: 0.
``macs``
    Multiply-accumulates of conv, linear and matmul only; everything else 0.
``flops``
    Every arithmetic operation counted once: ``2 x MACs`` plus bias adds,
    normalisation (4 per element: subtract, divide, scale, shift), pooling
    (``k-1`` adds and 1 divide per average, ``k-1`` comparisons per max),
    one per element for activations and elementwise adds.

Every function takes ints or sympy expressions, returns a sympy expression,
and accepts ``convention=`` as a string or :class:`Convention`.
"""

from __future__ import annotations

import enum

import sympy

from convcalc.errors import UnknownNameError
from convcalc.formulas._common import Quantity, as_expr, check_at_least, pair

__all__ = [
    "Convention",
    "as_convention",
    "conv_flops",
    "linear_flops",
    "batchnorm_flops",
    "avgpool_flops",
    "maxpool_flops",
    "adaptive_avgpool_flops",
    "adaptive_maxpool_flops",
    "activation_flops",
    "add_flops",
]


class Convention(str, enum.Enum):
    """How FLOPs are counted; see the module docstring."""

    PADDLE = "paddle"
    MACS = "macs"
    FLOPS = "flops"

    def __str__(self) -> str:
        return self.value


def as_convention(value: str | Convention) -> Convention:
    """Validate a convention name early (torchinfo-style string enum)."""
    try:
        return Convention(str(value).lower())
    except ValueError:
        raise UnknownNameError("FLOPs convention", str(value), [c.value for c in Convention]) from None


def conv_flops(
    out_h: Quantity,
    out_w: Quantity,
    out_channels: Quantity,
    in_channels: Quantity,
    kernel_size,
    groups: Quantity = 1,
    bias: bool = True,
    batch: Quantity = 1,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of a 2-D convolution (seed 5.4, 5.8, 5.21).

    paddle: ``B*M'*N'*P*(D/g*U*V + bias)``; macs: ``B*M'*N'*P*D/g*U*V``;
    flops: ``2*macs + B*M'*N'*P*bias``.

    >>> conv_flops(30, 30, 1, 1, 3, bias=False)   # seed 5.4: 3x3 on 32x32
    8100
    >>> conv_flops(30, 30, 6, 3, 3)               # seed 5.21
    151200
    >>> M, N, P, D, U = sympy.symbols("M' N' P D U", positive=True, integer=True)
    >>> conv_flops(M, N, P, D, U)
    D*M'*N'*P*U**2 + M'*N'*P
    """
    conv = as_convention(convention)
    m, n = as_expr(out_h, "out_h"), as_expr(out_w, "out_w")
    p, d = as_expr(out_channels, "out_channels"), as_expr(in_channels, "in_channels")
    g, b = as_expr(groups, "groups"), as_expr(batch, "batch")
    check_at_least(g, 1, "groups", "use groups=1 for an ordinary convolution")
    u, v = pair(kernel_size, "kernel_size")
    positions = b * m * n * p
    macs = positions * (d / g) * u * v
    if conv is Convention.PADDLE:
        return sympy.expand(positions * ((d / g) * u * v + (1 if bias else 0)))
    if conv is Convention.MACS:
        return sympy.expand(macs)
    return sympy.expand(2 * macs + (positions if bias else 0))


def linear_flops(
    in_features: Quantity,
    out_features: Quantity,
    batch: Quantity = 1,
    bias: bool = True,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of a fully connected layer on ``batch`` rows.

    paddle and macs: ``B*in*out`` (``paddle.flops`` ignores the bias);
    flops: ``2*B*in*out + B*out*bias``.

    >>> linear_flops(120, 84)     # LeNet F6 in the seed
    10080
    >>> linear_flops(120, 84, convention='flops')
    20244
    """
    conv = as_convention(convention)
    i, o, b = as_expr(in_features, "in_features"), as_expr(out_features, "out_features"), as_expr(batch, "batch")
    macs = b * i * o
    if conv is Convention.FLOPS:
        return sympy.expand(2 * macs + (b * o if bias else 0))
    return sympy.expand(macs)


def batchnorm_flops(numel: Quantity, convention: str | Convention = Convention.PADDLE) -> sympy.Expr:
    """FLOPs of BatchNorm in inference on ``numel`` elements.

    paddle: ``2*numel``; macs: 0; flops: ``4*numel``.

    >>> batchnorm_flops(64 * 16 * 16)
    32768
    """
    conv = as_convention(convention)
    n = as_expr(numel, "numel")
    return {Convention.PADDLE: 2 * n, Convention.MACS: sympy.Integer(0), Convention.FLOPS: 4 * n}[conv]


def avgpool_flops(
    out_numel: Quantity, kernel_size, convention: str | Convention = Convention.PADDLE
) -> sympy.Expr:
    """FLOPs of average pooling producing ``out_numel`` values.

    paddle: ``numel(out)``; macs: 0; flops: ``U*V*numel(out)`` (``U*V-1``
    adds and one divide per output).

    >>> avgpool_flops(16 * 5 * 5, 2)   # LeNet S4 in the seed
    400
    """
    conv = as_convention(convention)
    n = as_expr(out_numel, "out_numel")
    u, v = pair(kernel_size, "kernel_size")
    return {Convention.PADDLE: n, Convention.MACS: sympy.Integer(0), Convention.FLOPS: sympy.expand(n * u * v)}[conv]


def maxpool_flops(
    out_numel: Quantity, kernel_size, convention: str | Convention = Convention.PADDLE
) -> sympy.Expr:
    """FLOPs of max pooling: 0 in paddle and macs; ``(U*V-1)*numel(out)`` comparisons in flops.

    >>> maxpool_flops(6 * 14 * 14, 2, convention='flops')
    3528
    """
    conv = as_convention(convention)
    n = as_expr(out_numel, "out_numel")
    u, v = pair(kernel_size, "kernel_size")
    if conv is Convention.FLOPS:
        return sympy.expand(n * (u * v - 1))
    return sympy.Integer(0)


def _adaptive_window_total(size: sympy.Expr, out: sympy.Expr) -> sympy.Expr:
    """Sum of the adaptive window lengths on one axis.

    Window ``i`` spans ``[floor(i*M/M'), ceil((i+1)*M/M'))``.  Exact for
    numbers; for symbols it assumes ``M'`` divides ``M`` (total ``M``).
    """
    if size.is_number and out.is_number:
        m, o = int(size), int(out)
        return sympy.Integer(sum(-((-(i + 1) * m) // o) - (i * m) // o for i in range(o)))
    return size


def adaptive_avgpool_flops(
    in_h: Quantity,
    in_w: Quantity,
    out_h: Quantity,
    out_w: Quantity,
    channels: Quantity,
    batch: Quantity = 1,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of adaptive average pooling ``(M, N) -> (M', N')``.

    paddle: ``(floor(M/M')*floor(N/N') + 1) * numel(out)`` (what
    ``paddle.flops`` computes, even when the windows overlap);
    macs: 0; flops: the sum of all window sizes (adds plus one divide each).

    >>> adaptive_avgpool_flops(1, 1, 1, 1, 512)    # ResNet18 head at 32x32 input
    1024
    >>> adaptive_avgpool_flops(7, 7, 1, 1, 512)
    25600
    """
    conv = as_convention(convention)
    mh, mw = as_expr(in_h, "in_h"), as_expr(in_w, "in_w")
    oh, ow = as_expr(out_h, "out_h"), as_expr(out_w, "out_w")
    c, b = as_expr(channels, "channels"), as_expr(batch, "batch")
    for name, val in (("out_h", oh), ("out_w", ow)):
        check_at_least(val, 1, name, "an adaptive pool produces at least one value per axis")
    out_numel = b * c * oh * ow
    if conv is Convention.PADDLE:
        return sympy.expand((sympy.floor(mh / oh) * sympy.floor(mw / ow) + 1) * out_numel)
    if conv is Convention.MACS:
        return sympy.Integer(0)
    return sympy.expand(b * c * _adaptive_window_total(mh, oh) * _adaptive_window_total(mw, ow))


def adaptive_maxpool_flops(
    in_h: Quantity,
    in_w: Quantity,
    out_h: Quantity,
    out_w: Quantity,
    channels: Quantity,
    batch: Quantity = 1,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of adaptive max pooling: 0 in paddle and macs; comparisons (window size - 1) in flops.

    >>> adaptive_maxpool_flops(4, 4, 1, 1, 8, convention='flops')
    120
    """
    conv = as_convention(convention)
    if conv is not Convention.FLOPS:
        return sympy.Integer(0)
    mh, mw = as_expr(in_h, "in_h"), as_expr(in_w, "in_w")
    oh, ow = as_expr(out_h, "out_h"), as_expr(out_w, "out_w")
    c, b = as_expr(channels, "channels"), as_expr(batch, "batch")
    window_sum = _adaptive_window_total(mh, oh) * _adaptive_window_total(mw, ow)
    return sympy.expand(b * c * (window_sum - oh * ow))


def activation_flops(
    numel: Quantity, convention: str | Convention = Convention.PADDLE, counted_by_paddle: bool = False
) -> sympy.Expr:
    """FLOPs of an elementwise activation on ``numel`` elements.

    paddle: ``numel`` only for the activations ``paddle.flops`` counts
    (LeakyReLU; pass ``counted_by_paddle=True``), otherwise 0 (ReLU, ReLU6,
    ...); macs: 0; flops: ``numel``.

    >>> activation_flops(100, convention='flops')
    100
    """
    conv = as_convention(convention)
    n = as_expr(numel, "numel")
    if conv is Convention.FLOPS or (conv is Convention.PADDLE and counted_by_paddle):
        return n
    return sympy.Integer(0)


def add_flops(numel: Quantity, convention: str | Convention = Convention.PADDLE, inputs: int = 2) -> sympy.Expr:
    """FLOPs of an elementwise sum of ``inputs`` tensors (a residual add).

    paddle and macs: 0 (``paddle.flops`` only sees layers); flops:
    ``(inputs-1)*numel``.

    >>> add_flops(64 * 8 * 8, convention='flops')
    4096
    """
    conv = as_convention(convention)
    n = as_expr(numel, "numel")
    if conv is Convention.FLOPS:
        return (inputs - 1) * n
    return sympy.Integer(0)
