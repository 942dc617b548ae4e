"""One module per command area; each exposes ``register(subparsers)``.

Thin: parse, call the library, render, return an exit code.  May import every other part of convcalc,
but only inside the handler that needs it (argparse at module level), so ``--help`` never loads paddle.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def at_least_one(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number >= 1, named ``what`` in its error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number >= 1, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{what} must be >= 1, got {value}")
        return value

    return parse
