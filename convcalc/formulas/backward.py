"""Backward FLOPs: what the gradients of one training step cost (docs/formulas.md, "Backward").

The backward pass of a layer computes up to two kinds of gradients from the
output gradient ``dy``:

- the **input gradient** ``dx`` (what flows on to the layer before it),
  needed only when that input depends on a trainable parameter;
- the **weight gradients** ``dW`` (and ``db``), needed only for trainable
  parameters.

Conventions, as for the forward (book eq. 5.21 for ``paddle``):

``paddle``
    ``paddle.flops`` has no backward; the paddle convention counts each
    gradient a layer computes as its forward count (:func:`paddle_backward_flops`):
    the familiar "backward = 2x forward" rule, applied per layer and only to the
    gradients that exist.
``macs``
    The multiply-accumulates of the gradient dot products (conv, transposed
    conv, linear/matmul); everything else 0.
``flops``
    Every arithmetic operation exactly once: a gradient value that sums
    ``t`` terms costs ``t`` multiplies (where the terms are products) and
    ``t - 1`` adds; values that receive no term cost nothing.

Each gradient is counted as if computed alone (a norm's ``x_hat`` is counted
in ``dx`` and again in ``dgamma``).  Every function takes ints or sympy
expressions and returns an int for ints, a sympy expression for
expressions.  The ``paddle`` convention is not accepted by the
per-gradient functions (use :func:`paddle_backward_flops`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from convcalc.errors import InvalidParameterError
from convcalc.formulas._common import Quantity, as_expr, product, seq
from convcalc.formulas.conventions import Convention, as_convention
from convcalc.formulas.flops_per_element import adaptive_window_total
from convcalc.formulas.numbers import div, expand, is_number, maximum

if TYPE_CHECKING:
    import sympy

__all__ = [
    "BACKWARD_ELEMENTWISE_OPS",
    "paddle_backward_flops",
    "conv_input_grad_flops",
    "conv_weight_grad_flops",
    "conv_transpose_input_grad_flops",
    "conv_transpose_weight_grad_flops",
    "matmul_grad_flops",
    "broadcast_grad_flops",
    "elementwise_grad_flops",
    "norm_input_grad_flops",
    "norm_weight_grad_flops",
    "pool_input_grad_flops",
    "adaptive_pool_input_grad_flops",
    "softmax_grad_flops",
    "embedding_grad_flops",
]

BACKWARD_ELEMENTWISE_OPS: dict[str, int] = {
    # dx = dy * f'(x) per element, by forward op name; the saved value (x or y) is read, not recomputed
    "relu": 1,          # dy if y > 0 else 0 (one select)
    "relu6": 2,         # two comparisons
    "leaky_relu": 2,    # select, then a*dy
    "hardtanh": 2, "clip": 2,
    "sigmoid": 3,       # dy * y * (1 - y)
    "tanh": 3,          # dy * (1 - y*y)
    "exp": 1,           # dy * y
    "log": 1,           # dy / x
    "sqrt": 2,          # dy * 0.5 / y
    "rsqrt": 4,         # -0.5 * dy * y**3
    "abs": 2,           # sign(x) * dy
    "square": 2,        # 2 * x * dy
    "pow": 3,           # n * x**(n-1) * dy
    "erf": 5,
    "elu": 3, "selu": 4,
    "hardsigmoid": 2,   # dy/6 inside (0, 1)
    "hardswish": 4,     # dy * (2x + 3)/6 inside (-3, 3)
    "silu": 9, "swish": 9,   # s = sigmoid(x) (4), dy * s * (1 + x*(1 - s)) (5)
    "gelu": 9,          # dy * (Phi(x) + x * phi(x))
    "softplus": 5,      # dy * sigmoid(x)
    "mish": 14,
    "softsign": 4, "tanh_shrink": 3, "log_sigmoid": 5,
    "dropout": 2,       # dy * mask / (1 - p)
    "scale": 1,         # dy * scale
    "cast": 0, "assign": 0,
}
"""Arithmetic operations per element of an activation's input gradient (``flops`` convention)."""


