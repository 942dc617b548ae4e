"""Container subtotals of a report: the parameters and FLOPs of every container's subtree, and which subtotals are
lower bounds.  Sums of the records' quantities, shown as text by :mod:`convcalc.render.report` and its HTML page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convcalc.analysis.records import Report
from convcalc.formulas.numbers import expand

if TYPE_CHECKING:
    import sympy

__all__ = ["group_totals", "incomplete_groups"]


def _enclosing(owner: str, containers: set[str]) -> list[str]:
    """The container paths that hold ``owner`` (itself included): ``""`` and every dotted prefix that is one."""
    found = [""] if "" in containers else []
    at = owner.find(".")
    while at != -1:
        if owner[:at] in containers:
            found.append(owner[:at])
        at = owner.find(".", at + 1)
    if owner and owner in containers:
        found.append(owner)
    return found


def group_totals(report: Report) -> dict[str, tuple[sympy.Expr, sympy.Expr]]:
    """(params, FLOPs) of every container path, summed over its subtree (leaves + functional ops)."""
    out: dict[str, list] = {}
    containers = {r.path for r in report.records if not r.is_leaf}
    seen: set[str] = set()
    for r in report.records:
        owner = r.parent if r.is_functional else r.path
        first = r.is_functional or r.path not in seen
        seen.add(r.path)
        for c in _enclosing(owner, containers):
            acc = out.setdefault(c, [0, 0])
            if first:
                acc[0] += r.params
            if r.is_leaf:  # (a container's own parameters count; its FLOPs are its subtree's)
                acc[1] += r.flops
    return {k: (expand(v[0]), expand(v[1])) for k, v in out.items()}


def incomplete_groups(report: Report) -> set[str]:
    """Container paths with a layer or op without a FLOP rule somewhere below (their subtotal is a lower bound)."""
    containers = {r.path for r in report.records if not r.is_leaf}
    out: set[str] = set()
    for r in report.records:
        if r.is_leaf and (not r.has_rule or r.size_unknown):
            owner = r.parent if r.is_functional else r.path
            out.update(c for c in _enclosing(owner, containers) if c)
    return out
