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

Upsampling (transposed convolutions, interpolation) has no uniform field:
which input pixels an output unit sees depends on its position modulo the
upsampling period (a 2x nearest upsampling maps outputs 0 and 1 to input 0,
outputs 2 and 3 to input 1, ...).  Such a field is exact per position:
``phases[k]`` holds the bounds ``(lo, hi)`` of the field of every unit
``o`` with ``o % len(phases) == k``, relative to the line
``start + o*jump`` (``None``: such units see no input pixel at all, e.g. a
transposed conv whose kernel is smaller than its stride).  The reported
numbers are then: ``size`` the largest field of any position, ``jump`` the
mean distance between neighbouring units (fractional after upsampling:
``j_out = j_in / s``), ``start`` the centre of the first unit's field
(of the first unit that sees any pixel).  Later layers propagate the
per-position bounds exactly (:func:`field_after`, :func:`merge_fields`).

>>> up = transposed_field(INPUT_FIELD, 2, 2)   # ConvTranspose k=2, s=2
>>> print(up.size, up.jump, up.start, up.phases)
1 1/2 0 ((0, 0), (Fraction(-1, 2), Fraction(-1, 2)))
>>> f = field_after(up, 3, padding=1)   # then a 3-wide conv: unit 0 sees pixels -1..0, units 1 and 2 see 0..1
>>> print(f.size, f.jump, f.start, f.phases)
2 1/2 -1/2 ((Fraction(-1, 2), Fraction(1, 2)), (0, 1))

Numbers are Python numbers (``int``, and :class:`~fractions.Fraction` where not whole); sympy
expressions stay sympy (:mod:`convcalc.formulas.numbers`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from convcalc.errors import MisalignedBranchesError
from convcalc.formulas._common import Quantity, as_expr, check_at_least
from convcalc.formulas.numbers import div, exact, expand, is_number, is_symbolic, maximum, minimum
from convcalc.formulas.shapes import effective_kernel

if TYPE_CHECKING:
    import sympy

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
    "transposed_field",
    "resampled_field",
    "interpolation_taps",
    "blocked_field",
    "MAX_PERIOD",
]


@dataclass(frozen=True)
class Field:
    """Receptive field of one unit on one axis; ``whole`` means the entire input."""

    size: sympy.Expr | None = None
    jump: sympy.Expr | None = None
    start: sympy.Expr | None = None
    whole: bool = False
    phases: tuple[tuple[sympy.Expr, sympy.Expr] | None, ...] | None = None  # per position; None: uniform

    def __post_init__(self) -> None:
        if not self.whole:
            for name in ("size", "jump", "start"):
                value = getattr(self, name)
                if value.__class__ is int:  # (the common case, as _quantity would leave it)
                    continue
                if value is None:
                    raise ValueError(f"Field.{name} is required unless whole=True")
                object.__setattr__(self, name, _quantity(value))
        if self.phases is not None:
            object.__setattr__(self, "phases", tuple(
                None if b is None else (_quantity(b[0]), _quantity(b[1])) for b in self.phases))

    @property
    def period(self) -> int:
        """Units after which the pattern of fields repeats (1: every unit's field is the same shape)."""
        return len(self.phases) if self.phases else 1

    def bounds(self, unit: int) -> tuple[sympy.Expr, sympy.Expr] | None:
        """Input coordinates (first, last pixel centre) of the field of ``unit``; ``None``: it sees no pixel."""
        centre = self.start + unit * self.jump
        if self.phases is None:
            half = div(self.size - 1, 2)
            return centre - half, centre + half
        b = self.phases[unit % len(self.phases)]
        return None if b is None else (centre + b[0], centre + b[1])


def _quantity(value):
    """A field's number: an int or Fraction (a float read exactly), or a sympy expression as it is."""
    if isinstance(value, float):
        return exact(Fraction(value).limit_denominator(10**9))
    if is_symbolic(value):
        import sympy

        return sympy.sympify(value)
    return exact(as_expr(value, "field"))


INPUT_FIELD = Field(size=1, jump=1, start=0)
"""The field of an input pixel: itself."""

WHOLE_INPUT = Field(whole=True)
"""After global pooling, flatten or a fully connected layer: every input pixel."""

