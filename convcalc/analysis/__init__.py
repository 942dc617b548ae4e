"""Analysis: trace -> records -> totals: shapes, parameters by identity, counts, receptive fields, symbolic
sizes, a training step's cost, fields by gradient for pictures, and report diffs.

May import ``convcalc.rules``, ``convcalc.models``, ``convcalc.trace`` and ``convcalc.formulas``; never the
checks that validate it, the renderers or the commands.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["analyze", "normalise_input"]


def __getattr__(name: str) -> Any:
    # Lazy: renderers and checks read ``convcalc.analysis.records`` without loading the engine.
    if name not in __all__:
        raise AttributeError(f"module 'convcalc.analysis' has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module("convcalc.analysis.engine"), name)
    return value
