"""Receptive fields as pictures: theoretical fields of units beside their effective field.

The theoretical field comes from the report (size, jump, start per axis, book
5.1.4).  The *effective* receptive field (Luo et al., 2016, "Understanding the
Effective Receptive Field in Deep Convolutional Neural Networks") is the
gradient of one unit with respect to the input: how much each input pixel
actually moves it, for the weights the model holds (as built, or as trained).
One gradient is noisy; as in the paper, it is averaged over several inputs
(:func:`noise_inputs`, standard normal, seeded).  Everything the gradient
touches lies inside the theoretical field - a check :class:`UnitField` carries
(``outside``) - and most of it lies much closer to the centre: ``radius`` is the
half-width of the smallest square around the unit's centre that holds 95% of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.analysis.records import LayerRecord, Report
from convcalc.errors import ConvcalcError, InputSpecError, UnknownNameError
from convcalc.trace.temporary import in_mode

__all__ = [
    "MASS_SHARE", "UnitBox", "UnitField", "field_layers", "default_layer", "level_layers", "main_path",
    "pick_layer", "pick_layers", "call_number", "unit_box", "nearest_unit", "noise_inputs", "radius_holding",
    "unit_field", "effective_field",
]

MASS_SHARE = 0.95  # the share of the gradient the effective radius holds
BATCH = 8  # samples per forward/backward pass (bounds the memory of a large model at a large input)


@dataclass(frozen=True)
class UnitBox:
    """One unit's theoretical field: inclusive pixel rows/cols (unclipped, may lie outside the input)."""

    layer: str
    unit: tuple[int, int]
    size: tuple[int, int]
    jump: tuple[Any, Any]  # input pixels between units: whole, or fractional after upsampling (sympy numbers)
    centre: tuple[float, float]
    box: tuple[float, float, float, float]  # top, bottom, left, right

    def larger_than(self, h: int, w: int) -> bool:
        top, bottom, left, right = self.box
        return top < 0 or left < 0 or bottom > h - 1 or right > w - 1


@dataclass(frozen=True)
class UnitField(UnitBox):
    """A unit's theoretical box and its effective field (the gradient map, averaged over ``samples`` inputs)."""

    gradient: np.ndarray = None  # mean over samples of |d unit / d input|, summed over input channels, (H, W)
    outside: float = 0.0  # share of the gradient's mass outside the theoretical box (0 when the theory holds)
    radius: float = 0.0  # half-width of the smallest square around the centre holding MASS_SHARE of the gradient
    samples: int = 1


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number == value else None


def field_layers(report: Report) -> list[LayerRecord]:
    """Layers (not functional ops) with a finite, concrete field on both spatial axes, in order."""
    out = []
    for rec in report.records:
        if rec.is_functional or rec.rf_h is None or rec.rf_w is None or rec.rf_h.whole or rec.rf_w.whole:
            continue
        if len(rec.output_shape) != 4:
            continue
        values = [rec.rf_h.size, rec.rf_h.jump, rec.rf_h.start, rec.rf_w.size, rec.rf_w.jump, rec.rf_w.start]
        if all(_int(v) is not None or isinstance(v, Fraction) or getattr(v, "is_Rational", False) for v in values):
            out.append(rec)
    return out


def _size(rec: LayerRecord) -> tuple[int, int]:
    return int(rec.rf_h.size), int(rec.rf_w.size)


def main_path(records: list[Any], size: Callable[[Any], tuple] | None = None) -> list[tuple[Any, list[Any]]]:
    """The rows along which the field grows, each with the side-branch rows just before it.

    A row whose field is smaller than one before it lies on a side branch (a 1x1
    downsample beside a block, an Inception branch): it is not on the path the
    field grows along, and is listed with the next main-path row (where the
    branch joins).  ``records`` in execution order, leaves with finite fields;
    ``size`` gives a row's field sizes, one per axis compared (default: height and width).
    """
    size = size or _size
    out: list[tuple[Any, list[Any]]] = []
    side: list[Any] = []
    best: tuple = ()
    for rec in records:
        now = tuple(size(rec))
        if best and any(a < b for a, b in zip(now, best)):
            side.append(rec)
            continue
        best = now
        out.append((rec, side))
        side = []
    return out


def default_layer(report: Report) -> LayerRecord:
    """The deepest layer whose field is still smaller than the input (on both axes), on the main path.

    Leaves in execution order up to the first whose field reaches the input's
    height or width; of those, the last with the largest field (a side branch
    that ends the prefix has a smaller one).  If even the first layer's field
    covers the input, that layer.
    """
    layers = [r for r in field_layers(report) if r.is_leaf] or field_layers(report)
    if not layers:
        raise ConvcalcError(
            f"{report.model} has no layer with a finite spatial receptive field",
            "a picture needs a convolution or pooling layer on a 2-D image input",
        )
    h, w = (int(d) for d in report.input_shape[-2:])
    inside: list[LayerRecord] = []
    for rec in layers:
        sh, sw = _size(rec)
        if sh >= h or sw >= w:
            break
        inside.append(rec)
    if not inside:
        return layers[0]
    largest = max(_size(r)[0] * _size(r)[1] for r in inside)
    return next(r for r in reversed(inside) if _size(r)[0] * _size(r)[1] == largest)


