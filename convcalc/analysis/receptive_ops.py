"""One small handler per op kind: how an op changes the per-axis fields of the values it reads."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from convcalc.analysis.receptive_state import (
    CHANNEL_LAST,
    INTERP_OPS,
    FieldUnknown,
    GraphView,
    Handler,
    Spatial,
    axis_paddings,
    int_list,
    merge_states,
    mix,
    per_axis,
    pool_kernel,
    rank_of,
    reshaped,
    spatial_dims,
    whole_at,
)
from convcalc.formulas import WHOLE_INPUT, Field, field_after, resolve_padding
from convcalc.formulas.receptive import AxisField, interpolation_taps, resampled_field, transposed_field
from convcalc.trace.graph import OpNode
from convcalc.trace.op_names import ELEMENTWISE_OPS, op_key

__all__ = ["HANDLERS", "MERGING", "SIZE_FREE", "unknown_handler", "lost_axes"]


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
    strides, dil = per_axis(a.get("strides", 1), n), per_axis(a.get("dilations", 1), n)
    if str(a.get("padding_algorithm", "")).upper() == "SAME":
        dil = [1] * n  # Paddle resets the dilation under 'SAME' (see formulas.effective_dilation)
    pads = axis_paddings(a.get("paddings"), a.get("padding_algorithm"), n)
    # every output value reads the input channels of its group: an axis folded into the channels is mixed
    channel = len(in_shape) - 1 if str(a.get("data_format", "NCHW")).upper() in CHANNEL_LAST else 1
    groups = max(int(a.get("groups", 1) or 1), 1)
    x = mix(x, {channel: None if groups == 1 else in_shape[channel] // groups}, {channel: in_shape[channel]})
    x = x.with_fields(lambda ax: AxisField(ax.axis, ax.field) if ax.dim == channel else ax)
    return _window(x, dims, [in_shape[d] for d in dims], kernel, strides, pads, dil)


def _along(dims):
    """A step of a per-axis handler: an axis split or folded in one of ``dims`` (a reshape made it share the dim)
    has no single field under a sliding window."""
    def guard(step):
        def wrapped(ax: AxisField) -> AxisField:
            if ax.dim in dims and ax.part is not None and ax.field is not None:
                return replace(ax, field=None)
            return step(ax)

        return wrapped

    return guard


def _window(x: Spatial, dims, sizes, kernel, strides, pads, dil) -> Spatial:
    @_along(dims)
    def step(ax: AxisField) -> AxisField:
        if ax.dim not in dims or ax.field is None:
            return ax
        i = dims.index(ax.dim)
        before = resolve_padding(pads[i], sizes[i], kernel[i], strides[i], dil[i])[0]
        return AxisField(ax.axis, field_after(ax.field, kernel[i], strides[i], int(before), dil[i]), ax.dim, ax.part)

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
        return whole_at(x, dims)
    if a.get("adaptive"):
        @_along(dims)
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
    strides = per_axis(a.get("strides", kernel), n)
    pads = axis_paddings(a.get("paddings"), a.get("padding_algorithm"), n)
    return _window(x, dims, [in_shape[d] for d in dims], kernel, strides, pads, [1] * n)


def elementwise_handler(op: OpNode, states: list, g: GraphView, misaligned: list | None = None):
    """Pass-through or merge: activations, BatchNorm (eval), residual add, SE-style multiply."""
    parts = [(s, rank_of(g, v)) for s, v in zip(states, op.inputs) if s is not None]
    if not parts:
        return None
    where = f"op #{op.index} {op.name}"
    return merge_states(parts, rank_of(g, op.outputs[0]), where, [] if misaligned is None else misaligned)


def layer_norm_handler(op: OpNode, states: list, g: GraphView):
    """LayerNorm normalises over the dims from ``begin_norm_axis`` on: those axes see the whole input."""
    x = states[0]
    if x is None:
        return None
    rank = rank_of(g, op.inputs[0])
    begin = int(op.attrs.get("begin_norm_axis", 1)) % rank
    return whole_at(x, range(begin, rank))


def group_norm_handler(op: OpNode, states: list, g: GraphView):
    """GroupNorm's statistics span a group of channels and every spatial position: all axes whole."""
    x = states[0]
    return None if x is None else whole_at(x, range(1, rank_of(g, op.inputs[0])))


def instance_norm_handler(op: OpNode, states: list, g: GraphView):
    """InstanceNorm's statistics span every spatial position of one channel."""
    x = states[0]
    if x is None:
        return None
    rank = rank_of(g, op.inputs[0])
    return whole_at(x, spatial_dims(rank, op.attrs.get("data_format")))


def softmax_handler(op: OpNode, states: list, g: GraphView):
    """Softmax along a dimension: each output divides by a sum over that whole dimension."""
    x = states[0]
    if x is None:
        return None
    rank = rank_of(g, op.inputs[0])
    return whole_at(x, [int(op.attrs.get("axis", -1)) % rank]) if rank else x


