"""FLOPs in three named conventions (book eqs. 5.4, 5.8, 5.21).

``paddle`` (default)
    What ``paddle.flops`` counts, which is also the book's eq. 5.21: conv (every
    rank, and the transposed forms) ``numel(out)*(C_in/g*prod(k) + bias)``,
    linear ``in*out`` per row (bias not counted), BatchNorm2D/BatchNorm
    ``2*numel``, AvgPool (1/2/3-D) ``numel(out)``, AdaptiveAvgPool
    ``(prod(floor(in/out)) + 1)*numel(out)``, LeakyReLU ``numel``; every
    other layer and every functional op (``paddle.flops`` hooks layers only): 0.
``macs``
    Multiply-accumulates of the dot products: conv and its transpose,
    linear, matmul/bmm/einsum/addmm, attention, the RNN gates, linear
    interpolation; everything else 0.
``flops``
    Every arithmetic operation exactly once (docs/formulas.md, "What one FLOP
    is"): a dot product of length ``K`` is ``K`` multiplies and ``K-1`` adds,
    a bias one add more; pooling, normalisation, softmax, activations and
    elementwise ops by the operations of their definition
    (:data:`ELEMENTWISE_OPS` gives the per-element counts).

Every function takes ints or sympy expressions, returns a sympy expression,
and accepts ``convention=`` as a string or :class:`Convention`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import sympy

from convcalc.errors import InvalidParameterError, UnknownNameError
from convcalc.formulas._common import Quantity, as_expr, check_at_least, pair

__all__ = [
    "Convention",
    "as_convention",
    "ELEMENTWISE_OPS",
    "conv_flops",
    "convnd_flops",
    "conv_transpose_flops",
    "linear_flops",
    "matmul_flops",
    "addmm_flops",
    "einsum_flops",
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
    "rnn_cell_flops",
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


def _seq(value, name: str, rank: int | None = None) -> tuple[sympy.Expr, ...]:
    """One number (repeated ``rank`` times, default 2) or a sequence, as expressions."""
    if isinstance(value, (tuple, list)):
        out = tuple(as_expr(v, name) for v in value)
        if rank is not None and len(out) != rank:
            raise InvalidParameterError(
                f"{name} must have {rank} entries, got {value!r}", f"pass one number or {rank} numbers"
            )
        return out
    return (as_expr(value, name),) * (rank or 2)


def _prod(values) -> sympy.Expr:
    return sympy.Mul(*values) if values else sympy.Integer(1)


def _numeric_floor(value: sympy.Expr) -> sympy.Expr:
    """``int()`` of a number as Paddle does it (after a float division); expressions unchanged."""
    return sympy.floor(value) if value.is_number else value


def convnd_flops(
    out_sizes: Sequence,
    out_channels: Quantity,
    in_channels: Quantity,
    kernel_size,
    groups: Quantity = 1,
    bias: bool = True,
    batch: Quantity = 1,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of a 1-, 2- or 3-D convolution (book eq. 5.4, 5.8, 5.21 on each output axis).

    With ``K = D/g * prod(kernel)`` weights per output value and ``n =
    B*P*prod(out_sizes)`` output values: paddle ``n*(K + bias)``; macs
    ``n*K``; flops ``n*(2K - 1 + bias)`` (K multiplies, K-1 adds, the bias).

    >>> convnd_flops((62,), 8, 4, (3,))             # Conv1D(4, 8, 3) on length 64
    6448
    >>> convnd_flops((6, 6, 6), 8, 4, 3, convention='macs')
    186624
    >>> L, P, D, U = sympy.symbols("L' P D U", positive=True, integer=True)
    >>> convnd_flops((L,), P, D, (U,), bias=False, convention='flops')
    2*D*L'*P*U - L'*P
    """
    conv = as_convention(convention)
    outs = tuple(as_expr(s, "out_size") for s in out_sizes)
    p, d = as_expr(out_channels, "out_channels"), as_expr(in_channels, "in_channels")
    g, b = as_expr(groups, "groups"), as_expr(batch, "batch")
    check_at_least(g, 1, "groups", "use groups=1 for an ordinary convolution")
    kernel = _seq(kernel_size, "kernel_size", len(outs))
    n = b * p * _prod(outs)
    k = (d / g) * _prod(kernel)
    bias_ops = 1 if bias else 0
    if conv is Convention.PADDLE:
        return _numeric_floor(sympy.expand(n * (k + bias_ops)))
    if conv is Convention.MACS:
        return sympy.expand(n * k)
    return sympy.expand(n * (2 * k - 1 + bias_ops))


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
    """FLOPs of a 2-D convolution (book eq. 5.4, 5.8, 5.21); :func:`convnd_flops` on two axes.

    paddle: ``B*M'*N'*P*(D/g*U*V + bias)``; macs: ``B*M'*N'*P*D/g*U*V``;
    flops: ``B*M'*N'*P*(2*D/g*U*V - 1 + bias)``.

    >>> conv_flops(30, 30, 1, 1, 3, bias=False)   # book eq. 5.4: 3x3 on 32x32
    8100
    >>> conv_flops(30, 30, 6, 3, 3)               # book eq. 5.21
    151200
    >>> M, N, P, D, U = sympy.symbols("M' N' P D U", positive=True, integer=True)
    >>> conv_flops(M, N, P, D, U)
    D*M'*N'*P*U**2 + M'*N'*P
    """
    return convnd_flops((out_h, out_w), out_channels, in_channels, pair(kernel_size, "kernel_size"),
                        groups, bias, batch, convention)


