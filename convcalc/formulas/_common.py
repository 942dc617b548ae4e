"""Argument handling shared by the formula modules (no paddle; sympy only for sympy arguments)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from convcalc.errors import InvalidParameterError
from convcalc.formulas.numbers import Fraction, floor, is_number, is_plain, is_symbolic
from convcalc.formulas.numbers import product as _product

if TYPE_CHECKING:
    import sympy

Quantity: TypeAlias = "int | sympy.Expr"
"""What every formula accepts: a Python int or a sympy expression/symbol."""


def as_expr(value: Quantity, name: str) -> Any:
    """A quantity as the formulas compute with it: an int (or Fraction) stays a Python number, a sympy
    expression stays sympy; floats, bools, strings and containers are rejected."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidParameterError(
            f"{name} must be an integer or a sympy expression, got {value!r}",
            "pass a whole number such as 3, or a symbol such as sympy.Symbol('H')",
        )
    if is_plain(value):
        return int(value) if isinstance(value, int) else value
    if is_symbolic(value):
        return value
    try:  # numpy integers and other int-likes
        import operator

        return operator.index(value)
    except TypeError:
        raise InvalidParameterError(
            f"{name} must be an integer or a sympy expression, got {value!r}",
            "pass a whole number such as 3, or a symbol such as sympy.Symbol('H')",
        ) from None


def check_at_least(value: Any, minimum: int, name: str, hint: str) -> None:
    """Raise when a *numeric* quantity is below ``minimum`` (symbols pass)."""
    if not is_number(value):
        return
    if value < minimum:
        raise InvalidParameterError(f"{name} must be >= {minimum}, got {value}", hint)
    if isinstance(value, int):
        whole = True
    elif isinstance(value, Fraction):
        whole = value.denominator == 1
    else:
        whole = bool(value.is_integer)
    if not whole:
        raise InvalidParameterError(f"{name} must be a whole number, got {value}", hint)


def pair(value, name: str) -> tuple[Any, Any]:
    """An int/expr or a 2-sequence (height, width) as two quantities."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InvalidParameterError(
                f"{name} must be one number or (height, width), got {value!r}",
                f"pass e.g. {name}=3 or {name}=(3, 5)",
            )
        return as_expr(value[0], name), as_expr(value[1], name)
    v = as_expr(value, name)
    return v, v


def axis_paddings(padding) -> tuple[object, object]:
    """Split a 2-D padding spec (as `convcalc explain` takes it) into the per-axis forms the shape formulas take."""
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise InvalidParameterError(
                f"unknown padding {padding!r}",
                "use a number, 'before,after', 'top,bottom,left,right', 'same' or 'valid'",
            )
        return padding.upper(), padding.upper()
    if isinstance(padding, (tuple, list)):
        if len(padding) == 2:
            side = (padding[0], padding[1])
            return side, side
        if len(padding) == 4:
            return (padding[0], padding[1]), (padding[2], padding[3])
        raise InvalidParameterError(
            f"padding must have 1, 2 or 4 numbers, got {padding!r}",
            "pass e.g. 1, (before, after) or (top, bottom, left, right)",
        )
    return padding, padding


def seq(value, name: str, rank: int | None = None) -> tuple[Any, ...]:
    """One number (repeated ``rank`` times, default 2) or a sequence, as quantities."""
    if isinstance(value, (tuple, list)):
        out = tuple(as_expr(v, name) for v in value)
        if rank is not None and len(out) != rank:
            raise InvalidParameterError(
                f"{name} must have {rank} entries, got {value!r}", f"pass one number or {rank} numbers"
            )
        return out
    return (as_expr(value, name),) * (rank or 2)


def product(values) -> Any:
    return _product(values)


def numeric_floor(value: Any) -> Any:
    """``int()`` of a number as Paddle does it (after a float division); expressions unchanged."""
    return floor(value) if is_number(value) else value