@dataclass(frozen=True)
class AxisField:
    """The field of one unit along one named input axis (``L``; ``H``, ``W``; ``D``, ``H``, ``W``).

    ``field`` is ``None`` when unknown (after an op convcalc cannot follow, or
    a misaligned merge); ``dim`` is the dimension of the value this axis sits
    in (``None`` once it was reduced or squeezed away).  ``part`` is set while
    a reshape keeps the axis split or folded (Swin's windows, rows folded into
    the batch): ``(unit_stride, count, inner, length)``, this entry holds
    ``count`` of the axis' ``length`` units, ``unit_stride`` apart, one step
    every ``inner`` elements of ``dim``; ``None``: the axis fills ``dim``.

    >>> AxisField("L", field_after(INPUT_FIELD, 3), 2).field.size
    3
    """

    axis: str
    field: Field | None
    dim: int | None = None
    part: tuple[int, int, int, int] | None = None


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
    >>> print(rf_start(0, 1, 2))
    1/2
    """
    p = as_expr(padding, "padding")
    check_at_least(p, 0, "padding", "padding adds zeros around the input; use 0 for none")
    k_eff = effective_kernel(kernel, dilation)
    return exact(as_expr(start_in, "start") + (div(k_eff - 1, 2) - p) * as_expr(jump_in, "jump"))


MAX_PERIOD = 4096
"""Longest pattern of per-position fields followed (align_corners resizing of large maps has periods of
hundreds of units; beyond this the field is reported unknown)."""


def _numeric(*values) -> bool:
    return all(is_number(v) for v in values)


def _q(value) -> Fraction:
    """A numeric quantity as an exact Fraction (the per-position arithmetic runs on Fractions: fast)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    import sympy

    value = sympy.sympify(value)
    if not value.is_Rational and value.is_number:
        value = sympy.nsimplify(value)
    if not value.is_Rational:
        raise ValueError(f"a field that differs by position needs numeric sizes, got {value}")
    return Fraction(int(value.p), int(value.q))


def _bounds_of(field: Field) -> Callable[[int], tuple[Fraction, Fraction] | None]:
    """``unit -> (first, last)`` of ``field`` in Fractions (``None``: the unit sees no pixel)."""
    start, jump = _q(field.start), _q(field.jump)
    if field.phases is None:
        half = (_q(field.size) - 1) / 2
        return lambda unit: (start + unit * jump - half, start + unit * jump + half)
    phases = [None if b is None else (_q(b[0]), _q(b[1])) for b in field.phases]
    n = len(phases)

    def bounds(unit: int):
        b = phases[unit % n]
        return None if b is None else (start + unit * jump + b[0], start + unit * jump + b[1])

    return bounds


def _from_bounds(jump: Fraction, bounds: Sequence[tuple | None]) -> Field:
    """The field whose units ``0 .. len(bounds)-1`` (one period) have these absolute bounds (Fractions)."""
    seen = [(k, b) for k, b in enumerate(bounds) if b is not None]
    if not seen:
        raise ValueError("no position of this layer sees any input pixel")
    period = len(bounds)
    for p in range(1, period + 1):  # the shortest period that repeats
        if period % p == 0 and all(
            (bounds[k] is None) == (bounds[k % p] is None)
            and (bounds[k] is None or (bounds[k][0] - bounds[k % p][0] == (k - k % p) * jump
                                       and bounds[k][1] - bounds[k % p][1] == (k - k % p) * jump))
            for k in range(period)
        ):
            period = p
            break
    k0, (lo0, hi0) = seen[0]
    start = (lo0 + hi0) / 2 - k0 * jump
    size = max(b[1] - b[0] + 1 for k, b in seen if k < period)
    rel = [None if bounds[k] is None else (bounds[k][0] - start - k * jump, bounds[k][1] - start - k * jump)
           for k in range(period)]
    uniform = period == 1 and rel[0] is not None and rel[0][0] + rel[0][1] == 0
    r = exact
    phases = None if uniform else tuple(None if b is None else (r(b[0]), r(b[1])) for b in rel)
    return Field(size=r(size), jump=r(jump), start=r(start), phases=phases)


def _union(parts: Iterable[tuple | None]) -> tuple | None:
    parts = [b for b in parts if b is not None]
    if not parts:
        return None
    return min(b[0] for b in parts), max(b[1] for b in parts)


