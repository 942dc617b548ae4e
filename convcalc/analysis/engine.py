"""model -> trace -> records -> totals: the analysis behind ``convcalc report``."""

from __future__ import annotations

from collections import Counter
from math import prod
from typing import Any

import sympy

from convcalc.analysis.receptive import GraphView, Spatial, propagate
from convcalc.formulas import Convention, as_convention
from convcalc.op_rules import OpContext, op_cost
from convcalc.records import Gaps, LayerRecord, Report, Totals
from convcalc.rules import RuleContext, find_rule, layer_params
from convcalc.trace import BOOKKEEPING_OPS, Trace, op_key, trace_model

BYTES_PER_VALUE = 4  # float32

def normalise_input(shape: tuple) -> tuple:
    """``(C, H, W)`` -> ``(1, C, H, W)``; 4-D shapes pass through."""
    return tuple(shape) if len(shape) == 4 else (1, *shape)


def _numel(shape) -> sympy.Expr:
    return sympy.Mul(*[sympy.sympify(d) for d in shape]) if shape else sympy.Integer(0)


def _functional_cost(key: str, op, shapes: dict, constants: dict, combined: dict,
                     conv: Convention) -> tuple[sympy.Expr, str, bool]:
    """(FLOPs, formula, has a rule) of a functional op, from :mod:`convcalc.op_rules`."""
    operands = []
    for v in op.inputs:  # list operands (einsum, add_n, concat) arrive through builtin.combine
        operands.extend(combined[v].inputs if v in combined else (v,))
    cost = op_cost(OpContext(
        key=key,
        attrs=op.attrs,
        input_shapes=tuple(shapes.get(v) if v else None for v in operands),
        output_shape=shapes.get(op.outputs[0], ()),
        constants=tuple(constants.get(v) for v in operands),
        convention=conv,
    ))
    if cost is None:
        return sympy.Integer(0), "no rule (FLOPs unknown)", False
    return cost.flops, cost.formula, True


def _rf(state) -> tuple | None:
    """A value's per-axis fields for its record; None when it does not depend on the input."""
    return state.axes if isinstance(state, Spatial) else None


def analyze(
    model: Any,
    input_shape: tuple,
    convention: str | Convention = Convention.PADDLE,
    name: str | None = None,
    symbolic: bool = False,
    assume_divisible: bool = True,
    trace: Trace | None = None,
) -> Report:
    """Per-layer shapes, parameters, FLOPs and receptive fields of ``model``.

    ``input_shape`` is ``(C, H, W)`` or ``(N, C, H, W)`` of ints.  With
    ``symbolic=True`` the spatial sizes become the symbols ``H`` and ``W``
    (the model is still traced once at ``input_shape``): see
    :mod:`convcalc.analysis.symbolic`.  ``trace`` reuses a trace made by
    :func:`trace_for` for the same model and input shape.
    """
    conv = as_convention(convention)
    name = name or type(model).__name__
    given = tuple(int(d) for d in input_shape)
    if trace is None:
        shape = normalise_input(given)
        trace = trace_for(model, shape, name)
    elif given in (tuple(trace.input_shape), tuple(trace.input_shape[1:])):
        shape = tuple(trace.input_shape)  # any rank: the trace says which dims are the batch
    else:
        raise ValueError(f"trace was made at {trace.input_shape}, not {given}")
    graph = GraphView(trace.ops, trace.shapes, trace.constants, trace.input_value)
    fields = propagate(graph)

    concrete: dict = {k: tuple(sympy.Integer(d) for d in v) for k, v in trace.shapes.items()}
    shapes = concrete
    symbols: tuple = ()
    notes: list[str] = []
    back: dict = {}
    if symbolic:
        from convcalc.analysis.symbolic import symbolic_shapes

        shapes, symbols, sym_notes, back = symbolic_shapes(trace, fields, assume_divisible)
        notes.extend(sym_notes)

    records = _records(trace, fields, shapes, conv, model)
    totals = _totals(trace, records, shapes, model)
    gaps = Gaps(
        layers_without_rule=tuple(r.path for r in records if r.is_leaf and not r.is_functional and not r.has_rule),
        ops_without_rule=tuple(sorted(Counter(r.kind for r in records if r.is_functional and not r.has_rule).items())),
        layers_never_called=tuple(trace.never_called),
        ops_without_rf_rule=tuple(sorted(set(fields.unsupported_ops))),
        misaligned_merges=tuple(fields.misaligned),
    )
    if totals.params_unused:
        notes.append(
            f"the model holds {totals.params_in_model:,} parameters; {totals.params_unused:,} of them "
            "are in layers that never ran and are not counted (as paddle.summary does)"
        )
    report = Report(
        model=name,
        input_shape=tuple(shapes.get(trace.input_value, shape)),
        convention=conv,
        records=tuple(records),
        totals=totals,
        gaps=gaps,
        symbols=symbols,
        notes=tuple(notes),
    )
    if symbolic:
        from convcalc.analysis.symbolic import finish_symbolic

        report = finish_symbolic(report, trace, shapes, back, lambda: _records(trace, fields, concrete, conv, model))
    return report


