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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from math import prod

from convcalc.errors import MisalignedBranchesError
from convcalc.formulas import INPUT_FIELD, WHOLE_INPUT, Field, field_after, merge_fields, resolve_padding
from convcalc.formulas.receptive import AxisField, interpolation_taps, resampled_field, transposed_field
from convcalc.trace.op_names import BOOKKEEPING_OPS, ELEMENTWISE_OPS, op_key
from convcalc.trace.build import OpNode

__all__ = [
    "Spatial",
    "FieldMap",
    "GraphView",
    "HANDLERS",
    "axis_names",
    "axis_paddings",
    "input_state",
    "input_axes",
    "pool_kernel",
    "propagate",
]

CHANNEL_LAST = ("NHWC", "NLC", "NWC", "NDHWC")


@dataclass(frozen=True)
class Spatial:
    """The field of one unit of a value, on every spatial axis of the input."""

    axes: tuple[AxisField, ...]

    @property
    def whole(self) -> bool:
        """Every axis sees the whole input."""
        return bool(self.axes) and all(a.field is not None and a.field.whole for a in self.axes)

    @property
    def known(self) -> bool:
        return all(a.field is not None for a in self.axes)

    def axis(self, name: str) -> AxisField | None:
        return next((a for a in self.axes if a.axis == name), None)

    @property
    def h(self) -> Field | None:
        a = self.axis("H")
        return a.field if a else None

    @property
    def w(self) -> Field | None:
        a = self.axis("W")
        return a.field if a else None

    def with_fields(self, change: Callable[[AxisField], AxisField]) -> Spatial:
        return Spatial(tuple(change(a) for a in self.axes))

    def unknown(self) -> Spatial:
        """The same axes, every field unknown (downstream of an op convcalc cannot follow)."""
        return self.with_fields(lambda a: replace(a, field=None))


class FieldUnknown(Exception):
    """A handler's reason why an op's output has no single field (listed under the report's table)."""


@dataclass
class FieldMap:
    """Result of propagation: value id -> :class:`Spatial`, or absent (no dependence on the input)."""

    states: dict = field(default_factory=dict)
    unsupported_ops: list[str] = field(default_factory=list)
    misaligned: list[str] = field(default_factory=list)
    input_dims: dict[str, int] = field(default_factory=dict)  # spatial axis name -> its dim in the input

    def get(self, value_id: str) -> Spatial | None:
        return self.states.get(value_id)


@dataclass(frozen=True)
class GraphView:
    """The parts of a trace the propagation reads (so tests can hand-build graphs)."""

    ops: list[OpNode]
    shapes: dict
    constants: dict
    input_value: str


Handler = Callable[[OpNode, list, GraphView], "Spatial | None"]


# ------------------------------------------------------------------ reading Paddle's attributes
def axis_names(n: int) -> tuple[str, ...]:
    """Names of ``n`` spatial axes: ``L``; ``H, W``; ``D, H, W``; else ``S1..Sn``."""
    return {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}.get(n, tuple(f"S{i + 1}" for i in range(n)))


def spatial_dims(rank: int, data_format: str | None) -> list[int]:
    """Dimensions of the spatial axes of a rank-``rank`` tensor in ``data_format`` (NCHW by default)."""
    if str(data_format or "").upper() in CHANNEL_LAST:
        return list(range(1, rank - 1))
    return list(range(2, rank))


def axis_paddings(paddings: list | None, algorithm: str | None, n: int = 2) -> list:
    """Paddle's conv/pool ``paddings`` + ``padding_algorithm`` attributes as one padding per spatial axis.

    Each is a number (symmetric), ``(before, after)``, or ``'SAME'``/``'VALID'``:
    the forms :func:`convcalc.formulas.conv_output_size` takes.
    """
    algorithm = (algorithm or "EXPLICIT").upper()
    if algorithm in ("SAME", "VALID"):
        return [algorithm] * n
    p = list(paddings or [0] * n)
    if len(p) == n:
        return p
    if len(p) == 2 * n:  # before, after per axis
        return [(p[2 * i], p[2 * i + 1]) for i in range(n)]
    if len(p) == 1:
        return p * n
    raise ValueError(f"unexpected paddings {paddings!r} for {n} spatial axes")


def pool_kernel(op: OpNode, constants: dict, n: int = 2) -> list:
    """A pool op's kernel size per spatial axis: from its kernel-size operand (a constant) or its attribute."""
    kernel = constants.get(op.inputs[1]) if len(op.inputs) > 1 else None
    if kernel is None:
        kernel = op.attrs.get("kernel_size")
    kernel = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel]
    return kernel * n if len(kernel) == 1 else kernel


