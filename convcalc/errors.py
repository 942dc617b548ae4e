"""One exception hierarchy for every user mistake convcalc can diagnose.

Each message names the problem *and* the fix in one line.  The CLI catches
:class:`ConvcalcError` once (``convcalc.cli``) and prints ``str(err)``; library
users get the same exception with the same message.  ``exit_code`` is 2 for a
usage or input error (the only kind defined here); a check that *finds a
difference* is not an error and is reported through a command's return code 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConvcalcError",
    "InvalidParameterError",
    "ShapeError",
    "MisalignedBranchesError",
    "UnknownNameError",
    "InputSpecError",
    "ModelLoadError",
    "RefusedInputError",
    "DataError",
    "AnswerFileError",
    "DependencyError",
    "OutputError",
    "InternalCheckError",
]


class ConvcalcError(Exception):
    """Base class: a mistake in what the user asked for, with its fix."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem}; {fix}")


class InvalidParameterError(ConvcalcError, ValueError):
    """A formula or layer argument outside its domain (stride <= 0, ...)."""


class ShapeError(InvalidParameterError):
    """A layer whose output would be empty (output size <= 0)."""


class MisalignedBranchesError(ConvcalcError, ValueError):
    """Branches merged whose receptive fields have different jumps/starts."""


class UnknownNameError(ConvcalcError, LookupError):
    """An unknown model, formula, layer kind or command argument."""

    def __init__(self, kind: str, name: str, known: Iterable[str], fix: str | None = None):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        if fix is None:
            if close:
                fix = "did you mean " + " or ".join(repr(c) for c in close) + "?"
            else:
                shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
                fix = f"choose one of: {shown}"
        self.kind, self.name, self.suggestions = kind, name, close
        super().__init__(f"unknown {kind} {name!r}", fix)


class InputSpecError(ConvcalcError, ValueError):
    """A malformed ``--input`` shape such as ``3x32`` or ``3x-1x5``."""


class ModelLoadError(ConvcalcError):
    """A model that cannot be built or run (bad file path, missing name, forward raised)."""


class RefusedInputError(ModelLoadError):
    """An input Paddle's own forward refuses (channels vs filter, rank, dtype): Paddle's reason and the layer."""


class DataError(ConvcalcError):
    """Missing or corrupt training data."""


class AnswerFileError(ConvcalcError, ValueError):
    """A malformed homework answer/question file."""


class DependencyError(ConvcalcError):
    """An installed dependency that cannot do what was asked (e.g. numpy too new)."""


class OutputError(ConvcalcError, OSError):
    """An output path that cannot be written."""


class InternalCheckError(ConvcalcError, AssertionError):
    """convcalc caught itself producing an impossible number (a -1 size, a negative count): a bug to report."""
