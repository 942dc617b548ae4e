"""Corpus kind ``refusals``, near the line: models Paddle's eager forward refuses or runs by a small margin.

convcalc checks convolutions at their smallest size and lets stand-in tensors
(memory never written) take their outputs' place where no refusal can depend on values
(:mod:`convcalc.trace.stand_ins`).  These models, written the way users write them,
sit where that could go wrong: functional convolutions, channel-last
layouts, dilation with 'SAME' padding, asymmetric padding, a conv called at
two sizes, a conv subclass with its own forward, a custom layer that raises,
ids computed from a convolution's values (Paddle refuses them only at their
real values), a Linear after flatten and a hard-coded reshape after a conv at
the wrong size, float ids into an embedding, resizing around a functional
convolution, a conv on half of a split.  Each refused case has a twin Paddle
runs; the truth is
Paddle's own eager forward, run by :mod:`convcalc.checks.corpus.truth`.
"""

from __future__ import annotations

import paddle
import paddle.nn.functional as F
from paddle import nn

from convcalc.checks.corpus import Case


class FunctionalHead(nn.Layer):
    """A conv stem, then ``F.conv2d`` in forward on a weight the model holds (expects 6 channels)."""

    def __init__(self, stem_out: int = 6):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2D(3, stem_out, 3, padding=1), nn.ReLU())
        self.head = self.create_parameter([8, 6, 3, 3])

    def forward(self, x):
        return F.relu(F.conv2d(self.stem(x), self.head, padding=1))


class ChannelLast(nn.Layer):
    """An NHWC network (TensorFlow habits): channels last, 3 of them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1, data_format="NHWC")
        self.pool = nn.MaxPool2D(2, data_format="NHWC")

    def forward(self, x):
        return self.pool(F.relu(self.conv(x)))


class DilatedGroups(nn.Layer):
    """A strided, dilated 'SAME' stem, then a dilated grouped conv and a 'VALID' one."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2D(3, 8, 5, stride=2, dilation=3, padding="SAME")
        self.grouped = nn.Conv2D(8, 8, 3, dilation=2, groups=4, padding=2)
        self.valid = nn.Conv2D(8, 4, 3, padding="VALID")

    def forward(self, x):
        return self.valid(self.grouped(F.relu(self.stem(x))))


class Asymmetric(nn.Layer):
    """Per-side padding and a rectangular kernel."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(2, 4, (3, 5), padding=[1, 2, 0, 3], stride=(1, 2))

    def forward(self, x):
        return self.conv(x)


class TwoScales(nn.Layer):
    """One conv applied to the image and to its half-size copy (shared weights)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.pool = nn.AvgPool2D(2)

    def forward(self, x):
        big = self.conv(x)
        small = self.conv(self.pool(x))
        return big.mean(axis=[2, 3]) + small.mean(axis=[2, 3])


class GainConv(nn.Conv2D):
    """A Conv2D subclass with its own forward (a learned gain)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gain = self.create_parameter([1], default_initializer=nn.initializer.Constant(1.0))

    def forward(self, x):
        return super().forward(x) * self.gain


class WithGainConv(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = GainConv(4, 8, 3)

    def forward(self, x):
        return self.conv(x)


class RGBOnly(nn.Layer):
    """A custom layer that checks its input and raises, as user code does."""

    def forward(self, x):
        if x.shape[1] != 3:
            raise ValueError(f"expects an RGB image, got {x.shape[1]} channel(s)")
        return x


class Guarded(nn.Layer):
    def __init__(self):
        super().__init__()
        self.check = RGBOnly()
        self.conv = nn.Conv2D(3, 4, 3)

    def forward(self, x):
        return self.conv(self.check(x))


class CodesFromConv(nn.Layer):
    """Ids computed from a convolution's values (a quantiser): valid or not depends on the values."""

    def __init__(self, vocab: int):
        super().__init__()
        self.conv = nn.Conv2D(1, 1, 3, weight_attr=nn.initializer.Constant(1.0), bias_attr=False)
        self.codes = nn.Embedding(vocab, 4)

    def forward(self, x):
        ids = self.conv(x).flatten(1).astype("int64")  # a sum of 9 inputs: 9 for ones
        return self.codes(ids)


