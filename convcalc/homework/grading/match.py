"""Whether a student's value answers the expected one (tolerance, pairs, shapes with or without the batch)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from convcalc.homework.spec import Tolerance

__all__ = ["values_match", "BATCH_LEFT_OUT", "BATCH_WRITTEN"]

BATCH_LEFT_OUT = "batch dimension left out"
BATCH_WRITTEN = "written with the batch dimension (batch 1), as Paddle prints it"


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, Fraction) else float(value)


def _normalise_pair(value: Any) -> Any:
    """One value per axis where every axis agrees is that value (``[3, 3]`` answers ``3``)."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def _shape_match(given: tuple, expected: tuple, batched: bool) -> tuple[bool, str]:
    """A shape needs all its feature dimensions; only the batch may be left out (or written as 1)."""
    if given == expected:
        return True, ""
    if batched and len(given) == len(expected) - 1 and given == expected[1:]:
        return True, BATCH_LEFT_OUT
    if not batched and given == (1, *expected):
        return True, BATCH_WRITTEN
    return False, ""


def values_match(name: str, given: Any, expected: Any, tol: Tolerance, batched: bool = True) -> tuple[bool, str]:
    """Whether ``given`` answers ``expected`` within ``tol``; plus a note (e.g. batch omitted).

    ``batched`` says whether an expected ``output_shape`` starts with the batch
    dimension: then ``[6, 28, 28]`` answers ``(1, 6, 28, 28)``; otherwise
    ``[1, 6, 28, 28]`` answers ``(6, 28, 28)``.  ``[28, 28]`` answers neither.
    """
    if given is None or expected is None and name == "output_shape":
        return False, ""
    if name.endswith("output_shape"):
        return _shape_match(tuple(given), tuple(expected), batched)
    given, expected = _normalise_pair(given), _normalise_pair(expected)
    if isinstance(given, str) or isinstance(expected, str) or expected is None:
        return given == expected, ""
    if isinstance(given, tuple) != isinstance(expected, tuple):
        return False, ""
    if isinstance(given, tuple):
        if len(given) != len(expected):
            return False, ""
        return all(tol.allows(_as_float(g), _as_float(e)) for g, e in zip(given, expected, strict=True)), ""
    return tol.allows(_as_float(given), _as_float(expected)), ""
