"""Profiling: measured time per layer beside convcalc's FLOPs and bytes, on a roofline (``convcalc profile``).

``machine`` (threads, allocator, clock sync, load), ``ceilings`` and ``ceiling_kernels`` (the machine's
peak FLOP/s and bandwidth, cached), ``forward`` and ``backward`` (hook timings), ``roofline`` (pure: bounds,
classes, rank correlation), ``join`` (records + timings -> :class:`~convcalc.profiling.records.Profile`) and
``run`` (:func:`profile`, the whole measurement in a fixed order).  May import ``convcalc.analysis`` (the
FLOPs and shapes it times), ``convcalc.checks`` (Paddle's profiler, the independent truth) and everything
below; never the renderers or the commands.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["profile"]


def __getattr__(name: str) -> Any:
    # Lazy: the renderers read ``convcalc.profiling.records`` without loading paddle.
    if name not in __all__:
        raise AttributeError(f"module 'convcalc.profiling' has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module("convcalc.profiling.run"), name)
    return value