def _exact(convention: str | Convention) -> Convention:
    conv = as_convention(convention)
    if conv is Convention.PADDLE:
        raise InvalidParameterError(
            "the paddle convention counts a layer's backward from its forward, not per gradient",
            "use paddle_backward_flops(forward, input_grad, weight_grad), or convention='macs' or 'flops'",
        )
    return conv


def paddle_backward_flops(forward: Quantity, input_grad: bool, weight_grad: bool) -> tuple[sympy.Expr, sympy.Expr]:
    """(input-gradient, weight-gradient) FLOPs in the paddle convention: the forward count per gradient computed.

    >>> paddle_backward_flops(151200, True, True)
    (151200, 151200)
    >>> paddle_backward_flops(151200, False, True)   # the first conv: no input gradient
    (0, 151200)
    """
    f = as_expr(forward, "forward")
    zero = 0
    return (f if input_grad else zero, f if weight_grad else zero)


def _axis_pairs(strided: sympy.Expr, kernel: sympy.Expr, stride: sympy.Expr, pad: sympy.Expr,
                dilation: sympy.Expr, other: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr, sympy.Expr]:
    """On one axis: (valid (position, tap) pairs, strided positions reached, other positions reached, taps reached).

    A pair links strided-side position ``a`` and tap ``j`` to the other side's
    ``a*stride - pad + j*dilation`` when that lies inside ``[0, other)`` (the
    output and input of a conv; the input and output of a transposed conv).
    Symbols: every pair valid (``a*kernel``).
    """
    if all(is_number(v) for v in (strided, kernel, stride, pad, dilation, other)):
        a_n, k, s, p, d, o_n = (int(v) for v in (strided, kernel, stride, pad, dilation, other))
        pairs, a_hit, o_hit, j_hit = 0, set(), set(), set()
        for a in range(a_n):
            for j in range(k):
                o = a * s - p + j * d
                if 0 <= o < o_n:
                    pairs += 1
                    a_hit.add(a)
                    o_hit.add(o)
                    j_hit.add(j)
        return pairs, len(a_hit), len(o_hit), len(j_hit)
    return strided * kernel, strided, other, kernel


def _conv_geometry(strided_sizes, other_sizes, in_channels, out_channels, kernel_size, stride, padding, dilation,
                   groups, batch):
    """(MACs, batch, in channels, out channels, groups, strided reached, other reached, taps reached)."""
    strided = tuple(as_expr(v, "size") for v in strided_sizes)
    others = tuple(as_expr(v, "size") for v in other_sizes)
    rank = len(strided)
    if len(others) != rank:
        raise InvalidParameterError(f"input and output sizes must have the same rank, got {strided} and {others}",
                                    "give one size per spatial axis on both sides")
    axes = [_axis_pairs(*axis) for axis in zip(strided, seq(kernel_size, "kernel_size", rank),
                                                    seq(stride, "stride", rank), seq(padding, "padding", rank),
                                                    seq(dilation, "dilation", rank), others)]
    pairs, a_hit, o_hit, taps = (product([a[i] for a in axes]) for i in range(4))
    d, p, g, b = (as_expr(v, n) for v, n in ((in_channels, "in_channels"), (out_channels, "out_channels"),
                                             (groups, "groups"), (batch, "batch")))
    return b * p * div(d, g) * pairs, b, d, p, g, a_hit, o_hit, taps


