"""Receptive fields of the ``fields`` corpus against gradients (truth independent of convcalc's propagation).

For each case: convcalc's report at the case's input (per-axis fields), then the gradient method of
:func:`convcalc.checks.gradient_fields.rf_crosscheck` in a positive-weights copy measures every leaf layer's field axis
by axis (size, jump, start from two neighbouring units; "whole" as a gradient reaching both ends of the
input), plus the axes stated whole by hand in the case.
"""

from __future__ import annotations

import pytest

pytest.importorskip("paddle")

from convcalc.analysis import analyze  # noqa: E402
from convcalc.checks.corpus.fields import CASES  # noqa: E402
from convcalc.checks.gradient_fields import _trace_full, rf_crosscheck  # noqa: E402


def report_of(case):
    shape = case.inputs[0][0]
    model = case.build()
    return analyze(model, shape, name=case.name, trace=_trace_full(model, shape, case.name))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fields_case_agrees_with_gradients(case):
    report = report_of(case)
    problems = [p for check in case.checks for p in check(report, None)]
    assert not problems, problems


def test_whole_axes_are_measured_not_skipped():
    """The norm's row is checked (both axes 'whole' by gradient), not listed as not checked."""
    case = next(c for c in CASES if c.name == "rf_layernorm_w")
    result = rf_crosscheck(case.name, case.build, report=report_of(case), full_shape=case.inputs[0][0])
    norm = next(c for c in result.checks if c.path == "norm")
    assert norm.axes == ("H", "W")
    assert norm.measured[1] == "whole" and norm.measured[0] != "whole"
    assert norm.ok


def test_gradient_check_catches_a_pointwise_norm(monkeypatch):
    """With GroupNorm treated as pointwise again (the old bug), the gradient disagrees."""
    from convcalc.analysis import receptive_ops

    monkeypatch.setitem(receptive_ops.HANDLERS, "group_norm", receptive_ops.elementwise_handler)
    case = next(c for c in CASES if c.name == "rf_groupnorm")
    problems = case.checks[0](report_of(case), None)
    assert any(p.startswith("norm:") for p in problems), problems


def test_gradient_check_catches_a_wrong_channel_last_start(monkeypatch):
    """Reading an NHWC tensor's H and W from dims 2 and 3 (the old bug) is caught."""
    from convcalc.analysis import receptive_ops, receptive_state

    wrong = lambda rank, fmt: list(range(2, rank))  # noqa: E731
    monkeypatch.setattr(receptive_state, "spatial_dims", wrong)  # where layout-aware ops name the input's axes
    monkeypatch.setattr(receptive_ops, "spatial_dims", wrong)  # where each op's handler reads them
    case = next(c for c in CASES if c.name == "rf_nhwc_same")
    problems = case.checks[0](report_of(case), None)
    assert problems
