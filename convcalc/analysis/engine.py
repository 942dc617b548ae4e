"""model -> trace -> records -> totals: the analysis behind ``convcalc report``."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import TYPE_CHECKING, Any

from convcalc.analysis import records
from convcalc.analysis.memory import bytes_per_value, inference_peak, row_at
from convcalc.analysis.params import ParamAccount, account, parameters_read
from convcalc.analysis.receptive import GraphView, Spatial, propagate
from convcalc.analysis.records import Gaps, LayerRecord, Report, Totals
from convcalc.errors import InputSpecError
from convcalc.formulas import Convention, as_convention
from convcalc.formulas.numbers import expand, is_number, total
from convcalc.rules.layers import Cost, RuleContext, find_rule
from convcalc.rules.ops import OpContext, op_cost
from convcalc.trace.build import trace_model
from convcalc.trace.graph import Trace
from convcalc.trace.input_forms import model_inputs
from convcalc.trace.inputs import ModelInput, readings
from convcalc.trace.op_names import BOOKKEEPING_OPS, op_key
from convcalc.trace.temporary import without_gc_pauses

if TYPE_CHECKING:
    import sympy


def normalise_input(shape: tuple) -> tuple:
    """``(C, H, W)`` -> ``(1, C, H, W)``; 4-D shapes pass through."""
    return tuple(shape) if len(shape) == 4 else (1, *shape)


def _functional_cost(key: str, op, shapes: dict, constants: dict, combined: dict,
                     conv: Convention) -> tuple[sympy.Expr, str, bool]:
    """(FLOPs, formula, has a rule) of a functional op, from :mod:`convcalc.rules.ops`."""
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
        return 0, "no rule (FLOPs unknown)", False
    return cost.flops, cost.formula, True


def _rf(state) -> tuple | None:
    """A value's per-axis fields for its record; None when it does not depend on the input."""
    return state.public() if isinstance(state, Spatial) else None


