"""Analysis: trace -> records -> totals; receptive fields; symbolic sizes; Paddle cross-check."""

from convcalc.analysis.engine import analyze, normalise_input

__all__ = ["analyze", "normalise_input"]
