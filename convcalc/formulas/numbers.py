"""The formulas' arithmetic: exact Python numbers for numbers, sympy for symbols, from one function body.

A formula takes ints or sympy expressions.  Given Python ints it computes with Python ints (and
:class:`fractions.Fraction` where a value is not whole, e.g. a receptive field's start ``5/2``) and
never imports sympy; given a sympy expression it computes with sympy (which is then imported, since
the caller made a sympy object).  The operations below are the only ones whose spelling differs
between the two (``floor``, exact division, ``Max``, ``expand``, ...); ``+``, ``-``, ``*`` and
comparisons are Python's own.  So a concrete report, which must not pay sympy's import, and a
symbolic one come from the same formula: one source of truth.

>>> floor(div(7, 2)), div(5, 2), div(4, 2), expand(div(6, 3) * 2)
(3, Fraction(5, 2), 2, 4)
>>> import sympy
>>> H = sympy.Symbol('H', positive=True, integer=True)
>>> floor(div(H, 2)) + maximum(H, 3)
floor(H/2) + Max(3, H)
"""

from __future__ import annotations

import math
import operator
import sys
from fractions import Fraction
from functools import reduce
from typing import Any

__all__ = [
    "Fraction", "is_plain", "is_symbolic", "exact", "div", "floor", "ceiling", "floor_div", "maximum", "minimum",
    "expand", "simplify", "product", "total", "is_number", "is_whole", "as_sympy", "text",
]

_PLAIN = (int, Fraction)


def is_plain(value: Any) -> bool:
    """A Python number convcalc computes with: an int (not a bool) or a Fraction."""
    return isinstance(value, _PLAIN) and not isinstance(value, bool)


def is_symbolic(value: Any) -> bool:
    """A sympy object (sympy is imported whenever one exists, so this never imports it)."""
    sympy = sys.modules.get("sympy")
    return sympy is not None and isinstance(value, sympy.Basic)


def exact(value: Any) -> Any:
    """A whole Fraction as an int; anything else as it is."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value.numerator)
    return value


def div(a: Any, b: Any) -> Any:
    """``a / b`` exactly: an int when it divides, else a Fraction; sympy's division for expressions."""
    if is_plain(a) and is_plain(b):
        if isinstance(a, int) and isinstance(b, int) and b and a % b == 0:
            return a // b
        return exact(Fraction(a, b))
    return _sympified(a) / b


def floor(value: Any) -> Any:
    if is_plain(value):
        return math.floor(value)
    import sympy

    return sympy.floor(value)


def ceiling(value: Any) -> Any:
    if is_plain(value):
        return math.ceil(value)
    import sympy

    return sympy.ceiling(value)


def floor_div(a: Any, b: Any) -> Any:
    """``floor(a / b)``."""
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        return a // b
    return floor(div(a, b))


def maximum(*values: Any) -> Any:
    if all(is_plain(v) for v in values):
        return exact(max(values))
    import sympy

    return sympy.Max(*values)


def minimum(*values: Any) -> Any:
    if all(is_plain(v) for v in values):
        return exact(min(values))
    import sympy

    return sympy.Min(*values)


def expand(value: Any) -> Any:
    """``sympy.expand`` for an expression; a number as it is (a whole Fraction as an int)."""
    if is_plain(value):
        return exact(value)
    import sympy

    return sympy.expand(value)


def simplify(value: Any) -> Any:
    if is_plain(value):
        return exact(value)
    import sympy

    return sympy.simplify(value)


def product(values: Any) -> Any:
    """The product of ``values`` (1 for none)."""
    return exact(reduce(operator.mul, values, 1))


def total(values: Any) -> Any:
    """The sum of ``values`` (0 for none)."""
    return exact(sum(values, 0))


def is_number(value: Any) -> bool:
    """A number (no symbol in it): a Python number, or a sympy expression without free symbols."""
    if is_plain(value):
        return True
    return bool(getattr(value, "is_number", False))


def is_whole(value: Any) -> bool:
    """An integer value: an int, a whole Fraction, or a sympy ``Integer``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    if isinstance(value, Fraction):
        return value.denominator == 1
    return bool(getattr(value, "is_Integer", False))


def as_sympy(value: Any) -> Any:
    """``value`` as a sympy object (imports sympy)."""
    import sympy

    return sympy.sympify(value)


def text(value: Any) -> str:
    """``28``, ``5/2``, or sympy's printing of an expression (``H/4 + 1``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Fraction):
        return str(exact(value))
    if is_symbolic(value):
        import sympy

        return sympy.sstr(value)
    return str(value)


def _sympified(value: Any) -> Any:
    """A Fraction as a sympy Rational (sympy's own operators do not take Fractions on the left)."""
    if isinstance(value, Fraction):
        import sympy

        return sympy.Rational(value.numerator, value.denominator)
    return value
