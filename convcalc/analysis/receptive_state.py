"""What receptive-field propagation carries: a value's per-axis fields (:class:`Spatial`), the graph it walks,
and Paddle's op attributes read per spatial axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from math import prod

from convcalc.errors import MisalignedBranchesError
from convcalc.formulas import INPUT_FIELD, WHOLE_INPUT, Field, merge_fields
from convcalc.formulas.receptive import AxisField, blocked_field
from convcalc.trace.graph import OpNode

__all__ = ["Spatial", "FieldUnknown", "FieldMap", "GraphView", "Handler", "axis_names", "spatial_dims",
           "axis_paddings", "pool_kernel", "input_state", "INTERP_OPS", "TRANSPOSED_CONV_OPS", "LAYOUT_OPS", "mix"]


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

    def entries(self, name: str) -> list[AxisField]:
        """Where axis ``name`` sits: one entry, or several while a reshape keeps it split (see ``AxisField.part``)."""
        return [a for a in self.axes if a.axis == name]

    def names(self) -> list[str]:
        return list(dict.fromkeys(a.axis for a in self.axes))

    def set_field(self, name: str, field: Field | None) -> Spatial:
        """Axis ``name``'s field, on every entry of it."""
        return self.with_fields(lambda a: replace(a, field=field) if a.axis == name else a)

    def public(self) -> tuple[AxisField, ...]:
        """One entry per axis, as a report shows it: ``dim`` only where the axis fills one dimension."""
        out = []
        for name in self.names():
            found = self.entries(name)
            first = found[0]
            twice = any(_same_digit(a, b) and a.dim != b.dim and None not in (a.dim, b.dim)
                        for a in found for b in found if a is not b)
            field = None if twice and first.field is not None and not first.field.whole else first.field
            out.append(first if len(found) == 1 and first.part is None else AxisField(name, field, None))
        return tuple(out)


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


def per_axis(values, n: int, default: int = 1) -> list:
    values = list(values) if isinstance(values, (list, tuple)) else [values if values is not None else default]
    return values * n if len(values) == 1 else values


def int_list(value) -> list[int]:
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


def spatial_of(op: OpNode, state: Spatial, g: GraphView) -> list[str]:
    """The provisional axes a layout-aware op reads as spatial, in its order of dims."""
    dims = spatial_dims(rank_of(g, op.inputs[0]), op.attrs.get("data_format"))
    by_dim = {a.dim: a.axis for a in state.axes if a.dim is not None}
    return [by_dim[d] for d in dims if d in by_dim]


def whole_at(state: Spatial, dims: Iterable[int]) -> Spatial:
    """An op that mixes every value along ``dims`` (a norm, a softmax, a reduction, a contraction).

    An axis that fills one of them sees the whole input along it.  An axis a
    reshape split into (blocks, block) sees, if only its inner chunk is mixed
    (window attention, a patch MLP), the units of its own block
    (:func:`~convcalc.formulas.receptive.blocked_field`); if an outer chunk is
    mixed, units across the whole axis.
    """
    return mix(state, {d: None for d in dims})