def conv_input_grad_flops(
    in_sizes: Sequence, out_sizes: Sequence, in_channels: Quantity, out_channels: Quantity, kernel_size,
    stride=1, padding=0, dilation=1, groups: Quantity = 1, batch: Quantity = 1,
    convention: str | Convention = Convention.FLOPS,
) -> sympy.Expr:
    """Input gradient of a 1/2/3-D convolution: the transposed conv of ``dy`` (book eq. 5.21 read backwards).

    With ``h`` the valid (output position, tap) pairs per axis (padding taps
    excluded), ``macs = B*P*(D/g)*prod(h)``; flops ``2*macs - B*D*prod(r)``
    with ``r`` the input positions some tap reaches.  ``padding`` is the
    padding before each axis.

    >>> conv_input_grad_flops((32, 32), (28, 28), 3, 6, 5, convention='macs')   # = the forward's MACs
    352800
    >>> conv_input_grad_flops((32, 32), (28, 28), 3, 6, 5)
    702528
    """
    conv = _exact(convention)
    macs, b, d, _, _, _, reached, _ = _conv_geometry(out_sizes, in_sizes, in_channels, out_channels, kernel_size,
                                                     stride, padding, dilation, groups, batch)
    return expand(macs if conv is Convention.MACS else 2 * macs - b * d * reached)


def conv_weight_grad_flops(
    in_sizes: Sequence, out_sizes: Sequence, in_channels: Quantity, out_channels: Quantity, kernel_size,
    stride=1, padding=0, dilation=1, groups: Quantity = 1, batch: Quantity = 1,
    convention: str | Convention = Convention.FLOPS,
) -> sympy.Expr:
    """Weight gradient of a convolution: each weight sums ``x*dy`` over the batch and its valid output positions.

    macs as :func:`conv_input_grad_flops`; flops ``2*macs - P*(D/g)*prod(t)``
    with ``t`` the taps reached per axis (all of them, but for degenerate padding).
    The bias gradient is the separate reduction of ``dy`` (:func:`broadcast_grad_flops`).

    >>> conv_weight_grad_flops((32, 32), (28, 28), 3, 6, 5)
    705150
    """
    conv = _exact(convention)
    macs, _, d, p, g, _, _, taps = _conv_geometry(out_sizes, in_sizes, in_channels, out_channels, kernel_size,
                                                  stride, padding, dilation, groups, batch)
    return expand(macs if conv is Convention.MACS else 2 * macs - p * div(d, g) * taps)


def conv_transpose_input_grad_flops(
    in_sizes: Sequence, out_sizes: Sequence, in_channels: Quantity, out_channels: Quantity, kernel_size,
    stride=1, padding=0, dilation=1, groups: Quantity = 1, batch: Quantity = 1,
    convention: str | Convention = Convention.FLOPS,
) -> sympy.Expr:
    """Input gradient of a transposed convolution: an ordinary conv of ``dy`` over the pairs the forward scattered.

    ``macs = B*P*(D/g)*prod(h)`` (the forward's MACs, :func:`conv_transpose_flops`);
    flops ``2*macs - B*D*prod(r)``, ``r`` the input positions with a tap inside the output.

    >>> conv_transpose_input_grad_flops((8, 8), (16, 16), 16, 8, 2, stride=2, convention='macs')
    32768
    """
    conv = _exact(convention)
    macs, b, d, _, _, reached, _, _ = _conv_geometry(in_sizes, out_sizes, in_channels, out_channels, kernel_size,
                                                     stride, padding, dilation, groups, batch)
    return expand(macs if conv is Convention.MACS else 2 * macs - b * d * reached)


def conv_transpose_weight_grad_flops(
    in_sizes: Sequence, out_sizes: Sequence, in_channels: Quantity, out_channels: Quantity, kernel_size,
    stride=1, padding=0, dilation=1, groups: Quantity = 1, batch: Quantity = 1,
    convention: str | Convention = Convention.FLOPS,
) -> sympy.Expr:
    """Weight gradient of a transposed convolution; flops ``2*macs - D*(P/g)*prod(t)``.

    >>> conv_transpose_weight_grad_flops((8, 8), (16, 16), 16, 8, 2, stride=2)
    65024
    """
    conv = _exact(convention)
    macs, _, d, p, g, _, _, taps = _conv_geometry(in_sizes, out_sizes, in_channels, out_channels, kernel_size,
                                                  stride, padding, dilation, groups, batch)
    return expand(macs if conv is Convention.MACS else 2 * macs - d * div(p, g) * taps)


