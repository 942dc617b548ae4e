"""Grading: compare a file's answers with the expected values, name the likely mistake.

The result is data (frozen dataclasses); ``convcalc.render.homework`` makes
the text and the JSON.  Layer questions never import paddle; model questions
run the analysis engine (and so paddle) once per model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from convcalc.errors import AnswerFileError, ConvcalcError
from convcalc.homework import compute
from convcalc.homework.schema import HomeworkFile, Question, Tolerance, load_file

__all__ = [
    "FieldResult",
    "QuestionResult",
    "GradeResult",
    "grade_file",
    "grade_homework",
    "merge_answers",
    "values_match",
]

CORRECT, WRONG, MISSING = "correct", "wrong", "missing"


@dataclass(frozen=True)
class FieldResult:
    """One graded field of one question (``rows`` carries a result per cell in ``cells``)."""

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

    @property
    def correct(self) -> bool:
        return self.status == CORRECT


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
    """A graded file: per-question results and the score."""

    path: str
    title: str
    student: str
    questions: tuple[QuestionResult, ...]
    score: float
    max_score: float

    @property
    def all_correct(self) -> bool:
        return all(q.correct for q in self.questions)


# --------------------------------------------------------------------------- comparing


def _as_float(value: Any) -> float:
    if isinstance(value, Fraction):
        return float(value)
    return float(value)


def _normalise_pair(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return value


def values_match(name: str, given: Any, expected: Any, tol: Tolerance) -> tuple[bool, str]:
    """Whether ``given`` answers ``expected`` within ``tol``; plus a note (e.g. batch omitted)."""
    if given is None:
        return False, ""
    if name == "output_shape":
        given, expected = tuple(given), tuple(expected)
        if given == expected:
            return True, ""
        if len(given) == len(expected) - 1 and given == expected[1:]:
            return True, "batch dimension left out"
        return False, ""
    given, expected = _normalise_pair(given), _normalise_pair(expected)
    if isinstance(given, str) or isinstance(expected, str) or expected is None:
        return given == expected, ""
    if isinstance(given, tuple) != isinstance(expected, tuple):
        return False, ""
    if isinstance(given, tuple):
        return all(tol.allows(_as_float(g), _as_float(e)) for g, e in zip(given, expected, strict=True)), ""
    return tol.allows(_as_float(given), _as_float(expected)), ""


def _shape_hint(given: Any, expected: tuple) -> str:
    """Hints that need no formulas: swapped H/W and off-by-one in a shape."""
    if given is None or len(expected) < 2:
        return ""
    g = tuple(given)
    e = tuple(expected)
    if len(g) == len(e) - 1:
        e = e[1:]
    if len(g) != len(e):
        return f"the shape has {len(g)} dimensions, expected {len(e)}"
    if len(e) >= 3 and g[:-2] == e[:-2] and (g[-1], g[-2]) == (e[-2], e[-1]) and e[-1] != e[-2]:
        return compute.MISTAKES["swap_hw"]
    diffs = [gi - ei for gi, ei in zip(g, e, strict=True)]
    if any(diffs) and all(abs(d) <= 1 for d in diffs) and len(e) >= 3 and diffs[:-2] == [0] * (len(e) - 2):
        return compute.MISTAKES["no_plus_one"] if min(diffs) < 0 else compute.MISTAKES["extra_one"]
    return ""


# --------------------------------------------------------------------------- layer questions


def _layer_hint(question: Question, name: str, given: Any, expected: Any, tol: Tolerance) -> str:
    """Name the mistake whose recomputed value equals the student's answer."""
    if name == "output_shape":
        hint = _shape_hint(given, expected)
        if hint:
            return hint
    found = []
    for mistake in compute.MISTAKES:
        try:
            variant = compute.compute_stack(question, mistake).values.get(name)
        except Exception:  # a mistake that makes no sense for this stack (e.g. size <= 0)
            continue
        if variant is None or values_match(name, variant, expected, Tolerance())[0]:
            continue
        if values_match(name, given, variant, tol)[0]:
            found.append(mistake)
    if "macs" in found and "no_bias" in found:
        # The same number: MACs of a biased conv = paddle FLOPs without the bias.
        # If the student's params also forgot the bias, say so first.
        params = question.answer_for("params")
        try:
            params_no_bias = compute.compute_stack(question, "no_bias").values["params"]
        except Exception:
            params_no_bias = None
        first, second = ("no_bias", "macs") if params is not None and params == params_no_bias else ("macs", "no_bias")
        found = [first, second] + [m for m in found if m not in (first, second)]
    return "; or ".join(compute.MISTAKES[m] for m in found[:2])


def _field_points(question: Question) -> float:
    return question.points / len(question.ask) if question.ask else 0.0


