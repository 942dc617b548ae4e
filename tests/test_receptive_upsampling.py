"""Receptive fields after upsampling (transposed convolutions, interpolation), position by position.

The truth is the gradient of each output unit of a one-layer model with positive weights (no cancellation):
the input pixels it reaches are that unit's field.  convcalc's field (``Field.bounds(o)``, from the report
of the same layer) must give the same first and last pixel for every unit away from the borders (where
Paddle clamps an interpolation's source and padding clips a window), and ``None`` for a unit that sees no
pixel.  The reported size is the largest of those fields, the jump the mean step.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import paddle
import pytest
from paddle import nn

from convcalc.analysis import analyze
from convcalc.formulas import INPUT_FIELD, transposed_field


def _positive(layer: nn.Layer) -> nn.Layer:
    with paddle.no_grad():
        for name, p in layer.named_parameters():
            p.set_value(paddle.zeros(p.shape) if "bias" in name else paddle.ones(p.shape))
    layer.eval()
    return layer


def _gradient_bounds(layer: nn.Layer, shape: list[int], dim: int) -> list[tuple[int, int] | None]:
    """Per output unit along ``dim``: (first, last) input index with a non-zero gradient, or None."""
    x = paddle.ones(shape)
    x.stop_gradient = False
    y = layer(x)
    out = []
    for o in range(y.shape[dim]):
        idx = [slice(None)] * len(y.shape)
        idx[dim] = slice(o, o + 1)
        (g,) = paddle.grad(y[tuple(idx)].sum(), x, retain_graph=True)
        reach = np.nonzero(np.abs(g.numpy()).sum(axis=tuple(d for d in range(len(shape)) if d != dim)))[0]
        out.append((int(reach[0]), int(reach[-1])) if reach.size else None)
    return out


def _compare(field, truth: list, n: int, skip: frozenset = frozenset()) -> int:
    """Units compared (their field lies inside the input, away from both borders); asserts each agrees."""
    compared = 0
    for o, measured in enumerate(truth):
        if o in skip:
            continue
        ours = field.bounds(o)
        if ours is not None and not (0 < ours[0] and ours[1] < n - 1):
            continue  # a border unit: clamped or clipped
        got = None if ours is None else (int(ours[0]), int(ours[1]))
        assert got == measured, f"unit {o}: convcalc {got}, gradient {measured}"
        compared += 1
    return compared


def _row_field(layer: nn.Layer, shape: list[int], axis: str):
    report = analyze(layer, shape)
    (row,) = [r for r in report.records if r.is_leaf]
    return row.rf_axis(axis)


TRANSPOSED_1D = [
    dict(kernel_size=2, stride=2),
    dict(kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(kernel_size=4, stride=2, padding=1),
    dict(kernel_size=1, stride=3),  # holes: two outputs in three see nothing
    dict(kernel_size=3, stride=3, padding=2, dilation=2, groups=2, output_padding=2),
    dict(kernel_size=5, stride=1, padding=2),
    dict(kernel_size=3, stride=2, padding="SAME"),
    dict(kernel_size=4, stride=3, padding="VALID"),
]


@pytest.mark.parametrize("cfg", TRANSPOSED_1D, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv1d_transpose_field_per_position(cfg):
    layer = _positive(nn.Conv1DTranspose(2, 4, **cfg))
    n = 12
    truth = _gradient_bounds(layer, [1, 2, n], 2)
    field = _row_field(layer, [1, 2, n], "L")
    assert field.jump == Fraction(1, cfg["stride"])
    assert _compare(field, truth, n) >= 2 * cfg["stride"]
    inner = [b[1] - b[0] + 1 for b in truth[cfg["stride"] * 3:-cfg["stride"] * 3] if b is not None]
    assert field.size == max(inner)  # the reported size: the largest field of any position


def test_conv2d_transpose_nhwc_and_conv3d_transpose_per_axis():
    layer = _positive(nn.Conv2DTranspose(3, 2, (3, 4), stride=(2, 3), padding=(1, 1), data_format="NHWC"))
    report = analyze(layer, [1, 9, 10, 3])
    (row,) = [r for r in report.records if r.is_leaf]
    for axis, dim, n in (("H", 1, 9), ("W", 2, 10)):
        assert _compare(row.rf_axis(axis), _gradient_bounds(layer, [1, 9, 10, 3], dim), n) > 0
    vol = _positive(nn.Conv3DTranspose(1, 2, (1, 3, 2), stride=(1, 2, 2)))
    report = analyze(vol, [1, 1, 3, 8, 8])
    (row,) = [r for r in report.records if r.is_leaf]
    assert (row.rf_axis("D").size, row.rf_axis("D").jump) == (1, 1)
    for axis, dim in (("H", 3), ("W", 4)):
        assert _compare(row.rf_axis(axis), _gradient_bounds(vol, [1, 1, 3, 8, 8], dim), 8) > 0


def test_transposed_field_by_hand():
    """k=3, s=2, p=1 on input pixels: even outputs o read input o/2, odd ones (o-1)/2 and (o+1)/2."""
    f = transposed_field(INPUT_FIELD, 3, 2, 1)
    assert [f.bounds(o) for o in range(4)] == [(0, 0), (0, 1), (1, 1), (1, 2)]
    assert (f.size, f.jump, f.start) == (2, Fraction(1, 2), 0)


def _float_sensitive(cfg: dict, n: int, out: int) -> frozenset:
    """Outputs whose exact source ``ratio*o + offset`` is a whole number while the ratio is not a power of two:
    Paddle computes the source in float32 there, which can add a neighbour with a weight of about 1e-7
    (linear) or pick the pixel below (nearest).  convcalc's field is the exact-arithmetic one (documented)."""
    corners = cfg.get("align_corners", False)
    scale = cfg.get("scale_factor")
    scale = scale[-1] if isinstance(scale, (tuple, list)) else scale
    ratio = Fraction(n - 1, out - 1) if corners else (1 / Fraction(scale) if scale else Fraction(n, out))
    if ratio.denominator & (ratio.denominator - 1) == 0 and ratio.numerator & (ratio.numerator - 1) == 0:
        return frozenset()
    half = cfg["mode"] != "nearest" and not corners and cfg.get("align_mode", 0) == 0
    offset = (ratio - 1) / 2 if half else 0
    return frozenset(o for o in range(out) if (ratio * o + offset).denominator == 1)


