"""A corpus of small custom models, written the way users write them, with independent truth.

Each module of this package (one per kind: ``params``, ``inputs``, ``rnn``,
``counting``, ``fields``, ...) defines ``CASES: list[Case]``.  The corpus is
discovered by module, so kinds can be added without touching this file.

The truth for a case is never read from convcalc's analysis: it comes from
Paddle's eager forward (shapes, through hooks), from ``model.parameters()``
by identity (counts), from hand counts and from gradients (see
:mod:`convcalc.checks.corpus.truth`).  ``convcalc validate`` renders the corpus as the
second table of docs/validation.md; ``tests/test_corpus.py`` runs it in CI.  Imports convcalc's analysis
only through :mod:`convcalc.checks.subject`; ``truth`` not even that.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "all_cases", "lazy_model"]


@dataclass(frozen=True)
class Case:
    """One custom model at one input.

    ``build`` is a zero-argument factory (paddle is imported inside it, so
    listing the corpus stays light).  ``inputs`` gives each model input as
    ``(shape with batch, dtype)``, e.g. ``(((1, 16, 64), "float32"),)`` or
    ``(((2, 12), "int64"),)``; ``cli`` spells the same inputs as ``--input``
    arguments (e.g. ``("16x64",)``, ``("12:int64",)`` with ``--batch``).
    ``refused`` is a fragment of Paddle's own error message when Paddle's eager
    forward refuses this input (convcalc must refuse too: exit 2, one line).
    ``checks`` are extra independent checks ``fn(report, truth) -> list[str]``
    (mismatch descriptions; empty when right), e.g. MACs counted by hand or a
    receptive field measured by gradient.
    """

    name: str
    kind: str
    build: Callable[[], Any]
    inputs: tuple[tuple[tuple[int, ...], str], ...]
    cli: tuple[str, ...] = ()
    batch: int = 1
    refused: str | None = None
    checks: tuple[Callable[[Any, Any], list[str]], ...] = field(default=(), compare=False)
    note: str = ""

    @classmethod
    def one_input(cls, name: str, kind: str, build: Callable[[], Any], shape: tuple[int, ...],
                  dtype: str = "float32", **fields: Any) -> Case:
        """A case with one input of ``shape`` (with batch), its ``--input`` spelling derived from it."""
        cli = "x".join(str(d) for d in shape[1:]) + ("" if dtype == "float32" else f":{dtype}")
        return cls(name=name, kind=kind, build=build, inputs=((tuple(shape), dtype),), cli=(cli,), **fields)


def all_cases() -> list[Case]:
    """Every case of every corpus module, in module then definition order; names are unique."""
    cases: list[Case] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "truth":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        cases.extend(getattr(module, "CASES", ()))
    names = [c.name for c in cases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"corpus case names must be unique: {dupes}")
    return cases


def lazy_model(module: str, cls: str) -> Callable[[], Any]:
    """A zero-argument factory for ``cls`` of ``convcalc.checks.corpus.<module>``, imported only when called.

    Case modules keep their models in a private module (``_params_models``, ...) so that listing the corpus
    does not import paddle; workers find a case by (module, name) and call its ``build``.
    """

    def build() -> Any:
        return getattr(importlib.import_module(f"{__name__}.{module}"), cls)()

    build.__name__ = f"build_{cls}"
    return build