@without_gc_pauses
def analyze(
    model: Any,
    input_size: Any = None,
    convention: str | Convention = Convention.PADDLE,
    name: str | None = None,
    symbolic: bool = False,
    assume_divisible: bool = True,
    trace: Trace | None = None,
    *,
    input_spec: Any = None,
    input_data: Any = None,
    input_shape: Any = None,
) -> Report:
    """Per-layer shapes, parameters, FLOPs and receptive fields of ``model``.

    The input is given as exactly one of (see :mod:`convcalc.trace.input_forms`):

    - ``input_size``: a shape with batch (``(1, 16, 64)``; the image form
      ``(C, H, W)`` still works for a model whose first layer is a Conv2D), a
      list of shapes (one per ``forward`` argument) or a dict name -> shape;
      ``input_shape=`` is the old name of this argument;
    - ``input_spec``: a ``paddle.static.InputSpec`` or a list/dict of them;
    - ``input_data``: a tensor or a list/dict of tensors (their values are
      used for Paddle's eager check, which decides any value-dependent branch).

    What Paddle's own eager forward refuses at this input is refused here
    (:class:`~convcalc.errors.RefusedInputError`).  With ``symbolic=True`` the
    spatial sizes become the symbols ``H`` and ``W`` (the model is still
    traced once at the given size): see :mod:`convcalc.analysis.symbolic`.
    ``trace`` reuses a trace made by :func:`trace_for` for the same model and input.
    """
    conv = as_convention(convention)
    name = name or type(model).__name__
    if input_shape is not None:
        if input_size is not None:
            raise InputSpecError("give input_size or its old name input_shape, not both", "use input_size")
        input_size = input_shape
    inputs, values = model_inputs(model, input_size, input_spec, input_data)
    shape = inputs[0].shape
    options = [tuple(i.shape for i in option) for option in readings(inputs)]
    if symbolic and (len(inputs) != 1 or all(len(o[0]) != 4 for o in options)):
        raise InputSpecError(
            f"a symbolic report needs one image input [N, C, H, W]; {name} takes "
            + " + ".join(str(list(i.shape)) for i in inputs),
            "drop --symbolic (the concrete report works for any input)",
        )

    if trace is None:
        trace = trace_for(model, inputs, name, values)
    elif tuple(trace.input_shapes or (trace.input_shape,)) not in options:
        # a shape without its batch names the same trace (any rank: the trace says which dim is the batch)
        if not (len(inputs) == 1 and tuple(inputs[0].shape) == tuple(trace.input_shape[1:])):
            raise ValueError(f"trace was made at {trace.input_shapes or trace.input_shape}, not {shape}")
    shape = tuple(trace.input_shape)
    graph = GraphView(trace.ops, trace.shapes, trace.constants, trace.input_value)
    fields = propagate(graph)

    concrete = concrete_shapes(trace)
    shapes = concrete
    symbols: tuple = ()
    notes: list[str] = list(trace.notes)
    back: dict = {}
    if symbolic:
        from convcalc.analysis.symbolic import symbolic_shapes

        shapes, symbols, sym_notes, back = symbolic_shapes(trace, fields, assume_divisible)
        notes.extend(sym_notes)

    called = {"", *(c.path for c in trace.calls)}  # the root always runs (its own hooks do not fire)
    params = account(model, parameters_read([*trace.ops, *(o for ops in trace.inner_ops.values() for o in ops)]),
                     called)
    configs = getattr(model, "convcalc_trace", None) is None  # a program's layers are stand-ins: no configuration
    records = _records(trace, fields, shapes, conv, params, configs)
    totals = _totals(trace, records, shapes, params)
    gaps = Gaps(
        layers_without_rule=tuple(r.path for r in records if r.is_leaf and not r.is_functional and not r.has_rule),
        ops_without_rule=tuple(sorted(Counter(r.kind for r in records if r.is_functional and not r.has_rule).items())),
        layers_never_called=tuple(trace.never_called),
        ops_without_rf_rule=tuple(sorted(set(fields.unsupported_ops))),
        misaligned_merges=tuple(fields.misaligned),
        unknown_sizes=tuple(r.path for r in records if r.size_unknown),
    )
    notes.extend(_unused_notes(params, set(trace.never_called), totals))
    report = Report(
        model=name,
        input_shape=tuple(shapes.get(trace.input_value, shape)),
        input_shapes=tuple(tuple(shapes.get(v, s)) for v, s in zip(trace.input_values, trace.input_shapes)),
        input_dtypes=tuple(trace.input_dtypes),
        convention=conv,
        records=tuple(records),
        totals=totals,
        gaps=gaps,
        symbols=symbols,
        notes=tuple(notes),
        parameters=params.params,
    )
    if symbolic:
        from convcalc.analysis.symbolic import finish_symbolic

        report = finish_symbolic(report, trace, shapes, back,
                                 lambda: _records(trace, fields, concrete, conv, params, configs))
    return report


def concrete_shapes(trace: Trace) -> dict:
    """Every value's shape as ints; a size the trace could not know (``trace.unknown_sizes``) is
    :data:`~convcalc.analysis.records.UNKNOWN`.  Any other ``-1`` reaches the record boundary, which refuses it."""
    unknown = trace.unknown_sizes
    return {k: tuple(records.UNKNOWN if d < 0 and k in unknown else int(d) for d in v)
            for k, v in trace.shapes.items()}


def _unknown_reason(trace: Trace, values) -> str | None:
    """Why a row that reads or writes ``values`` has no count (one of them has an unknown size), or None."""
    unknown = trace.unknown_sizes
    return next((unknown[v] for v in values if v in unknown), None) if unknown else None


def _unknown_note(reason: str) -> str:
    return f"a size here cannot be known before the forward runs ({reason}): its count is left out (total ≥)"


def rule_static_forward(layer: Any) -> Any:
    """The static equivalent forward a layer's rule provides (opaque custom layers), or None."""
    found = find_rule(layer)
    return found[1].static_forward if found else None