def _per_axis(values, n: int, default: int = 1) -> list:
    values = list(values) if isinstance(values, (list, tuple)) else [values if values is not None else default]
    return values * n if len(values) == 1 else values


def _int_list(value) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


# ------------------------------------------------------------------ state helpers
INTERP_OPS = {"nearest_interp": "nearest", "linear_interp": "linear", "bilinear_interp": "linear",
              "trilinear_interp": "linear", "bicubic_interp": "cubic"}
"""Paddle's interpolation ops (``F.interpolate``, ``nn.Upsample``) and the taps each output reads."""

TRANSPOSED_CONV_OPS = ("conv2d_transpose", "conv3d_transpose", "depthwise_conv2d_transpose")

LAYOUT_OPS = frozenset({"conv2d", "depthwise_conv2d", "conv3d", "pool2d", "pool3d", "max_pool2d_with_index",
                        "max_pool3d_with_index", "batch_norm", "group_norm", "instance_norm",
                        *TRANSPOSED_CONV_OPS, *INTERP_OPS})
"""Ops whose ``data_format`` says which dims of their operand are spatial."""


def input_state(rank: int) -> Spatial:
    """The input's own state before its layout is known: every non-batch dim a provisional axis ``#d``.

    :func:`propagate` names them once the first layout-aware op (conv, pool, norm) reads them: the dims it
    treats as spatial become ``L``; ``H``, ``W``; ``D``, ``H``, ``W`` (so an NHWC input transposed to NCHW
    in ``forward`` is right), the others (channels) are dropped.  A rank-2 input has no spatial axes.
    """
    return Spatial(tuple(AxisField(f"#{d}", INPUT_FIELD, d) for d in range(1, rank)) if rank >= 3 else ())


def _spatial_of(op: OpNode, state: Spatial, g: GraphView) -> list[str]:
    """The provisional axes a layout-aware op reads as spatial, in its order of dims."""
    dims = spatial_dims(_rank(g, op.inputs[0]), op.attrs.get("data_format"))
    by_dim = {a.dim: a.axis for a in state.axes if a.dim is not None}
    return [by_dim[d] for d in dims if d in by_dim]


def _whole_at(state: Spatial, dims: Iterable[int]) -> Spatial:
    dims = set(dims)
    return state.with_fields(lambda a: replace(a, field=WHOLE_INPUT) if a.dim in dims and a.field else a)


def _rank(g: GraphView, vid: str) -> int:
    return len(g.shapes.get(vid, ()))


def _merge(parts: Sequence[tuple[Spatial, int]], out_rank: int, where: str, misaligned: list) -> Spatial:
    """Axis-by-axis merge of broadcast operands ``(state, rank)``: dims aligned from the right."""
    if len(parts) == 1 and parts[0][1] == out_rank:
        return parts[0][0]
    names = [a.axis for a in parts[0][0].axes]
    merged = []
    bad: dict[str, str] = {}
    for name in names:
        axes = [(s.axis(name), r) for s, r in parts]
        offsets = {a.dim - r for a, r in axes if a is not None and a.dim is not None}
        dim = (out_rank + offsets.pop()) if len(offsets) == 1 else None
        fields = [a.field for a, _ in axes if a is not None]
        if len(offsets) > 1 or any(f is None for f in fields):
            merged.append(AxisField(name, None, dim))
            continue
        try:
            merged.append(AxisField(name, merge_fields(fields), dim))
        except MisalignedBranchesError as err:
            bad[name] = str(err)
            merged.append(AxisField(name, None, dim))
    if bad:
        misaligned.append(f"{where} ({', '.join(bad)}): {next(iter(bad.values()))}")
    return Spatial(tuple(merged))