def trace_for(model: Any, input_shape: tuple, name: str = "model") -> Trace:
    """Trace ``model`` with the rules' static forwards swapped in (for opaque custom layers)."""

    def static_forward(layer):
        found = find_rule(layer)
        return found[1].static_forward if found else None

    return trace_model(model, normalise_input(tuple(int(d) for d in input_shape)),
                       static_forward=static_forward, name=name)


def _records(trace: Trace, fields, shapes: dict, conv: Convention, model) -> list[LayerRecord]:
    records: list[LayerRecord] = []
    leaf_ranges = sorted((c.op_start, c.op_end) for c in trace.calls if c.is_leaf)
    covered = set()
    for start, end in leaf_ranges:
        covered.update(range(start, end))
    containers = [c for c in trace.calls if not c.is_leaf]

    def parent_of(op_index: int) -> tuple[str, int]:
        best, depth = "", 0
        for c in containers:
            if c.op_start <= op_index < c.op_end and c.depth >= depth and c.path:
                best, depth = c.path, c.depth
        return best, depth

    rows: list[tuple[tuple, LayerRecord]] = []
    for call in trace.calls:
        in_shapes = tuple(shapes.get(v, ()) for v in call.inputs)
        out_shape = shapes.get(call.outputs[0], ()) if call.outputs else ()
        state = fields.get(call.outputs[0]) if call.outputs else None
        notes: tuple[str, ...] = ()
        has_rule = True
        if call.is_leaf:
            found = find_rule(call.layer)
            if found is None:
                trainable, frozen = layer_params(call.layer)
                flops, formula, has_rule = sympy.Integer(0), "no rule (FLOPs unknown)", False
                p_tr, p_fr = sympy.Integer(trainable), sympy.Integer(frozen)
            else:
                cls, rule = found
                cost = rule.cost(RuleContext(call.layer, in_shapes, out_shape, conv))
                flops, formula, notes = cost.flops, cost.formula, cost.notes
                if cost.params_trainable is None:
                    trainable, frozen = layer_params(call.layer)
                    p_tr, p_fr = sympy.Integer(trainable), sympy.Integer(frozen)
                else:
                    p_tr = cost.params_trainable
                    p_fr = cost.params_non_trainable or sympy.Integer(0)
                if conv is Convention.PADDLE and type(call.layer) is not cls and cls.__module__.startswith("paddle."):
                    flops = sympy.Integer(0)
                    formula = "0: paddle.flops matches layer types exactly"
                    notes = (f"{call.kind} subclasses {cls.__name__}; paddle.flops counts it as 0",)
        else:
            trainable, frozen = layer_params(call.layer)
            p_tr, p_fr = sympy.Integer(trainable), sympy.Integer(frozen)
            flops, formula = sympy.Integer(0), "container"
        rows.append(
            (
                (call.op_start, call.order),
                LayerRecord(
                    index=0,
                    path=call.path,
                    kind=call.kind,
                    depth=call.depth,
                    parent=call.parent,
                    is_leaf=call.is_leaf,
                    is_functional=False,
                    input_shapes=in_shapes,
                    output_shape=out_shape,
                    params_trainable=p_tr,
                    params_non_trainable=p_fr,
                    flops=flops,
                    formula=formula,
                    rf=_rf(state),
                    summary_name=call.summary_name if call.in_summary else "",
                    has_rule=has_rule,
                    notes=notes,
                ),
            )
        )

    counts: Counter = Counter()
    combined = {v: op for op in trace.ops if op.name == "builtin.combine" for v in op.outputs}
    for op in trace.ops:
        if op.index in covered or op.name in BOOKKEEPING_OPS or not op.outputs:
            continue
        if not any(fields.get(v) is not None for v in op.inputs):
            continue  # constant folding, parameter reshapes: not part of the dataflow
        key = op_key(op.name)
        if key in ("builtin.combine", "builtin.split"):
            continue
        parent, depth = parent_of(op.index)
        counts[(parent, key)] += 1
        n = counts[(parent, key)]
        flops, formula, has_rule = _functional_cost(key, op, shapes, trace.constants, combined, conv)
        state = fields.get(op.outputs[0])
        rows.append(
            (
                (op.index, 10**9),
                LayerRecord(
                    index=0,
                    path=f"{parent}:{key}" + (f"#{n}" if n > 1 else ""),
                    kind=key,
                    depth=depth + 1,
                    parent=parent,
                    is_leaf=True,
                    is_functional=True,
                    input_shapes=tuple(shapes.get(v, ()) for v in op.inputs if fields.get(v) is not None),
                    output_shape=shapes.get(op.outputs[0], ()),
                    params_trainable=sympy.Integer(0),
                    params_non_trainable=sympy.Integer(0),
                    flops=flops,
                    formula=formula,
                    rf=_rf(state),
                    has_rule=has_rule,
                ),
            )
        )
    rows.sort(key=lambda kv: kv[0])
    for i, (_, rec) in enumerate(rows):
        records.append(_with_index(rec, i))
    return records