def level_layers(report: Report) -> list[LayerRecord]:
    """``--layers all``: the deepest main-path layer of each resolution level (each run of one jump), in order."""
    path = [rec for rec, _ in main_path([r for r in field_layers(report) if r.is_leaf])]
    out: list[LayerRecord] = []
    for i, rec in enumerate(path):
        nxt = path[i + 1] if i + 1 < len(path) else None
        if nxt is None or (nxt.rf_h.jump, nxt.rf_w.jump) != (rec.rf_h.jump, rec.rf_w.jump):
            out.append(rec)
    return out


def pick_layer(report: Report, path: str | LayerRecord | None) -> LayerRecord:
    """``path``'s record (a layer called more than once: its last call), or by default :func:`default_layer`."""
    if isinstance(path, LayerRecord):
        return path
    if path is None:
        return default_layer(report)
    layers = field_layers(report)
    for rec in reversed(layers):
        if rec.path == path:
            return rec
    known = [r.path for r in layers]
    if any(r.path == path for r in report.records):
        raise ConvcalcError(
            f"layer {path!r} of {report.model} has no finite spatial receptive field (after global pooling or "
            "flatten a unit sees the whole input)",
            f"choose one of the layers with a field, e.g. {known[-1]!r}" if known else "choose another model",
        )
    raise UnknownNameError("layer", path, known)


def pick_layers(report: Report, spec: str) -> list[LayerRecord]:
    """``--layers``: ``all`` (:func:`level_layers`) or comma-separated layer paths, in the model's order."""
    if spec.strip() == "all":
        return level_layers(report)
    paths = [p.strip() for p in spec.split(",") if p.strip()]
    if not paths:
        raise InputSpecError("--layers is empty", "give --layers all, or layer paths separated by commas")
    chosen = {id(pick_layer(report, p)) for p in paths}
    return [r for r in field_layers(report) if id(r) in chosen]