def matmul_grad_flops(
    m: Quantity, k: Quantity, n: Quantity, batch: Quantity = 1, operand_numel: Quantity | None = None,
    convention: str | Convention = Convention.FLOPS,
) -> sympy.Expr:
    """Gradient of one operand of ``batch`` products ``(m x k) @ (k x n)`` (linear, matmul, bmm).

    ``dA = dC @ B^T`` and ``dB = A^T @ dC`` each take ``batch*m*n*k`` MACs;
    flops ``2*batch*m*n*k - numel(operand)`` (a broadcast operand, such as
    a Linear's weight, sums over the batch too).  ``operand_numel`` defaults
    to ``batch*m*k`` (the left operand).

    >>> matmul_grad_flops(1, 120, 84, operand_numel=120 * 84)   # LeNet F6's weight gradient, batch 1
    10080
    >>> matmul_grad_flops(1, 120, 84, operand_numel=120)        # its input gradient
    20040
    """
    conv = _exact(convention)
    m_, k_, n_, b = as_expr(m, "m"), as_expr(k, "k"), as_expr(n, "n"), as_expr(batch, "batch")
    numel = b * m_ * k_ if operand_numel is None else as_expr(operand_numel, "operand_numel")
    macs = b * m_ * n_ * k_
    return expand(macs if conv is Convention.MACS else 2 * macs - numel)


def broadcast_grad_flops(out_numel: Quantity, operand_numel: Quantity, ops_per_element: Quantity = 0,
                         convention: str | Convention = Convention.FLOPS) -> sympy.Expr:
    """Gradient of one operand of an elementwise op (add, multiply, a bias): ``dy`` (times something), summed back.

    ``ops_per_element`` operations on each of the ``out_numel`` output
    gradients (0 for add, 1 for multiply or a subtract's negation), then
    ``out_numel - operand_numel`` adds reduce the broadcast axes.  A conv's
    bias gradient is ``B*P*M'*N' - P``.

    >>> broadcast_grad_flops(6 * 28 * 28, 6)     # the bias of the book's C1
    4698
    """
    conv = _exact(convention)
    if conv is Convention.MACS:
        return 0
    out, numel = as_expr(out_numel, "out_numel"), as_expr(operand_numel, "operand_numel")
    return expand(out * as_expr(ops_per_element, "ops_per_element") + out - numel)


def elementwise_grad_flops(numel: Quantity, kind: str, convention: str | Convention = Convention.FLOPS) -> sympy.Expr:
    """Input gradient of an activation (relu, sigmoid, tanh, ...): ``BACKWARD_ELEMENTWISE_OPS[kind]`` per element.

    >>> elementwise_grad_flops(6 * 28 * 28, 'sigmoid')
    14112
    """
    conv = _exact(convention)
    if kind not in BACKWARD_ELEMENTWISE_OPS:
        raise InvalidParameterError(f"no backward rule for the elementwise op {kind!r}",
                                    "use one of: " + ", ".join(sorted(BACKWARD_ELEMENTWISE_OPS)))
    if conv is Convention.MACS:
        return 0
    return expand(as_expr(numel, "numel") * BACKWARD_ELEMENTWISE_OPS[kind])


def norm_input_grad_flops(numel: Quantity, convention: str | Convention = Convention.FLOPS) -> sympy.Expr:
    """Input gradient of a normalisation in training mode (BatchNorm, LayerNorm, GroupNorm, InstanceNorm).

    ``dx = gamma*rstd/M * (M*dy - sum(dy) - x_hat*sum(dy*x_hat))`` over each
    group of ``M`` values, ``x_hat`` recomputed from the saved mean and
    ``rstd``: 8 operations per element and ``2M`` per group (two sums and the
    coefficient), ``10*numel`` in all.  macs: 0.

    >>> norm_input_grad_flops(6 * 28 * 28)
    47040
    """
    conv = _exact(convention)
    return 0 if conv is Convention.MACS else expand(10 * as_expr(numel, "numel"))