def trace_for(model: Any, inputs: Any, name: str = "model", values: list[Any] | None = None,
              eager_checked: bool = False) -> Trace:
    """Trace ``model`` with the rules' static forwards swapped in (for opaque custom layers).

    ``inputs`` is a list of :class:`~convcalc.trace.inputs.ModelInput` or any
    ``input_size`` form :func:`analyze` accepts.  A model that brings its own
    trace (an exported program, :mod:`convcalc.trace.program`) gives it.
    ``eager_checked``: the caller already ran :func:`convcalc.trace.eager.eager_check`
    at this input (see :func:`convcalc.trace.build.trace_model`).
    """
    static_forward = rule_static_forward
    if not (isinstance(inputs, (list, tuple)) and inputs and all(isinstance(i, ModelInput) for i in inputs)):
        inputs, values = model_inputs(model, input_size=inputs)
    own_trace = getattr(model, "convcalc_trace", None)
    if own_trace is not None:
        return own_trace(normalise_input(tuple(inputs[0].shape)))
    return trace_model(model, list(inputs), static_forward=static_forward, name=name, values=values,
                       eager=not eager_checked)


def layer_config(layer: Any) -> str:
    """A layer's configuration as Paddle prints it (``extra_repr()``, e.g. ``1, 8, kernel_size=[3, 3]``); "" if none."""
    try:
        text = layer.extra_repr()
    except Exception:  # noqa: BLE001 - a user's extra_repr may fail; the configuration is then unknown
        return ""
    return " ".join(text.split()) if isinstance(text, str) else ""


def _records(trace: Trace, fields, shapes: dict, conv: Convention, params: ParamAccount,
             configs: bool = True) -> list[LayerRecord]:
    records: list[LayerRecord] = []
    shown: set[str] = set()
    seen_again: set[str] = set()
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

    rows: list[tuple[tuple, partial]] = []  # (order, the record but for its index: made once the order is known)
    calls_of = Counter(c.path for c in trace.calls)
    combined = {v: op for op in trace.ops if op.name == "builtin.combine" for v in op.outputs}
    for call in trace.calls:
        in_shapes = tuple(shapes.get(v, ()) for v in call.inputs)
        out_shape = shapes.get(call.outputs[0], ()) if call.outputs else ()
        out_shapes = tuple(shapes.get(v, ()) for v in call.outputs)
        state = fields.get(call.outputs[0]) if call.outputs else None
        has_rule = True
        first_call = call.path not in shown
        second_call = not first_call and call.path in shown and call.path not in seen_again
        if not first_call:
            seen_again.add(call.path)
        shown.add(call.path)
        tr, fr = params.on_row(call.path) if first_call else (0, 0)
        p_tr, p_fr = int(tr), int(fr)
        notes = _param_notes(call, params, first_call, calls_of[call.path] if second_call else 0)
        unknown = _unknown_reason(trace, (*call.inputs, *call.outputs, *(
            v for op in trace.ops[call.op_start:call.op_end] for v in (*op.inputs, *op.outputs)))) \
            if call.is_leaf and trace.unknown_sizes else None
        if unknown is not None:
            flops, formula = 0, "size unknown (count left out)"
            notes += (_unknown_note(unknown),)
        elif call.is_leaf:
            found = find_rule(call.layer)
            if found is None:  # counted through the ops of its own forward, as functional ops are
                own = [o for i in range(call.op_start, call.op_end) for o in trace.inner_ops.get(i, [trace.ops[i]])]
                flops, formula, missing = _ops_cost(trace, own, shapes, combined, conv)
                has_rule = not missing
                if missing:
                    notes += ("no FLOP rule for " + ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in missing.items())
                              + " in its forward: counted as 0 (the total is a lower bound)",)
            else:
                cls, rule = found
                cost = rule.cost(RuleContext(call.layer, in_shapes, out_shape, conv))
                flops, formula = cost.flops, cost.formula
                if cost.unknown:
                    has_rule = False
                    notes += ("no FLOP rule for " + ", ".join(cost.unknown) + ": counted as 0 (the total is a lower "
                              "bound)",)
                notes += tuple(cost.notes) + _formula_note(cost, tr + fr, first_call, params.tied_into(call.path),
                                                           cls.__name__)
                if conv is Convention.PADDLE and type(call.layer) is not cls and cls.__module__.startswith("paddle."):
                    flops = 0
                    formula = "0: paddle.flops matches layer types exactly"
                    notes += (f"{call.kind} subclasses {cls.__name__}; paddle.flops counts it as 0",)
        else:
            flops, formula = 0, "container"
        rows.append(
            (
                (call.op_start, call.order),
                partial(
                    LayerRecord,
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
                    output_shapes=out_shapes,
                    ops=tuple(range(call.op_start, call.op_end)) if call.is_leaf else (),
                    size_unknown=unknown is not None,
                    config=layer_config(call.layer) if configs and call.layer is not None else "",
                ),
            )
        )

    counts: Counter = Counter()
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
        unknown = _unknown_reason(trace, (*op.inputs, *op.outputs,
                                          *(u for v in op.inputs if v in combined for u in combined[v].inputs)))
        inner = trace.inner_ops.get(op.index)
        if inner is not None:  # a PyLayer: what its own forward block runs
            unknown = _unknown_reason(trace, (*op.inputs, *op.outputs, *(v for o in inner for v in o.outputs)))
        notes: tuple[str, ...] = ()
        if unknown is not None:
            flops, formula, has_rule = 0, "size unknown (count left out)", True
        elif inner is not None:
            flops, formula, missing = _ops_cost(trace, inner, shapes, combined, conv)
            has_rule = not missing
            if missing:
                notes = ("no FLOP rule for " + ", ".join(missing) + " in its forward",)
        else:
            flops, formula, has_rule = _functional_cost(key, op, shapes, trace.constants, combined, conv)
        state = fields.get(op.outputs[0])
        rows.append(
            (
                (op.index, 10**9),
                partial(
                    LayerRecord,
                    path=f"{parent}:{key}" + (f"#{n}" if n > 1 else ""),
                    kind=key,
                    depth=depth + 1,
                    parent=parent,
                    is_leaf=True,
                    is_functional=True,
                    input_shapes=tuple(shapes.get(v, ()) for v in op.inputs if fields.get(v) is not None),
                    output_shape=shapes.get(op.outputs[0], ()),
                    output_shapes=tuple(shapes.get(v, ()) for v in op.outputs),
                    params_trainable=0,
                    params_non_trainable=0,
                    flops=flops,
                    formula=formula,
                    rf=_rf(state),
                    has_rule=has_rule,
                    ops=(op.index,),
                    notes=(_unknown_note(unknown),) if unknown is not None else notes,
                    size_unknown=unknown is not None,
                ),
            )
        )
    if "" not in shown and sum(params.on_row("")):
        rows.append(((-1, -1), _root_record(trace, shapes, params)))
    order = sorted(range(len(rows)), key=lambda k: rows[k][0])
    index = {k: i for i, k in enumerate(order)}
    made = [record(index=index[k]) for k, (_, record) in enumerate(rows)]  # (checked in the order they were found)
    records.extend(made[k] for k in order)
    return records