class Clip3D(nn.Layer):
    """A video clip, channels last (NDHWC)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3D(3, 4, (3, 3, 3), padding=1, data_format="NDHWC")

    def forward(self, x):
        return self.conv(x)


class Signal1D(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1D(4, 8, 5, dilation=2, padding="SAME")
        self.down = nn.Conv1D(8, 8, 3, stride=2, groups=8)

    def forward(self, x):
        return self.down(F.relu(self.conv(x)))


class SmallClassifier(nn.Layer):
    """conv -> pool -> flatten -> Linear sized for 16x16 images."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2D(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2))
        self.classifier = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        x = self.features(x)
        x = paddle.flatten(x, 1)
        return self.classifier(x)


class PatchTokens(nn.Layer):
    """A patch embedding reshaped into 16 tokens of 8 values with a hard-coded size (fits 16x16 only)."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2D(3, 8, 4, stride=4)
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        tokens = self.patch(x).reshape([1, 8, 16]).transpose([0, 2, 1])
        return self.norm(tokens)


class TokenConv(nn.Layer):
    """Token ids -> embeddings -> a Conv1D over the sequence."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        self.conv = nn.Conv1D(16, 8, 3, padding=1)

    def forward(self, ids):
        return self.conv(self.embed(ids).transpose([0, 2, 1]))


class UpsampleHead(nn.Layer):
    """A conv stem, a nearest 2x upsample, ``F.conv2d`` on a held weight (expects 6 channels), a bilinear resize."""

    def __init__(self, stem_out: int = 6):
        super().__init__()
        self.stem = nn.Conv2D(3, stem_out, 3, padding=1)
        self.head = self.create_parameter([8, 6, 3, 3])

    def forward(self, x):
        y = F.interpolate(self.stem(x), scale_factor=2, mode="nearest")
        y = F.conv2d(y, self.head, padding=1)
        return F.relu(F.interpolate(y, size=[20, 20], mode="bilinear"))


class SplitBranches(nn.Layer):
    """ShuffleNet-style: a stem, its channels split in two, one half through a conv, then concatenated."""

    def __init__(self, stem_out: int = 8):
        super().__init__()
        self.stem = nn.Conv2D(3, stem_out, 3, padding=1)
        self.branch = nn.Conv2D(4, 4, 3, padding=1)

    def forward(self, x):
        a, b = paddle.split(self.stem(x), 2, axis=1)
        return paddle.concat([a, self.branch(b)], axis=1)


CHANNELS = "input_channels"

