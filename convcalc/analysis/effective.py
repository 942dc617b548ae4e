"""Receptive fields as pictures: the theoretical field of one unit beside its effective field.

The theoretical field comes from the report (size, jump, start per axis, book
5.1.4).  The *effective* receptive field (Luo et al., 2016, "Understanding the
Effective Receptive Field in Deep Convolutional Neural Networks") is the
gradient of that one unit with respect to the input: how much each input pixel
actually moves it, for the weights the model holds (as built, or as trained).
Everything the gradient touches lies inside the theoretical field - a check
:class:`UnitField` carries (``outside``) and the picture shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.analysis.records import LayerRecord, Report
from convcalc.errors import ConvcalcError, InputSpecError, UnknownNameError

__all__ = ["UnitField", "field_layers", "pick_layer", "unit_field", "effective_field"]


@dataclass(frozen=True)
class UnitField:
    """One unit's theoretical box (inclusive pixel rows/cols, unclipped) and its gradient map."""

    layer: str
    unit: tuple[int, int]
    size: tuple[int, int]
    jump: tuple[Any, Any]  # input pixels between units: whole, or fractional after upsampling (sympy numbers)
    centre: tuple[float, float]
    box: tuple[float, float, float, float]  # top, bottom, left, right (inclusive, may lie outside the input)
    gradient: np.ndarray  # |d unit / d input|, summed over input channels, (H, W)
    outside: float  # share of the gradient's mass outside the theoretical box (0 when the theory holds)


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
        if all(_int(v) is not None or (hasattr(v, "is_Rational") and v.is_Rational) for v in values):
            out.append(rec)
    return out


def pick_layer(report: Report, path: str | None) -> LayerRecord:
    """``path``'s record, or by default the last layer with a spatial field."""
    layers = field_layers(report)
    if not layers:
        raise ConvcalcError(
            f"{report.model} has no layer with a finite spatial receptive field",
            "a picture needs a convolution or pooling layer on a 2-D image input",
        )
    if path is None:
        return layers[-1]
    for rec in layers:
        if rec.path == path:
            return rec
    known = [r.path for r in layers]
    if any(r.path == path for r in report.records):
        raise ConvcalcError(
            f"layer {path!r} of {report.model} has no finite spatial receptive field (after global pooling or "
            "flatten a unit sees the whole input)",
            f"choose one of the layers with a field, e.g. {known[-1]!r}",
        )
    raise UnknownNameError("layer", path, known)


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


def effective_field(model: Any, image: np.ndarray, layer: Any, unit: tuple[int, int]) -> np.ndarray:
    """``|d out[0, :, i, j].sum() / d input|`` summed over input channels, shape (H, W).

    The forward pass stops right after ``layer`` (its output is all the
    gradient needs), so a head that would refuse the input does not matter.
    """
    import paddle

    class _Stop(Exception):
        pass

    captured: list = []

    def hook(_layer, _inputs, output):
        captured.append(output[0] if isinstance(output, (tuple, list)) else output)
        raise _Stop

    was_training = model.training
    model.eval()
    x = paddle.to_tensor(image[None].astype("float32"), stop_gradient=False)
    handle = layer.register_forward_post_hook(hook)
    try:
        try:
            model(x)
        except _Stop:
            pass
    finally:
        handle.remove()
        if was_training:
            model.train()
    if not captured:
        raise ConvcalcError("the layer never ran during the forward pass", "choose another --layer")
    i, j = unit
    captured[0][0, :, i, j].sum().backward()
    return np.abs(x.grad.numpy()[0]).sum(axis=0)


def unit_field(model: Any, report: Report, layer_path: str | None, unit: tuple[int, int] | None,
               image: np.ndarray) -> UnitField:
    """Theoretical and effective field of one unit of one layer for ``image`` (C, H, W)."""
    rec = pick_layer(report, layer_path)
    unit = check_unit(rec, unit)
    if hasattr(model, "effective_field"):  # an exported program (convcalc.trace.program.ProgramModel)
        grad = model.effective_field(rec.path, unit, image)
    else:
        grad = effective_field(model, image, dict(model.named_sublayers(include_self=True))[rec.path], unit)
    # the unit's own field: after upsampling fields differ by position (Field.bounds gives this unit's)
    rows_b, cols_b = rec.rf_h.bounds(unit[0]), rec.rf_w.bounds(unit[1])
    if rows_b is None or cols_b is None:
        raise ConvcalcError(f"unit {unit[0]},{unit[1]} of {rec.path} sees no input pixel (a transposed "
                            "convolution whose kernel is smaller than its stride)", "choose another --unit")
    top, bottom = float(rows_b[0]), float(rows_b[1])
    left, right = float(cols_b[0]), float(cols_b[1])
    cy, cx = (top + bottom) / 2, (left + right) / 2
    sh, sw = int(bottom - top) + 1, int(right - left) + 1
    rows, cols = np.indices(grad.shape)
    inside = (rows >= top - 1e-9) & (rows <= bottom + 1e-9) & (cols >= left - 1e-9) & (cols <= right + 1e-9)
    total = float(grad.sum())
    outside = float(grad[~inside].sum() / total) if total > 0 else 0.0
    return UnitField(
        layer=rec.path, unit=unit, size=(sh, sw), jump=(rec.rf_h.jump, rec.rf_w.jump),
        centre=(cy, cx), box=(top, bottom, left, right), gradient=grad, outside=outside,
    )
