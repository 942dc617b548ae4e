"""The three FLOP conventions (``paddle``, ``macs``, ``flops``), defined in :mod:`convcalc.formulas.flops`."""

from __future__ import annotations

import enum

from convcalc.errors import UnknownNameError

__all__ = ["Convention", "as_convention"]


class Convention(str, enum.Enum):
    """How FLOPs are counted; see the module docstring."""

    PADDLE = "paddle"
    MACS = "macs"
    FLOPS = "flops"

    def __str__(self) -> str:
        return self.value


def as_convention(value: str | Convention) -> Convention:
    """Validate a convention name early (torchinfo-style string enum)."""
    try:
        return Convention(str(value).lower())
    except ValueError:
        raise UnknownNameError("FLOPs convention", str(value), [c.value for c in Convention]) from None