def _reshaped(state: Spatial, before: Sequence[int], after: Sequence[int]) -> Spatial:
    """Follow each axis through a reshape: a dimension kept whole (same size, same elements before it) keeps
    its axis; an axis whose dimension is merged with others or split sees the whole input (as after flatten).
    A size-1 dimension squeezed away with its axis counts as merged (the book's LeNet squeezes its 1x1 map
    before the Linear layers: they see the whole input); Conv1D's own unsqueeze/squeeze dim carries no axis."""
    def prefix(shape, i):
        return prod(shape[:i])

    taken: set[int] = set()

    def target(d: int) -> int | None | str:
        size, pre = before[d], prefix(before, d)
        for j in range(len(after)):
            if j not in taken and after[j] == size and prefix(after, j) == pre:
                if size != 1 or sum(1 for k in range(d) if before[k] == 1 and prefix(before, k) == pre) == sum(
                        1 for k in range(j) if after[k] == 1 and prefix(after, k) == pre):
                    return j
        return "merged"

    out = []
    for a in state.axes:
        if a.dim is None:
            out.append(a)
            continue
        t = target(a.dim)
        if t == "merged":
            out.append(AxisField(a.axis, WHOLE_INPUT if a.field is not None else None, None))
        else:
            out.append(replace(a, dim=t))
            if t is not None:
                taken.add(t)  # type: ignore[arg-type]
    return Spatial(tuple(out))


# ------------------------------------------------------------------ handlers
def conv_handler(op: OpNode, states: list, g: GraphView):
    x = states[0]
    if x is None:
        return None
    wshape = g.shapes[op.inputs[1]]
    a = op.attrs
    in_shape = g.shapes[op.inputs[0]]
    dims = spatial_dims(len(in_shape), a.get("data_format"))
    n = len(dims)
    kernel = list(wshape[2:2 + n])
    strides, dil = _per_axis(a.get("strides", 1), n), _per_axis(a.get("dilations", 1), n)
    if str(a.get("padding_algorithm", "")).upper() == "SAME":
        dil = [1] * n  # Paddle resets the dilation under 'SAME' (see formulas.effective_dilation)
    pads = axis_paddings(a.get("paddings"), a.get("padding_algorithm"), n)
    return _window(x, dims, [in_shape[d] for d in dims], kernel, strides, pads, dil)


def _window(x: Spatial, dims, sizes, kernel, strides, pads, dil) -> Spatial:
    def step(ax: AxisField) -> AxisField:
        if ax.dim not in dims or ax.field is None:
            return ax
        i = dims.index(ax.dim)
        before = resolve_padding(pads[i], sizes[i], kernel[i], strides[i], dil[i])[0]
        return replace(ax, field=field_after(ax.field, kernel[i], strides[i], int(before), dil[i]))

    return x.with_fields(step)