def _transpose_axis(size: int, kernel: int, stride: int, pad_before: int, dilation: int, out: int) -> tuple[int, int]:
    """(products landing inside the output, output positions reached) on one axis of a transposed conv."""
    reached = [0] * out
    for i in range(size):
        for j in range(kernel):
            o = i * stride - pad_before + j * dilation
            if 0 <= o < out:
                reached[o] += 1
    return sum(reached), sum(1 for r in reached if r)


def conv_transpose_flops(
    in_sizes: Sequence,
    out_sizes: Sequence,
    in_channels: Quantity,
    out_channels: Quantity,
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
    groups: Quantity = 1,
    bias: bool = True,
    batch: Quantity = 1,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of a transposed convolution (Conv1D/2D/3DTranspose).

    Each input value is multiplied by the ``P/g * prod(k)`` weights it
    scatters to, and every output value sums what reaches it.  Per axis, ``h``
    counts the (input, tap) pairs that land inside the output (``M*U`` unless
    ``padding`` crops them; exact for numbers, ``M*U`` for symbols) and ``r``
    the output positions reached (``M'`` for symbols):

    paddle: ``numel(out)*(D/g*prod(k) + bias)`` (``paddle.flops`` treats it
    like a conv, reading the zeros between the inputs as products);
    macs: ``B*P*(D/g)*prod(h)``; flops: ``2*macs - B*P*prod(r) + bias*numel(out)``.

    >>> conv_transpose_flops((8, 8), (16, 16), 16, 8, 2, stride=2, bias=False, convention='macs')
    32768
    >>> conv_transpose_flops((8, 8), (16, 16), 16, 8, 2, stride=2, bias=False)   # paddle.flops: stride**2 more
    131072
    """
    conv = as_convention(convention)
    ins = tuple(as_expr(s, "in_size") for s in in_sizes)
    outs = tuple(as_expr(s, "out_size") for s in out_sizes)
    rank = len(ins)
    d, p = as_expr(in_channels, "in_channels"), as_expr(out_channels, "out_channels")
    g, b = as_expr(groups, "groups"), as_expr(batch, "batch")
    check_at_least(g, 1, "groups", "use groups=1 for an ordinary transposed convolution")
    kernel = _seq(kernel_size, "kernel_size", rank)
    strides = _seq(stride, "stride", rank)
    pads = _seq(padding, "padding", rank)
    dils = _seq(dilation, "dilation", rank)
    out_numel = b * p * _prod(outs)
    bias_ops = 1 if bias else 0
    if conv is Convention.PADDLE:
        return _numeric_floor(sympy.expand(out_numel * ((d / g) * _prod(kernel) + bias_ops)))
    hits, reached = [], []
    for axis in zip(ins, kernel, strides, pads, dils, outs):
        if all(v.is_number for v in axis):
            h, r = _transpose_axis(*(int(v) for v in axis))
            hits.append(sympy.Integer(h))
            reached.append(sympy.Integer(r))
        else:
            hits.append(axis[0] * axis[1])
            reached.append(axis[5])
    macs = b * p * (d / g) * _prod(hits)
    if conv is Convention.MACS:
        return sympy.expand(macs)
    return sympy.expand(2 * macs - b * p * _prod(reached) + bias_ops * out_numel)


def linear_flops(
    in_features: Quantity,
    out_features: Quantity,
    batch: Quantity = 1,
    bias: bool = True,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of a fully connected layer on ``batch`` rows.

    paddle and macs: ``B*in*out`` (``paddle.flops`` ignores the bias);
    flops: ``B*out*(2*in - 1 + bias)``.

    >>> linear_flops(120, 84)     # LeNet F6 in the book
    10080
    >>> linear_flops(120, 84, convention='flops')
    20160
    """
    conv = as_convention(convention)
    i, o, b = as_expr(in_features, "in_features"), as_expr(out_features, "out_features"), as_expr(batch, "batch")
    if conv is Convention.FLOPS:
        return sympy.expand(b * o * (2 * i - 1 + (1 if bias else 0)))
    return sympy.expand(b * i * o)


def matmul_flops(
    m: Quantity, k: Quantity, n: Quantity, batch: Quantity = 1, convention: str | Convention = Convention.PADDLE
) -> sympy.Expr:
    """FLOPs of ``batch`` products of an ``m x k`` and a ``k x n`` matrix (matmul, bmm, mm, F.linear).

    paddle: 0 (``paddle.flops`` hooks layers, never a functional op);
    macs: ``B*m*n*k``; flops: ``B*m*n*(2k - 1)``.

    >>> matmul_flops(197, 64, 197, batch=12, convention='macs')   # one ViT attention's q @ k^T
    29805312
    >>> matmul_flops(2, 3, 4, convention='flops')
    40
    """
    conv = as_convention(convention)
    m_, k_, n_, b = as_expr(m, "m"), as_expr(k, "k"), as_expr(n, "n"), as_expr(batch, "batch")
    if conv is Convention.PADDLE:
        return sympy.Integer(0)
    if conv is Convention.MACS:
        return sympy.expand(b * m_ * n_ * k_)
    return sympy.expand(b * m_ * n_ * (2 * k_ - 1))


def addmm_flops(
    m: Quantity, k: Quantity, n: Quantity, batch: Quantity = 1, scaled: int = 0,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of ``beta*input + alpha*(x @ y)`` (``paddle.addmm``): a matmul plus one add per output.

    ``scaled`` is how many of ``alpha``, ``beta`` differ from 1 (one multiply
    per output each).  paddle: 0; macs: ``B*m*n*k``; flops:
    ``B*m*n*(2k - 1 + 1 + scaled)``.

    >>> addmm_flops(2, 3, 4, convention='flops')
    48
    """
    conv = as_convention(convention)
    base = matmul_flops(m, k, n, batch, conv)
    if conv is not Convention.FLOPS:
        return base
    return sympy.expand(base + as_expr(batch, "batch") * as_expr(m, "m") * as_expr(n, "n") * (1 + scaled))


def _einsum_terms(equation: str, shapes: Sequence[Sequence[int]]) -> tuple[list[str], str, dict[str, int]]:
    """Each operand's index letters (``...`` spelled out, aligned from the right), the output's, the sizes."""
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise InvalidParameterError(
            f"einsum {equation!r} names {len(terms)} operands, got {len(shapes)} shapes",
            "pass one shape per operand",
        )
    widths = [len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t]
    ell = "".join(chr(0x391 + i) for i in range(max(widths, default=0)))
    sizes: dict[str, int] = {}
    spelled = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            term = term.replace("...", ell[len(ell) - (len(shape) - len(term) + 3):])
        if len(term) != len(shape):
            raise InvalidParameterError(f"einsum term {term!r} does not match shape {list(shape)}",
                                        "check the equation against the operands' ranks")
        for letter, size in zip(term, shape):
            if sizes.get(letter, 1) == 1:
                sizes[letter] = int(size)
        spelled.append(term)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        once = sorted(c for c in sizes if c not in ell and sum(t.count(c) for t in spelled) == 1)
        out = ell + "".join(once)
    return spelled, out, sizes


def einsum_flops(equation: str, shapes: Sequence[Sequence[int]], convention: str | Convention = Convention.PADDLE):
    """FLOPs of ``paddle.einsum(equation, *operands)`` evaluated directly (no reordering).

    With ``T`` the product of the sizes of every index letter and ``O`` that of
    the output's: each of the ``T`` index combinations multiplies the ``n``
    operands' values (``n - 1`` multiplies, a multiply-accumulate each) and the
    output sums ``T/O`` of them.  paddle: 0; macs: ``(n-1)*T``; flops:
    ``(n-1)*T + T - O``.

    >>> einsum_flops("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], convention='macs')   # = bmm
    120
    >>> einsum_flops("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], convention='flops')
    210
    """
    conv = as_convention(convention)
    if conv is Convention.PADDLE:
        return sympy.Integer(0)
    spelled, out, sizes = _einsum_terms(equation, shapes)
    total = _prod([sympy.Integer(s) for s in sizes.values()])
    out_numel = _prod([sympy.Integer(sizes[c]) for c in out])
    mults = (len(spelled) - 1) * total
    if conv is Convention.MACS:
        return sympy.expand(mults)
    return sympy.expand(mults + total - out_numel)


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
        return sympy.Integer(0)
    return sympy.expand((4 if affine else 2) * n + 2 * c)


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
        return sympy.Integer(0)
    g, n = as_expr(groups, "groups"), as_expr(group_size, "group_size")
    return sympy.expand(g * (5 * n + 2 + affine * n))


def _window(kernel_size) -> sympy.Expr:
    """Values in a pooling window: one number means a square 2-D window (the book's U x U)."""
    if isinstance(kernel_size, (tuple, list)):
        return _prod(_seq(kernel_size, "kernel_size"))
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
    return {Convention.PADDLE: n, Convention.MACS: sympy.Integer(0), Convention.FLOPS: sympy.expand(n * k)}[conv]


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
        return sympy.expand(n * (_window(kernel_size) - 1))
    return sympy.Integer(0)


def _adaptive_window_total(size: sympy.Expr, out: sympy.Expr) -> sympy.Expr:
    """Sum of the adaptive window lengths on one axis.

    Window ``i`` spans ``[floor(i*M/M'), ceil((i+1)*M/M'))``.  Exact for
    numbers, and for a symbolic ``M`` with a numeric ``M'`` (the sum of the
    ``M'`` window lengths in ``M``); for a symbolic ``M'`` it assumes ``M'``
    divides ``M`` (total ``M``).

    >>> _adaptive_window_total(sympy.Integer(10), sympy.Integer(3))
    12
    """
    if size.is_number and out.is_number:
        m, o = int(size), int(out)
        return sympy.Integer(sum(-((-(i + 1) * m) // o) - (i * m) // o for i in range(o)))
    if out.is_number:
        o = int(out)
        return sympy.Add(*[sympy.ceiling((i + 1) * size / o) - sympy.floor(i * size / o) for i in range(o)])
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
    out_numel = b * c * _prod(outs)
    if conv is Convention.MACS or (conv is Convention.PADDLE and mode == "max"):
        return sympy.Integer(0)
    if conv is Convention.PADDLE:
        return sympy.expand((_prod([sympy.floor(i / o) for i, o in zip(ins, outs)]) + 1) * out_numel)
    window_sum = b * c * _prod([_adaptive_window_total(i, o) for i, o in zip(ins, outs)])
    return sympy.expand(window_sum if mode == "avg" else window_sum - out_numel)


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
        return sympy.Integer(0)
    return sympy.expand(as_expr(numel, "numel") * as_expr(ops_per_element, "ops_per_element"))


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
        return sympy.Integer(0)
    numel_, n = as_expr(numel, "numel"), as_expr(axis_size, "axis_size")
    return sympy.expand(numel_ / n * (3 * n - (0 if log else 1)))


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
        return sympy.Integer(0)
    return sympy.expand(n * (taps if conv is Convention.MACS else 2 * taps - 1))


def embedding_flops(out_numel: Quantity, convention: str | Convention = Convention.PADDLE) -> sympy.Expr:
    """FLOPs of an embedding lookup: 0 in every convention (rows are copied, nothing is computed).

    >>> embedding_flops(12 * 64, 'flops')
    0
    """
    as_convention(convention)
    as_expr(out_numel, "out_numel")
    return sympy.Integer(0)


RNN_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
"""Gates per recurrent cell kind: each is one ``W_ih x + b_ih + W_hh h + b_hh`` of ``H`` units."""
# operations after the gate pre-activations, per hidden unit (see rnn_cell_flops)
_RNN_TAIL = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 18, "gru": 13}


def rnn_cell_flops(
    input_size: Quantity,
    hidden_size: Quantity,
    mode: str,
    batch: Quantity = 1,
    steps: Quantity = 1,
    bias: bool = True,
    convention: str | Convention = Convention.PADDLE,
) -> sympy.Expr:
    """FLOPs of ``steps`` steps of a SimpleRNN (``rnn_tanh``/``rnn_relu``), LSTM or GRU cell.

    ``G`` gates (1, 4, 3) each compute ``W_ih x + b_ih + W_hh h + b_hh`` for
    ``H`` units: ``G*H*(I + H)`` MACs; in flops ``G*H*(2I - 1 + 2H - 1 + 1 +
    2*bias)``.  Then per unit: SimpleRNN its activation (1); LSTM three
    sigmoids (12), tanh of g (1), ``c = f*c + i*g`` (3), ``tanh(c)`` (1),
    ``h = o*tanh(c)`` (1) = 18; GRU (Paddle's form ``h = (h - c)*z + c``)
    two sigmoids (8), ``r*h_c`` (1), tanh (1), the update (3) = 13.
    paddle: 0 (``paddle.flops`` has no RNN rule).

    >>> rnn_cell_flops(16, 32, 'lstm', steps=10, convention='macs')
    61440
    """
    conv = as_convention(convention)
    if mode not in RNN_GATES:
        raise UnknownNameError("RNN mode", str(mode), RNN_GATES)
    i, h = as_expr(input_size, "input_size"), as_expr(hidden_size, "hidden_size")
    b, t = as_expr(batch, "batch"), as_expr(steps, "steps")
    g = RNN_GATES[mode]
    if conv is Convention.PADDLE:
        return sympy.Integer(0)
    if conv is Convention.MACS:
        return sympy.expand(t * b * g * h * (i + h))
    per_unit = g * (2 * i + 2 * h - 1 + (2 if bias else 0)) + _RNN_TAIL[mode]
    return sympy.expand(t * b * h * per_unit)