def _ops_cost(trace: Trace, ops, shapes: dict, combined: dict,
              conv: Convention) -> tuple[sympy.Expr, str, Counter]:
    """(FLOPs, formula, {op kind without a rule: count}) of ``ops``: a leaf layer without a rule of its own costs
    what its forward runs (nothing for ``DropPath`` in eval: it hands on its input), a PyLayer what its own
    block runs."""
    total, kinds, missing = 0, [], Counter()
    for op in ops:
        if op.name in BOOKKEEPING_OPS or not op.outputs:
            continue
        key = op_key(op.name)
        flops, _, ok = _functional_cost(key, op, shapes, trace.constants, combined, conv)
        total += flops
        if not ok:
            missing[key] += 1
        elif key not in kinds:
            kinds.append(key)
    if not kinds and not missing:
        return total, "no arithmetic (its forward hands on its input)", missing
    shown = ", ".join(kinds[:6]) + (", ..." if len(kinds) > 6 else "")
    return expand(total), f"sum of its ops ({shown})" if kinds else "no rule for its ops", missing


def _root_record(trace: Trace, shapes: dict, params: ParamAccount) -> partial:
    """A row for the root model when it owns parameters itself (the root's forward is not hooked), but for its
    index."""
    tr, fr = params.on_row("")
    out = next((op.outputs[0] for op in reversed(trace.ops) if op.outputs and op.name not in BOOKKEEPING_OPS), "")
    owned = params.shown_on("")
    return partial(
        LayerRecord, path="", kind=params.root_kind,
        depth=0, parent="", is_leaf=False, is_functional=False,
        input_shapes=(shapes.get(trace.input_value, ()),), output_shape=shapes.get(out, ()),
        params_trainable=int(tr), params_non_trainable=int(fr),
        flops=0, formula="container",
        notes=(_owns_note(owned),),
    )


