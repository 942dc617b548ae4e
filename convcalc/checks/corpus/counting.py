"""Counting corpus: transposed and grouped/dilated convs, channels-last, 1-D and 3-D, the functional API,
attention and a transformer block, a recurrent cell, resampling, norms and softmax, and gaps.

Each case carries MACs and ``flops``-convention FLOPs counted by hand (in the comments next to each
number, from the model's configuration and the shapes Paddle produces), and compares the ``paddle``
convention with ``paddle.flops`` run on the same model.  The counts are checked in all three conventions,
whatever convention the harness's report uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convcalc.checks.corpus import Case, lazy_model

KIND = "FLOP counting"



def _analyze(model: Any, shape: tuple[int, ...], convention: str) -> Any:
    from convcalc.checks.subject import analyze

    return analyze(model, input_size=shape, convention=convention)


def _paddle_flops(model: Any, shape: tuple[int, ...]) -> int:
    import contextlib
    import io

    import paddle

    model.eval()
    with contextlib.redirect_stdout(io.StringIO()):
        return int(paddle.flops(model, list(shape), print_detail=False))


def hand_counts(build: Callable[[], Any], shape: tuple[int, ...], macs: int, flops: int,
                gaps: tuple[str, ...] = ()) -> Callable[[Any, Any], list[str]]:
    """A check: MACs and FLOPs as counted by hand, the paddle convention as ``paddle.flops`` counts, and
    exactly the ``gaps`` (layer paths and op kinds without a rule) listed, the total a lower bound iff any."""

    def check(report: Any, truth: Any = None) -> list[str]:
        problems = []
        want = {"macs": macs, "flops": flops, "paddle": _paddle_flops(build(), shape)}
        for convention, expected in want.items():
            rep = report if report.convention.value == convention else _analyze(build(), shape, convention)
            got = int(rep.totals.flops)
            source = "paddle.flops" if convention == "paddle" else "counted by hand"
            if got != expected:
                problems.append(f"{convention}: {got:,} vs {expected:,} {source}")
        g = report.gaps
        listed = tuple(g.layers_without_rule) + tuple(kind for kind, _ in getattr(g, "ops_without_rule", ()))
        if tuple(sorted(listed)) != tuple(sorted(gaps)):
            problems.append(f"without a rule: {sorted(listed)} vs {sorted(gaps)} by hand")
        if getattr(g, "flops_complete", True) == bool(gaps):
            problems.append("the total must read as a lower bound exactly when something has no rule")
        return problems

    return check


def _case(name: str, cls: str, shape: tuple[int, ...], macs: int, flops: int, gaps: tuple[str, ...] = (),
          note: str = "") -> Case:
    build = lazy_model("_counting_models", cls)
    return Case.one_input(name, KIND, build, shape, checks=(hand_counts(build, shape, macs, flops, gaps),),
                          note=note)


CASES = [
    # 16x6x6 -> 8x12x12: each input value meets 8*2*2 weights; every output gets one product (+ bias)
    _case("transpose_upsample", "Upsampler", (1, 16, 6, 6),
          macs=16 * 36 * 8 * 4, flops=2 * 16 * 36 * 8 * 4 - 8 * 144 + 8 * 144,
          note="2x upsampling: paddle.flops counts stride^2 more"),
    # conv: 8x8 positions x 8 kernels x 16*9 taps; ReLU 512; pool 8*64 window values; fc 4*(2*8)
    _case("nhwc_conv_pool", "ChannelsLastNet", (1, 8, 8, 16),
          macs=64 * 8 * 144 + 8 * 4, flops=64 * 8 * 2 * 144 + 512 + 8 * 64 + 4 * 16,
          note="NHWC conv and adaptive pool: channels from the last axis"),
    # conv1 62x8 outputs of 4*3 taps; relu 496; avgpool 31x8 windows of 2; conv2 29x8 of 8*3 taps
    _case("conv1d_signal", "Signal1D", (1, 4, 64),
          macs=62 * 8 * 12 + 29 * 8 * 24, flops=62 * 8 * 24 + 496 + 31 * 8 * 2 + 29 * 8 * 48),
    # conv 4 x 8^3 outputs of 2*27 taps; max pool 4 x 4^3 windows of 8 (7 comparisons)
    _case("conv3d_volume", "Volume3D", (1, 2, 8, 8, 8),
          macs=4 * 512 * 54, flops=4 * 512 * 108 + 4 * 64 * 7),
    # out 6x6 (15 - 2*2 - 1)/2 + 1; each output sees 8/4 channels x 9 taps
    _case("grouped_dilated", "GroupedDilated", (1, 8, 15, 15),
          macs=8 * 36 * 18, flops=8 * 36 * 36),
    # F.conv2d 4x6x6 of 27 taps (no bias: 2*27-1); mean 4 x 36 values; F.linear 6 x 4 taps; matmul 6x6 of
    # k=1; bmm 6x6 of k=6; einsum 6x6x6 products, 6x6 sums of 6; addmm 6x6 of k=6 and the add
    _case("functional_api", "FunctionalHead", (1, 3, 8, 8),
          macs=144 * 27 + 6 * 4 + 36 + 216 + 216 + 216,
          flops=144 * 53 + 144 + 6 * 7 + 36 + 36 * 11 + (216 + 216 - 36) + (36 * 11 + 36),
          note="F.conv2d, F.linear, matmul, bmm, einsum, addmm"),
    # q,k,v,out 4 x 5x16x16; QK^T and AV 2 heads x 5x5x8 each; flops: linears 2*16 per output, q scaling 80,
    # QK^T 50 outputs of 2*8-1, softmax 10 rows of 3*5-1, AV 80 outputs of 2*5-1
    _case("multihead_attention", "SelfAttention", (1, 5, 16),
          macs=4 * 5 * 256 + 2 * 2 * 25 * 8, flops=4 * 5 * 16 * 32 + 80 + 50 * 15 + 10 * 14 + 80 * 9,
          note="attention's matmuls and softmax on the MultiHeadAttention row"),
    # attention as above, two linears 5x16x32 each; flops adds 2 LayerNorms (5 rows of 5*16+2+2*16),
    # 2 residual adds, ReLU on 5x32, linears 2*in per output
    _case("transformer_block", "TinyEncoder", (1, 5, 16),
          macs=5920 + 2 * 5 * 16 * 32,
          flops=4 * 5 * 16 * 32 + 80 + 750 + 140 + 720 + 5 * 32 * 32 + 5 * 16 * 64 + 2 * 5 * 114 + 2 * 80 + 160),
    # 4 gates x 16 units x (8 + 16) per row, 3 rows; flops per unit 4*(2*8 + 2*16 - 1 + 2) + 18
    _case("lstm_cell", "Recurrent", (3, 8),
          macs=3 * 4 * 16 * 24, flops=3 * 16 * (4 * 49 + 18)),
    # bilinear 3x8x8 outputs of 4 taps (7 ops); 1x1 conv 8x8x8 outputs of 3 taps (no bias: 5 ops)
    _case("upsample_bilinear", "UpsampleThenConv", (1, 3, 4, 4),
          macs=192 * 4 + 512 * 3, flops=192 * 7 + 512 * 5),
    # LayerNorm 5 rows of 16: 5*16+2+2*16; linear 5x16 outputs of 2*16; softmax 5 rows of 3*16-1
    _case("norm_linear_softmax", "MixerLike", (1, 5, 16),
          macs=5 * 16 * 16, flops=5 * 114 + 5 * 16 * 32 + 5 * 47),
    # the conv is known (4x6x6 outputs of 27 taps); LocalResponseNorm has no rule of its own but is counted through
    # the ops its forward runs: x*x 144, an average over 3 channels 144*3, alpha*s + k 2*144, the power 144, the
    # divide 144 (no MACs); cumsum is not known
    _case("unknown_ops_listed", "WithUnknowns", (1, 3, 8, 8),
          macs=144 * 27, flops=144 * 54 + 144 + 144 * 3 + 2 * 144 + 144 + 144, gaps=("cumsum",),
          note="no rule: the total is a lower bound, the op is listed (the layer is counted through its ops)"),
]
