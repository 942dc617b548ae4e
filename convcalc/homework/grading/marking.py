"""Marking one answer field: correct, wrong (with hint and derivation), missing or invalid, with its place.

Shared by layer questions (``grade``) and model questions (``models``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convcalc.homework.grading.match import values_match
from convcalc.homework.grading.results import CORRECT, INVALID, MISSING, WRONG, FieldResult
from convcalc.homework.spec import InvalidAnswer, Question

__all__ = ["mark_field", "mark_invalid", "stray_invalid"]


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
) -> FieldResult:
    """Compare one answer with its expected value; the hint and derivation are made only for a wrong one."""
    tol = question.tolerance_for(name)
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
        hint=hint(),
        derivation=derivation(),
        line=line,
        file=file,
    )