def _totals(trace: Trace, records: list[LayerRecord], shapes: dict, params: ParamAccount) -> Totals:
    """Totals; parameters once each by identity (every used one is on exactly one row)."""
    p_tr = int(sum(p.numel for p in params.used if p.trainable))
    p_fr = int(sum(p.numel for p in params.used if not p.trainable))
    flops = total([r.flops for r in records if r.is_leaf])
    in_model = params.in_model
    used = p_tr + p_fr
    unused = in_model - int(used)
    peak = inference_peak(trace, shapes)
    return Totals(
        params=expand(used),
        params_trainable=expand(p_tr),
        params_non_trainable=expand(p_fr),
        params_in_model=in_model,
        params_unused=max(unused, 0),
        flops=expand(flops),
        input_bytes=expand(peak.input_bytes),
        peak_activation_bytes=expand(peak.bytes),
        param_bytes=expand(used * _param_width(trace)),
        peak_at=row_at(records, peak.op),
    )


def _param_width(trace: Trace) -> int:
    """Bytes per parameter value: the traced parameters' most common dtype (float32 when none is known)."""
    widths = Counter(bytes_per_value(trace.dtypes.get(v)) for op in trace.ops if op.name == "builtin.parameter"
                     for v in op.outputs if v in trace.dtypes)
    return widths.most_common(1)[0][0] if widths else 4


def _param_notes(call, params: ParamAccount, first_call: bool, calls: int = 0) -> tuple[str, ...]:
    """Why a row's parameters are not what the layer holds: a repeated call (said once, on the second call's row,
    with ``calls`` the number of calls), tied weights."""
    if not first_call:
        holds = getattr(call.layer, "parameters", None)
        if not calls or holds is None or not any(True for _ in holds()):
            return ()  # (a ReLU reused in every block holds nothing to count twice)
        return (f"called {calls} times: its parameters are counted on its first call",)
    owned = params.shown_on(call.path)
    if not call.is_leaf and owned:
        return (_owns_note(owned),)
    return tuple(
        f"{p.name.rsplit('.', 1)[-1]} ({p.numel:,}) is tied to {p.row or 'the root'}: counted on that row"
        for p in params.tied_into(call.path)
    )


def _owns_note(owned) -> str:
    """A container's (or the root's) own parameters, by name."""
    return "owns " + ", ".join(f"{p.name.rsplit('.', 1)[-1]} ({p.numel:,})" for p in owned) + " directly"


def _formula_note(cost: Cost, held: int, first_call: bool, tied: tuple, kind: str) -> tuple[str, ...]:
    """A note when the layer holds other parameters than its kind's formula says (reparametrised, extended)."""
    if cost.params_trainable is None or not first_call or tied:
        return ()
    formula = cost.params_trainable + (cost.params_non_trainable or 0)
    if not is_number(formula) or int(formula) == held:
        return ()
    return (f"holds {held:,} parameters, not the {int(formula):,} of a plain {kind}: counted from its parameter "
            "objects (a reparametrised or extended layer)",)


def _unused_notes(params: ParamAccount, never_called: set[str], totals: Totals) -> list[str]:
    """Which parameters the totals leave out, and why (their layer never ran, or no op reads them)."""
    unused = params.unused
    if not unused:
        return []

    def in_never_run(p) -> bool:
        return all(any(h == n or h.startswith(n + ".") for n in never_called) for h in p.holders)

    idle = [p for p in unused if in_never_run(p)]
    unread = [p for p in unused if not in_never_run(p)]
    parts = []
    if idle:
        parts.append(f"{sum(p.numel for p in idle):,} are in layers that never ran")
    if unread:
        names = ", ".join(p.name for p in unread[:6]) + (", ..." if len(unread) > 6 else "")
        parts.append(f"{sum(p.numel for p in unread):,} are never read by the forward pass ({names})")
    notes = [f"the model holds {totals.params_in_model:,} parameters; " + " and ".join(parts)
             + ": not counted above (paddle.summary also leaves out layers that never ran)"]
    return notes
