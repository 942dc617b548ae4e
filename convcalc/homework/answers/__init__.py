"""Reading a homework file: its text and TOML (``source``), values (``values``), layers, the student's answers
(``student``), all validated into the frozen dataclasses of ``convcalc.homework.spec`` (``schema``).

May import ``convcalc.homework.spec`` and ``convcalc.homework.compute`` (a question must be computable to be
valid); never grading or the operator sandbox.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # The names of the old module ``convcalc.homework.answers`` (see convcalc._moved), for one release.
    from convcalc._moved import forwarded

    value = globals()[name] = forwarded(__name__, name)  # warn once
    return value