def check_unit(rec: LayerRecord, unit: tuple[int, int] | None) -> tuple[int, int]:
    """The unit asked for (default: the centre of the layer's output grid), checked against its size."""
    h, w = int(rec.output_shape[2]), int(rec.output_shape[3])
    if unit is None:
        return (h // 2, w // 2)
    i, j = unit
    if not (0 <= i < h and 0 <= j < w):
        raise InputSpecError(
            f"unit {i},{j} is outside {rec.path}'s {h}x{w} output",
            f"choose --unit I,J with 0 <= I < {h} and 0 <= J < {w}",
        )
    return (i, j)


def unit_box(rec: LayerRecord, unit: tuple[int, int]) -> UnitBox:
    """The theoretical field of ``unit`` of ``rec`` (its own: after upsampling fields differ by position)."""
    rows_b, cols_b = rec.rf_h.bounds(unit[0]), rec.rf_w.bounds(unit[1])
    if rows_b is None or cols_b is None:
        raise ConvcalcError(f"unit {unit[0]},{unit[1]} of {rec.path} sees no input pixel (a transposed "
                            "convolution whose kernel is smaller than its stride)", "choose another --unit")
    top, bottom = float(rows_b[0]), float(rows_b[1])
    left, right = float(cols_b[0]), float(cols_b[1])
    return UnitBox(layer=rec.path, unit=unit, size=(int(bottom - top) + 1, int(right - left) + 1),
                   jump=(rec.rf_h.jump, rec.rf_w.jump), centre=((top + bottom) / 2, (left + right) / 2),
                   box=(top, bottom, left, right))


def nearest_unit(rec: LayerRecord, centre: tuple[float, float]) -> tuple[int, int]:
    """The unit of ``rec`` whose field is centred nearest to ``centre`` (so boxes of several layers nest)."""
    out = []
    for field, point, n in ((rec.rf_h, centre[0], rec.output_shape[2]), (rec.rf_w, centre[1], rec.output_shape[3])):
        k = round((point - float(field.start)) / float(field.jump)) if float(field.jump) else 0
        out.append(min(max(int(k), 0), int(n) - 1))
    return out[0], out[1]


def noise_inputs(shape: tuple, samples: int, seed: int) -> np.ndarray:
    """``samples`` standard-normal inputs ``(samples, C, H, W)`` for an ``(N, C, H, W)`` input, from ``seed``."""
    _, c, h, w = (int(d) for d in shape)
    return np.random.default_rng(seed).standard_normal((samples, c, h, w)).astype("float32")


def radius_holding(gradient: np.ndarray, centre: tuple[float, float], share: float = MASS_SHARE) -> float:
    """Half-width ``r`` of the smallest square ``centre ± r`` (inclusive) holding ``share`` of the gradient's mass.

    ``r`` steps by whole pixels from the centre's own offset (0 on a pixel
    centre, 0.5 between two), so the square's side ``2r + 1`` has the parity of
    the theoretical box it is printed beside.  A gradient of zero has radius 0.

    >>> g = np.zeros((9, 9)); g[4, 4] = 1.0
    >>> radius_holding(g, (4.0, 4.0))
    0.0
    >>> g[2:7, 2:7] = 1.0  # a uniform 5x5 square: 95% needs all of it
    >>> radius_holding(g, (4.0, 4.0))
    2.0
    """
    total = float(gradient.sum())
    if total <= 0:
        return 0.0
    rows, cols = np.indices(gradient.shape)
    cheb = np.maximum(np.abs(rows - centre[0]), np.abs(cols - centre[1]))
    r = abs(centre[0] - round(centre[0]))
    while True:
        if float(gradient[cheb <= r + 1e-9].sum()) >= share * total - 1e-12 * total:
            return float(r)
        r += 1


def call_number(report: Report, rec: LayerRecord) -> int:
    """Which call of its layer ``rec`` is (0: the first): a layer may run several times in one forward."""
    same = [r for r in report.records if r.path == rec.path and not r.is_functional]
    return next((k for k, r in enumerate(same) if r is rec), 0)


def effective_field(model: Any, images: np.ndarray, layer: Any, unit: tuple[int, int], call: int = 0) -> np.ndarray:
    """``|d out[b, :, i, j].sum() / d input[b]|`` summed over input channels, averaged over ``b``: shape (H, W).

    ``images`` is ``(C, H, W)`` (one input) or ``(N, C, H, W)``; ``out`` is the
    output of ``layer``'s call number ``call`` (a ReLU reused in a block runs
    twice).  The model runs in eval mode (samples do not interact), ``BATCH``
    samples per pass; each forward stops right after that call (its output is
    all the gradient needs), so a head that would refuse the input does not matter.
    """
    import paddle

    class _Stop(Exception):
        pass

    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        images = images[None]
    captured: list = []
    calls = [0]

    def hook(_layer, _inputs, output):
        calls[0] += 1
        if calls[0] <= call:
            return None
        captured.append(output[0] if isinstance(output, (tuple, list)) else output)
        raise _Stop

    total = np.zeros(images.shape[2:], dtype="float64")
    handle = layer.register_forward_post_hook(hook)
    try:
        with in_mode(model, False):
            for start in range(0, len(images), BATCH):
                x = paddle.to_tensor(images[start:start + BATCH], stop_gradient=False)
                captured.clear()
                calls[0] = 0
                try:
                    model(x)
                except _Stop:
                    pass
                if not captured:
                    raise ConvcalcError("the layer never ran during the forward pass", "choose another --layer")
                i, j = unit
                captured[0][:, :, i, j].sum().backward()
                total += np.abs(x.grad.numpy()).sum(axis=1).sum(axis=0)
    finally:
        handle.remove()
    return (total / len(images)).astype("float32")


def unit_field(model: Any, report: Report, layer: str | LayerRecord | None, unit: tuple[int, int] | None,
               images: np.ndarray) -> UnitField:
    """Theoretical and effective field of one unit of one layer (a path, a record or the default) for
    ``images`` ((C, H, W) or (N, C, H, W))."""
    rec = pick_layer(report, layer)
    unit = check_unit(rec, unit)
    box = unit_box(rec, unit)
    images = np.asarray(images, dtype="float32")
    batch = images if images.ndim == 4 else images[None]
    if hasattr(model, "effective_field"):  # an exported program (convcalc.trace.program.ProgramModel)
        grad = np.mean([model.effective_field(rec.path, unit, image) for image in batch], axis=0)
    else:
        sub = dict(model.named_sublayers(include_self=True))[rec.path]
        grad = effective_field(model, batch, sub, unit, call_number(report, rec))
    top, bottom, left, right = box.box
    rows, cols = np.indices(grad.shape)
    inside = (rows >= top - 1e-9) & (rows <= bottom + 1e-9) & (cols >= left - 1e-9) & (cols <= right + 1e-9)
    total = float(grad.sum())
    outside = float(grad[~inside].sum() / total) if total > 0 else 0.0
    return UnitField(**vars(box), gradient=grad, outside=outside, radius=radius_holding(grad, box.centre),
                     samples=len(batch))
