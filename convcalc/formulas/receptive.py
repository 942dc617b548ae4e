"""Receptive-field recurrences (book §5.1.4), one axis at a time.

A unit's field is described, in input pixels, by its size ``r``, its jump
``j`` (distance in input pixels between neighbouring units: the product of
the strides so far) and ``start`` (the input coordinate of the centre of the
first unit's field; pixel centres are at 0, 1, 2, ...).  Through a layer with
kernel ``k``, stride ``s``, padding before ``p`` and dilation ``d``, with
``k_eff = d*(k-1) + 1``::

    j_out     = j_in * s
    r_out     = r_in + (k_eff - 1) * j_in
    start_out = start_in + ((k_eff - 1)/2 - p) * j_in

Two 3x3 convolutions give a 5x5 field, as in the book's figure 5.5:

>>> f = field_after(field_after(INPUT_FIELD, 3), 3)
>>> (f.size, f.jump, f.start)
(5, 1, 2)

Where branches merge (residual add, concat) the jumps must agree; the merged
field is the smallest one covering all branches (the max size when the
centres agree).  After global pooling or flatten a unit sees the whole input:
that is :data:`WHOLE_INPUT`, never a number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sympy

from convcalc.errors import MisalignedBranchesError
from convcalc.formulas._common import Quantity, as_expr, check_at_least
from convcalc.formulas.shapes import effective_kernel

__all__ = [
    "Field",
    "AxisField",
    "INPUT_FIELD",
    "WHOLE_INPUT",
    "rf_jump",
    "rf_size",
    "rf_start",
    "field_after",
    "merge_fields",
]


@dataclass(frozen=True)
class Field:
    """Receptive field of one unit on one axis; ``whole`` means the entire input."""

    size: sympy.Expr | None = None
    jump: sympy.Expr | None = None
    start: sympy.Expr | None = None
    whole: bool = False

    def __post_init__(self) -> None:
        if not self.whole:
            for name in ("size", "jump", "start"):
                value = getattr(self, name)
                if value is None:
                    raise ValueError(f"Field.{name} is required unless whole=True")
                object.__setattr__(self, name, sympy.sympify(value))


INPUT_FIELD = Field(size=1, jump=1, start=0)
"""The field of an input pixel: itself."""

WHOLE_INPUT = Field(whole=True)
"""After global pooling, flatten or a fully connected layer: every input pixel."""

@dataclass(frozen=True)
class AxisField:
    """The field of one unit along one named input axis (``L``; ``H``, ``W``; ``D``, ``H``, ``W``).

    ``field`` is ``None`` when unknown (after an op convcalc cannot follow, or
    a misaligned merge); ``dim`` is the dimension of the value this axis sits
    in (``None`` once it was reduced or squeezed away).

    >>> AxisField("L", field_after(INPUT_FIELD, 3), 2).field.size
    3
    """

    axis: str
    field: Field | None
    dim: int | None = None


def rf_jump(jump_in: Quantity, stride: Quantity) -> sympy.Expr:
    """``j_out = j_in * s``.

    >>> rf_jump(2, 2)
    4
    """
    s = as_expr(stride, "stride")
    check_at_least(s, 1, "stride", "use stride=1 to visit every position")
    return as_expr(jump_in, "jump") * s


def rf_size(size_in: Quantity, jump_in: Quantity, kernel: Quantity, dilation: Quantity = 1) -> sympy.Expr:
    """``r_out = r_in + (k_eff - 1) * j_in``.

    >>> rf_size(3, 1, 3)
    5
    >>> rf_size(1, 1, 3, dilation=2)
    5
    """
    return as_expr(size_in, "size") + (effective_kernel(kernel, dilation) - 1) * as_expr(jump_in, "jump")


def rf_start(
    start_in: Quantity, jump_in: Quantity, kernel: Quantity, padding: Quantity = 0, dilation: Quantity = 1
) -> sympy.Expr:
    """``start_out = start_in + ((k_eff - 1)/2 - p) * j_in``, ``p`` the padding before.

    >>> rf_start(0, 1, 3, 1)
    0
    >>> rf_start(0, 1, 2)
    1/2
    """
    p = as_expr(padding, "padding")
    check_at_least(p, 0, "padding", "padding adds zeros around the input; use 0 for none")
    k_eff = effective_kernel(kernel, dilation)
    return as_expr(start_in, "start") + ((k_eff - 1) / sympy.Integer(2) - p) * as_expr(jump_in, "jump")


def field_after(
    field: Field, kernel: Quantity, stride: Quantity = 1, padding: Quantity = 0, dilation: Quantity = 1
) -> Field:
    """The field after one conv/pool layer on this axis (all three recurrences).

    >>> field_after(INPUT_FIELD, 7, 2, 3)
    Field(size=7, jump=2, start=0, whole=False)
    """
    if field.whole:
        return field
    return Field(
        size=rf_size(field.size, field.jump, kernel, dilation),
        jump=rf_jump(field.jump, stride),
        start=rf_start(field.start, field.jump, kernel, padding, dilation),
    )


def merge_fields(fields: Iterable[Field]) -> Field:
    """Merge the fields of branches that are added or concatenated.

    The jumps must agree (else :class:`~convcalc.errors.MisalignedBranchesError`);
    the result is the smallest field covering every branch, which is the max
    size when the centres agree.

    >>> merge_fields([Field(7, 2, 0), Field(3, 2, 0)]).size
    7
    >>> merge_fields([Field(3, 1, 1), Field(3, 2, 1)])
    Traceback (most recent call last):
    ...
    convcalc.errors.MisalignedBranchesError: branches merge with different jumps (1, 2); ...
    """
    fields = list(fields)
    if not fields:
        raise ValueError("merge_fields needs at least one field")
    if any(f.whole for f in fields):
        return WHOLE_INPUT
    jumps = [f.jump for f in fields]
    if any(sympy.expand(j - jumps[0]) != 0 for j in jumps[1:]):
        shown = ", ".join(str(j) for j in jumps)
        raise MisalignedBranchesError(
            f"branches merge with different jumps ({shown})",
            "their units sit on different input grids; check the strides on each branch",
        )
    lows = [f.start - (f.size - 1) / sympy.Integer(2) for f in fields]
    highs = [f.start + (f.size - 1) / sympy.Integer(2) for f in fields]
    low, high = sympy.Min(*lows), sympy.Max(*highs)
    return Field(size=high - low + 1, jump=jumps[0], start=(low + high) / 2)