def norm_weight_grad_flops(numel: Quantity, features: Quantity, scale: bool = True, bias: bool = True,
                           convention: str | Convention = Convention.FLOPS) -> sympy.Expr:
    """Gradients of a norm's ``gamma`` (``sum(dy*x_hat)``: ``4*numel - F``) and ``beta`` (``sum(dy)``: ``numel - F``).

    ``F`` is the number of values of each (one per channel for BatchNorm).

    >>> norm_weight_grad_flops(6 * 28 * 28, 6)
    23508
    """
    conv = _exact(convention)
    if conv is Convention.MACS:
        return 0
    n, f = as_expr(numel, "numel"), as_expr(features, "features")
    return expand((4 * n - f if scale else 0) + (n - f if bias else 0))


def pool_input_grad_flops(out_numel: Quantity, in_numel: Quantity, kernel_size, mode: str = "max",
                          convention: str | Convention = Convention.FLOPS) -> sympy.Expr:
    """Input gradient of max or average pooling.

    max: each output gradient is added to its window's maximum: ``numel(out)``;
    avg: one divide per output and the overlap adds, ``numel(out) + max(numel(out)*k - numel(in), 0)``
    (``k`` = the window size; 0 overlap adds for windows that tile the input).

    >>> pool_input_grad_flops(6 * 14 * 14, 6 * 28 * 28, 2, 'avg')
    1176
    """
    conv = _exact(convention)
    if conv is Convention.MACS:
        return 0
    out, inp = as_expr(out_numel, "out_numel"), as_expr(in_numel, "in_numel")
    if mode == "max":
        return out
    k = product(seq(kernel_size, "kernel_size")) if not isinstance(kernel_size, (list, tuple)) \
        else product([as_expr(v, "kernel_size") for v in kernel_size])
    overlap = out * k - inp
    overlap = maximum(overlap, 0) if is_number(overlap) else overlap
    return expand(out + overlap)


def adaptive_pool_input_grad_flops(in_sizes: Sequence, out_sizes: Sequence, channels: Quantity, batch: Quantity = 1,
                                   mode: str = "avg", convention: str | Convention = Convention.FLOPS) -> sympy.Expr:
    """Input gradient of adaptive pooling: max ``numel(out)``; avg ``numel(out)`` divides + the overlap adds.

    >>> adaptive_pool_input_grad_flops((7, 7), (1, 1), 512)   # a global average pool
    512
    """
    conv = _exact(convention)
    if conv is Convention.MACS:
        return 0
    ins = [as_expr(v, "in_size") for v in in_sizes]
    outs = [as_expr(v, "out_size") for v in out_sizes]
    bc = as_expr(batch, "batch") * as_expr(channels, "channels")
    out_numel = bc * product(outs)
    if mode == "max":
        return expand(out_numel)
    windows = bc * product([adaptive_window_total(i, o) for i, o in zip(ins, outs)])
    return expand(out_numel + windows - bc * product(ins))


def softmax_grad_flops(numel: Quantity, axis_size: Quantity, convention: str | Convention = Convention.FLOPS
                       ) -> sympy.Expr:
    """Input gradient of softmax (``y*(dy - sum(dy*y))``) or log_softmax (``dy - exp(y)*sum(dy)``): ``4n - 1`` per row.

    >>> softmax_grad_flops(10, 10)
    39
    """
    conv = _exact(convention)
    if conv is Convention.MACS:
        return 0
    n, a = as_expr(numel, "numel"), as_expr(axis_size, "axis_size")
    return expand(4 * n - div(n, a))


def embedding_grad_flops(out_numel: Quantity, convention: str | Convention = Convention.FLOPS) -> sympy.Expr:
    """Weight gradient of an embedding: each looked-up row of ``dy`` is added into the table: ``numel(out)``.

    (The ids get no gradient.)

    >>> embedding_grad_flops(12 * 64)
    768
    """
    conv = _exact(convention)
    return 0 if conv is Convention.MACS else as_expr(out_numel, "out_numel")
