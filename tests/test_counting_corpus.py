"""The counting corpus (convcalc/checks/corpus/counting.py): every case's hand counts and paddle.flops hold."""

from __future__ import annotations

import pytest

from convcalc.checks.corpus import all_cases
from convcalc.checks.corpus.counting import CASES, KIND, _analyze


def test_counting_cases_are_in_the_corpus():
    names = {c.name for c in all_cases() if c.kind == KIND}
    assert names == {c.name for c in CASES} and len(names) >= 10


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_counting_case(case):
    (shape, _dtype), = case.inputs
    report = _analyze(case.build(), shape, "paddle")
    problems = [p for check in case.checks for p in check(report, None)]
    assert problems == []


def test_a_wrong_hand_count_is_reported():
    """The check can fail: a count off by one is named."""
    from convcalc.checks.corpus.counting import hand_counts

    case = CASES[0]
    (shape, _dtype), = case.inputs
    check = hand_counts(case.build, shape, macs=16 * 36 * 8 * 4 + 1, flops=16 * 36 * 8 * 8)
    problems = check(_analyze(case.build(), shape, "macs"), None)
    assert problems == ["macs: 18,432 vs 18,433 counted by hand"]
