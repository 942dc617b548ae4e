"""Receptive fields propagated over the traced dataflow graph (seed 5.1.4).

Each value that depends on the input carries a :class:`Spatial` state, the
field of one of its units on the height and width axes.  Ops are visited in
program order (a topological order); each op kind has a small handler.  Merges
(residual add, concat) use :func:`convcalc.formulas.merge_fields`: aligned
branches merge by max, misaligned ones are recorded as gaps and their output
becomes unknown, never a silently wrong number.  Ops with no handler make
their outputs unknown and are listed, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from convcalc.errors import MisalignedBranchesError
from convcalc.formulas import INPUT_FIELD, WHOLE_INPUT, Field, field_after, merge_fields, resolve_padding
from convcalc.trace import BOOKKEEPING_OPS, ELEMENTWISE_OPS, OpNode, op_key


@dataclass(frozen=True)
class Spatial:
    """Field of one unit on height and width."""

    h: Field
    w: Field

    @property
    def whole(self) -> bool:
        return self.h.whole and self.w.whole


WHOLE = Spatial(WHOLE_INPUT, WHOLE_INPUT)


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
"""State of a value downstream of an op convcalc cannot follow."""


class FieldUnknown(Exception):
    """A handler's reason why an op's output has no single field (listed under the report's table)."""


@dataclass
class FieldMap:
    """Result of propagation: value id -> Spatial, UNKNOWN, or absent (no dependence on the input)."""

    states: dict = field(default_factory=dict)
    unsupported_ops: list[str] = field(default_factory=list)
    misaligned: list[str] = field(default_factory=list)

    def get(self, value_id: str):
        return self.states.get(value_id)


@dataclass(frozen=True)
class GraphView:
    """The parts of a trace the propagation reads (so tests can hand-build graphs)."""

    ops: list[OpNode]
    shapes: dict
    constants: dict
    input_value: str


Handler = Callable[[OpNode, list, GraphView], object]


def axis_paddings(paddings: list | None, algorithm: str | None) -> list:
    """Paddle's conv/pool ``paddings`` + ``padding_algorithm`` attributes as one padding per axis (h, w).

    Each is a number (symmetric), ``(before, after)``, or ``'SAME'``/``'VALID'``:
    the forms :func:`convcalc.formulas.conv_output_size` takes.
    """
    algorithm = (algorithm or "EXPLICIT").upper()
    if algorithm in ("SAME", "VALID"):
        return [algorithm, algorithm]
    p = list(paddings or [0, 0])
    if len(p) == 2:
        return [p[0], p[1]]
    if len(p) == 4:  # top, bottom, left, right
        return [(p[0], p[1]), (p[2], p[3])]
    raise ValueError(f"unexpected paddings {paddings!r}")


def pool_kernel(op: OpNode, constants: dict) -> list:
    """A pool op's (kh, kw): from its kernel-size operand (a constant) or its attribute."""
    kernel = constants.get(op.inputs[1]) if len(op.inputs) > 1 else None
    if kernel is None:
        kernel = op.attrs.get("kernel_size")
    kernel = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel, kernel]
    return kernel * 2 if len(kernel) == 1 else kernel


def _pads(paddings: list, algorithm: str, in_hw, kernel_hw, strides, dilations) -> tuple[int, int]:
    """Padding *before* on (h, w)."""
    return tuple(  # type: ignore[return-value]
        int(resolve_padding(pad, in_hw[i], kernel_hw[i], strides[i], dilations[i])[0])
        for i, pad in enumerate(axis_paddings(paddings, algorithm))
    )


def _window(state: Spatial, kernel, strides, pads, dilations=(1, 1)) -> Spatial:
    return Spatial(
        field_after(state.h, kernel[0], strides[0], pads[0], dilations[0]),
        field_after(state.w, kernel[1], strides[1], pads[1], dilations[1]),
    )


def _spatial_inputs(op: OpNode, states: list) -> list:
    return [s for s in states if s is not None]


