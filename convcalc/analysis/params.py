"""Parameters counted from the parameter objects, not from layer configurations.

A parameter is counted once, by identity, wherever it is held: a weight tied
between two layers, or a layer called twice, adds its numbers once.  It is
*owned* by the first layer that holds it in ``model.named_parameters()`` order
(the root model or a container can own parameters too: a ViT position
embedding, the weight of an ``F.conv2d`` call) and shown on that layer's row.
*Trainable* means ``not p.stop_gradient`` (``ParamAttr(trainable=False)`` and
``p.stop_gradient = True`` both freeze a parameter).  A parameter is *used*
when an op of the traced program reads it (a ``builtin.parameter`` op whose
``parameter_name`` is the dygraph ``param.name``); the totals count used
parameters, the model's full count is kept beside them.

Plain data only: :func:`account` reads the model once and the rest of the
analysis works on :class:`ParamAccount`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from math import prod
from typing import Any

__all__ = ["ParamInfo", "ParamAccount", "account", "parameters_read"]


@dataclass(frozen=True)
class ParamInfo:
    """One parameter object of the model."""

    name: str  # attribute path of its first holder, e.g. "net.0.weight" ("pos_embed" on the root)
    owner: str  # layer path of its first holder ("" is the root model)
    numel: int
    trainable: bool
    holders: tuple[str, ...]  # every layer path holding it (more than one when tied)
    read: bool  # read by an op of the traced program
    row: str = ""  # the layer path of the report row that shows it


@dataclass(frozen=True)
class ParamAccount:
    """Every parameter of a model, and which layer row shows it.

    The per-row answers are read from an index built once (a report asks them for every row: a
    scan over every parameter per row was O(rows x parameters), seconds on HRNet).
    """

    params: tuple[ParamInfo, ...]
    root_kind: str = ""  # the root model's class name

    @cached_property
    def _index(self) -> _Index:
        rows: dict[str, list[int]] = {}
        shown: dict[str, list[ParamInfo]] = {}
        tied: dict[str, list[ParamInfo]] = {}
        for p in self.params:
            if p.read:
                counts = rows.setdefault(p.row, [0, 0])
                counts[0 if p.trainable else 1] += p.numel
                shown.setdefault(p.row, []).append(p)
            if len(p.holders) > 1:
                for h in dict.fromkeys(p.holders):
                    if h != p.row:
                        tied.setdefault(h, []).append(p)
        return _Index(
            {k: (v[0], v[1]) for k, v in rows.items()},
            {k: tuple(v) for k, v in shown.items()},
            {k: tuple(v) for k, v in tied.items()},
            tuple(p for p in self.params if p.read),
            tuple(p for p in self.params if not p.read),
        )

    def on_row(self, path: str) -> tuple[int, int]:
        """(trainable, frozen) used parameters shown on the row of ``path``."""
        return self._index.rows.get(path, (0, 0))

    def shown_on(self, path: str) -> tuple[ParamInfo, ...]:
        """The used parameters shown on the row of ``path``, in ``named_parameters`` order."""
        return self._index.shown.get(path, ())

    def tied_into(self, path: str) -> tuple[ParamInfo, ...]:
        """Parameters ``path`` holds that are counted on another row (tied weights)."""
        return self._index.tied.get(path, ())

    @property
    def used(self) -> tuple[ParamInfo, ...]:
        return self._index.used

    @property
    def unused(self) -> tuple[ParamInfo, ...]:
        return self._index.unused

    @property
    def in_model(self) -> int:
        return sum(p.numel for p in self.params)


@dataclass(frozen=True)
class _Index:
    rows: dict[str, tuple[int, int]]
    shown: dict[str, tuple[ParamInfo, ...]]
    tied: dict[str, tuple[ParamInfo, ...]]
    used: tuple[ParamInfo, ...]
    unused: tuple[ParamInfo, ...]


def parameters_read(ops) -> set[str]:
    """Names of the parameters an op of the traced program reads.

    The program declares every parameter of a layer whose forward started
    (a ``builtin.parameter`` op each), also those of sublayers that never ran:
    only a parameter whose value some op consumes counts as read.
    """
    consumed = {v for op in ops for v in op.inputs}
    return {
        str(op.attrs.get("parameter_name"))
        for op in ops
        if op.name == "builtin.parameter" and any(v in consumed for v in op.outputs)
    }


def account(model: Any, read: set[str], called: set[str]) -> ParamAccount:
    """The parameters of ``model``; ``read``: names the program reads; ``called``: layer paths that ran.

    A parameter is shown on the row of its first holder that ran; a used
    parameter none of whose holders ran (a weight used functionally from a
    layer that is never called) on the row of the owner's nearest ancestor
    that ran (the root always runs).
    """
    holders: dict[int, list[str]] = {}
    for path, layer in model.named_sublayers(include_self=True):
        for p in layer._parameters.values():
            if p is not None:
                holders.setdefault(id(p), []).append(path)
    params = []
    for name, p in model.named_parameters():
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        held = tuple(holders.get(id(p), [owner]))
        row = next((h for h in held if h in called), owner)
        while row and row not in called:
            row = row.rsplit(".", 1)[0] if "." in row else ""
        params.append(ParamInfo(name, owner, int(prod(p.shape)), not p.stop_gradient, held, p.name in read, row))
    return ParamAccount(tuple(params), type(model).__name__)
