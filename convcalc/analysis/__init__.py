"""Analysis: trace -> records -> totals: shapes, parameters by identity, counts, receptive fields, symbolic
sizes, a training step's cost, fields by gradient for pictures, and report diffs.

May import ``convcalc.rules``, ``convcalc.models``, ``convcalc.trace`` and ``convcalc.formulas``; never the
checks that validate it, the renderers or the commands.
"""

from convcalc.analysis.engine import analyze, normalise_input

__all__ = ["analyze", "normalise_input"]
