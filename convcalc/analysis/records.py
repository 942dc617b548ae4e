"""The numbers convcalc computes, as frozen dataclasses (no strings formatted here).

Data flows one way: model -> trace -> :class:`LayerRecord` rows ->
:class:`Totals` -> a renderer in ``convcalc.render``.  Quantities are Python
ints in a concrete report (receptive-field starts may be Fractions; sympy is
not imported for them) and sympy expressions in ``H``/``W`` in a symbolic
one (:mod:`convcalc.formulas.numbers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from convcalc.errors import ConvcalcError, InternalCheckError
from convcalc.formulas.conventions import Convention
from convcalc.formulas.numbers import is_symbolic, is_whole, text
from convcalc.formulas.receptive import AxisField, Field

if TYPE_CHECKING:
    import sympy

Shape = tuple  # tuple of ints (a concrete report) or sympy expressions (a symbolic one), e.g. (1, 64, 8, 8)

def __getattr__(name: str):
    """:data:`UNKNOWN` is made on first use: a concrete report that meets no unknown size never imports sympy."""
    if name == "UNKNOWN":
        import sympy

        value = sympy.Symbol("?", positive=True, integer=True)
        globals()["UNKNOWN"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


UNKNOWN: sympy.Symbol
"""A size no run can tell in advance (it depends on tensor values, e.g. after ``paddle.nonzero``): printed ``?``.