def conv_handler(op: OpNode, states: list, g: GraphView):
    x = states[0]
    if not isinstance(x, Spatial):
        return x
    kh, kw = g.shapes[op.inputs[1]][2:4]
    a = op.attrs
    strides, dil = a.get("strides", [1, 1]), a.get("dilations", [1, 1])
    if str(a.get("padding_algorithm", "")).upper() == "SAME":
        dil = [1, 1]  # Paddle resets the dilation under 'SAME' (see formulas.effective_dilation)
    in_hw = g.shapes[op.inputs[0]][2:4]
    pads = _pads(a.get("paddings"), a.get("padding_algorithm"), in_hw, (kh, kw), strides, dil)
    return _window(x, (kh, kw), strides, pads, dil)


def pool_handler(op: OpNode, states: list, g: GraphView):
    x = states[0]
    if not isinstance(x, Spatial):
        return x
    a = op.attrs
    in_hw = g.shapes[op.inputs[0]][2:4]
    out_hw = g.shapes[op.outputs[0]][2:4]
    if a.get("global_pooling"):
        return WHOLE
    if a.get("adaptive"):
        fields = []
        for axis, (i, o) in enumerate(zip(in_hw, out_hw)):
            f = (x.h, x.w)[axis]
            if o == i or i == 1:  # identity, or every window is the single input unit
                fields.append(f)
            elif o == 1:
                fields.append(WHOLE_INPUT)
            elif i % o == 0:
                fields.append(field_after(f, i // o, i // o, 0))
            else:  # overlapping windows of varying size: no single field
                raise FieldUnknown(f"adaptive pooling {i}->{o} on {'HW'[axis]}: windows of different sizes")
        if all(f.whole for f in fields):
            return WHOLE
        if any(f.whole for f in fields):
            raise FieldUnknown("adaptive pooling to 1 on one axis only: the whole input on one axis, not the other")
        return Spatial(*fields)
    kernel = pool_kernel(op, g.constants)
    strides = a.get("strides", kernel)
    pads = _pads(a.get("paddings"), a.get("padding_algorithm"), in_hw, kernel, strides, (1, 1))
    return _window(x, kernel, strides, pads)


def elementwise_handler(op: OpNode, states: list, g: GraphView):
    """Pass-through or merge: activations, BatchNorm, residual add, SE-style multiply."""
    live = _spatial_inputs(op, states)
    if not live:
        return None
    if any(s is UNKNOWN for s in live):
        return UNKNOWN
    flat = [s for s in live if isinstance(s, Spatial)]
    if len(flat) == 1:
        return flat[0]
    return Spatial(merge_fields([s.h for s in flat]), merge_fields([s.w for s in flat]))


def combine_handler(op: OpNode, states: list, g: GraphView):
    return tuple(states)


def concat_handler(op: OpNode, states: list, g: GraphView):
    bundle = states[0]
    if not isinstance(bundle, tuple):
        return bundle
    axis = g.constants.get(op.inputs[1]) if len(op.inputs) > 1 else 1
    if isinstance(axis, list):
        axis = axis[0] if axis else 1
    rank = len(g.shapes.get(op.outputs[0], ()))
    if axis is not None and rank >= 4 and int(axis) % rank >= rank - 2:
        return UNKNOWN  # concatenating along a spatial axis
    return elementwise_handler(op, list(bundle), g)


def split_handler(op: OpNode, states: list, g: GraphView):
    x = states[0]
    axis = g.constants.get(op.inputs[-1])
    rank = len(g.shapes.get(op.inputs[0], ()))
    if isinstance(axis, list):
        axis = axis[0] if axis else 0
    if axis is not None and rank >= 4 and int(axis) % rank >= rank - 2:
        return UNKNOWN
    return x


def unpack_handler(op: OpNode, states: list, g: GraphView):
    return states[0] if states else None


def reshape_handler(op: OpNode, states: list, g: GraphView):
    """Reshape/flatten/squeeze: spatial axes kept -> same field, otherwise the whole input."""
    x = states[0]
    if not isinstance(x, Spatial):
        return x
    before = g.shapes.get(op.inputs[0], ())
    after = g.shapes.get(op.outputs[0], ())
    if len(before) >= 4 and len(after) >= 4 and tuple(after[-2:]) == tuple(before[-2:]):
        return x
    return WHOLE


def transpose_handler(op: OpNode, states: list, g: GraphView):
    x = states[0]
    if not isinstance(x, Spatial):
        return x
    perm = op.attrs.get("perm") or []
    n = len(perm)
    if n >= 4 and list(perm[-2:]) == [n - 2, n - 1]:
        return x
    return UNKNOWN


def whole_handler(op: OpNode, states: list, g: GraphView):
    live = _spatial_inputs(op, states)
    if not live:
        return None
    if any(s is UNKNOWN for s in live):
        return UNKNOWN
    return WHOLE


def reduce_handler(op: OpNode, states: list, g: GraphView):
    x = states[0]
    if not isinstance(x, Spatial):
        return x
    rank_in = len(g.shapes.get(op.inputs[0], ()))
    out = g.shapes.get(op.outputs[0], ())
    if rank_in >= 4 and len(out) >= 4 and tuple(out[-2:]) == tuple(g.shapes[op.inputs[0]][-2:]):
        return x
    return WHOLE


def _transposed(states: list):
    if not states or states[0] is None:
        return None
    if states[0] is UNKNOWN:
        return UNKNOWN
    raise FieldUnknown("transposed convolution: convcalc has no field rule for it yet")


HANDLERS: dict[str, Handler] = {
    "conv2d": conv_handler,
    "depthwise_conv2d": conv_handler,
    "conv2d_transpose": lambda op, s, g: _transposed(s),
    "pool2d": pool_handler,
    "max_pool2d_with_index": pool_handler,
    "builtin.combine": combine_handler,
    "builtin.split": unpack_handler,
    "concat": concat_handler,
    "add_n": concat_handler,
    "split": split_handler,
    "split_with_num": split_handler,
    "flatten": reshape_handler,
    "reshape": reshape_handler,
    "squeeze": reshape_handler,
    "unsqueeze": reshape_handler,
    "transpose": transpose_handler,
    "matmul": whole_handler,
    "mean": reduce_handler,
    "sum": reduce_handler,
    "max": reduce_handler,
}
for _name in ELEMENTWISE_OPS:
    HANDLERS[_name] = elementwise_handler


def propagate(graph: GraphView) -> FieldMap:
    """Fields of every value reachable from the input."""
    result = FieldMap()
    states = result.states
    states[graph.input_value] = Spatial(INPUT_FIELD, INPUT_FIELD)
    for op in graph.ops:
        if op.name in BOOKKEEPING_OPS and op.name not in ("builtin.split", "builtin.combine"):
            continue
        ins = [states.get(v) for v in op.inputs]
        if all(s is None for s in ins):
            continue
        handler = HANDLERS.get(op_key(op.name))
        if handler is None:
            result.unsupported_ops.append(op.name)
            out = UNKNOWN
        else:
            try:
                out = handler(op, ins, graph)
            except FieldUnknown as err:
                result.unsupported_ops.append(f"op #{op.index} {op.name} ({err})")
                out = UNKNOWN
            except MisalignedBranchesError as err:
                result.misaligned.append(f"op #{op.index} {op.name}: {err}")
                out = UNKNOWN
        if out is None:
            continue
        if op.name == "builtin.split":
            for v in op.outputs:
                states[v] = out
        else:
            # Multi-output ops (batch_norm_ returns running stats too): the first is the data.
            states[op.outputs[0]] = out
            if op_key(op.name) in ("split", "split_with_num"):
                for v in op.outputs[1:]:
                    states[v] = out
    return result
