"""One module per command area; each exposes ``register(subparsers)``.

Thin: parse, call the library, render, return an exit code.  May import every other part of convcalc,
but only inside the handler that needs it (argparse at module level), so ``--help`` never loads paddle.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def at_least_one(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number >= 1, named ``what`` in its error."""
    return at_least(what, 1)


def at_least(what: str, low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``low``, named ``what`` in its error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{what} must be >= {low}, got {value}")
        return value

    return parse