def reduce_handler(op: OpNode, states: list, g: GraphView):
    """mean/sum/max/... over some dims: those axes see the whole input; without keepdim they leave the shape."""
    x = states[0]
    if x is None:
        return None
    rank = rank_of(g, op.inputs[0])
    axes = g.constants.get(op.inputs[1]) if len(op.inputs) > 1 else None
    if axes is None:
        axes = op.attrs.get("axis", op.attrs.get("dims"))
    reduced = {d % rank for d in int_list(axes)} if rank else set()
    if not reduced or op.attrs.get("reduce_all") or op.attrs.get("flatten"):
        reduced = set(range(rank))
    out_rank = rank_of(g, op.outputs[0])
    y = whole_at(x, reduced)
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
    rank = rank_of(g, op.outputs[0])
    key = op_key(op.name)
    parts = [(s, rank) for s in bundle if s is not None]
    if not parts:
        return None
    merged = merge_states(parts, rank, f"op #{op.index} {op.name}", [] if misaligned is None else misaligned)
    if key == "concat":
        axis = g.constants.get(op.inputs[1]) if len(op.inputs) > 1 else 0
        axis = int_list(axis)[0] % rank if int_list(axis) and rank else 0
        return merged.with_fields(lambda a: replace(a, field=None) if a.dim == axis and a.field else a)
    return merged


def split_handler(op: OpNode, states: list, g: GraphView):
    """Split along a dimension holding a spatial axis: that axis is unknown (pieces sit at different offsets)."""
    x = states[0]
    if x is None:
        return None
    rank = rank_of(g, op.inputs[0])
    axis = int_list(g.constants.get(op.inputs[-1]))
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
    return reshaped(x, g.shapes.get(op.inputs[0], ()), g.shapes.get(op.outputs[0], ()))


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
    """``x @ y``: the contracted dimension's axes see the whole input; x's rows and y's columns move.

    A chunk of an axis (a patch, a window) contracted with a weight that returns as many values (an MLP over
    the patch, ``nn.Linear(4, 4)``) sits where the outputs are: a reshape can turn them back into positions,
    each of which has seen its patch.
    """
    a = op.attrs
    out_rank = rank_of(g, op.outputs[0])
    out_shape = g.shapes.get(op.outputs[0], ())
    alone = sum(1 for st in states[:2] if st is not None) == 1
    parts = []
    for pos, (s, vid) in enumerate(zip(states[:2], op.inputs[:2])):
        if s is None:
            continue
        rank = rank_of(g, vid)
        if rank < 2 or out_rank < 2:
            return whole_at(s, range(rank)).with_fields(lambda ax: replace(ax, dim=None))
        transposed = a.get("transpose_x" if pos == 0 else "transpose_y", False)
        contracted = (rank - 2 if transposed else rank - 1) if pos == 0 else (rank - 1 if transposed else rank - 2)
        kept = rank - 1 if contracted == rank - 2 else rank - 2
        lands = out_rank - 2 if pos == 0 else out_rank - 1
        other = out_rank - 1 if pos == 0 else out_rank - 2  # where the weight's own outputs land
        size = g.shapes.get(vid, ())[contracted] if len(g.shapes.get(vid, ())) > contracted else None
        returns = alone and len(out_shape) == out_rank and size is not None and int(out_shape[other]) == int(size)
        s = whole_at(s, [contracted])

        def move(ax: AxisField, contracted=contracted, kept=kept, lands=lands, rank=rank, other=other,
                 returns=returns) -> AxisField:
            if ax.dim is None:
                return ax
            if ax.dim == contracted:
                return replace(ax, dim=other) if returns and ax.part is not None else replace(ax, dim=None)
            if ax.dim == kept:
                return replace(ax, dim=lands)
            return replace(ax, dim=ax.dim - rank + out_rank)  # batch dims, aligned from the right

        parts.append((s.with_fields(move), out_rank))
    if not parts:
        return None
    return merge_states(parts, out_rank, f"op #{op.index} {op.name}", [] if misaligned is None else misaligned)


def pad_handler(op: OpNode, states: list, g: GraphView):
    """``pad3d`` (F.pad on 3-D to 5-D tensors): zero padding before shifts the start, like a 1-wide window."""
    x = states[0]
    if x is None:
        return None
    in_shape = g.shapes[op.inputs[0]]
    pads = g.constants.get(op.inputs[1]) if len(op.inputs) > 1 else op.attrs.get("paddings")
    pads = int_list(pads)
    if len(pads) != 6 or str(op.attrs.get("mode", "constant")) != "constant":
        return x.unknown()
    dims = spatial_dims(len(in_shape), op.attrs.get("data_format"))  # always three: D, H, W
    before = {dims[-1]: pads[0], dims[-2]: pads[2], dims[-3]: pads[4]}  # left/right, top/bottom, front/back
    return x.with_fields(_along(list(before))(lambda a: a if a.dim not in before or a.field is None else replace(
        a, field=_shifted(a.field, before[a.dim]))))


def _shifted(f: Field, pad: int) -> Field:
    return f if f.whole else Field(f.size, f.jump, f.start - pad * f.jump)