def pool_handler(op: OpNode, states: list, g: GraphView):
    x = states[0]
    if x is None:
        return None
    a = op.attrs
    in_shape, out_shape = g.shapes[op.inputs[0]], g.shapes[op.outputs[0]]
    dims = spatial_dims(len(in_shape), a.get("data_format"))
    n = len(dims)
    if a.get("global_pooling"):
        return _whole_at(x, dims)
    if a.get("adaptive"):
        def adaptive(ax: AxisField) -> AxisField:
            if ax.dim not in dims or ax.field is None:
                return ax
            i, o = in_shape[ax.dim], out_shape[ax.dim]
            if o == i or i == 1:  # identity, or every window is the single input unit
                return ax
            if o == 1:
                return replace(ax, field=WHOLE_INPUT)
            if i % o == 0:
                return replace(ax, field=field_after(ax.field, i // o, i // o, 0))
            return replace(ax, field=None)  # overlapping windows of varying size: no single field

        return x.with_fields(adaptive)
    kernel = pool_kernel(op, g.constants, n)
    strides = _per_axis(a.get("strides", kernel), n)
    pads = axis_paddings(a.get("paddings"), a.get("padding_algorithm"), n)
    return _window(x, dims, [in_shape[d] for d in dims], kernel, strides, pads, [1] * n)


def elementwise_handler(op: OpNode, states: list, g: GraphView, misaligned: list | None = None):
    """Pass-through or merge: activations, BatchNorm (eval), residual add, SE-style multiply."""
    parts = [(s, _rank(g, v)) for s, v in zip(states, op.inputs) if s is not None]
    if not parts:
        return None
    return _merge(parts, _rank(g, op.outputs[0]), f"op #{op.index} {op.name}", [] if misaligned is None else misaligned)


def layer_norm_handler(op: OpNode, states: list, g: GraphView):
    """LayerNorm normalises over the dims from ``begin_norm_axis`` on: those axes see the whole input."""
    x = states[0]
    if x is None:
        return None
    rank = _rank(g, op.inputs[0])
    begin = int(op.attrs.get("begin_norm_axis", 1)) % rank
    return _whole_at(x, range(begin, rank))


def group_norm_handler(op: OpNode, states: list, g: GraphView):
    """GroupNorm's statistics span a group of channels and every spatial position: all axes whole."""
    x = states[0]
    return None if x is None else _whole_at(x, range(1, _rank(g, op.inputs[0])))


def instance_norm_handler(op: OpNode, states: list, g: GraphView):
    """InstanceNorm's statistics span every spatial position of one channel."""
    x = states[0]
    if x is None:
        return None
    rank = _rank(g, op.inputs[0])
    return _whole_at(x, spatial_dims(rank, op.attrs.get("data_format")))


def softmax_handler(op: OpNode, states: list, g: GraphView):
    """Softmax along a dimension: each output divides by a sum over that whole dimension."""
    x = states[0]
    if x is None:
        return None
    rank = _rank(g, op.inputs[0])
    return _whole_at(x, [int(op.attrs.get("axis", -1)) % rank]) if rank else x


def reduce_handler(op: OpNode, states: list, g: GraphView):
    """mean/sum/max/... over some dims: those axes see the whole input; without keepdim they leave the shape."""
    x = states[0]
    if x is None:
        return None
    rank = _rank(g, op.inputs[0])
    axes = g.constants.get(op.inputs[1]) if len(op.inputs) > 1 else None
    if axes is None:
        axes = op.attrs.get("axis", op.attrs.get("dims"))
    reduced = {d % rank for d in _int_list(axes)} if rank else set()
    if not reduced or op.attrs.get("reduce_all") or op.attrs.get("flatten"):
        reduced = set(range(rank))
    out_rank = _rank(g, op.outputs[0])
    y = _whole_at(x, reduced)
    if out_rank == rank:
        return y
    return y.with_fields(
        lambda a: a if a.dim is None else replace(
            a, dim=None if a.dim in reduced else a.dim - sum(1 for d in reduced if d < a.dim)))


def combine_handler(op: OpNode, states: list, g: GraphView):
    return tuple(states)


def concat_handler(op: OpNode, states: list, g: GraphView, misaligned: list | None = None):
    """Concat (or add_n) of a combined list: along a spatial axis that axis becomes unknown, else a merge."""
    bundle = states[0]
    if not isinstance(bundle, tuple):
        return bundle
    rank = _rank(g, op.outputs[0])
    key = op_key(op.name)
    parts = [(s, rank) for s in bundle if s is not None]
    if not parts:
        return None
    merged = _merge(parts, rank, f"op #{op.index} {op.name}", [] if misaligned is None else misaligned)
    if key == "concat":
        axis = g.constants.get(op.inputs[1]) if len(op.inputs) > 1 else 0
        axis = _int_list(axis)[0] % rank if _int_list(axis) and rank else 0
        return merged.with_fields(lambda a: replace(a, field=None) if a.dim == axis and a.field else a)
    return merged


def split_handler(op: OpNode, states: list, g: GraphView):
    """Split along a dimension holding a spatial axis: that axis is unknown (pieces sit at different offsets)."""
    x = states[0]
    if x is None:
        return None
    rank = _rank(g, op.inputs[0])
    axis = _int_list(g.constants.get(op.inputs[-1]))
    if not axis or not rank:
        return x
    d = axis[0] % rank
    return x.with_fields(lambda a: replace(a, field=None) if a.dim == d and a.field else a)


def unpack_handler(op: OpNode, states: list, g: GraphView):
    return states[0] if states else None


def reshape_handler(op: OpNode, states: list, g: GraphView):
    """Reshape/flatten/squeeze/unsqueeze: axes follow their dimension; merged or split axes become whole."""
    x = states[0]
    if x is None:
        return None
    return _reshaped(x, g.shapes.get(op.inputs[0], ()), g.shapes.get(op.outputs[0], ()))


def transpose_handler(op: OpNode, states: list, g: GraphView):
    x = states[0]
    if x is None:
        return None
    perm = [int(p) for p in op.attrs.get("perm") or []]
    if not perm:
        return x.unknown()
    rank = len(perm)
    perm = [p % rank for p in perm]
    return x.with_fields(lambda a: a if a.dim is None else replace(a, dim=perm.index(a.dim)))


def matmul_handler(op: OpNode, states: list, g: GraphView, misaligned: list | None = None):
    """``x @ y``: the contracted dimension's axes see the whole input; x's rows and y's columns move."""
    a = op.attrs
    out_rank = _rank(g, op.outputs[0])
    parts = []
    for pos, (s, vid) in enumerate(zip(states[:2], op.inputs[:2])):
        if s is None:
            continue
        rank = _rank(g, vid)
        if rank < 2 or out_rank < 2:
            return _whole_at(s, range(rank)).with_fields(lambda ax: replace(ax, dim=None))
        transposed = a.get("transpose_x" if pos == 0 else "transpose_y", False)
        contracted = (rank - 2 if transposed else rank - 1) if pos == 0 else (rank - 1 if transposed else rank - 2)
        kept = rank - 1 if contracted == rank - 2 else rank - 2
        lands = out_rank - 2 if pos == 0 else out_rank - 1
        s = _whole_at(s, [contracted])

        def move(ax: AxisField, contracted=contracted, kept=kept, lands=lands, rank=rank) -> AxisField:
            if ax.dim is None:
                return ax
            if ax.dim == contracted:
                return replace(ax, dim=None)
            if ax.dim == kept:
                return replace(ax, dim=lands)
            return replace(ax, dim=ax.dim - rank + out_rank)  # batch dims, aligned from the right

        parts.append((s.with_fields(move), out_rank))
    if not parts:
        return None
    return _merge(parts, out_rank, f"op #{op.index} {op.name}", [] if misaligned is None else misaligned)


def pad_handler(op: OpNode, states: list, g: GraphView):
    """``pad3d`` (F.pad on 3-D to 5-D tensors): zero padding before shifts the start, like a 1-wide window."""
    x = states[0]
    if x is None:
        return None
    in_shape = g.shapes[op.inputs[0]]
    pads = g.constants.get(op.inputs[1]) if len(op.inputs) > 1 else op.attrs.get("paddings")
    pads = _int_list(pads)
    if len(pads) != 6 or str(op.attrs.get("mode", "constant")) != "constant":
        return x.unknown()
    dims = spatial_dims(len(in_shape), op.attrs.get("data_format"))  # always three: D, H, W
    before = {dims[-1]: pads[0], dims[-2]: pads[2], dims[-3]: pads[4]}  # left/right, top/bottom, front/back
    return x.with_fields(lambda a: a if a.dim not in before or a.field is None else replace(
        a, field=_shifted(a.field, before[a.dim])))


def _shifted(f: Field, pad: int) -> Field:
    return f if f.whole else Field(f.size, f.jump, f.start - pad * f.jump)


def _unknown(op: OpNode, states: list, g: GraphView):
    live = [s for x in states for s in (x if isinstance(x, tuple) else (x,)) if isinstance(s, Spatial)]
    if not live:
        return None
    ranks = {_rank(g, v) for v in op.inputs[:1] + op.outputs[:1]}
    if len(ranks) > 1:  # the op changes the rank (F.unfold): where the axes went is unknown too
        return live[0].with_fields(lambda a: replace(a, field=None, dim=None))
    return live[0].unknown()


def transposed_conv_handler(op: OpNode, states: list, g: GraphView):
    """Conv1D/2D/3DTranspose: per axis :func:`convcalc.formulas.transposed_field` (exact per position)."""
    from convcalc.rules.ops import transpose_padding_before

    x = states[0]
    if x is None:
        return None
    a = op.attrs
    in_shape, out_shape, wshape = g.shapes[op.inputs[0]], g.shapes[op.outputs[0]], g.shapes[op.inputs[1]]
    dims = spatial_dims(len(in_shape), a.get("data_format"))
    n = len(dims)
    kernel = list(wshape[2:2 + n])
    strides, dil = _per_axis(a.get("strides", 1), n), _per_axis(a.get("dilations", 1), n)
    algorithm = str(a.get("padding_algorithm", "EXPLICIT")).upper()
    if algorithm in ("SAME", "VALID"):
        before = transpose_padding_before([in_shape[d] for d in dims], [out_shape[d] for d in dims], kernel,
                                          strides, dil, algorithm)
    else:
        before = [p if not isinstance(p, tuple) else p[0] for p in axis_paddings(a.get("paddings"), None, n)]

    def step(ax: AxisField) -> AxisField:
        if ax.dim not in dims or ax.field is None:
            return ax
        i = dims.index(ax.dim)
        try:
            return replace(ax, field=transposed_field(ax.field, kernel[i], strides[i], int(before[i]), dil[i]))
        except ValueError as err:
            raise FieldUnknown(f"transposed convolution on {ax.axis}: {err}") from None

    return x.with_fields(step)


def interpolate_handler(op: OpNode, states: list, g: GraphView):
    """``F.interpolate``/``nn.Upsample`` (nearest, linear, bilinear, trilinear, bicubic), as Paddle's kernels
    map output to input: exact per position away from the borders (:func:`convcalc.formulas.resampled_field`)."""
    x = states[0]
    if x is None:
        return None
    a = op.attrs
    in_shape, out_shape = g.shapes[op.inputs[0]], g.shapes[op.outputs[0]]
    dims = spatial_dims(len(in_shape), a.get("data_format"))
    mode = INTERP_OPS[op_key(op.name)]
    corners = bool(a.get("align_corners", False))
    scales = [float(v) for v in (a.get("scale") or [])]
    half_pixel = mode != "nearest" and not corners and int(a.get("align_mode", 0)) == 0

    def step(ax: AxisField) -> AxisField:
        if ax.dim not in dims or ax.field is None:
            return ax
        i = dims.index(ax.dim)
        m, o = int(in_shape[ax.dim]), int(out_shape[ax.dim])
        if corners:
            ratio = Fraction(m - 1, o - 1) if o > 1 else Fraction(0)
        elif i < len(scales) and scales[i] > 0:
            ratio = 1 / Fraction(str(scales[i]))
        else:
            ratio = Fraction(m, o)
        offset = (ratio - 1) / 2 if half_pixel else Fraction(0)
        try:
            taps = lambda src: interpolation_taps(mode, src)  # noqa: E731
            return replace(ax, field=resampled_field(ax.field, ratio, offset, taps))
        except ValueError as err:
            raise FieldUnknown(f"{mode} interpolation {m}->{o} on {ax.axis}: {err}") from None

    return x.with_fields(step)


def _lost_axes(before, after) -> list[AxisField]:
    """Axes whose field an op made unknown (listed with the op, so a '?' always has its reason)."""
    if not isinstance(before, Spatial) or not isinstance(after, Spatial):
        return []
    known = {a.axis for a in before.axes if a.field is not None}
    return [a for a in after.axes if a.field is None and a.axis in known and a.dim is not None]


HANDLERS: dict[str, Handler] = {
    "conv2d": conv_handler,
    "depthwise_conv2d": conv_handler,
    "conv3d": conv_handler,
    "conv2d_transpose": transposed_conv_handler,
    "conv3d_transpose": transposed_conv_handler,
    "depthwise_conv2d_transpose": transposed_conv_handler,
    "pool2d": pool_handler,
    "pool3d": pool_handler,
    "max_pool2d_with_index": pool_handler,
    "max_pool3d_with_index": pool_handler,
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
    "matmul": matmul_handler,
    "layer_norm": layer_norm_handler,
    "group_norm": group_norm_handler,
    "instance_norm": instance_norm_handler,
    "softmax": softmax_handler,
    "log_softmax": softmax_handler,
    "pad3d": pad_handler,
}
for _name in ("mean", "sum", "max", "min", "prod", "amax", "amin", "logsumexp", "all", "any", "argmax", "argmin",
              "p_norm", "norm"):
    HANDLERS[_name] = reduce_handler
for _name in INTERP_OPS:
    HANDLERS[_name] = interpolate_handler
for _name in ELEMENTWISE_OPS:
    HANDLERS.setdefault(_name, elementwise_handler)

_MERGING = {elementwise_handler, concat_handler, matmul_handler}


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
            spatial = _spatial_of(op, ins[0], graph)
        handler = HANDLERS.get(key)
        if handler is None:
            result.unsupported_ops.append(op.name)
            handler = _unknown
        if handler in _MERGING:
            out = handler(op, ins, graph, result.misaligned)  # type: ignore[call-arg]
        else:
            try:
                out = handler(op, ins, graph)
            except FieldUnknown as err:
                result.unsupported_ops.append(f"op #{op.index} {op.name} ({err})")
                out = _unknown(op, ins, graph)
            else:
                if op.attrs.get("adaptive"):  # a '?' after adaptive pooling: say which sizes and axes
                    for ax in _lost_axes(ins[0] if ins else None, out):
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
            states[vid] = Spatial(tuple(replace(a, axis=names[a.axis]) for a in kept))
    return result


def input_axes(trace) -> dict[str, int]:
    """A trace's input spatial axes and their dims (``{"H": 1, "W": 2}`` for NHWC), as :func:`propagate` finds."""
    return propagate(GraphView(trace.ops, trace.shapes, trace.constants, trace.input_value)).input_dims