def mix(state: Spatial, groups: dict[int, int | None], sizes: dict[int, int] | None = None) -> Spatial:
    """An op that mixes the values of each dim ``d`` in ``groups`` in aligned groups of ``groups[d]``
    consecutive elements (``None``: the whole dim; a grouped conv mixes its channels in groups of
    ``C/groups``; ``sizes``: the dims' sizes, needed for groups)."""
    out = state
    for name in state.names():
        hit = []
        for a in state.entries(name):
            if a.dim not in groups:
                continue
            full = (sizes or {}).get(a.dim, 0)
            us, count, inner, length = a.part or (1, full, 1, full)
            size = groups[a.dim]
            if size is None or inner * count <= size:
                hit.append(a)  # every unit of this entry is mixed with the others of its group
            elif inner < size:  # a group holds only some of this entry's units: no single field
                out = out.set_field(name, None)
                hit = []
                break
        if not hit:
            continue
        field = hit[0].field
        inner_chunks = [a.part for a in hit if a.part is not None and a.part[0] == 1 and a.part[1] < a.part[3]]
        if len(inner_chunks) < len(hit):  # the axis itself, or an outer chunk of it: units across the whole axis
            field = WHOLE_INPUT
        elif field is not None and not field.whole:
            try:
                field = blocked_field(field, max(p[1] for p in inner_chunks))
            except ValueError:
                field = None
        # a position a unit depended on twice (q @ k^T) and that is now mixed away is one dependence less
        twice = [a for a in hit if any(b not in hit and b.dim != a.dim and _same_digit(a, b)
                                       for b in out.entries(name))]
        kept = tuple(a for a in out.axes if not any(a == t for t in twice))
        out = Spatial(kept).set_field(name, field)
    return out


def _same_digit(a: AxisField, b: AxisField) -> bool:
    """Two entries holding the same units of one axis (the axis sits twice: one value per pair of positions)."""
    pa = a.part or (1, None, 1, None)
    pb = b.part or (1, None, 1, None)
    return a.axis == b.axis and pa[0] == pb[0] and (pa[1] == pb[1] or None in (pa[1], pb[1]))


def rank_of(g: GraphView, vid: str) -> int:
    return len(g.shapes.get(vid, ()))


def merge_states(parts: Sequence[tuple[Spatial, int]], out_rank: int, where: str, misaligned: list) -> Spatial:
    """Axis-by-axis merge of broadcast operands ``(state, rank)``: dims aligned from the right.

    An axis that sits in different dims in the operands (the two token positions of ``q @ k^T``) keeps an
    entry for each: a unit then depends on two positions (no single field, shown unknown, see
    :meth:`Spatial.public`) until an op mixes one of them (the softmax over the keys).
    """
    if len(parts) == 1 and parts[0][1] == out_rank:
        return parts[0][0]
    merged: list[AxisField] = []
    bad: dict[str, str] = {}
    for name in parts[0][0].names():
        placed = [AxisField(a.axis, a.field, None if a.dim is None else out_rank + a.dim - r, a.part)
                  for s, r in parts for a in s.entries(name)]
        fields = [a.field for a in placed]
        entries = list(dict.fromkeys(AxisField(a.axis, None, a.dim, a.part) for a in placed))
        # a position one operand contracted away (dim None) is the same units another operand still holds
        entries = [e for e in entries if e.dim is not None
                   or not any(o.dim is not None and _same_digit(e, o) for o in entries)] or entries[:1]
        if any(f is None for f in fields):
            field = None
        else:
            try:
                field = merge_fields(fields)
            except MisalignedBranchesError as err:
                bad[name] = str(err)
                field = None
        merged.extend(AxisField(a.axis, field, a.dim, a.part) for a in entries)
    if bad:
        misaligned.append(f"{where} ({', '.join(bad)}): {next(iter(bad.values()))}")
    return Spatial(tuple(merged))