def _check_period(period: int, what: str) -> None:
    if period > MAX_PERIOD:
        raise ValueError(f"{what}: its fields repeat only every {period} units (more than {MAX_PERIOD})")


def _valid_ints(kernel, stride, padding, dilation) -> bool:
    """Python ints (not bools) the recurrences accept: kernel, stride and dilation >= 1, padding >= 0."""
    return (kernel.__class__ is int and stride.__class__ is int and padding.__class__ is int
            and dilation.__class__ is int and kernel >= 1 and stride >= 1 and padding >= 0 and dilation >= 1)


def _plain(field: Field) -> bool:
    return all(v.__class__ is int or v.__class__ is Fraction for v in (field.size, field.jump, field.start))


def field_after(
    field: Field, kernel: Quantity, stride: Quantity = 1, padding: Quantity = 0, dilation: Quantity = 1
) -> Field:
    """The field after one conv/pool layer on this axis (all three recurrences).

    After upsampling (a field with ``phases``) the union of the window's fields, per position.

    >>> field_after(INPUT_FIELD, 7, 2, 3)
    Field(size=7, jump=2, start=0, whole=False, phases=None)
    """
    if field.whole:
        return field
    if field.phases is None and _valid_ints(kernel, stride, padding, dilation) and _plain(field):
        # (the recurrences below for valid whole numbers, without their checks and conversions: the same numbers)
        k_eff = dilation * (kernel - 1) + 1
        return Field(size=field.size + (k_eff - 1) * field.jump, jump=field.jump * stride,
                     start=exact(field.start + (div(k_eff - 1, 2) - padding) * field.jump))
    if field.phases is not None:
        k, s, p, d = (int(v) for v in (kernel, stride, padding, dilation))
        period = field.period // math.gcd(field.period, s)
        at = _bounds_of(field)
        return _from_bounds(_q(field.jump) * s, [_union(at(u * s - p + t * d) for t in range(k))
                                                 for u in range(period)])
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
    if any(expand(j - jumps[0]) != 0 for j in jumps[1:]):
        shown = ", ".join(str(j) for j in jumps)
        raise MisalignedBranchesError(
            f"branches merge with different jumps ({shown})",
            "their units sit on different input grids; check the strides on each branch",
        )
    if any(f.phases is not None for f in fields):
        period = math.lcm(*(f.period for f in fields))
        _check_period(period, "merged branches")
        ats = [_bounds_of(f) for f in fields]
        return _from_bounds(_q(jumps[0]), [_union(at(o) for at in ats) for o in range(period)])
    lows = [f.start - div(f.size - 1, 2) for f in fields]
    highs = [f.start + div(f.size - 1, 2) for f in fields]
    low, high = minimum(*lows), maximum(*highs)
    return Field(size=high - low + 1, jump=jumps[0], start=div(low + high, 2))


