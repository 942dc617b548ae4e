"""Marking one answer field: correct, wrong (with hint and derivation), missing or invalid, with its place.

Shared by layer questions (``grade``) and model questions (``models``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from convcalc.homework.grading.match import values_match
from convcalc.homework.grading.results import CORRECT, INVALID, MISSING, WRONG, FieldResult
from convcalc.homework.spec import PER_AXIS, InvalidAnswer, Question

__all__ = [
    "mark_field",
    "mark_invalid",
    "stray_invalid",
    "axes_problem",
    "per_axis_hint",
    "rounding_hint",
    "AXIS_NAMES",
    "ROUNDED",
    "HALF_PIXEL",
]

ROUNDED = "rounded: the answer is an exact count, write every digit (not a rounded or scientific form)"
HALF_PIXEL = (
    "a start can be a half pixel (an even kernel or pooling window centres between two pixels): 0.5 is exact,"
    " do not round it"
)

AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def axes_problem(name: str, given: Any, axes: int, line: int | None, question: str = "") -> InvalidAnswer | None:
    """A per-axis answer with a number of entries other than the question's axes: an invalid answer."""
    if name.rsplit(".", 1)[-1] not in PER_AXIS or not isinstance(given, tuple) or len(given) == axes:
        return None
    names = AXIS_NAMES.get(axes, ())
    keys = ", ".join(f"{n[0]} = .." for n in names)
    return InvalidAnswer(
        field=name,
        problem=f"{len(given)} values for {axes} axis(es) ({', '.join(names)})",
        fix=f"give one value per axis, [{', '.join(n[0] for n in names)}] or {{ {keys} }}, or one number",
        code="malformed",
        line=line,
        target=name,
        question=question,
    )


def _rounded(given: float, expected: float) -> bool:
    if expected == 0 or given == expected:
        return False
    for digits in range(1, 5):
        if float(f"{float(expected):.{digits}g}") == float(given):
            return True
    return False


def rounding_hint(name: str, given: Any, expected: Any) -> str:
    """``1.47e5`` for 146,832 (rounded to a few significant digits), or ``1`` for a half-pixel 0.5."""
    numbers = (int, float, Fraction)
    exp = expected if isinstance(expected, tuple) else (expected,)
    got = given if isinstance(given, tuple) else (given,) * len(exp)
    if len(got) != len(exp) or not all(isinstance(v, numbers) and not isinstance(v, bool) for v in exp + got):
        return ""
    halves = [e for e in exp if isinstance(e, Fraction) and e.denominator == 2]
    if halves and all(g == e or g in (math.floor(e), math.ceil(e)) for g, e in zip(got, exp, strict=True)):
        return HALF_PIXEL
    if len(exp) == 1 and isinstance(exp[0], int) and _rounded(got[0], exp[0]):
        return ROUNDED
    return ""


def per_axis_hint(name: str, given: Any, expected: Any, axes: int) -> str:
    """The hint for one number where the expected value differs per axis (no values: safe under --feedback hints)."""
    base = name.rsplit(".", 1)[-1]
    if base not in PER_AXIS or isinstance(given, (tuple, str)) or not isinstance(expected, tuple):
        return ""
    names = AXIS_NAMES.get(len(expected), AXIS_NAMES[axes])
    keys = ", ".join(f"{n[0]} = .." for n in names)
    return (
        f"the {'field' if base == 'rf' else base.removeprefix('rf_')} differs per axis ({', '.join(names)}):"
        f" give one value per axis, {base} = [{', '.join(n[0] for n in names)}] or {base} = {{ {keys} }}"
    )


def mark_invalid(question: Question, name: str, expected: Any, share: float, invalid: InvalidAnswer) -> FieldResult:
    """An answer that could not be read: no points, the problem and the fix shown."""
    return FieldResult(
        name,
        INVALID,
        expected,
        None,
        0.0,
        share,
        question.tolerance_for(name).describe(),
        line=invalid.line,
        file=question.answer_path,
        invalid=invalid,
    )


def stray_invalid(question: Question, graded: set[str]) -> list[FieldResult]:
    """Invalid answers that belong to no graded field (an unknown name with no close match): worth 0 of 0."""
    return [
        FieldResult(
            i.field.rsplit(".", 1)[-1], INVALID, None, None, 0.0, 0.0, line=i.line, file=question.answer_path, invalid=i
        )
        for i in question.invalid
        if i.target not in graded and "." not in i.target
    ]


def mark_field(
    question: Question,
    name: str,
    expected: Any,
    given: Any,
    share: float,
    *,
    batched: bool,
    hint: Callable[[], str],
    derivation: Callable[[], str],
    axes: int = 2,
) -> FieldResult:
    """Compare one answer with its expected value; the hint and derivation are made only for a wrong one.

    ``axes``: the question's spatial axes (a per-axis answer needs one value each)."""
    tol = question.tolerance_for(name)
    bad = axes_problem(name, given, axes, question.line_of(name), question.id)
    if bad is not None:
        return mark_invalid(question, name, expected, share, bad)
    if given is None:
        invalid = question.invalid_for(name)
        if invalid is not None:
            return mark_invalid(question, name, expected, share, invalid)
        return FieldResult(
            name,
            MISSING,
            expected,
            None,
            0.0,
            share,
            tol.describe(),
            derivation=derivation(),
            line=question.source_line,
            file=question.source,
        )
    ok, note = values_match(name, given, expected, tol, batched)
    line, file = question.line_of(name), question.answer_path
    if ok:
        return FieldResult(
            name, CORRECT, expected, given, share, share, tol.describe(), note=note, line=line, file=file
        )
    return FieldResult(
        name,
        WRONG,
        expected,
        given,
        0.0,
        share,
        tol.describe(),
        hint=hint() or per_axis_hint(name, given, expected, axes) or rounding_hint(name, given, expected),
        derivation=derivation(),
        line=line,
        file=file,
    )