def unknown_handler(op: OpNode, states: list, g: GraphView):
    live = [s for x in states for s in (x if isinstance(x, tuple) else (x,)) if isinstance(s, Spatial)]
    if not live:
        return None
    ranks = {rank_of(g, v) for v in op.inputs[:1] + op.outputs[:1]}
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
    strides, dil = per_axis(a.get("strides", 1), n), per_axis(a.get("dilations", 1), n)
    algorithm = str(a.get("padding_algorithm", "EXPLICIT")).upper()
    if algorithm in ("SAME", "VALID"):
        before = transpose_padding_before([in_shape[d] for d in dims], [out_shape[d] for d in dims], kernel,
                                          strides, dil, algorithm)
    else:
        before = [p if not isinstance(p, tuple) else p[0] for p in axis_paddings(a.get("paddings"), None, n)]

    @_along(dims)
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

    @_along(dims)
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


def slice_handler(op: OpNode, states: list, g: GraphView):
    """``x[:, 1:]``, ``qkv[0]``: a dim cut to fewer units (or indexed away) holding an axis makes it unknown
    (a crop shifts the field); the other axes keep their fields, dims indexed away drop out of the shape."""
    x = states[0]
    if x is None:
        return None
    in_shape, out_shape = g.shapes.get(op.inputs[0], ()), g.shapes.get(op.outputs[0], ())
    rank = len(in_shape)
    if not rank:
        return x
    cut = {int(d) % rank for d in op.attrs.get("axes") or []}
    gone = sorted({int(d) % rank for d in op.attrs.get("decrease_axis") or []})
    if len(out_shape) != rank - len(gone):
        return x.unknown()

    def step(a: AxisField) -> AxisField:
        if a.dim is None:
            return a
        if a.dim in gone:
            return replace(a, field=None if a.field is not None and not a.field.whole else a.field, dim=None, part=None)
        dim = a.dim - sum(1 for d in gone if d < a.dim)
        changed = a.dim in cut and int(out_shape[dim]) != int(in_shape[a.dim])
        return replace(a, dim=dim, field=None if changed and a.field is not None and not a.field.whole else a.field)

    return x.with_fields(step)


def pixel_shuffle_handler(op: OpNode, states: list, g: GraphView):
    """PixelShuffle(r): output (h, w) copies input (h // r, w // r) of one of r*r channels: on H and W the field
    of nearest upsampling by r.  PixelUnshuffle(r) gathers each r x r block into channels: a window r,
    stride r.  Axes folded into the channels are unknown."""
    x = states[0]
    if x is None:
        return None
    in_shape, out_shape = g.shapes[op.inputs[0]], g.shapes[op.outputs[0]]
    dims = spatial_dims(len(in_shape), op.attrs.get("data_format"))
    channel = len(in_shape) - 1 if str(op.attrs.get("data_format", "NCHW")).upper() in CHANNEL_LAST else 1
    x = x.with_fields(lambda a: replace(a, field=None) if a.dim == channel and a.field is not None else a)

    @_along(dims)
    def step(ax: AxisField) -> AxisField:
        if ax.dim not in dims or ax.field is None:
            return ax
        m, o = int(in_shape[ax.dim]), int(out_shape[ax.dim])
        if o >= m:  # shuffle: r = o / m
            return replace(ax, field=resampled_field(ax.field, Fraction(m, o), Fraction(0),
                                                     lambda src: interpolation_taps("nearest", src)))
        r = m // o
        return replace(ax, field=field_after(ax.field, r, r, 0))

    return x.with_fields(step)


def channel_shuffle_handler(op: OpNode, states: list, g: GraphView):
    """ChannelShuffle permutes channels: no spatial field changes (an axis folded into the channels: unknown)."""
    x = states[0]
    if x is None:
        return None
    in_shape = g.shapes[op.inputs[0]]
    channel = len(in_shape) - 1 if str(op.attrs.get("data_format", "NCHW")).upper() in CHANNEL_LAST else 1
    return x.with_fields(lambda a: replace(a, field=None) if a.dim == channel and a.field is not None else a)


def lost_axes(before, after) -> list[AxisField]:
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
    "slice": slice_handler,
    "strided_slice": slice_handler,
    "pixel_shuffle": pixel_shuffle_handler,
    "pixel_unshuffle": pixel_shuffle_handler,
    "channel_shuffle": channel_shuffle_handler,
}
for _name in ("mean", "sum", "max", "min", "prod", "amax", "amin", "logsumexp", "all", "any", "argmax", "argmin",
              "p_norm", "norm"):
    HANDLERS[_name] = reduce_handler
for _name in INTERP_OPS:
    HANDLERS[_name] = interpolate_handler
for _name in ELEMENTWISE_OPS:
    HANDLERS.setdefault(_name, elementwise_handler)


MERGING = {elementwise_handler, concat_handler, matmul_handler}
SIZE_FREE = {elementwise_handler, combine_handler, unpack_handler}  # (read no size: an unknown one changes nothing)
