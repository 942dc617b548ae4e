"""Worked derivations of one layer, step by step: forward (``layers``) and training (``backward``).

May import ``convcalc.formulas`` only; ``convcalc.render.derivation`` turns a
:class:`Derivation` into text.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Step", "Derivation", "KINDS", "explain_layer"]


def __getattr__(name: str) -> Any:
    # Lazy: ``convcalc.explain.backward`` alone must not load every forward derivation.
    if name not in __all__:  # the names of the old module convcalc.explain (see convcalc._moved), for one release
        from convcalc._moved import forwarded

        value = globals()[name] = forwarded(__name__, name)  # warn once
        return value
    value = getattr(importlib.import_module("convcalc.explain.layers"), name)
    globals()[name] = value
    return value
