"""Receptive fields propagated over the traced dataflow graph (book §5.1.4), per axis, any rank and layout.

Each value that depends on the input carries a :class:`Spatial` state: for
every spatial axis of the input (``L`` for rank 3, ``H``/``W`` for rank 4,
``D``/``H``/``W`` for rank 5), the dimension of this value that axis sits in
and the field of one unit along it.  Tracking the dimension rather than
assuming "the last two" is what makes channel-last layouts (NLC, NHWC,
NDHWC), Paddle's Conv1D (an ``unsqueeze`` + ``conv2d`` + ``squeeze``),
transposes and reductions exact.

Ops are visited in program order (a topological order); each op kind has a
small handler.  An op that mixes values along a dimension (a norm, a softmax,
a reduction over it, a matmul's contraction) makes exactly the axes in that
dimension "whole"; the other axes keep their fields.  Merges (residual add,
concat) use :func:`convcalc.formulas.merge_fields` axis by axis: misaligned
branches are recorded as gaps and that axis becomes unknown (``None``),
never a silently wrong number.  Ops with no handler make their outputs
unknown and are listed, never guessed.
"""

from __future__ import annotations

from convcalc.analysis.receptive_ops import HANDLERS, MERGING, SIZE_FREE, lost_axes, unknown_handler
from convcalc.analysis.receptive_state import (
    INTERP_OPS,
    LAYOUT_OPS,
    FieldMap,
    FieldUnknown,
    GraphView,
    Spatial,
    axis_names,
    axis_paddings,
    input_state,
    pool_kernel,
    spatial_dims,
    spatial_of,
)
from convcalc.formulas.receptive import AxisField
from convcalc.trace.op_names import BOOKKEEPING_OPS, op_key

__all__ = [
    "Spatial",
    "FieldMap",
    "GraphView",
    "HANDLERS",
    "INTERP_OPS",
    "axis_names",
    "axis_paddings",
    "input_state",
    "input_axes",
    "pool_kernel",
    "propagate",
    "spatial_dims",
]


def propagate(graph: GraphView) -> FieldMap:
    """Fields of every value reachable from the input, per spatial axis of the input."""
    result = FieldMap()
    states = result.states
    rank = len(graph.shapes.get(graph.input_value, ()))
    states[graph.input_value] = input_state(rank)
    spatial: list[str] | None = None
    for op in graph.ops:
        if op.name in BOOKKEEPING_OPS and op.name not in ("builtin.split", "builtin.combine"):
            continue
        ins = [states.get(v) for v in op.inputs]
        if all(s is None for s in ins):
            continue
        key = op_key(op.name)
        if spatial is None and key in LAYOUT_OPS and isinstance(ins[0], Spatial):
            spatial = spatial_of(op, ins[0], graph)
        handler = HANDLERS.get(key)
        if handler is None:
            result.unsupported_ops.append(op.name)
            handler = unknown_handler
        elif handler not in SIZE_FREE and any(d < 0 for v in (*op.inputs, *op.outputs)
                                              for d in graph.shapes.get(v, ())):
            result.unsupported_ops.append(f"op #{op.index} {op.name} (a size unknown before the forward runs)")
            handler = unknown_handler
        if handler in MERGING:
            out = handler(op, ins, graph, result.misaligned)  # type: ignore[call-arg]
        else:
            try:
                out = handler(op, ins, graph)
            except FieldUnknown as err:
                result.unsupported_ops.append(f"op #{op.index} {op.name} ({err})")
                out = unknown_handler(op, ins, graph)
            else:
                if op.attrs.get("adaptive"):  # a '?' after adaptive pooling: say which sizes and axes
                    for ax in lost_axes(ins[0] if ins else None, out):
                        i, o = graph.shapes[op.inputs[0]][ax.dim], graph.shapes[op.outputs[0]][ax.dim]
                        result.unsupported_ops.append(
                            f"op #{op.index} {op.name} (adaptive pooling {i}->{o} on {ax.axis}: windows of "
                            "different sizes, no single field)")
        if out is None:
            continue
        if op.name == "builtin.split":
            for v in op.outputs:
                states[v] = out
        else:
            # Multi-output ops (batch_norm_ returns running stats too): the first is the data.
            states[op.outputs[0]] = out
            if key in ("split", "split_with_num"):
                for v in op.outputs[1:]:
                    states[v] = out
    if spatial is None:  # no conv, pool or norm: channel first
        spatial = [f"#{d}" for d in range(2, rank)]
    names = dict(zip(spatial, axis_names(len(spatial))))
    result.input_dims = {names[f"#{d}"]: d for d in range(1, rank) if f"#{d}" in names}
    order = {n: i for i, n in enumerate(spatial)}
    for vid, state in states.items():
        if isinstance(state, Spatial):
            kept = sorted((a for a in state.axes if a.axis in names), key=lambda a: order[a.axis])
            states[vid] = Spatial(tuple(AxisField(names[a.axis], a.field, a.dim, a.part) for a in kept))
    return result


def input_axes(trace) -> dict[str, int]:
    """A trace's input spatial axes and their dims (``{"H": 1, "W": 2}`` for NHWC), as :func:`propagate` finds."""
    return propagate(GraphView(trace.ops, trace.shapes, trace.constants, trace.input_value)).input_dims
