"""What the checks check: convcalc's own analysis, imported here and nowhere else under ``convcalc.checks``.

Every check computes its truth from Paddle alone and takes convcalc's answer
from these entry points, so the import contract (pyproject.toml) can forbid
the rest of ``convcalc.checks`` from importing ``convcalc.analysis`` at all,
apart from the report object it reads.
"""

from __future__ import annotations

from convcalc.analysis import analyze
from convcalc.analysis.engine import normalise_input, rule_static_forward, trace_for
from convcalc.analysis.receptive import INTERP_OPS, input_axes
from convcalc.analysis.symbolic import H, SymbolicUnsupportedError, W
from convcalc.analysis.training import training_from_report

__all__ = [
    "analyze", "trace_for", "normalise_input", "rule_static_forward", "input_axes", "INTERP_OPS",
    "H", "W", "SymbolicUnsupportedError", "training_from_report",
]