def transposed_field(
    field: Field, kernel: Quantity, stride: Quantity = 1, padding: Quantity = 0, dilation: Quantity = 1
) -> Field:
    """The field after a transposed convolution (Conv1D/2D/3DTranspose) on this axis.

    Output ``o`` receives input ``i`` through tap ``t`` when ``o = i*s - p + t*d`` (``p`` the padding
    before; ``output_padding`` and groups change no field).  The jump shrinks, ``j_out = j_in / s``; the
    field of ``o`` is the union of the fields of the inputs ``i = (o + p - t*d) / s`` that are whole
    numbers, so it depends on ``o mod s``: exact per position (``phases``), ``size`` the largest.

    >>> f = transposed_field(INPUT_FIELD, 3, 2, 1)   # k=3, s=2, p=1: even outputs see 1 pixel, odd ones 2
    >>> print(f.size, f.jump, f.start, f.phases)
    2 1/2 0 ((0, 0), (Fraction(-1, 2), Fraction(1, 2)))
    >>> transposed_field(INPUT_FIELD, 3, 1, 1)       # stride 1: a plain 3-wide window
    Field(size=3, jump=1, start=0, whole=False, phases=None)
    """
    if field.whole:
        return field
    if not _numeric(kernel, stride, padding, dilation, field.jump, field.start, field.size):
        raise ValueError("a transposed convolution's field needs numeric sizes")
    k, s, p, d = (int(v) for v in (kernel, stride, padding, dilation))
    period = s * field.period
    _check_period(period, "the transposed convolution")
    at = _bounds_of(field)
    bounds = [_union(at((o + p - t * d) // s) for t in range(k) if (o + p - t * d) % s == 0)
              for o in range(period)]
    return _from_bounds(_q(field.jump) / s, bounds)


def interpolation_taps(mode: str, src: Fraction) -> tuple[int, ...]:
    """Input units an interpolated output reads with a non-zero weight, ``src`` its source coordinate.

    nearest: ``floor(src)``; linear (bi-, tri-): ``floor(src)`` and the next one unless ``src`` is whole;
    cubic: the four around ``src`` unless it is whole (Keys' kernel is 0 at the other integers).

    >>> interpolation_taps("linear", Fraction(1, 4)), interpolation_taps("cubic", Fraction(2))
    ((0, 1), (2,))
    """
    i = math.floor(src)
    whole = src == i
    if mode == "nearest" or whole:
        return (i,)
    if mode == "linear":
        return (i, i + 1)
    if mode == "cubic":
        return (i - 1, i, i + 1, i + 2)
    raise ValueError(f"unknown interpolation mode {mode!r}")


def resampled_field(field: Field, ratio: Fraction, offset: Fraction, taps: Callable[[Fraction], Sequence[int]]
                    ) -> Field:
    """The field after a resampling where output ``o`` reads the input units ``taps(ratio*o + offset)``.

    Interpolation (``F.interpolate``, ``nn.Upsample``), as Paddle's kernels compute it, away from the
    borders (where Paddle clamps the source to the image): ``ratio`` is ``in/out`` (``1/scale`` when a
    scale factor is given) or ``(in-1)/(out-1)`` with ``align_corners``; ``offset`` is ``(ratio-1)/2``
    for the half-pixel source of linear/cubic modes without align_corners (align_mode 0), else 0.  The
    jump becomes ``j_in * ratio``; the field is exact per position.

    >>> f = resampled_field(INPUT_FIELD, Fraction(1, 2), Fraction(0), lambda s: interpolation_taps("nearest", s))
    >>> print(f.size, f.jump, f.start, f.phases)            # 2x nearest: units 0, 1 both see pixel 0
    1 1/2 0 ((0, 0), (Fraction(-1, 2), Fraction(-1, 2)))
    """
    if field.whole:
        return field
    if not _numeric(field.jump, field.start, field.size):
        raise ValueError("an interpolation's field needs numeric sizes")
    ratio, offset = Fraction(ratio), Fraction(offset)
    per_input = ratio.denominator  # outputs per whole step of the source...
    shift = ratio.numerator  # ... which moves the source by this many input units
    period = per_input * field.period // math.gcd(shift, field.period)
    _check_period(period, "the interpolation")
    at = _bounds_of(field)
    bounds = [_union(at(i) for i in taps(ratio * o + offset)) for o in range(period)]
    return _from_bounds(_q(field.jump) * ratio, bounds)


def blocked_field(field: Field, block: int) -> Field:
    """The field after an op that mixes the units of each aligned block of ``block`` consecutive units.

    Window attention (Swin), an MLP over the positions of a patch: unit ``u``
    sees every unit of its block ``[block*(u // block), block*(u // block) + block)``,
    so the field differs by position within the block (``phases``); ``size`` is
    the largest, the jump is unchanged.

    >>> f = blocked_field(INPUT_FIELD, 4)      # 4-pixel windows: every unit sees its window
    >>> print(f.size, f.jump, f.start, [tuple(str(x) for x in b) for b in f.phases])
    4 1 3/2 [('-3/2', '3/2'), ('-5/2', '1/2'), ('-7/2', '-1/2'), ('-9/2', '-3/2')]
    """
    if field.whole or block == 1:
        return field
    if not _numeric(field.jump, field.start, field.size):
        raise ValueError("a field mixed within blocks needs numeric sizes")
    period = math.lcm(block, field.period)
    _check_period(period, "the blocks")
    at = _bounds_of(field)
    first = [block * (u // block) for u in range(period)]
    return _from_bounds(_q(field.jump), [_union(at(v) for v in range(f, f + block)) for f in first])
