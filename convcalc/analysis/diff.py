"""Two reports side by side: per-layer and total differences, aligned by structure.

Works on the plain dictionaries of :func:`convcalc.render.report.report_dict`
(the ``--format json`` output), so a saved JSON report, a freshly analysed
model and the same model at another input are compared the same way.

The rows form a tree (``parent``; a functional row ``parent:op#n`` is a child
of ``parent``).  The children of each pair of matched containers are aligned by
a sequence alignment (``difflib.SequenceMatcher``, which keeps the order of
both sides) on signatures, strictest first, each later pass working only on
what the earlier ones left unmatched:

1. exact: a leaf's (type, configuration, input shapes, output shape,
   parameters); a container's type, configuration and its children's exact
   signatures - so a renamed child with the same contents matches wherever it sits;
2. (type, configuration): a layer whose shapes changed because something
   upstream changed;
3. type;
4. the layer path; then, in a block with as many rows left on each side, the
   rows in order (a replaced layer: one ``changed`` row).

Matched containers are aligned the same way inside.  What is left is
``removed`` (only in A) or ``inserted`` (only in B); a removed and an inserted
row with the same exact signature are one ``moved`` row (a reorder).  Two
reports with (almost) no leaf path in common - an exported program (rows named
by name scopes) and the model it came from (named by attributes) - are aligned
by the same passes on their sequences of leaf rows, without the tree.  A report
without configurations (a saved JSON of an older convcalc, an exported
program) is compared without them on both sides.  Returned as data; all
formatting lives in :mod:`convcalc.render.diff`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod
from typing import Any

__all__ = ["RowDiff", "ReportDiff", "STATUSES", "diff_reports"]

BYTES_PER_VALUE = 4  # float32, as the report's memory estimate
STATUSES = ("same", "changed", "inserted", "removed", "moved")
STRUCTURE, FLAT = "structure", "structure (flat)"


@dataclass(frozen=True)
class RowDiff:
    """One aligned leaf row.

    ``status`` is ``same``, ``changed``, ``inserted`` (only in B), ``removed``
    (only in A) or ``moved`` (the same layer at another place in B).  ``path``
    is the row's path, or ``"path A → path B"`` when the two differ (a renamed
    or moved layer).  ``memory_*`` are the bytes of the row's output, counted once.
    """

    path: str
    path_a: str | None
    path_b: str | None
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
    config_a: str | None = None
    config_b: str | None = None

    @property
    def params_delta(self) -> int:
        return (self.params_b or 0) - (self.params_a or 0)

    @property
    def flops_delta(self) -> int:
        return (self.flops_b or 0) - (self.flops_a or 0)

    @property
    def memory_delta(self) -> int:
        return (self.memory_b or 0) - (self.memory_a or 0)

    @property
    def renamed(self) -> bool:
        """Paired under another name - not a mere index shift in a Sequential (``3`` -> ``4``) after an insertion."""
        if self.path_a is None or self.path_b is None or self.path_a == self.path_b:
            return False
        names_a, names_b = self.path_a.replace(":", ".").split("."), self.path_b.replace(":", ".").split(".")
        return len(names_a) != len(names_b) or any(
            x != y and not (x.isdigit() and y.isdigit()) for x, y in zip(names_a, names_b))


@dataclass(frozen=True)
class ReportDiff:
    """Both reports' identities, the aligned rows and the total differences.

    ``aligned_by`` is ``"structure"`` (containers matched, their children
    aligned) or ``"structure (flat)"`` (reports with almost no path in common:
    the leaf sequences aligned).
    """

    label_a: str
    label_b: str
    convention_a: str
    convention_b: str
    rows: tuple[RowDiff, ...]
    totals: dict[str, tuple[Any, Any]]
    aligned_by: str = STRUCTURE

    @property
    def changed(self) -> tuple[RowDiff, ...]:
        return tuple(r for r in self.rows if r.status != "same")

    @property
    def notable(self) -> tuple[RowDiff, ...]:
        """What a reader wants to see: every row that is not the same, and (by structure) renamed ones."""
        return tuple(r for r in self.rows
                     if r.status != "same" or (r.renamed and self.aligned_by == STRUCTURE))

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.rows if r.status == s) for s in STATUSES}


# ------------------------------------------------------------------ the rows as a tree
@dataclass(eq=False)
class _Node:
    row: dict | None  # None: the root without a row of its own
    children: list[_Node] = field(default_factory=list)

    @property
    def leaf(self) -> bool:
        return self.row is not None and bool(self.row.get("leaf"))

    @property
    def kind(self) -> str:
        return str(self.row.get("type", "")) if self.row is not None else ""

    @property
    def path(self) -> str:
        return str(self.row.get("path", "")) if self.row is not None else ""

    @property
    def config(self) -> str:
        return str(self.row.get("config") or "") if self.row is not None else ""

    def leaves(self) -> list[_Node]:
        if self.leaf:
            return [self]
        return [n for c in self.children for n in c.leaves()]


def _tree(report: dict) -> _Node:
    """Rows under their containers, in report order (a container's row comes before its children's)."""
    root = _Node(None)
    latest: dict[str, _Node] = {"": root}  # the last call of each container path (a container may run twice)
    for row in report["layers"]:
        if row.get("path") == "" and not row.get("functional"):
            root.row = row  # the model's own row (a root that owns parameters)
            continue
        node = _Node(row)
        latest.get(row.get("parent") or "", root).children.append(node)
        if not node.leaf:
            latest[node.path] = node
    return root


def _shapes(row: dict) -> tuple:
    ins = tuple(tuple(s) for s in row.get("input_shapes") or ())
    return ins, tuple(row.get("output_shape") or ())


class _Signatures:
    """The alignment keys of nodes, memoised (a container's exact key holds its whole subtree)."""

    def __init__(self) -> None:
        self._exact: dict[int, tuple] = {}

    def exact(self, n: _Node) -> tuple:
        key = self._exact.get(id(n))
        if key is None:
            if n.leaf:
                key = ("leaf", n.kind, n.config, _shapes(n.row), _hashable(n.row.get("params")))
            else:
                key = ("container", n.kind, n.config, tuple(self.exact(c) for c in n.children))
            self._exact[id(n)] = key
        return key

    @staticmethod
    def configured(n: _Node) -> tuple:
        return (n.leaf, n.kind, n.config)

    @staticmethod
    def typed(n: _Node) -> tuple:
        return (n.leaf, n.kind)

    def passes(self) -> tuple[Callable[[_Node], tuple], ...]:
        return (self.exact, self.configured, self.typed)


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


Pairs = list[tuple["_Node | None", "_Node | None"]]


def _align(a: list[_Node], b: list[_Node], keys: tuple, level: int = 0) -> Pairs:
    """Pairs ``(a, b)``, ``(a, None)``, ``(None, b)`` that keep the order of both sequences."""
    if not a or not b:
        return [(x, None) for x in a] + [(None, y) for y in b]
    if level == len(keys):
        return _by_path(a, b)
    key = keys[level]
    matcher = difflib.SequenceMatcher(a=[key(x) for x in a], b=[key(y) for y in b], autojunk=False)
    out: Pairs = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(zip(a[i1:i2], b[j1:j2]))
        else:
            out.extend(_align(a[i1:i2], b[j1:j2], keys, level + 1))
    return out


def _by_path(a: list[_Node], b: list[_Node]) -> Pairs:
    """The last pass: equal paths pair; then, with as many rows left on each side, the rows in order."""
    unused = list(b)
    paired: dict[int, _Node] = {}
    for x in a:
        y = next((y for y in unused if y.path == x.path), None)
        if y is not None:
            unused.remove(y)
            paired[id(x)] = y
    rest_a = [x for x in a if id(x) not in paired]
    if rest_a and len(rest_a) == len(unused):  # a replaced block: one row per replaced layer
        paired.update({id(x): y for x, y in zip(rest_a, unused)})
        unused = []
    return [(x, paired.get(id(x))) for x in a] + [(None, y) for y in unused]


# ------------------------------------------------------------------ rows
def _number(value: Any) -> int | None:
    """An exact count from a report dict; ``None`` for symbolic or missing values."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _memory(shape: tuple | None) -> int | None:
    if not shape or not all(isinstance(d, int) for d in shape):
        return None
    return prod(shape) * BYTES_PER_VALUE


def _rf(layer: dict) -> Any:
    rf = layer.get("receptive_field") or {}
    h = rf.get("h")
    if isinstance(h, dict):
        w = rf.get("w")
        return (h.get("size"), w.get("size") if isinstance(w, dict) else w)
    return h


def _side(layer: dict | None) -> dict:
    if layer is None:
        return dict.fromkeys(("path", "kind", "shape", "params", "flops", "memory", "rf", "config"))
    shape = tuple(layer.get("output_shape") or ())
    return {
        "path": layer.get("path", ""),
        "kind": layer.get("type"),
        "shape": shape,
        "params": 0 if layer.get("functional") else _number(layer.get("params")),
        "flops": _number(layer.get("flops")),
        "memory": _memory(shape),
        "rf": _rf(layer),
        "config": layer.get("config") or "",
    }


def _row(a: dict | None, b: dict | None, status: str | None = None) -> RowDiff:
    sa, sb = _side(a), _side(b)
    if status is None:
        if a is None:
            status = "inserted"
        elif b is None:
            status = "removed"
        else:
            same = all(sa[k] == sb[k] for k in ("kind", "shape", "params", "flops", "rf", "config"))
            status = "same" if same else "changed"
    pa, pb = sa["path"], sb["path"]
    path = pb if a is None else pa if b is None or pa == pb else f"{pa} → {pb}"
    fields = {f"{k}_{side}": s[k] for side, s in (("a", sa), ("b", sb))
              for k in ("kind", "shape", "params", "flops", "memory", "rf", "config")}
    return RowDiff(path=path, path_a=pa, path_b=pb, status=status, **fields)


def _leaf_rows(pairs: Pairs, sig: _Signatures, tree: bool) -> list[tuple[str, _Node | None, _Node | None]]:
    """``(status hint, a, b)`` per leaf, recursing into matched containers (``tree``)."""
    out: list[tuple[str, _Node | None, _Node | None]] = []
    for x, y in pairs:
        if x is not None and y is not None and tree and not (x.leaf and y.leaf):
            if x.leaf != y.leaf:  # a layer replaced by a block (or back): every row of both
                out.extend(("removed", n, None) for n in x.leaves())
                out.extend(("inserted", None, n) for n in y.leaves())
            else:
                out.extend(_leaf_rows(_align(x.children, y.children, sig.passes()), sig, tree))
            continue
        if x is None:
            out.extend(("inserted", None, n) for n in y.leaves())
        elif y is None:
            out.extend(("removed", n, None) for n in x.leaves())
        else:
            out.append(("paired", x, y))
    return out


def _moves(rows: list[tuple[str, _Node | None, _Node | None]], sig: _Signatures) -> list:
    """A removed and an inserted row with the same exact signature: one moved row, where B has it."""
    removed = [r for r in rows if r[0] == "removed"]
    out = []
    for status, x, y in rows:
        if status == "inserted":
            twin = next((r for r in removed if sig.exact(r[1]) == sig.exact(y)), None)
            if twin is not None:
                removed.remove(twin)
                out.append(("moved", twin[1], y))
                continue
        out.append((status, x, y))
    taken = {id(r[1]) for r in out if r[0] == "moved"}
    return [r for r in out if not (r[0] == "removed" and id(r[1]) in taken)]


def _without_config(report: dict) -> dict:
    return {**report, "layers": [{**r, "config": ""} for r in report["layers"]]}


def _has_config(report: dict) -> bool:
    return any(r.get("config") for r in report["layers"])


def diff_reports(a: dict, b: dict, label_a: str | None = None, label_b: str | None = None) -> ReportDiff:
    """Align the leaf rows of two report dicts by structure and compute the differences.

    >>> def conv(path, c_out):
    ...     return {"path": path, "parent": "", "type": "Conv2D", "leaf": True, "params": 10 * c_out,
    ...             "config": f"1, {c_out}, kernel_size=[3, 3]", "input_shapes": [[1, 1, 8, 8]],
    ...             "output_shape": [1, c_out, 6, 6]}
    >>> a = {"model": "A", "layers": [conv("0", 4)], "totals": {"params": 40}}
    >>> b = {"model": "B", "layers": [conv("0", 8)], "totals": {"params": 80}}
    >>> d = diff_reports(a, b)
    >>> d.rows[0].status, d.rows[0].params_delta, d.totals["params"]
    ('changed', 40, (40, 80))
    """
    if not (_has_config(a) and _has_config(b)):
        a, b = _without_config(a), _without_config(b)
    sig = _Signatures()
    ta, tb = _tree(a), _tree(b)
    la, lb = ta.leaves(), tb.leaves()
    pa, pb = {n.path for n in la}, {n.path for n in lb}
    flat = bool(la and lb) and 2 * len(pa & pb) < min(len(pa), len(pb))
    if flat:  # (almost) no path in common: a program's scope names vs its model's attributes
        pairs = _leaf_rows(_align(la, lb, sig.passes()), sig, tree=False)
    else:
        pairs = _leaf_rows([(ta, tb)], sig, tree=True)
    rows = tuple(_row(x.row if x else None, y.row if y else None, None if status == "paired" else status)
                 for status, x, y in _moves(pairs, sig))
    totals_a, totals_b = a.get("totals", {}), b.get("totals", {})
    totals = {key: (totals_a.get(key), totals_b.get(key))
              for key in ("params", "params_trainable", "flops", "peak_activation_bytes", "param_bytes")
              if key in totals_a or key in totals_b}
    return ReportDiff(
        label_a=label_a or a.get("model", "A"),
        label_b=label_b or b.get("model", "B"),
        convention_a=a.get("convention", ""),
        convention_b=b.get("convention", ""),
        rows=rows,
        totals=totals,
        aligned_by=FLAT if flat else STRUCTURE,
    )
