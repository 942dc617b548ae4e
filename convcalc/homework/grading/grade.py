"""Grading: compare a file's answers with the expected values, name the likely mistake.

The flow is one way: ``schema`` (the file) -> ``compute`` (expected values) ->
this module (marks, hints from ``misconceptions``) -> ``convcalc.render.homework``.
The result is data (``results``).  Layer questions never import paddle;
model questions (``models``) run the analysis engine once per model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from convcalc.errors import AnswerFileError, ConvcalcError
from convcalc.homework import compute
from convcalc.homework.answers.schema import load_file, merge_answers
from convcalc.homework.grading import misconceptions
from convcalc.homework.grading.marking import mark_field, stray_invalid
from convcalc.homework.grading.match import values_match
from convcalc.homework.grading.results import CORRECT, INVALID, MISSING, WRONG, FieldResult, GradeResult, QuestionResult
from convcalc.homework.spec import HomeworkFile, Question

__all__ = [
    "CORRECT",
    "WRONG",
    "MISSING",
    "INVALID",
    "FieldResult",
    "QuestionResult",
    "GradeResult",
    "grade_file",
    "grade_homework",
    "merge_answers",
    "values_match",
]


def _field_points(question: Question) -> float:
    return question.points / len(question.ask) if question.ask else 0.0


def _config_key(question: Question) -> tuple:
    """What a layer question's expected values and derivations depend on (the same for every student)."""
    return (question.input_shape, question.layers, question.convention)


def _cached(cache: dict, key: tuple, make: Callable[[], Any]) -> Any:
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _grade_layer_question(
    question: Question, derive: Callable[[Question, str], str], cache: dict, prior: dict[str, int] | None = None
) -> QuestionResult:
    config = _config_key(question)
    result = _cached(cache, ("expected", *config), lambda: compute.expected_layer_values(question))
    share = _field_points(question)
    answers = {name: question.answer_for(name) for name in question.ask}
    fields = []
    for name in question.ask:
        expected = result.values.get(name)
        given = question.answer_for(name)
        if expected is None:  # e.g. output_height after a linear layer
            fields.append(
                FieldResult(name, WRONG, None, given, 0.0, share, note=f"{name} is not defined for this stack")
            )
            continue
        fields.append(
            mark_field(
                question,
                name,
                expected,
                given,
                share,
                batched=result.batched,
                hint=lambda n=name, g=given: misconceptions.hint_for(
                    question, n, g, result.values, answers, result.batched, cache, prior
                ),
                derivation=lambda n=name: _cached(
                    cache, ("derivation", derive, n, *config), lambda: derive(question, n)
                ),
            )
        )
    fields.extend(stray_invalid(question, set(question.ask)))
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


def _grade_model_question(question: Question, base_dir: str, allow_code: bool, cache: dict) -> QuestionResult:
    from convcalc.homework.grading import models as hw_models

    expected = hw_models.expected_model_values(question, base_dir, allow_code, cache)
    fields = hw_models.grade_model_fields(question, expected, _field_points(question), cache)
    fields.extend(stray_invalid(question, set(question.ask)))
    return _finish(question, "model", fields, expected.notes)


def _file_priors(hw: HomeworkFile, cache: dict) -> dict[str, dict[str, int]]:
    """Per layer question, per misconception: in how many *other* questions of the file it explains a wrong answer."""
    found: dict[str, set[str]] = {}
    for q in hw.questions:
        if q.is_model or not q.layers:
            continue
        try:
            result = _cached(cache, ("expected", *_config_key(q)), lambda q=q: compute.expected_layer_values(q))
        except Exception:  # the question fails on its own below
            continue
        answers = {name: q.answer_for(name) for name in q.ask}
        found[q.id] = misconceptions.candidates(q, result.values, answers, result.batched, cache)
    total: dict[str, int] = {}
    for names in found.values():
        for name in names:
            total[name] = total.get(name, 0) + 1
    return {qid: {name: total[name] - (name in names) for name in total} for qid, names in found.items()}


def grade_homework(
    hw: HomeworkFile,
    *,
    allow_code: bool = False,
    derive: Callable[[Question, str], str] | None = None,
    model_cache: dict | None = None,
) -> GradeResult:
    """Grade every question of a parsed file."""
    from convcalc.homework.grading.derive import layer_derivation

    derive = derive or layer_derivation
    # Shared by all files of a class: models traced once, and a layer question's expected
    # values, derivations and misconception variants computed once.
    cache = {} if model_cache is None else model_cache
    priors = _file_priors(hw, cache)
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
                        q.id, q.number, q.text, "model", 0.0, q.points, error=str(err), convention=q.convention
                    )
                )
        else:
            results.append(_grade_layer_question(q, derive, cache, priors.get(q.id)))
    score = sum(r.points for r in results)
    max_score = sum(r.max_points for r in results)
    return GradeResult(
        hw.path, hw.title, hw.student, tuple(results), score, max_score, student_id=hw.student_id, invalid=hw.invalid
    )


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