CASES = [
    Case("functional_conv_after_stem", "refusals", FunctionalHead, (((1, 3, 12, 12), "float32"),), cli=("3x12x12",),
         note="accepted: F.conv2d in forward at the channels it expects"),
    Case("functional_conv_channels", "refusals", lambda: FunctionalHead(stem_out=5), (((1, 3, 12, 12), "float32"),),
         cli=("3x12x12",), refused="input_channels:5 != filter_channels * groups:6"),
    Case("channel_last_conv", "refusals", ChannelLast, (((1, 16, 16, 3), "float32"),), cli=("16x16x3",),
         note="accepted: NHWC input"),
    Case("channel_last_channels", "refusals", ChannelLast, (((1, 16, 16, 1), "float32"),), cli=("16x16x1",),
         refused="input_channels:1 != filter_channels * groups:3"),
    Case("dilated_same_groups", "refusals", DilatedGroups, (((1, 3, 23, 19), "float32"),), cli=("3x23x19",),
         note="accepted: dilation, stride, 'SAME' and 'VALID' at odd sizes"),
    Case("dilated_groups_channels", "refusals", DilatedGroups, (((1, 4, 23, 19), "float32"),), cli=("4x23x19",),
         refused="input_channels:4 != filter_channels * groups:3"),
    Case("asymmetric_padding", "refusals", Asymmetric, (((1, 2, 9, 14), "float32"),), cli=("2x9x14",),
         note="accepted: per-side padding, rectangular kernel"),
    Case("conv_at_two_sizes", "refusals", TwoScales, (((1, 3, 16, 16), "float32"),), cli=("3x16x16",),
         note="accepted: one conv called at two sizes"),
    Case("conv_at_two_sizes_channels", "refusals", TwoScales, (((1, 2, 16, 16), "float32"),), cli=("2x16x16",),
         refused="input_channels:2 != filter_channels * groups:3"),
    Case("conv_subclass_forward", "refusals", WithGainConv, (((1, 4, 10, 10), "float32"),), cli=("4x10x10",),
         note="accepted: a Conv2D subclass with its own forward"),
    Case("conv_subclass_channels", "refusals", WithGainConv, (((1, 3, 10, 10), "float32"),), cli=("3x10x10",),
         refused="input_channels:3 != filter_channels * groups:4"),
    Case("custom_layer_raises", "refusals", Guarded, (((1, 1, 8, 8), "float32"),), cli=("1x8x8",),
         refused="expects an RGB image, got 1 channel(s)"),
    Case("ids_from_conv_in_range", "refusals", lambda: CodesFromConv(10), (((1, 1, 6, 6), "float32"),),
         cli=("1x6x6",), note="accepted: the ids (9) are below the vocabulary (10)"),
    Case("ids_from_conv_out_of_range", "refusals", lambda: CodesFromConv(5), (((1, 1, 6, 6), "float32"),),
         cli=("1x6x6",), refused="expected >= 0 and < 5",
         note="refused only at the real values: zeros in place of the conv's output would pass"),
    Case("conv3d_channel_last", "refusals", Clip3D, (((1, 4, 8, 8, 3), "float32"),), cli=("4x8x8x3",),
         note="accepted: NDHWC clip"),
    Case("conv3d_channel_last_channels", "refusals", Clip3D, (((1, 4, 8, 8, 2), "float32"),), cli=("4x8x8x2",),
         refused=CHANNELS),
    Case("conv1d_dilated_depthwise", "refusals", Signal1D, (((1, 4, 30), "float32"),), cli=("4x30",),
         note="accepted: dilated 'SAME' Conv1D, then a strided depthwise one"),
    Case("conv1d_dilated_channels", "refusals", Signal1D, (((1, 2, 30), "float32"),), cli=("2x30",),
         refused=CHANNELS),
    Case("flatten_linear_fits", "refusals", SmallClassifier, (((1, 3, 16, 16), "float32"),), cli=("3x16x16",),
         note="accepted: the size the Linear was made for"),
    Case("flatten_linear_wrong_size", "refusals", SmallClassifier, (((1, 3, 20, 20), "float32"),),
         cli=("3x20x20",), refused="K_lhs:800 != K_rhs:512"),
    Case("reshape_tokens_fit", "refusals", PatchTokens, (((1, 3, 16, 16), "float32"),), cli=("3x16x16",),
         note="accepted: 16 patches of 8 values"),
    Case("reshape_tokens_wrong_size", "refusals", PatchTokens, (((1, 3, 20, 20), "float32"),), cli=("3x20x20",),
         refused="ReshapeOp is invalid"),
    Case("upsample_then_conv", "refusals", UpsampleHead, (((1, 3, 8, 8), "float32"),), cli=("3x8x8",),
         note="accepted: nearest and bilinear resizing around F.conv2d (checked on crops)"),
    Case("upsample_then_conv_channels", "refusals", lambda: UpsampleHead(stem_out=5), (((1, 3, 8, 8), "float32"),),
         cli=("3x8x8",), refused="input_channels:5 != filter_channels * groups:6"),
    Case("split_then_conv", "refusals", SplitBranches, (((1, 3, 8, 8), "float32"),), cli=("3x8x8",),
         note="accepted: channels split in two, one half convolved (checked on crops)"),
    Case("split_then_conv_channels", "refusals", lambda: SplitBranches(stem_out=6), (((1, 3, 8, 8), "float32"),),
         cli=("3x8x8",), refused="input_channels:3 != filter_channels * groups:4"),
    Case("token_ids_then_conv1d", "refusals", TokenConv, (((1, 12), "int64"),), cli=("12:int64",),
         note="accepted: integer ids"),
    Case("float_ids_then_conv1d", "refusals", TokenConv, (((1, 12), "float32"),), cli=("12:float32",),
         refused="only support int32 and int64"),
]
