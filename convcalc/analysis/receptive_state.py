"""What receptive-field propagation carries: a value's per-axis fields (:class:`Spatial`), the graph it walks,
and Paddle's op attributes read per spatial axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from math import prod

from convcalc.errors import MisalignedBranchesError
from convcalc.formulas import INPUT_FIELD, WHOLE_INPUT, Field, merge_fields
from convcalc.formulas.receptive import AxisField
from convcalc.trace.graph import OpNode

__all__ = ["Spatial", "FieldUnknown", "FieldMap", "GraphView", "Handler", "axis_names", "spatial_dims",
           "axis_paddings", "pool_kernel", "input_state", "INTERP_OPS", "TRANSPOSED_CONV_OPS", "LAYOUT_OPS"]


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
    dims = set(dims)
    return state.with_fields(lambda a: replace(a, field=WHOLE_INPUT) if a.dim in dims and a.field else a)


def rank_of(g: GraphView, vid: str) -> int:
    return len(g.shapes.get(vid, ()))


def merge_states(parts: Sequence[tuple[Spatial, int]], out_rank: int, where: str, misaligned: list) -> Spatial:
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


def reshaped(state: Spatial, before: Sequence[int], after: Sequence[int]) -> Spatial:
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