A row that reads or writes such a size has no count (0, listed in :attr:`Gaps.unknown_sizes`): the total
is then a lower bound.  It never appears in a count.  (A sympy symbol, made on first use.)"""


def _impossible(what: str, value, where: str) -> InternalCheckError:
    return InternalCheckError(
        f"internal check failed: {what} {text(value)} in {where} (a size must be a whole number >= 0 "
        "and a count a whole number >= 0)",
        "please report this model; convcalc refuses to print an impossible number")


def check_size(d, what: str, where: str) -> None:
    """A size is a whole number >= 0, :data:`UNKNOWN`, or a symbolic expression (a symbolic report's ``H/4``)."""
    if isinstance(d, int) and not isinstance(d, bool) or is_whole(d):
        if int(d) < 0:
            raise _impossible(what, d, where)
        return
    if not is_symbolic(d):  # a Fraction, a float, a bool: never a size
        raise _impossible(what, d, where)
    if d.is_number and not (d.is_Integer and d >= 0):
        raise _impossible(what, d, where)


def check_count(c, what: str, where: str) -> None:
    """A count is a whole number >= 0 or a symbolic expression; never built from an unknown size."""
    if isinstance(c, int) and not isinstance(c, bool) or is_whole(c):
        if int(c) < 0:
            raise _impossible(what, c, where)
        return
    if not is_symbolic(c):
        raise _impossible(what, c, where)
    unknown = globals().get("UNKNOWN")  # (not made yet: nothing can hold it)
    if (c.is_number and not (c.is_Integer and c >= 0)) or (unknown is not None and c.has(unknown)):
        raise _impossible(what, c, where)


@dataclass(frozen=True)
class LayerRecord:
    """One row of a report: a layer call (or a functional op such as a residual add).

    ``path`` is the layer's attribute path from the model root (as in
    ``model.named_sublayers()``, e.g. ``"net.1.0.conv1"``); functional ops get
    ``"<parent path>:<op>#<n>"``.  ``summary_name`` is the row key
    ``paddle.summary`` prints (``"Conv2D-3"``), empty for functional ops.
    """

    index: int
    path: str
    kind: str
    depth: int
    parent: str
    is_leaf: bool
    is_functional: bool
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    params_trainable: sympy.Expr
    params_non_trainable: sympy.Expr
    flops: sympy.Expr
    formula: str
    rf: tuple[AxisField, ...] | None = None
    summary_name: str = ""
    has_rule: bool = True
    notes: tuple[str, ...] = ()
    output_shapes: tuple[Shape, ...] = ()  # every output (a tuple-returning layer); output_shape is the first
    ops: tuple[int, ...] = ()  # indices of the traced program's ops this row ran (training cost reads them)
    config: str = ""  # the layer's configuration as Paddle prints it (extra_repr()); "" if unknown or functional
    size_unknown: bool = False  # reads or writes a size no run can tell in advance (UNKNOWN): its count is left out

    def __post_init__(self) -> None:
        """The record boundary: no -1, negative or fractional size and no negative count gets into a report."""
        where = f"row {self.path or '(root)'} ({self.kind})"
        for shape in (*self.input_shapes, self.output_shape, *self.output_shapes):
            for d in shape or ():
                check_size(d, "size", where)
        for what in ("params_trainable", "params_non_trainable", "flops"):
            check_count(getattr(self, what), what, where)

    @property
    def params(self) -> sympy.Expr:
        return self.params_trainable + self.params_non_trainable

    def rf_axis(self, name: str) -> Field | None:
        """The field along input axis ``name`` (``"L"``, ``"D"``, ``"H"``, ``"W"``); None if unknown or absent."""
        return next((a.field for a in self.rf or () if a.axis == name), None)

    @property
    def rf_h(self) -> Field | None:
        return self.rf_axis("H")

    @property
    def rf_w(self) -> Field | None:
        return self.rf_axis("W")


@dataclass(frozen=True)
class Totals:
    """Totals over the leaf rows (containers and functional ops add no parameters), and inference memory.

    Memory (bytes; docs/formulas.md "Memory"): ``input_bytes`` the model's
    inputs; ``peak_activation_bytes`` the most bytes of activations alive at
    once in one forward pass, from tensor liveness on the traced graph
    (:mod:`convcalc.analysis.memory`; the inputs included, parameters not),
    reached in row ``peak_at``; ``param_bytes`` the used parameters.
    """

    params: sympy.Expr
    params_trainable: sympy.Expr
    params_non_trainable: sympy.Expr
    params_in_model: int
    params_unused: int
    flops: sympy.Expr
    input_bytes: sympy.Expr
    peak_activation_bytes: sympy.Expr
    param_bytes: sympy.Expr
    peak_at: str = field(default="", compare=False)  # a row's path: a label, not a quantity

    def __post_init__(self) -> None:
        for what in ("params", "params_trainable", "params_non_trainable", "flops", "input_bytes",
                     "peak_activation_bytes", "param_bytes", "params_in_model", "params_unused"):
            check_count(getattr(self, what), what, "the totals")


@dataclass(frozen=True)
class Gaps:
    """What convcalc could not account for, returned as data (fvcore-style).

    ``layers_without_rule`` are leaf layer paths and ``ops_without_rule``
    ``(op kind, occurrences)`` of functional ops that no rule counts: their
    FLOPs are unknown (0 in the rows), so the total is a lower bound.  A layer
    that costs nothing (``Identity``, ``Dropout``, a ``DropPath`` in eval: no
    op, or only ops without arithmetic) is not a gap.  ``unknown_sizes`` are
    the rows whose sizes no run can tell in advance (:data:`UNKNOWN`): their
    counts are left out too.
    """

    layers_without_rule: tuple[str, ...] = ()
    ops_without_rule: tuple[tuple[str, int], ...] = ()
    layers_never_called: tuple[str, ...] = ()
    ops_without_rf_rule: tuple[str, ...] = ()
    misaligned_merges: tuple[str, ...] = ()
    unknown_sizes: tuple[str, ...] = ()

    @property
    def flops_complete(self) -> bool:
        """True when every layer and op ran under a FLOP rule at known sizes (the total is exact)."""
        return not self.layers_without_rule and not self.ops_without_rule and not self.unknown_sizes


@dataclass(frozen=True)
class Condition:
    """Where a symbolic report holds, found while tracing (sympy relation in the report's symbols).

    ``kind`` is ``"range"`` (a branch on a shape taken in ``forward``: the
    report holds where ``relation`` holds), ``"fixed"`` (a layer of fixed
    size, such as a Linear after flatten: the report holds only where
    ``relation``, an equation, holds; ``at`` are the traced sizes) or
    ``"divisible"`` (the sizes were simplified for H and W multiples of the
    total stride: elsewhere they would be fractions).
    ``where`` says what imposed it.
    """

    kind: str
    relation: sympy.Basic
    where: str
    at: tuple[tuple[sympy.Symbol, int], ...] = ()


@dataclass(frozen=True)
class Report:
    """A whole analysis: rows, totals, gaps and what was asked for."""

    model: str
    input_shape: Shape
    convention: Convention
    records: tuple[LayerRecord, ...]
    totals: Totals
    gaps: Gaps = field(default_factory=Gaps)
    symbols: tuple[sympy.Symbol, ...] = ()
    notes: tuple[str, ...] = ()
    input_shapes: tuple[Shape, ...] = ()  # every model input, in forward's order; input_shape is the first
    input_dtypes: tuple[str, ...] = ()
    parameters: tuple = ()  # every parameter object (convcalc.analysis.params.ParamInfo), for compare's reasons
    conditions: tuple[Condition, ...] = ()
    source: str = ""  # "": traced now; else where the numbers came from (convcalc.analysis.stored)

    def __repr__(self) -> str:
        """Short on purpose: ``print(report)`` in a notebook is not 36 kB of dataclass fields.

        The table is ``convcalc.summary(...)`` or ``convcalc.render``'s job.
        """
        t = self.totals
        params = f"{int(t.params):,}" if is_whole(t.params) else str(t.params)
        flops = f"{int(t.flops):,}" if is_whole(t.flops) else str(t.flops)
        shape = "x".join(str(d) for d in self.input_shape)
        return (f"<Report {self.model} input {shape}: {len(self.records)} rows, {params} params, "
                f"{flops} FLOPs ({self.convention.value})>")

    @property
    def leaves(self) -> tuple[LayerRecord, ...]:
        return tuple(r for r in self.records if r.is_leaf and not r.is_functional)

    def subs(self, values: dict) -> Report:
        """Evaluate a symbolic report at concrete sizes, e.g. ``{H: 32, W: 32}``.

        Keys are the report's symbols, symbols of the same name (``sympy.symbols('H W')``)
        or their names as strings.  Refused (:class:`SubstitutionError`) for unknown
        names and for sizes where the report's conditions do not hold.
        """
        return substitute_report(self, values)


class SubstitutionError(ConvcalcError, ValueError):
    """``Report.subs`` with a name the report does not have, or at sizes where it does not hold."""


def cached_xreplace(expr, values: dict, cache: dict):
    """Structural substitution (``xreplace``), memoised: far faster than ``subs`` here."""
    import sympy

    expr = sympy.sympify(expr)
    try:
        return cache[expr]
    except KeyError:
        out = cache[expr] = expr.xreplace(values)
        return out


def _report_values(report: Report, values: dict) -> dict:
    """``values`` keyed by the report's own symbols: user-made ``Symbol('H')`` and ``'H'`` map by name."""
    import sympy

    own = {s.name: s for s in report.symbols}
    out = {}
    for key, value in values.items():
        name = key if isinstance(key, str) else getattr(key, "name", None)
        if name is None:
            raise SubstitutionError(f"cannot substitute for {key!r}", "use the symbols' names, e.g. {'H': 224}")
        if own and name not in own:
            shown = ", ".join(own) or "none"
            raise SubstitutionError(f"the report has no symbol {name!r} (its symbols: {shown})",
                                    "substitute for the report's own symbols, e.g. report.subs({'H': 224, 'W': 224})")
        symbol = own.get(name)
        if symbol is None:  # a report without declared symbols (internal substitutions): take keys as given
            symbol = key if isinstance(key, sympy.Symbol) else sympy.Symbol(name, positive=True, integer=True)
        out[symbol] = sympy.sympify(value)
    return out


def _substitute_field(f: AxisField, values: dict, cache: dict) -> AxisField:
    if f.field is None or f.field.whole:
        return f
    x = f.field
    return replace(f, field=Field(cached_xreplace(x.size, values, cache), cached_xreplace(x.jump, values, cache),
                                  cached_xreplace(x.start, values, cache), phases=x.phases))


def substitute_report(report: Report, values: dict) -> Report:
    """A symbolic report evaluated at concrete sizes (``{H: 224, W: 224}``); see :meth:`Report.subs`."""
    import sympy

    values = _report_values(report, values)
    numeric = all(v.is_number for v in values.values()) and set(values) >= set(report.symbols)
    for c in report.conditions:
        if numeric and sympy.simplify(c.relation.xreplace(values)) is sympy.false:
            shown = ", ".join(f"{k} = {v}" for k, v in values.items())
            if c.kind == "divisible":
                raise SubstitutionError(
                    f"the report does not hold at {shown}: its {c.where}",
                    "make it with assume_divisible=False (exact floors, --no-divisible) or trace at that size "
                    "(convcalc report MODEL --input ...)")
            raise SubstitutionError(
                f"the report does not hold at {shown}: {c.where} (valid {'only at' if c.kind == 'fixed' else 'for'} "
                f"{sympy.sstr(c.relation)})",
                "make a report traced at that size instead (convcalc report MODEL --input ...)")
    out = replace_symbols(report, values)
    return replace(out, symbols=tuple(s for s in report.symbols if s not in values))


def replace_symbols(report: Report, values: dict) -> Report:
    """Every expression of ``report`` (shapes, counts, fields, conditions) with ``values`` substituted as given."""
    import sympy

    cache: dict = {}

    def shape(s):
        return tuple(cached_xreplace(d, values, cache) for d in s)

    records = tuple(
        replace(
            r,
            input_shapes=tuple(shape(s) for s in r.input_shapes),
            output_shape=shape(r.output_shape),
            params_trainable=cached_xreplace(r.params_trainable, values, cache),
            params_non_trainable=cached_xreplace(r.params_non_trainable, values, cache),
            flops=cached_xreplace(r.flops, values, cache),
            rf=None if r.rf is None else tuple(_substitute_field(f, values, cache) for f in r.rf),
        )
        for r in report.records
    )
    t = report.totals
    totals = replace(
        t,
        **{name: cached_xreplace(getattr(t, name), values, cache) for name in (
            "params", "params_trainable", "params_non_trainable", "flops", "input_bytes",
            "peak_activation_bytes", "param_bytes")},
    )
    conditions = tuple(replace(c, relation=c.relation.xreplace(values)) for c in report.conditions)
    conditions = tuple(c for c in conditions if c.relation is not sympy.true)
    return replace(report, input_shape=shape(report.input_shape), records=records, totals=totals,
                   conditions=conditions)


def expand_report(report: Report) -> Report:
    """Expand every shape and FLOP expression of a symbolic report (after substitution)."""
    import sympy

    def ex(e):
        return sympy.expand(e)

    records = tuple(
        replace(
            r,
            input_shapes=tuple(tuple(ex(d) for d in s) for s in r.input_shapes),
            output_shape=tuple(ex(d) for d in r.output_shape),
            flops=ex(r.flops),
        )
        for r in report.records
    )
    return replace(report, records=records)
