"""Output sizes of convolution and pooling (book eqs. 5.2-5.3, 5.6-5.14).

Every function takes ints or sympy expressions and returns an int when all
inputs are ints (:mod:`convcalc.formulas.numbers`: sympy is never imported
then), else a sympy expression.  The general form, with dilation
``D`` and paddings ``P_before``/``P_after`` on one axis, is::

    M' = floor((M + P_before + P_after - D*(U-1) - 1) / S) + 1     (5.6 with dilation)

with ``ceil`` instead of ``floor`` when ``ceil_mode`` is on, and Paddle's
``'SAME'`` (``M' = ceil(M/S)``) and ``'VALID'`` (no padding) forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

from convcalc.errors import InvalidParameterError, ShapeError
from convcalc.formulas._common import Quantity, as_expr, check_at_least
from convcalc.formulas.numbers import ceiling, div, floor, is_number, maximum

if TYPE_CHECKING:
    import sympy

__all__ = [
    "Padding",
    "effective_kernel",
    "effective_dilation",
    "resolve_padding",
    "conv_output_size",
    "conv_transpose_output_size",
    "pool_output_size",
    "narrow_conv_output_size",
    "wide_conv_output_size",
    "same_conv_output_size",
]

Padding: TypeAlias = "Quantity | str | Sequence[Quantity]"
"""Padding on one axis: symmetric ``P``, per-side ``(before, after)``, ``'SAME'`` or ``'VALID'``."""


def effective_kernel(kernel: Quantity, dilation: Quantity = 1) -> sympy.Expr:
    """Extent of a dilated kernel: ``D*(U-1) + 1``.

    >>> effective_kernel(3, 2)
    5
    >>> import sympy
    >>> effective_kernel(sympy.Symbol('U'), 1)
    U
    >>> effective_kernel(sympy.Symbol('U'), sympy.Symbol('d'))
    d*(U - 1) + 1
    """
    k, d = as_expr(kernel, "kernel"), as_expr(dilation, "dilation")
    check_at_least(k, 1, "kernel", "a kernel covers at least one pixel")
    check_at_least(d, 1, "dilation", "use dilation=1 for an ordinary convolution")
    return d * (k - 1) + 1


def effective_dilation(padding: Padding, dilation: Quantity = 1) -> sympy.Expr:
    """The dilation Paddle actually applies: 1 under ``'SAME'`` padding, else ``dilation``.

    Paddle's ``UpdatePaddingAndDilation`` resets the dilation to 1 when the
    padding algorithm is ``'SAME'``; receptive fields must follow it.

    >>> effective_dilation('SAME', 2), effective_dilation(1, 2)
    (1, 2)
    """
    d = as_expr(dilation, "dilation")
    check_at_least(d, 1, "dilation", "use dilation=1 for an ordinary convolution")
    if isinstance(padding, str) and padding.upper() == "SAME":
        return 1
    return d


def resolve_padding(
    padding: Padding,
    size: Quantity,
    kernel: Quantity,
    stride: Quantity = 1,
    dilation: Quantity = 1,
) -> tuple[sympy.Expr, sympy.Expr]:
    """Paddle's padding forms as ``(before, after)`` on one axis.

    ``'SAME'`` pads ``max((ceil(M/S)-1)*S + U - M, 0)`` in total, the
    smaller half before; ``'VALID'`` pads nothing.  Under ``'SAME'`` Paddle
    resets the dilation to 1 (``UpdatePaddingAndDilation``), so the kernel
    counts undilated here and ``dilation`` is ignored; see
    :func:`effective_dilation`.

    >>> resolve_padding('SAME', 8, 3, 2)
    (0, 1)
    >>> resolve_padding((1, 2), 8, 3)
    (1, 2)
    """
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return 0, 0
        if mode == "SAME":
            m, s = as_expr(size, "input size"), as_expr(stride, "stride")
            out = ceiling(div(m, s))
            effective_kernel(kernel, dilation)  # validates both
            total = maximum((out - 1) * s + effective_kernel(kernel, 1) - m, 0)
            before = floor(div(total, 2))
            return before, total - before
        raise InvalidParameterError(
            f"unknown padding {padding!r}", "use a number, (before, after), 'SAME' or 'VALID'"
        )
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise InvalidParameterError(
                f"padding on one axis must be one number or (before, after), got {padding!r}",
                "pass e.g. padding=1 or padding=(0, 1)",
            )
        before, after = as_expr(padding[0], "padding"), as_expr(padding[1], "padding")
    else:
        before = after = as_expr(padding, "padding")
    for p in (before, after):
        check_at_least(p, 0, "padding", "padding adds zeros around the input; use 0 for none")
    return before, after


def conv_output_size(
    size: Quantity,
    kernel: Quantity,
    stride: Quantity = 1,
    padding: Padding = 0,
    dilation: Quantity = 1,
    ceil_mode: bool = False,
) -> sympy.Expr:
    """Output length of a convolution on one axis (book eq. 5.6/5.7, with dilation).

    ``M' = floor((M + P_before + P_after - D*(U-1) - 1) / S) + 1``.

    ``'SAME'`` gives ``ceil(M/S)``: Paddle pads by :func:`resolve_padding`
    and resets the dilation to 1, and with that padding the general formula
    reduces to ``ceil(M/S)``.  Only with ``ceil_mode`` (pooling) does it not:
    Paddle then rounds the general formula up, e.g. 2 outputs for ``M=2,
    U=1, S=2``, and so does this function.

    >>> conv_output_size(8, 3, stride=1, padding=1)   # book §5.1.6
    8
    >>> conv_output_size(8, 3, stride=2, padding=1)
    4
    >>> import sympy
    >>> M, P = sympy.symbols('M P', positive=True, integer=True)
    >>> conv_output_size(M, 3, 1, P)
    M + 2*P - 2

    Raises :class:`~convcalc.errors.ShapeError` when the result would be <= 0,
    and :class:`~convcalc.errors.InvalidParameterError` for ``'VALID'`` with
    ``ceil_mode``: Paddle refuses that pair for pooling (the only layers with a
    ``ceil_mode``), and every caller of the formula refuses it alike.

    >>> conv_output_size(7, 2, 2, 'VALID', ceil_mode=True)
    Traceback (most recent call last):
    ...
    convcalc.errors.InvalidParameterError: ceil_mode cannot be combined with 'VALID' padding ...
    """
    if ceil_mode and isinstance(padding, str) and padding.upper() == "VALID":
        raise InvalidParameterError(
            "ceil_mode cannot be combined with 'VALID' padding (Paddle refuses it)",
            "drop ceil_mode, or pass a number as padding",
        )
    m = as_expr(size, "input size")
    check_at_least(m, 1, "input size", "an input has at least one pixel per axis")
    s = as_expr(stride, "stride")
    check_at_least(s, 1, "stride", "use stride=1 to visit every position")
    k_eff = effective_kernel(kernel, dilation)
    if isinstance(padding, str) and padding.upper() == "SAME":
        if not ceil_mode:  # floor((M + pad_total - U)/S) + 1 == ceil(M/S) for SAME's pad_total
            return ceiling(div(m, s))
        k_eff = effective_kernel(kernel, 1)  # Paddle resets dilation under 'SAME'
    before, after = resolve_padding(padding, m, kernel, s, dilation)
    span = m + before + after - k_eff
    rounding = ceiling if ceil_mode else floor
    out = rounding(div(span, s)) + 1
    if is_number(out) and out < 1:
        raise ShapeError(
            f"kernel {k_eff} is larger than the padded input {m}+{before}+{after}="
            f"{m + before + after} (output size {out})",
            "use a larger input, a smaller kernel or dilation, or more padding",
        )
    return out


def conv_transpose_output_size(
    size: Quantity,
    kernel: Quantity,
    stride: Quantity = 1,
    padding: Quantity = 0,
    dilation: Quantity = 1,
    output_padding: Quantity = 0,
) -> sympy.Expr:
    """Output length of a transposed convolution on one axis (5.6 solved for the input).

    ``M' = (M - 1)*S - 2P + d*(U - 1) + output_padding + 1``: the length a
    convolution with the same kernel, stride and padding maps back to ``M``.

    >>> conv_transpose_output_size(6, 2, stride=2)        # 2x upsampling
    12
    >>> conv_transpose_output_size(9, 3, 2, 1, output_padding=1)
    18
    """
    m = as_expr(size, "input size")
    check_at_least(m, 1, "input size", "an input has at least one pixel per axis")
    s = as_expr(stride, "stride")
    check_at_least(s, 1, "stride", "use stride=1 for no upsampling")
    p, op = as_expr(padding, "padding"), as_expr(output_padding, "output_padding")
    check_at_least(p, 0, "padding", "padding crops the output; use 0 for none")
    check_at_least(op, 0, "output_padding", "use 0 for none")
    if is_number(op) and is_number(s) and op >= s:
        raise InvalidParameterError(f"output_padding must be smaller than the stride, got {op} >= {s}",
                                    "use output_padding < stride (Paddle refuses the rest)")
    out = (m - 1) * s - 2 * p + effective_kernel(kernel, dilation) + op
    if is_number(out) and out < 1:
        raise ShapeError(f"padding {p} crops the whole output (output size {out})",
                         "use less padding or a larger input")
    return out


def pool_output_size(
    size: Quantity,
    kernel: Quantity,
    stride: Quantity | None = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
) -> sympy.Expr:
    """Output length of max/avg pooling on one axis (book eq. 5.20/5.21 of 5.2.2).

    Same formula as convolution; the stride defaults to the kernel size.
    With ``ceil_mode`` the division rounds up, exactly as Paddle does (no
    PyTorch-style rule dropping a last window that starts in the padding),
    also after ``'SAME'`` padding; ``'VALID'`` with ``ceil_mode`` raises
    :class:`~convcalc.errors.InvalidParameterError` as Paddle does.

    >>> pool_output_size(28, 2)
    14
    >>> pool_output_size(16, 3, 2, 1)   # ResNet's stem pool
    8
    >>> pool_output_size(5, 2, 2, 1, ceil_mode=True)
    4
    >>> pool_output_size(2, 1, 2, 'SAME'), pool_output_size(2, 1, 2, 'SAME', ceil_mode=True)
    (1, 2)
    """
    return conv_output_size(size, kernel, kernel if stride is None else stride, padding, 1, ceil_mode)


def narrow_conv_output_size(size: Quantity, kernel: Quantity) -> sympy.Expr:
    """Narrow convolution, ``S=1, P=0``: ``M' = M - U + 1`` (book eq. 5.9/5.10, also 5.2/5.3).

    >>> narrow_conv_output_size(3, 2)
    2
    >>> import sympy
    >>> narrow_conv_output_size(sympy.Symbol('M'), sympy.Symbol('U'))
    M - U + 1
    """
    m, k = as_expr(size, "input size"), as_expr(kernel, "kernel")
    out = m - k + 1
    if is_number(out) and out < 1:
        raise ShapeError(
            f"kernel {k} is larger than the input {m}", "use a smaller kernel or pad the input"
        )
    return out


def wide_conv_output_size(size: Quantity, kernel: Quantity) -> sympy.Expr:
    """Wide convolution, ``S=1, P=U-1``: ``M' = M + U - 1`` (book eq. 5.11/5.12).

    >>> wide_conv_output_size(32, 5)
    36
    """
    m, k = as_expr(size, "input size"), as_expr(kernel, "kernel")
    check_at_least(k, 1, "kernel", "a kernel covers at least one pixel")
    return m + k - 1


def same_conv_output_size(size: Quantity, kernel: Quantity) -> sympy.Expr:
    """Same ("equal-width") convolution, ``S=1, P=(U-1)/2``: ``M' = M`` (book eq. 5.13/5.14).

    Needs an odd kernel so that ``(U-1)/2`` is a whole padding.

    >>> same_conv_output_size(32, 3)
    32
    """
    m, k = as_expr(size, "input size"), as_expr(kernel, "kernel")
    if is_number(k) and k % 2 == 0:
        raise InvalidParameterError(
            f"same convolution needs an odd kernel, got {k}", "use kernel 1, 3, 5, ... or 'SAME' padding"
        )
    return m
