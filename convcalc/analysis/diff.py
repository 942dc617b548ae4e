"""Two reports side by side: per-layer and total differences, aligned by layer path.

Works on the plain dictionaries of :func:`convcalc.render.report.report_dict`
(the ``--format json`` output), so a saved JSON report, a freshly analysed
model and the same model at another input are compared the same way.  Rows are
aligned by layer path (``difflib.SequenceMatcher`` keeps the order of both
models, so inserted and removed layers appear where they sit); a path present
in only one report is an inserted or removed layer.  Two reports with (almost) no
path in common - an exported program (its rows named by name scopes) and the model
it came from (named by attributes) - are aligned by their sequence of layer
types instead, each paired row named ``path A = path B``.  Returned as data; all
formatting lives in :mod:`convcalc.render.diff`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from math import prod
from typing import Any

__all__ = ["RowDiff", "ReportDiff", "diff_reports"]

BYTES_PER_VALUE = 4  # float32, as the report's memory estimate


@dataclass(frozen=True)
class RowDiff:
    """One aligned layer: ``status`` is ``same``, ``changed``, ``inserted`` (only in B) or ``removed`` (only in A)."""

    path: str
    kind_a: str | None
    kind_b: str | None
    status: str
    shape_a: tuple | None
    shape_b: tuple | None
    params_a: int | None
    params_b: int | None
    flops_a: int | None
    flops_b: int | None
    memory_a: int | None
    memory_b: int | None
    rf_a: Any
    rf_b: Any

    @property
    def params_delta(self) -> int:
        return (self.params_b or 0) - (self.params_a or 0)

    @property
    def flops_delta(self) -> int:
        return (self.flops_b or 0) - (self.flops_a or 0)

    @property
    def memory_delta(self) -> int:
        return (self.memory_b or 0) - (self.memory_a or 0)


@dataclass(frozen=True)
class ReportDiff:
    """Both reports' identities, the aligned rows and the total differences."""

    label_a: str
    label_b: str
    convention_a: str
    convention_b: str
    rows: tuple[RowDiff, ...]
    totals: dict[str, tuple[Any, Any]]
    aligned_by: str = "path"  # or "type" (reports with almost no path in common)

    @property
    def changed(self) -> tuple[RowDiff, ...]:
        return tuple(r for r in self.rows if r.status != "same")


def _number(value: Any) -> int | None:
    """An exact count from a report dict; ``None`` for symbolic or missing values."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _memory(shape: list) -> int | None:
    if not shape or not all(isinstance(d, int) for d in shape):
        return None
    return prod(shape) * BYTES_PER_VALUE


def _leaves(report: dict) -> list[dict]:
    """Leaf layers and functional ops: the rows whose numbers add up to the totals."""
    return [layer for layer in report["layers"] if layer.get("leaf")]


def _rf(layer: dict) -> Any:
    rf = layer.get("receptive_field") or {}
    h = rf.get("h")
    if isinstance(h, dict):
        w = rf.get("w")
        return (h.get("size"), w.get("size") if isinstance(w, dict) else w)
    return h


def _row(path: str, a: dict | None, b: dict | None) -> RowDiff:
    def get(layer, key):
        return None if layer is None else layer.get(key)

    shape_a = tuple(get(a, "output_shape")) if a else None
    shape_b = tuple(get(b, "output_shape")) if b else None
    fields = dict(
        path=path,
        kind_a=get(a, "type"),
        kind_b=get(b, "type"),
        shape_a=shape_a,
        shape_b=shape_b,
        params_a=_number(get(a, "params")) if a and not a.get("functional") else (0 if a else None),
        params_b=_number(get(b, "params")) if b and not b.get("functional") else (0 if b else None),
        flops_a=_number(get(a, "flops")),
        flops_b=_number(get(b, "flops")),
        memory_a=_memory(list(shape_a)) if shape_a is not None else None,
        memory_b=_memory(list(shape_b)) if shape_b is not None else None,
        rf_a=_rf(a) if a else None,
        rf_b=_rf(b) if b else None,
    )
    if a is None:
        status = "inserted"
    elif b is None:
        status = "removed"
    else:
        keys = ("kind", "shape", "params", "flops", "rf")
        same = all(fields[f"{k}_a"] == fields[f"{k}_b"] for k in keys)
        status = "same" if same else "changed"
    return RowDiff(status=status, **fields)


def diff_reports(a: dict, b: dict, label_a: str | None = None, label_b: str | None = None) -> ReportDiff:
    """Align the leaf rows of two report dicts by path and compute the differences.

    >>> a = {"model": "A", "convention": "paddle", "layers": [
    ...     {"path": "fc", "type": "Linear", "leaf": True, "output_shape": [1, 10], "params": 90, "flops": 80}],
    ...     "totals": {"params": 90, "flops": 80}}
    >>> b = {"model": "B", "convention": "paddle", "layers": [
    ...     {"path": "fc", "type": "Linear", "leaf": True, "output_shape": [1, 20], "params": 180, "flops": 160}],
    ...     "totals": {"params": 180, "flops": 160}}
    >>> d = diff_reports(a, b)
    >>> d.rows[0].status, d.rows[0].params_delta, d.totals["params"]
    ('changed', 90, (90, 180))
    """
    la, lb = _leaves(a), _leaves(b)
    pa, pb = [r["path"] for r in la], [r["path"] for r in lb]
    rows: list[RowDiff] = []
    # (almost) no path in common - an exported program's scope names vs its model's attributes: align by types
    by_kind = bool(la and lb) and 2 * len(set(pa) & set(pb)) < min(len(set(pa)), len(set(pb)))
    if by_kind:
        keys_a, keys_b = [r.get("type") for r in la], [r.get("type") for r in lb]
    else:
        keys_a, keys_b = pa, pb
    matcher = difflib.SequenceMatcher(a=keys_a, b=keys_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(_row(pa[i] if pa[i] == pb[j] else f"{pa[i]} = {pb[j]}", la[i], lb[j])
                        for i, j in zip(range(i1, i2), range(j1, j2)))
            continue
        if by_kind:
            rows.extend(_row(pa[i], la[i], None) for i in range(i1, i2))
            rows.extend(_row(pb[j], None, lb[j]) for j in range(j1, j2))
            continue
        # A replaced block: rows with the same path on both sides still pair up.
        by_path_b = {pb[j]: lb[j] for j in range(j1, j2)}
        paired = set()
        for i in range(i1, i2):
            match = by_path_b.get(pa[i])
            if match is not None:
                paired.add(pa[i])
            rows.append(_row(pa[i], la[i], match))
        rows.extend(_row(pb[j], None, lb[j]) for j in range(j1, j2) if pb[j] not in paired)
    ta, tb = a.get("totals", {}), b.get("totals", {})
    totals = {}
    for key in ("params", "params_trainable", "flops", "peak_activation_bytes", "param_bytes"):
        if key in ta or key in tb:
            totals[key] = (ta.get(key), tb.get(key))
    return ReportDiff(
        label_a=label_a or a.get("model", "A"),
        label_b=label_b or b.get("model", "B"),
        convention_a=a.get("convention", ""),
        convention_b=b.get("convention", ""),
        rows=tuple(rows),
        totals=totals,
        aligned_by="type" if by_kind else "path",
    )
