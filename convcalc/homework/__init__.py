"""Homework checking: answer files, grading with derivations, operator verification.

>>> from convcalc.homework import parse_text, grade_homework
>>> hw = parse_text('''
... [[question]]
... id = "seed-5.2.1.3"
... input = "3x32x32"
... layer = { kind = "conv2d", out_channels = 6, kernel = 3 }
... [question.answer]
... params = 168
... flops = 151200
... ''')
>>> grade_homework(hw).all_correct
True

One flow, imports one way (an import contract): ``answers/`` reads a file
(``source``: text, TOML, lines -> ``schema`` with ``values``, ``layers`` and
the student's answers in ``student``; data classes in ``spec``) ->
``compute`` (expected values) -> ``grading/`` (``grade`` with ``marking``,
``match``, ``misconceptions``; model questions in ``models`` and ``rows``;
data in ``results``; ``gradebook`` for a class; ``answer_key``) ->
``convcalc.render.homework``.  ``operators/`` (verify-op and its sandbox)
shares nothing with the rest.  May import ``convcalc.analysis``,
``convcalc.models``, ``convcalc.explain`` and ``convcalc.render``.
Submodules are light (no paddle) except ``grading.models`` (model
questions) and the child process of ``operators.verify_op``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "HomeworkFile": "convcalc.homework.spec",
    "Question": "convcalc.homework.spec",
    "load_file": "convcalc.homework.answers.schema",
    "parse_text": "convcalc.homework.answers.schema",
    "FieldResult": "convcalc.homework.grading.results",
    "QuestionResult": "convcalc.homework.grading.results",
    "GradeResult": "convcalc.homework.grading.results",
    "grade_file": "convcalc.homework.grading.grade",
    "grade_homework": "convcalc.homework.grading.grade",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    # Lazy, so the verify-op child process (a submodule) starts without sympy.
    try:
        module = importlib.import_module(_LAZY[name])
    except KeyError:
        raise AttributeError(f"module 'convcalc.homework' has no attribute {name!r}") from None
    value = getattr(module, name)
    globals()[name] = value
    return value
