"""Receptive fields by gradient: convcalc's fields checked by a second, independent method.

In a copy of the model whose weights are positive constants (BatchNorm with
identity statistics, biases zero, input positive, so every ReLU passes and
nothing cancels), the input pixels with a non-zero gradient of one output unit
are exactly that unit's receptive field.  Their extent gives the size, the
centre the start, and the shift of the centre between two neighbouring units
the jump.  Max pooling routes the gradient to one pixel per window, so in the
copy every max pooling is replaced by average pooling of the same geometry
(kernel, stride, padding, ceil mode); the field is a property of the geometry
only.  The forward pass stops right after the layer being checked, so the input
can be larger than the model's head accepts (the book's LeNet squeezes).
float32 is enough: a gradient is a sum of positive path products (no
cancellation), the smallest, ``(1/9)**depth`` at a field's corner, stays far
above float32's underflow for these depths, and an underflow would show up as
a disagreement, never as a false agreement.

Plain data out (:class:`RFModelResult`); :mod:`convcalc.checks.validation` runs it
beside the zoo cross-check and :mod:`convcalc.render.validation` renders it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from convcalc.checks.workers import Progress
from convcalc.checks.workers import one_line as _one_line
from convcalc.checks.workers import quiet as _quiet

FIELD_CASES = ("rf_groupnorm", "rf_instancenorm", "rf_layernorm_chw", "rf_layernorm_w", "rf_softmax_w", "rf_mean_h",
               "rf_conv1d", "rf_conv1d_nlc", "rf_conv3d", "rf_nhwc_same", "rf_dilation", "rf_hwc_transposed",
               "rf_unet", "rf_fpn", "rf_conv1d_transpose", "rf_resize_modes", "rf_conv3d_transpose",
               "rf_window_attention", "rf_patch_mlp", "rf_row_fold", "rf_row_fold_batch2", "rf_axial", "rf_shuffles")
"""The ``fields`` corpus cases (convcalc.checks.corpus.fields): norms, softmax and reductions along one axis,
1-D and 3-D, channel-last with SAME padding, dilation, upsampling (transposed convs, interpolation); each a
second of gradients."""

RF_MODELS = ("book_lenet_vectorized", "two_branch", "book_resnet18", "resnet18", "mobilenet_v2", *FIELD_CASES)
RF_MODELS_FAST = ("book_lenet_vectorized", "two_branch", "book_resnet18", *FIELD_CASES)

@dataclass(frozen=True)
class FieldCheck:
    """convcalc's field of one layer beside the gradient-measured one, per axis (``axes``, e.g. H, W).

    Each axis entry is ``(size, jump, start)`` or ``"whole"`` (the unit sees the whole input along that axis:
    measured as a gradient that reaches both ends of the input on that axis).
    """

    model: str
    path: str
    kind: str
    occurrence: int
    input_size: tuple[int, ...]
    units: tuple[tuple[int, ...], tuple[int, ...]]
    ours: tuple
    measured: tuple | None
    note: str = ""
    axes: tuple[str, ...] = ("H", "W")

    def agrees(self, what: str) -> bool:
        """``what`` is ``"size"``, ``"jump"``, ``"start"`` or ``"positions"``; every axis must agree.

        After upsampling a field differs by position: ``size`` is then the largest, and an axis entry has a
        fourth element, the bounds of two periods of consecutive units relative to ``start + unit*jump``
        (``"positions"``; true when no axis has one).
        """
        if self.measured is None:
            return False
        i = ("size", "jump", "start", "positions").index(what)

        def part(f):
            return f if isinstance(f, str) else (f[i] if i < len(f) else None)

        return all(part(o) == part(m) for o, m in zip(self.ours, self.measured))

    @property
    def ok(self) -> bool:
        return self.measured is not None and all(self.agrees(w) for w in ("size", "jump", "start", "positions"))


@dataclass(frozen=True)
class RFModelResult:
    model: str
    checks: tuple[FieldCheck, ...]
    not_checked: tuple[str, ...] = ()  # layers with no numeric field (whole input, unknown), by path
    seconds: float = 0.0
    note: str = ""
    error: str = ""

    def count(self, what: str) -> int:
        return sum(c.agrees(what) for c in self.checks)

    @property
    def ok(self) -> bool:
        return not self.error and all(c.ok for c in self.checks)


# ------------------------------------------------------------------ receptive fields by gradient
def two_branch_model() -> Any:
    """A small hand-made network with a residual add and a concat whose branches differ in geometry.

    Branch A: 3x3/2 conv then a dilated 3x5 conv (start 0); branch B: 2x2/2
    max pool then a 9x1 conv (start 1/2, wider in height), merged by an add followed by an
    ``nn.ReLU`` layer (so the merged field is a layer's field); then a conv
    with a non-square kernel and stride, a concat of a conv and an avg pool,
    a depthwise conv and a 2x2/2 max pool.  Inputs: 3 channels, H and W
    multiples of 8.
    """
    import paddle
    from paddle import nn

    class TwoBranch(nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2D(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2D(8)
            self.relu = nn.ReLU()
            self.a1 = nn.Conv2D(8, 8, 3, stride=2, padding=1)
            self.a2 = nn.Conv2D(8, 8, (3, 5), padding=(2, 4), dilation=2)
            self.b1 = nn.MaxPool2D(2, stride=2)
            self.b2 = nn.Conv2D(8, 8, (9, 1), padding=(4, 0))
            self.merge = nn.ReLU()
            self.c = nn.Conv2D(8, 8, (5, 3), stride=(1, 2), padding=(2, 1))
            self.d1 = nn.Conv2D(8, 4, 3, padding=1)
            self.d2 = nn.AvgPool2D(3, stride=1, padding=1)
            self.joined = nn.ReLU6()
            self.dw = nn.Conv2D(12, 12, 3, stride=2, padding=1, groups=12)
            self.pool = nn.MaxPool2D(2, 2)

        def forward(self, x):
            x = self.relu(self.bn(self.stem(x)))
            a = self.a2(self.a1(x))
            b = self.b2(self.b1(x))
            x = self.merge(a + b)
            x = self.c(x)
            x = self.joined(paddle.concat([self.d1(x), self.d2(x)], axis=1))
            return self.pool(self.dw(x))

    model = TwoBranch()
    model.eval()
    return model


def _positive_copy(build: Callable[[], Any], dtype: str = "float32") -> Any:
    """A fresh model whose weights cannot cancel: positive constants, zero biases, identity BN."""
    import paddle
    from paddle import nn

    model = build()
    model.eval()
    model.to(dtype=dtype)
    # Norms that normalise over positions give values of either sign; a bias of 1 keeps a following ReLU open.
    shifted_norms = (nn.GroupNorm, nn.LayerNorm, nn.layer.norm._InstanceNormBase)
    with paddle.no_grad():
        for layer in model.sublayers(include_self=True):
            if isinstance(layer, shifted_norms):
                for attr, value in (("weight", 1.0), ("scale", 1.0), ("bias", 1.0)):
                    p = getattr(layer, attr, None)
                    if p is not None:
                        p.set_value(paddle.full(p.shape, value, dtype=p.dtype))
                continue
            if isinstance(layer, nn.layer.norm._BatchNormBase):
                for attr, value in (("weight", 1.0), ("bias", 0.0), ("_mean", 0.0), ("_variance", 1.0)):
                    p = getattr(layer, attr, None)
                    if p is not None:
                        p.set_value(paddle.full(p.shape, value, dtype=p.dtype))
                continue
            for pname, p in layer.named_parameters(include_sublayers=False):
                if "bias" in pname:
                    p.set_value(paddle.zeros(p.shape, dtype=p.dtype))
                elif len(p.shape) <= 1:  # norm scales (GroupNorm, LayerNorm, InstanceNorm): identity
                    p.set_value(paddle.ones(p.shape, dtype=p.dtype))
                else:
                    fan_in = 1
                    for d in p.shape[1:]:
                        fan_in *= int(d)
                    p.set_value(paddle.full(p.shape, 1.0 / fan_in, dtype=p.dtype))
    return model


@contextlib.contextmanager
def _max_as_avg_pooling() -> Iterator[None]:
    """Within the block, ``F.max_pool1d/2d/3d`` (and adaptive) compute average pooling of the same geometry."""
    import paddle.nn.functional as F

    names = ("max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
             "adaptive_max_pool3d")
    saved = {n: getattr(F, n) for n in names}

    def as_average(nd: str):
        avg = getattr(F, f"avg_pool{nd}")

        def max_pool(x, kernel_size, stride=None, padding=0, return_mask=False, ceil_mode=False,
                     data_format=None, name=None):
            if return_mask:
                raise NotImplementedError(f"max_pool{nd}(return_mask=True) in the gradient check")
            kwargs = {"data_format": data_format} if data_format else {}
            return avg(x, kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode, exclusive=True,
                       **kwargs)

        return max_pool

    def as_adaptive_average(nd: str):
        avg = getattr(F, f"adaptive_avg_pool{nd}")
        return lambda x, output_size, return_mask=False, name=None: avg(x, output_size)

    for nd in ("1d", "2d", "3d"):
        setattr(F, f"max_pool{nd}", as_average(nd))
        setattr(F, f"adaptive_max_pool{nd}", as_adaptive_average(nd))
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(F, n, fn)


class _Stop(Exception):
    """Raised by a forward hook once the deepest layer of interest has run."""


def _frac(x: Any) -> Fraction:
    return Fraction(str(x))


def _field_tuple(f) -> tuple:
    """(size, jump, start), plus, for a field that differs by position, the bounds relative to
    ``start + unit*jump`` of the units from 0 to one period past the first unit that sees any pixel
    (``None`` for a unit that sees none): what :func:`_measure_positions` measures."""
    out = (_frac(f.size), _frac(f.jump), _frac(f.start))
    if f.phases is None:
        return out
    rel = [None if b is None else (_frac(b[0]), _frac(b[1])) for b in f.phases]
    first = next(k for k, b in enumerate(rel) if b is not None)
    return (*out, tuple(rel[k % len(rel)] for k in range(first + len(rel) + 1)))


def _period(field_: tuple) -> int:
    """Units per period of a field tuple (1 when uniform)."""
    if len(field_) <= 3:
        return 1
    first = next(k for k, b in enumerate(field_[3]) if b is not None)
    return len(field_[3]) - 1 - first


def _span(field_: tuple) -> int:
    """Consecutive units to measure: two for a uniform field, else as many as :func:`_field_tuple` lists."""
    return len(field_[3]) if len(field_) > 3 else 2


def _unit_for(field_: tuple) -> tuple[int, int]:
    """(first unit whose field and its neighbours' (a period and one more) lie inside the image, the size needed).

    The unit is a whole number of periods from unit 0, so it has the phase of unit 0."""
    size, jump, start = field_[:3]
    period = _period(field_)
    reach = [b for b in field_[3] if b is not None] if len(field_) > 3 else [(-(size - 1) / 2, (size - 1) / 2)]
    low, high = min(b[0] for b in reach), max(b[1] for b in reach)
    i = 0
    while start + i * jump + low < 0:
        i += period
    need = start + (i + _span(field_) - 1) * jump + high + 1
    return i, int(-(-need // 1))


_LADDER = (32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 448, 512, 576, 640, 768, 1024)


def _gradient_size(need: int, traced: int, jump: int, max_size: int) -> int:
    """The input length to measure a field on: at least ``need``, and congruent to the traced length modulo the
    jump, so every layer up to this one sees the same remainder as in the report (SAME padding depends on it).
    The smallest such value of the ladder (few distinct sizes, few forward passes), else the smallest one."""
    jump = max(jump, 1)
    fits = next((s for s in _LADDER if s >= need and (s - traced) % jump == 0), None)
    if fits is None:
        fits = need + (traced - need) % jump
    return fits if fits <= max_size else max_size + 1


def _extent(mask_1d) -> tuple[int, int] | None:
    import numpy as np

    idx = np.nonzero(mask_1d)[0]
    if idx.size == 0:
        return None
    return int(idx[0]), int(idx[-1])


def _forward_until(model: Any, sub: dict, wanted: set, shape: Sequence[int],
                   dtype: str = "float32") -> tuple[Any, dict]:
    """Run ``model`` on a small positive input of ``shape`` (with batch) until every wanted (path, call) ran.

    The input is 1e-6 everywhere: small enough that no activation reaches a
    saturating region (ReLU6 caps at 6, and residual sums grow block by block).

    Returns the input (it needs gradients) and the wanted layers' outputs.
    """
    import paddle

    outputs: dict = {}
    counts: dict[str, int] = {}

    def hook_for(path: str):
        def hook(layer, inputs, output):
            occ = counts.get(path, 0)
            counts[path] = occ + 1
            if (path, occ) in wanted:
                outputs[(path, occ)] = output
                if len(outputs) == len(wanted):
                    raise _Stop

        return hook

    handles = [sub[path].register_forward_post_hook(hook_for(path)) for path in {p for p, _ in wanted}]
    x = paddle.full(list(shape), 1e-6, dtype=dtype)
    x.stop_gradient = False
    try:
        with _max_as_avg_pooling():
            try:
                model(x)
            except _Stop:
                pass
    finally:
        for h in handles:
            h.remove()
    return x, outputs


def _rf_source(name: str, build: Callable[[], Any] | None, input_shape: Sequence[int] | None):
    """(build, input shape, full shape with batch or None) of a zoo model or ``two_branch`` (or ``build``)."""
    if build is not None:
        assert input_shape is not None
        return build, tuple(input_shape), None
    if name == "two_branch":
        return two_branch_model, tuple(input_shape or (3, 32, 32)), None
    from convcalc.models.zoo import get_entry

    entry = get_entry(name)
    return entry.factory, tuple(input_shape or entry.default_input), None


def _trace_full(model: Any, full: tuple, name: str):
    """Trace at a full input shape (with batch, any rank), with the rules' opaque layers swapped in."""
    from convcalc.checks.subject import rule_static_forward
    from convcalc.trace.build import trace_model

    return trace_model(model, full, static_forward=rule_static_forward, name=name)


def _measure_positions(masks: list, dim: int, unit: int, period: int, span: int):
    """(largest size, jump, start, bounds relative to start + unit*jump) of the fields of ``span`` consecutive
    units from ``unit`` (a whole number of periods from unit 0) along ``dim``: the first that sees any pixel
    gives the start, the one a period later the jump."""
    other = tuple(d for d in range(masks[0].ndim) if d != dim)
    ext = [_extent(m.any(axis=other)) for m in masks[:span]]
    seen = [k for k in range(span - period) if ext[k] is not None and ext[k + period] is not None]
    if not seen:
        return None
    k0 = seen[0]
    centre = Fraction(ext[k0][0] + ext[k0][1], 2)
    jump = (Fraction(ext[k0 + period][0] + ext[k0 + period][1], 2) - centre) / period
    start = centre - (unit + k0) * jump
    size = max(Fraction(e[1] - e[0] + 1) for e in ext if e is not None)
    rel = tuple(None if e is None else (e[0] - start - (unit + k) * jump, e[1] - start - (unit + k) * jump)
                for k, e in enumerate(ext))
    return (size, jump, start, rel)


def _measure_axis(mask: Any, dim: int, unit: int | None, neighbour_mask: Any, whole: bool):
    """(size, jump, start) of the non-zero extent of ``mask`` along ``dim`` (``"whole"`` if it spans it)."""
    other = tuple(d for d in range(mask.ndim) if d != dim)
    ext = _extent(mask.any(axis=other))
    if ext is None:
        return None
    lo, hi = ext
    if whole or unit is None:
        return "whole" if (lo, hi) == (0, mask.shape[dim] - 1) else (Fraction(hi - lo + 1), Fraction(0), Fraction(lo))
    ext2 = _extent(neighbour_mask.any(axis=other))
    if ext2 is None:
        return None
    centre, centre2 = Fraction(lo + hi, 2), Fraction(ext2[0] + ext2[1], 2)
    jump = centre2 - centre
    return (Fraction(hi - lo + 1), jump, centre - unit * jump)


def rf_crosscheck(name: str, build: Callable[[], Any] | None = None, input_shape: Sequence[int] | None = None,
                  max_size: int = 1024, progress: Progress = _quiet, dtype: str = "float32",
                  report: Any = None, full_shape: Sequence[int] | None = None) -> RFModelResult:
    """Every layer with a known field in convcalc's report of ``name``, against the gradient method.

    Any rank and layout: each spatial axis of the input (L; H, W; D, H, W; channel first or last) is
    measured on its own.  A numeric field is measured from two neighbouring units (size, jump, start);
    a "whole" axis must have a gradient reaching both ends of the input along it.  ``build`` makes a
    fresh model (default: the zoo's factory, ``two_branch`` or a ``fields`` corpus case); convcalc's
    fields come from ``report`` or the report at ``input_shape`` (default: the model's default input,
    without batch).  Along each axis with a numeric field the gradient input is the smallest size in a
    ladder that holds the checked unit's field and its neighbour's without clipping; other axes keep
    the traced size.
    """
    import numpy as np
    import paddle

    from convcalc.checks.subject import INTERP_OPS, analyze, input_axes, normalise_input
    from convcalc.trace.op_names import op_key

    t0 = time.perf_counter()
    build, shape, case_shape = _rf_source(name, build, input_shape if full_shape is None else full_shape)
    full_shape = full_shape or case_shape
    reference = build()
    reference.eval()
    full = tuple(int(d) for d in full_shape) if full_shape is not None else normalise_input(shape)
    trace = _trace_full(reference, full, name)
    if report is None:
        report = analyze(reference, full, name=name, trace=trace)
    in_axes = input_axes(trace)
    resizes = any(op_key(op.name) in INTERP_OPS for op in trace.ops)
    layers = dict(reference.named_sublayers())
    del reference

    # Targets: (path, occurrence) of leaf layer calls with a known field on every axis.
    targets = []
    not_checked = []
    seen: dict[str, int] = {}
    for rec in report.records:
        if not rec.is_leaf or rec.is_functional:
            continue
        occ = seen.get(rec.path, 0)
        seen[rec.path] = occ + 1
        axes = rec.rf or ()
        if (not axes or any(a.field is None for a in axes) or rec.path not in layers or "Adaptive" in rec.kind
                or any(a.axis not in in_axes or (a.dim is None and not a.field.whole) for a in axes)):
            not_checked.append(rec.path)  # unknown, squeezed to one unit, or (adaptive) size-dependent
            continue
        ours, units, size = [], [], list(full)
        for a in axes:
            if a.field.whole:
                ours.append("whole")
                units.append(None)
                continue
            f = _field_tuple(a.field)
            i, need = _unit_for(f)
            ours.append(f)
            units.append(i)
            traced = full[in_axes[a.axis]]
            # An interpolation's ratio depends on the sizes (align_corners, a fixed output size): measure at the
            # traced size when the units fit in it.
            size[in_axes[a.axis]] = (traced if resizes and need <= traced
                                     else _gradient_size(need, traced, int(f[1]), max_size))
        targets.append((rec.path, rec.kind, occ, tuple(ours), tuple(units), tuple(size), axes))

    checks: list[FieldCheck] = []
    by_size: dict[tuple, list] = {}
    for t in targets:
        too_big = any(d > max_size for d in t[5])
        if too_big:
            u = tuple(0 if i is None else i for i in t[4])
            checks.append(FieldCheck(name, t[0], t[1], t[2], t[5], (u, u), t[3], None,
                                     f"field larger than the largest input tried ({max_size})",
                                     tuple(a.axis for a in t[6])))
            continue
        by_size.setdefault(t[5], []).append(t)

    model = _positive_copy(build, dtype)
    sub = dict(model.named_sublayers())
    for size in sorted(by_size):
        group = by_size[size]
        shown = "x".join(map(str, size[1:]))
        progress(f"receptive fields {name}: {len(group)} layer(s) at {shown}")
        wanted = {(p, o) for p, _, o, _, _, _, _ in group}
        try:
            x, outputs = _forward_until(model, sub, wanted, size, dtype)
        except Exception as err:  # noqa: BLE001 - the model refuses this size: say so per layer
            for path, kind, occ, ours, units, _, axes in group:
                u = tuple(0 if i is None else i for i in units)
                checks.append(FieldCheck(name, path, kind, occ, size, (u, u), ours, None,
                                         f"the model refused input {shown}: {_one_line(str(err))[:120]}",
                                         tuple(a.axis for a in axes)))
            continue
        for path, kind, occ, ours, units, _, axes in group:
            names = tuple(a.axis for a in axes)
            periods = [1 if isinstance(o, str) else _period(o) for o in ours]
            spans = [2 if isinstance(o, str) else _span(o) for o in ours]
            samples = [tuple(0 if i is None else i + min(n, p - 1) for i, p in zip(units, spans))
                       for n in range(max(spans))]
            u0, u1 = samples[0], samples[1]
            out = outputs.get((path, occ))
            if out is None:
                checks.append(FieldCheck(name, path, kind, occ, size, (u0, u1), ours, None, "the layer did not run",
                                         names))
                continue
            index_sets = []
            bad = ""
            for unit in samples:
                idx: list = [slice(None)] * len(out.shape)
                for a, i in zip(axes, unit):
                    if a.dim is not None:
                        if i >= out.shape[a.dim]:
                            bad = f"output {list(out.shape)} has no unit {i} on axis {a.axis}"
                        idx[a.dim] = slice(i, i + 1)
                index_sets.append(tuple(idx))
            if bad:
                checks.append(FieldCheck(name, path, kind, occ, size, (u0, u1), ours, None, bad, names))
                continue
            masks = []
            for idx in index_sets:
                (g,) = paddle.grad(out[idx].sum(), x, retain_graph=True)
                masks.append(np.abs(g.numpy()) != 0)
            measured: list | None = []
            note = ""
            for a, o, unit, period, span in zip(axes, ours, units, periods, spans):
                dim = in_axes[a.axis]
                if not isinstance(o, str) and len(o) > 3:
                    m = _measure_positions(masks, dim, unit, period, span)
                else:
                    m = _measure_axis(masks[0], dim, unit, masks[1], o == "whole")
                if m is None:
                    note, measured = "no input pixel has a non-zero gradient", None
                    break
                measured.append(m)
                if not isinstance(m, str) and m != o and (m[2] - (m[0] - 1) / 2 <= 0):
                    note = "the measured field touches the image border (it may be clipped)"
            checks.append(FieldCheck(name, path, kind, occ, size, (u0, u1), ours,
                                     tuple(measured) if measured else None, note, names))
        outputs.clear()
    order = {(p, o): i for i, (p, _, o, _, _, _, _) in enumerate(targets)}
    checks.sort(key=lambda c: order.get((c.path, c.occurrence), 0))
    progress(f"receptive fields {name}: {sum(c.ok for c in checks)}/{len(checks)} layers agree")
    note = f"max pooling replaced by average pooling of the same geometry in the {dtype} copy"
    return RFModelResult(name, tuple(checks), tuple(dict.fromkeys(not_checked)), time.perf_counter() - t0, note)
