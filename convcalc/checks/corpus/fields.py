"""Receptive-field corpus: norms, softmax and reductions along one axis, 1-D and 3-D stacks, NHWC/NLC with
SAME padding, dilation; upsampling (transposed convs of every rank, interpolation) in a U-Net, an FPN and a
1-D decoder, whose fields differ by position.

The truth is measured by gradients (:func:`convcalc.checks.gradient_fields.rf_crosscheck`, which does not use
convcalc's propagation): in a positive-weights copy of the model, the input pixels with a non-zero gradient
of one output unit are its field; along each axis the extent gives the size, two neighbouring units the jump
and start, and a "whole" axis must reach both ends of the input.  Each case also states, by hand, which
axes some layers see whole, so a check cannot pass by measuring nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convcalc.checks.corpus import Case, lazy_model

KIND = "receptive fields"



def gradient_fields(name: str, build: Callable[[], Any], shape: tuple[int, ...],
                    whole: dict[str, str], varying: tuple[str, ...] = ()) -> Callable[[Any, Any], list[str]]:
    """A check: every layer's per-axis field in the report equals the gradient-measured one, the layers
    named in ``whole`` (path -> axes, e.g. ``{"norm": "HW"}``) see exactly those axes whole, and the layers
    in ``varying`` (after upsampling, by hand) have fields that differ by position and were measured so."""

    def check(report: Any, truth: Any = None) -> list[str]:
        from convcalc.checks.gradient_fields import rf_crosscheck

        problems = []
        result = rf_crosscheck(name, build, report=report, full_shape=shape)
        if not result.checks:
            problems.append("no layer's field was measured")
        for c in result.checks:
            if not c.ok:
                problems.append(f"{c.path}: convcalc {c.ours} vs gradient {c.measured} ({c.note})".strip())
        by_path = {r.path: r for r in report.records if r.is_leaf and not r.is_functional}
        measured = {c.path for c in result.checks if any(not isinstance(o, str) and len(o) > 3 for o in c.ours)}
        for path in varying:
            if path not in measured:
                problems.append(f"{path}: no field that differs by position was measured (by hand it must)")
        for path, axes in whole.items():
            rec = by_path.get(path)
            got = "".join(a.axis for a in (rec.rf or ()) if a.field is not None and a.field.whole) if rec else None
            if got != axes:
                problems.append(f"{path}: whole along {got!r}, by hand {axes!r}")
        return problems

    return check


def _case(name: str, cls: str, shape: tuple[int, ...], whole: dict[str, str] | None = None, note: str = "",
          varying: tuple[str, ...] = ()) -> Case:
    build = lazy_model("_fields_models", cls)
    return Case.one_input(name, KIND, build, shape, checks=(gradient_fields(name, build, shape, whole or {}, varying),),
                          note=note)


CASES = [
    _case("rf_groupnorm", "ConvGroupNorm", (1, 3, 16, 16), {"norm": "HW", "conv2": "HW"},
          note="GroupNorm: H and W whole"),
    _case("rf_instancenorm", "ConvInstanceNorm", (1, 3, 16, 16), {"norm": "HW"},
          note="InstanceNorm2D: H and W whole"),
    _case("rf_layernorm_chw", "ConvLayerNormCHW", (1, 3, 12, 12), {"norm": "HW", "head": "HW"},
          note="LayerNorm([C, H, W]): H and W whole"),
    _case("rf_layernorm_w", "ConvLayerNormW", (1, 3, 8, 16), {"norm": "W", "conv2": "W"},
          note="LayerNorm over W only: H keeps its field"),
    _case("rf_softmax_w", "SoftmaxAlongWidth", (1, 3, 16, 16), {"softmax": "W", "conv2": "W"},
          note="softmax along W: only W whole"),
    _case("rf_mean_h", "MeanOverHeight", (1, 3, 12, 16), {"conv2": "H", "pool": "H"},
          note="mean over H: only H whole"),
    _case("rf_conv1d", "Conv1DStack", (1, 4, 64), note="Conv1D stack: fields along L"),
    _case("rf_conv1d_nlc", "Conv1DChannelLast", (1, 15, 3), note="NLC with SAME padding, stride 2"),
    _case("rf_conv3d", "Conv3DStack", (1, 2, 6, 16, 16), note="Conv3D stack: fields along D, H, W"),
    _case("rf_nhwc_same", "ChannelLastSame", (1, 15, 15, 3), note="NHWC with SAME padding on an odd input"),
    _case("rf_dilation", "DilatedGroups", (1, 3, 24, 24), note="per-axis dilation, groups, residual add"),
    _case("rf_hwc_transposed", "HWCImage", (1, 16, 24, 3), note="an HWC input transposed to NCHW in forward"),
    _case("rf_unet", "TinyUNet", (1, 3, 32, 32), varying=("up2", "dec2.0", "up1", "dec1.0", "head"),
          note="U-Net: ConvTranspose2D and bilinear Upsample, skip concats"),
    _case("rf_fpn", "FPNTopDown", (1, 3, 64, 64), varying=("merge3", "merge2", "smooth"),
          note="FPN top-down: nearest 2x upsample + add"),
    _case("rf_conv1d_transpose", "Signal1DDecoder", (1, 2, 48), varying=("up1", "up2", "up3", "out"),
          note="Conv1DTranspose (output_padding, groups, dilation), linear Upsample"),
    _case("rf_resize_modes", "ResizeModes", (1, 3, 12, 12), varying=("mid", "holes", "same", "end"),
          note="bicubic interpolate, transposed convs with holes (kernel < stride) and SAME"),
    _case("rf_conv3d_transpose", "Volume3DUp", (1, 1, 4, 16, 16), varying=("up", "tri", "out"),
          note="Conv3DTranspose and trilinear Upsample"),
    _case("rf_window_attention", "WindowAttention", (1, 3, 16, 16), varying=("head",),
          note="Swin-style window attention: each output sees its own 4x4 window"),
    _case("rf_patch_mlp", "PatchMLP", (1, 4, 8, 16), varying=("head",),
          note="an MLP within 4-wide patches along W: W sees its patch, H untouched"),
    _case("rf_row_fold", "RowFold", (1, 4, 8, 16), note="rows folded into the batch, a Conv1D along W"),
    _case("rf_row_fold_batch2", "RowFold", (2, 4, 8, 16), note="the same at batch 2: the same fields"),
    _case("rf_axial", "AxialAttention", (1, 3, 8, 12), {"row_out": "W", "col_out": "HW"},
          note="axial attention: along W (H folded into the batch), then along H"),
    _case("rf_shuffles", "Shuffles", (1, 3, 16, 16), varying=("ps", "mid"),
          note="ChannelShuffle, PixelShuffle (nearest 2x), PixelUnshuffle (window 2, stride 2)"),
]
