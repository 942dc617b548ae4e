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

Every function takes ints or sympy expressions, returns an int for ints (a
sympy expression for expressions; :mod:`convcalc.formulas.numbers`), and
accepts ``convention=`` as a string or :class:`Convention`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from convcalc.errors import InvalidParameterError, UnknownNameError
from convcalc.formulas._common import Quantity, as_expr, check_at_least, numeric_floor, pair, product, seq
from convcalc.formulas.numbers import div, expand, is_number

if TYPE_CHECKING:
    import sympy
from convcalc.formulas.conventions import Convention, as_convention

__all__ = [
    "Convention",
    "as_convention",
    "conv_flops",
    "convnd_flops",
    "conv_transpose_flops",
    "linear_flops",
    "matmul_flops",
    "addmm_flops",
    "einsum_flops",
    "rnn_cell_flops",
]


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
    >>> import sympy
    >>> L, P, D, U = sympy.symbols("L' P D U", positive=True, integer=True)
    >>> convnd_flops((L,), P, D, (U,), bias=False, convention='flops')
    2*D*L'*P*U - L'*P
    """
    conv = as_convention(convention)
    outs = tuple(as_expr(s, "out_size") for s in out_sizes)
    p, d = as_expr(out_channels, "out_channels"), as_expr(in_channels, "in_channels")
    g, b = as_expr(groups, "groups"), as_expr(batch, "batch")
    check_at_least(g, 1, "groups", "use groups=1 for an ordinary convolution")
    kernel = seq(kernel_size, "kernel_size", len(outs))
    n = b * p * product(outs)
    k = div(d, g) * product(kernel)
    bias_ops = 1 if bias else 0
    if conv is Convention.PADDLE:
        return numeric_floor(expand(n * (k + bias_ops)))
    if conv is Convention.MACS:
        return expand(n * k)
    return expand(n * (2 * k - 1 + bias_ops))


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
    >>> import sympy
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
    kernel = seq(kernel_size, "kernel_size", rank)
    strides = seq(stride, "stride", rank)
    pads = seq(padding, "padding", rank)
    dils = seq(dilation, "dilation", rank)
    out_numel = b * p * product(outs)
    bias_ops = 1 if bias else 0
    if conv is Convention.PADDLE:
        return numeric_floor(expand(out_numel * (div(d, g) * product(kernel) + bias_ops)))
    hits, reached = [], []
    for axis in zip(ins, kernel, strides, pads, dils, outs):
        if all(is_number(v) for v in axis):
            h, r = _transpose_axis(*(int(v) for v in axis))
            hits.append(h)
            reached.append(r)
        else:
            hits.append(axis[0] * axis[1])
            reached.append(axis[5])
    macs = b * p * div(d, g) * product(hits)
    if conv is Convention.MACS:
        return expand(macs)
    return expand(2 * macs - b * p * product(reached) + bias_ops * out_numel)


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
        return expand(b * o * (2 * i - 1 + (1 if bias else 0)))
    return expand(b * i * o)


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
        return 0
    if conv is Convention.MACS:
        return expand(b * m_ * n_ * k_)
    return expand(b * m_ * n_ * (2 * k_ - 1))


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
    return expand(base + as_expr(batch, "batch") * as_expr(m, "m") * as_expr(n, "n") * (1 + scaled))


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
        return 0
    spelled, out, sizes = _einsum_terms(equation, shapes)
    total = product([int(s) for s in sizes.values()])
    out_numel = product([int(sizes[c]) for c in out])
    mults = (len(spelled) - 1) * total
    if conv is Convention.MACS:
        return expand(mults)
    return expand(mults + total - out_numel)


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
        return 0
    if conv is Convention.MACS:
        return expand(t * b * g * h * (i + h))
    per_unit = g * (2 * i + 2 * h - 1 + (2 if bias else 0)) + _RNN_TAIL[mode]
    return expand(t * b * h * per_unit)


_MOVED = frozenset({
    "ELEMENTWISE_OPS", "batchnorm_flops", "norm_flops", "avgpool_flops", "maxpool_flops", "adaptive_avgpool_flops",
    "adaptive_maxpool_flops", "adaptive_pool_flops", "activation_flops", "elementwise_flops", "add_flops",
    "softmax_flops", "interpolate_flops", "embedding_flops",
})


def __getattr__(name: str) -> Any:
    """The per-element formulas that lived here until 0.2 (``from convcalc import formulas`` has them all)."""
    if name not in _MOVED:
        raise AttributeError(f"module 'convcalc.formulas.flops' has no attribute {name!r}")
    warnings.warn(f"convcalc.formulas.flops.{name} moved to convcalc.formulas.flops_per_element.{name}; the old "
                  "path will be removed in the next release", DeprecationWarning, stacklevel=2)
    from convcalc.formulas import flops_per_element

    return getattr(flops_per_element, name)
