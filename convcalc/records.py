"""The numbers convcalc computes, as frozen dataclasses (no strings formatted here).

Data flows one way: model -> trace -> :class:`LayerRecord` rows ->
:class:`Totals` -> a renderer in ``convcalc.render``.  Quantities are sympy
expressions (``Integer`` for a concrete report, expressions in ``H``/``W``
for a symbolic one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from convcalc.formulas.flops import Convention
from convcalc.formulas.receptive import Field

Shape = tuple  # tuple of sympy expressions, e.g. (1, 64, 8, 8)


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
    rf_h: Field | None = None
    rf_w: Field | None = None
    summary_name: str = ""
    has_rule: bool = True
    notes: tuple[str, ...] = ()
    output_shapes: tuple[Shape, ...] = ()  # every output (a tuple-returning layer); output_shape is the first

    @property
    def params(self) -> sympy.Expr:
        return self.params_trainable + self.params_non_trainable


@dataclass(frozen=True)
class Totals:
    """Totals over the leaf rows (containers and functional ops add no parameters)."""

    params: sympy.Expr
    params_trainable: sympy.Expr
    params_non_trainable: sympy.Expr
    params_in_model: int
    params_unused: int
    flops: sympy.Expr
    input_bytes: sympy.Expr
    activation_bytes: sympy.Expr
    param_bytes: sympy.Expr


@dataclass(frozen=True)
class Gaps:
    """What convcalc could not account for, returned as data (fvcore-style).

    ``layers_without_rule`` are leaf layer paths and ``ops_without_rule``
    ``(op kind, occurrences)`` of functional ops that no rule counts: their
    FLOPs are unknown (0 in the rows), so the total is a lower bound.
    """

    layers_without_rule: tuple[str, ...] = ()
    ops_without_rule: tuple[tuple[str, int], ...] = ()
    layers_never_called: tuple[str, ...] = ()
    ops_without_rf_rule: tuple[str, ...] = ()
    misaligned_merges: tuple[str, ...] = ()

    @property
    def flops_complete(self) -> bool:
        """True when every layer and op ran under a FLOP rule (the total is exact)."""
        return not self.layers_without_rule and not self.ops_without_rule


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

    def __repr__(self) -> str:
        """Short on purpose: ``print(report)`` in a notebook is not 36 kB of dataclass fields.

        The table is ``convcalc.summary(...)`` or ``convcalc.render``'s job.
        """
        t = self.totals
        params = f"{int(t.params):,}" if t.params.is_Integer else str(t.params)
        flops = f"{int(t.flops):,}" if t.flops.is_Integer else str(t.flops)
        shape = "x".join(str(d) for d in self.input_shape)
        return (f"<Report {self.model} input {shape}: {len(self.records)} rows, {params} params, "
                f"{flops} FLOPs ({self.convention.value})>")

    @property
    def leaves(self) -> tuple[LayerRecord, ...]:
        return tuple(r for r in self.records if r.is_leaf and not r.is_functional)

    def subs(self, values: dict) -> Report:
        """Evaluate a symbolic report at concrete sizes, e.g. ``{H: 32, W: 32}``."""
        from convcalc.analysis.symbolic import substitute_report

        return substitute_report(self, values)