def _with_index(rec: LayerRecord, i: int) -> LayerRecord:
    from dataclasses import replace

    return replace(rec, index=i)


def _totals(trace: Trace, records: list[LayerRecord], shapes: dict, model) -> Totals:
    seen: set[str] = set()
    p_tr = p_fr = sympy.Integer(0)
    for r in records:
        if r.is_functional or not r.is_leaf or r.path in seen:
            continue
        seen.add(r.path)
        p_tr += r.params_trainable
        p_fr += r.params_non_trainable
    # Containers can own parameters directly too (rare); count those once as well.
    for r in records:
        if not r.is_leaf and r.path not in seen:
            seen.add(r.path)
            p_tr += r.params_trainable
            p_fr += r.params_non_trainable
    flops = sympy.Add(*[r.flops for r in records if r.is_leaf])
    in_model = sum(int(prod(p.shape)) for p in model.parameters())
    used = sympy.sympify(p_tr + p_fr)
    unused = in_model - int(used) if used.is_number else 0
    activations = sympy.Add(*[_numel(r.output_shape) for r in records if r.is_leaf and not r.is_functional])
    input_numel = _numel(shapes.get(trace.input_value, trace.input_shape))
    return Totals(
        params=sympy.expand(used),
        params_trainable=sympy.expand(p_tr),
        params_non_trainable=sympy.expand(p_fr),
        params_in_model=in_model,
        params_unused=max(unused, 0),
        flops=sympy.expand(flops),
        input_bytes=sympy.expand(input_numel * BYTES_PER_VALUE),
        activation_bytes=sympy.expand(2 * activations * BYTES_PER_VALUE),
        param_bytes=sympy.expand(used * BYTES_PER_VALUE),
    )