INTERP_1D = [
    dict(scale_factor=2, mode="linear"),
    dict(scale_factor=2, mode="linear", align_mode=1),
    dict(size=[20], mode="linear"),
    dict(size=[7], mode="linear"),  # downsampling by 12/7
    dict(scale_factor=2, mode="linear", align_corners=True),
    dict(size=[31], mode="linear", align_corners=True),
]


@pytest.mark.parametrize("cfg", INTERP_1D, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_upsample_1d_field_per_position(cfg):
    layer = nn.Upsample(data_format="NCW", **cfg)
    n = 12
    truth = _gradient_bounds(layer, [1, 1, n], 2)
    field = _row_field(layer, [1, 1, n], "L")
    assert _compare(field, truth, n, _float_sensitive(cfg, n, len(truth))) >= 4


INTERP_2D = [
    dict(scale_factor=2, mode="nearest"),
    dict(scale_factor=(1, 3), mode="nearest"),
    dict(size=[6, 20], mode="nearest"),
    dict(size=[6, 5], mode="nearest"),
    dict(scale_factor=2, mode="bilinear"),
    dict(scale_factor=2, mode="bicubic"),
    dict(size=[6, 17], mode="bicubic", align_corners=True),
]


@pytest.mark.parametrize("cfg", INTERP_2D, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_upsample_2d_field_per_position(cfg):
    layer = nn.Upsample(**cfg)
    shape = [1, 1, 6, 12]
    field = _row_field(layer, shape, "W")
    truth = _gradient_bounds(layer, shape, 3)
    assert _compare(field, truth, 12, _float_sensitive(cfg, 12, len(truth))) >= 3


def test_fields_after_upsampling_are_reported_as_the_largest_with_a_fractional_jump():
    """2x nearest then a 3-wide conv: unit o reads upsampled o-1 .. o+1, i.e. input pixels (o-1)//2 ..
    (o+1)//2: two pixels for every o; reported size 2, jump 1/2."""
    model = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2D(1, 1, 3, padding=1))
    report = analyze(model, [1, 1, 8, 8])
    conv = next(r for r in report.records if r.kind == "Conv2D")
    f = conv.rf_h
    assert (f.size, f.jump) == (2, Fraction(1, 2))
    assert [f.bounds(o) for o in range(1, 5)] == [(0, 1), (0, 1), (1, 2), (1, 2)]


def test_merging_fields_that_differ_by_position_by_hand():
    """A 2x nearest branch (outputs 0, 1 see pixel 0) added to a ConvTranspose k=3, s=2, p=1 branch (output 0
    sees pixel 0, output 1 pixels 0 and 1): the sum's output 0 sees pixel 0, output 1 pixels 0..1."""
    from convcalc.formulas import merge_fields, resampled_field
    from convcalc.formulas.receptive import interpolation_taps

    near = resampled_field(INPUT_FIELD, Fraction(1, 2), Fraction(0), lambda s: interpolation_taps("nearest", s))
    up = transposed_field(INPUT_FIELD, 3, 2, 1)
    merged = merge_fields([near, up])
    assert [merged.bounds(o) for o in range(4)] == [(0, 0), (0, 1), (1, 1), (1, 2)]
    assert (merged.size, merged.jump) == (2, Fraction(1, 2))


def test_a_pattern_too_long_to_follow_is_unknown_with_its_reason():
    """align_corners from 100 to 5000 values repeats only every 4999 outputs: '?' and the reason, not a guess."""
    model = nn.Sequential(nn.Conv2D(1, 1, 3, padding=1), nn.Upsample(size=[1, 5000], mode="bilinear",
                                                                     align_corners=True))
    report = analyze(model, [1, 1, 1, 100])
    up = next(r for r in report.records if r.kind == "Upsample")
    assert up.rf_axis("W") is None
    assert any("4999" in g for g in report.gaps.ops_without_rf_rule)


def test_the_report_says_what_its_rf_column_means_after_upsampling():
    from convcalc.render.report import totals_text

    up = analyze(nn.Sequential(nn.Conv2D(1, 2, 3), nn.Upsample(scale_factor=2)), [1, 1, 8, 8])
    assert "differ by position: RF is the largest" in totals_text(up).plain
    plain = analyze(nn.Sequential(nn.Conv2D(1, 2, 3)), [1, 1, 8, 8])
    assert "differ by position" not in totals_text(plain).plain
