"""Tracing: a model (or an exported program) turned into a graph of plain data.

Holds the static build with its layer hooks (``build``), the eager check and
its stand-ins, shape guards, input forms, branch replay, Paddle's op names and
native-log filtering.  May import ``convcalc.formulas`` and ``convcalc.errors``
only: it knows nothing of rules, counts or renderers.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # The names of the old module ``convcalc.trace`` (see convcalc._moved), for one release.
    from convcalc._moved import forwarded

    value = globals()[name] = forwarded(__name__, name)  # warn once
    return value