def _grade_layer_question(question: Question, derive: Callable[[Question, str], str]) -> QuestionResult:
    result = compute.expected_layer_values(question)
    share = _field_points(question)
    fields = []
    for name in question.ask:
        expected = result.values.get(name)
        given = question.answer_for(name)
        tol = question.tolerance_for(name)
        if expected is None:  # e.g. output_height after a linear layer
            fields.append(
                FieldResult(
                    name,
                    WRONG,
                    None,
                    given,
                    0.0,
                    share,
                    tol.describe(),
                    note=f"{name} is not defined for this stack",
                )
            )
            continue
        ok, note = values_match(name, given, expected, tol)
        if ok:
            fields.append(
                FieldResult(
                    name,
                    CORRECT,
                    expected,
                    given,
                    share,
                    share,
                    tol.describe(),
                    note=note,
                    line=question.line_of(name),
                )
            )
            continue
        status = MISSING if given is None else WRONG
        hint = "" if given is None else _layer_hint(question, name, given, expected, tol)
        fields.append(
            FieldResult(
                name,
                status,
                expected,
                given,
                0.0,
                share,
                tol.describe(),
                hint=hint,
                derivation=derive(question, name),
                line=question.line_of(name),
            )
        )
    return _finish(question, "layers" if len(question.layers) > 1 else question.layers[0].kind, fields)


def _finish(question: Question, kind: str, fields: list[FieldResult], notes: tuple[str, ...] = ()) -> QuestionResult:
    if not question.partial and not all(f.correct for f in fields):
        fields = [replace(f, points=0.0) for f in fields]
    earned = sum(f.points for f in fields)
    return QuestionResult(
        question.id,
        question.number,
        question.text,
        kind,
        earned,
        question.points,
        tuple(fields),
        notes=notes,
        convention=question.convention,
    )


# --------------------------------------------------------------------------- model questions


def _grade_model_question(question: Question, base_dir: str, allow_code: bool, cache: dict) -> QuestionResult:
    from convcalc.homework import models as hw_models

    expected = hw_models.expected_model_values(question, base_dir, allow_code, cache)
    share = _field_points(question)
    fields = []
    for name in question.ask:
        tol = question.tolerance_for(name)
        if name == "rows":
            fields.append(hw_models.grade_rows(question, expected, share))
            continue
        want = expected.values.get(name)
        given = question.answer_for(name)
        ok, note = values_match(name, given, want, tol)
        if ok:
            fields.append(
                FieldResult(
                    name,
                    CORRECT,
                    want,
                    given,
                    share,
                    share,
                    tol.describe(),
                    note=note,
                    line=question.line_of(name),
                )
            )
            continue
        hint = "" if given is None else hw_models.total_hint(question, name, given, want, tol, expected)
        fields.append(
            FieldResult(
                name,
                MISSING if given is None else WRONG,
                want,
                given,
                0.0,
                share,
                tol.describe(),
                hint=hint,
                derivation=expected.derivation(name),
                line=question.line_of(name),
            )
        )
    return _finish(question, "model", fields, expected.notes)


# --------------------------------------------------------------------------- files


def merge_answers(questions: HomeworkFile, answers: HomeworkFile) -> HomeworkFile:
    """The teacher's questions with a student's answers, matched by question id.

    Questions the student left out are graded as unanswered; answers to ids the
    teacher did not ask are an :class:`AnswerFileError`.
    """
    known = {q.id for q in questions.questions}
    for q in answers.questions:
        if q.id not in known:
            raise AnswerFileError(
                f"{answers.path}"
                + (f" line {q.line}" if q.line else "")
                + f": question id {q.id!r} is not in {questions.path}",
                "use the ids of the question file: " + ", ".join(sorted(known)),
            )
    merged = []
    for q in questions.questions:
        student = answers.question(q.id)
        if student is None:
            merged.append(replace(q, answer=(), rows=None, field_lines=()))
        else:
            merged.append(
                replace(
                    q,
                    answer=student.answer,
                    rows=student.rows,
                    field_lines=student.field_lines,
                    line=student.line,
                )
            )
    return replace(
        questions,
        path=answers.path,
        student=answers.student or questions.student,
        questions=tuple(merged),
    )


def grade_homework(
    hw: HomeworkFile,
    *,
    allow_code: bool = False,
    derive: Callable[[Question, str], str] | None = None,
    model_cache: dict | None = None,
) -> GradeResult:
    """Grade every question of a parsed file."""
    from convcalc.homework.derive import layer_derivation

    derive = derive or layer_derivation
    cache = {} if model_cache is None else model_cache
    results = []
    for q in hw.questions:
        if q.is_model:
            try:
                results.append(_grade_model_question(q, hw.base_dir, allow_code, cache))
            except AnswerFileError:
                raise
            except ConvcalcError as err:  # the model failed to build or run
                results.append(
                    QuestionResult(
                        q.id,
                        q.number,
                        q.text,
                        "model",
                        0.0,
                        q.points,
                        error=str(err),
                        convention=q.convention,
                    )
                )
        else:
            results.append(_grade_layer_question(q, derive))
    score = sum(r.points for r in results)
    max_score = sum(r.max_points for r in results)
    return GradeResult(hw.path, hw.title, hw.student, tuple(results), score, max_score)


def grade_file(
    path: str,
    *,
    questions: HomeworkFile | None = None,
    allow_code: bool = False,
    model_cache: dict | None = None,
) -> GradeResult:
    """Load and grade one answer file (against ``questions`` when given)."""
    if questions is None:
        hw = load_file(path)
    else:
        hw = merge_answers(questions, load_file(path, require_config=False))
    return grade_homework(hw, allow_code=allow_code, model_cache=model_cache)