def reshaped(state: Spatial, before: Sequence[int], after: Sequence[int]) -> Spatial:
    """Follow each axis through a reshape (or flatten, squeeze, unsqueeze) by where its units sit in memory.

    Each axis is a digit of the flat index: ``count`` units, one step every ``inner`` elements of its dim.
    A reshape regroups the digits: an axis folded into the batch (``[B*H, C, W]``) or split into
    (blocks, block) (Swin's windows, a patch MLP) keeps its field, with its entries where the new shape puts
    them (:attr:`AxisField.part`), and comes back whole when the reshape merges them again.  An axis whose
    units would straddle a new dim boundary that does not divide them is unknown.  A one-unit axis whose dim
    is squeezed away counts as merged (the book's LeNet squeezes its 1x1 map before the Linear layers: they
    see the whole input); Conv1D's own unsqueeze/squeeze dim carries no axis.
    """
    before, after = [int(d) for d in before], [int(d) for d in after]
    if before == after:
        return state
    below_b = [prod(before[d + 1:]) for d in range(len(before))]
    below_a = [prod(after[d + 1:]) for d in range(len(after))]
    taken: set[int] = set()
    out: list[AxisField] = []
    for a in state.axes:
        if a.dim is None or a.dim >= len(before):
            out.append(a)
            continue
        us, count, inner, length = a.part or (1, before[a.dim], 1, before[a.dim])
        if count == 1:
            t = _one_unit_target(a.dim, before, after, taken)
            if t is None:
                out.append(AxisField(a.axis, WHOLE_INPUT if a.field is not None else None, None))
            else:
                taken.add(t)
                out.append(replace(a, dim=t, part=None if a.part is None else (us, 1, 1, length)))
            continue
        placed = _place_digit(inner * below_b[a.dim], count, us, after, below_a)
        if placed is None:
            out.extend(replace(b, field=None, dim=None, part=None) for b in [a])
            continue
        out.extend(AxisField(a.axis, a.field, d, (u, c, i, length)) for d, u, c, i in placed)
    return Spatial(tuple(_joined(out, after)))


def _one_unit_target(d: int, before, after, taken) -> int | None:
    """Where a one-unit dim goes: a size-1 dim of ``after`` with as many elements and size-1 dims before it."""
    pre = prod(before[:d])
    ones_before = sum(1 for k in range(d) if before[k] == 1 and prod(before[:k]) == pre)
    for j in range(len(after)):
        if j not in taken and after[j] == 1 and prod(after[:j]) == pre and \
                sum(1 for k in range(j) if after[k] == 1 and prod(after[:k]) == pre) == ones_before:
            return j
    return None


def _place_digit(flat: int, count: int, us: int, after, below) -> list[tuple[int, int, int, int]] | None:
    """``(dim, unit_stride, count, inner)`` pieces of a digit of ``count`` units ``flat`` elements apart."""
    pieces = []
    while count > 1:
        d = next((k for k in range(len(after)) if after[k] > 1 and below[k] <= flat < below[k] * after[k]), None)
        if d is None or flat % below[d]:
            return None
        inner = flat // below[d]
        room = after[d] // inner  # units of this digit the dim can hold
        if after[d] % inner:
            return None
        if room >= count:
            if room % count:
                return None
            pieces.append((d, us, count, inner))
            break
        if count % room:
            return None
        pieces.append((d, us, room, inner))
        flat, count, us = flat * room, count // room, us * room
    return pieces


def _joined(axes: list[AxisField], shape: Sequence[int]) -> list[AxisField]:
    """Adjacent pieces of one axis in one dim back as one entry; an axis that fills its dim alone, plain."""
    out: list[AxisField] = []
    for a in axes:
        prev = out[-1] if out else None
        if (prev is not None and a.part is not None and prev.part is not None and prev.axis == a.axis
                and prev.dim == a.dim and a.dim is not None
                and a.part[0] == prev.part[0] * prev.part[1] and a.part[2] == prev.part[2] * prev.part[1]):
            out[-1] = replace(prev, part=(prev.part[0], prev.part[1] * a.part[1], prev.part[2], prev.part[3]))
            continue
        if (prev is not None and a.part is not None and prev.part is not None and prev.axis == a.axis
                and prev.dim == a.dim and a.dim is not None
                and prev.part[0] == a.part[0] * a.part[1] and prev.part[2] == a.part[2] * a.part[1]):
            out[-1] = replace(prev, part=(a.part[0], prev.part[1] * a.part[1], a.part[2], prev.part[3]))
            continue
        out.append(a)
    plain = []
    for a in out:
        if (a.part is not None and a.dim is not None and a.part[0] == 1 and a.part[1] == a.part[3]
                and a.part[2] == 1 and a.part[1] == int(shape[a.dim])):
            a = replace(a, part=None)
        plain.append(a)
    return plain
