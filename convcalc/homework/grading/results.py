"""What grading produces: one result per field, per question and per file (frozen dataclasses, no strings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convcalc.homework.spec import InvalidAnswer

__all__ = ["CORRECT", "WRONG", "MISSING", "INVALID", "FieldResult", "QuestionResult", "GradeResult"]

CORRECT, WRONG, MISSING, INVALID = "correct", "wrong", "missing", "invalid"


@dataclass(frozen=True)
class FieldResult:
    """One graded field of one question (``rows`` carries a result per cell in ``cells``).

    ``line`` is a line of ``file``: the student's answer when there is one,
    else the question (in the teacher's file with ``--questions``).
    ``invalid`` is set when the student's answer could not be read.
    """

    name: str
    status: str
    expected: Any
    given: Any
    points: float
    max_points: float
    tolerance: str = "exact"
    hint: str = ""
    derivation: str = ""
    note: str = ""
    line: int | None = None
    cells: tuple[FieldResult, ...] = ()
    file: str = ""
    invalid: InvalidAnswer | None = None

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    @property
    def has_invalid(self) -> bool:
        return self.status == INVALID or any(c.has_invalid for c in self.cells)


@dataclass(frozen=True)
class QuestionResult:
    """All graded fields of one question; ``error`` when it could not be graded at all."""

    id: str
    number: int
    text: str
    kind: str
    points: float
    max_points: float
    fields: tuple[FieldResult, ...] = ()
    error: str = ""
    notes: tuple[str, ...] = ()
    convention: str = "paddle"

    @property
    def correct(self) -> bool:
        return not self.error and all(f.correct for f in self.fields)


@dataclass(frozen=True)
class GradeResult:
    """A graded file: per-question results, the score, and the answers that could not be read."""

    path: str
    title: str
    student: str
    questions: tuple[QuestionResult, ...]
    score: float
    max_score: float
    student_id: str = ""
    invalid: tuple[InvalidAnswer, ...] = ()  # answers to questions that do not exist

    @property
    def all_correct(self) -> bool:
        return not self.invalid and all(q.correct for q in self.questions)

    @property
    def has_invalid(self) -> bool:
        return bool(self.invalid) or any(f.has_invalid for q in self.questions for f in q.fields)

    @property
    def invalid_answers(self) -> tuple[InvalidAnswer, ...]:
        """Every answer of the file that could not be read, in file order."""
        found = list(self.invalid)

        def walk(f: FieldResult) -> None:
            if f.invalid is not None:
                found.append(f.invalid)
            for c in f.cells:
                walk(c)

        for q in self.questions:
            for f in q.fields:
                walk(f)
        return tuple(sorted(found, key=lambda i: i.line or 0))
