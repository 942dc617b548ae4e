"""Corpus kind ``refusals``: inputs Paddle's own eager forward refuses, so convcalc must refuse them too.

Each case's ``refused`` is a fragment of Paddle's message; convcalc's error
(exit 2, one line) carries Paddle's reason and the layer's path.  These
cases make Paddle fail: run each in its own process (a failed static build
can make the next one crash).
"""

from __future__ import annotations

import paddle.nn.functional as F
from paddle import nn

from convcalc.checks.corpus import Case


class RGBNet(nn.Layer):
    """A small colour-image CNN (3 input channels), given a grey image."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 16, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.pool(F.relu(self.conv1(x))).flatten(1))


class GroupedNet(nn.Layer):
    """A grouped conv (4 channels in 2 groups) after a stem."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2D(3, 6, 1)
        self.grouped = nn.Conv2D(4, 8, 3, groups=2)

    def forward(self, x):
        return self.grouped(self.stem(x))


class DepthwiseNet(nn.Layer):
    """A MobileNet-style depthwise conv expecting 8 channels."""

    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2D(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2D(8, 16, 1)

    def forward(self, x):
        return self.pw(self.dw(x))


class FunctionalGroups(nn.Layer):
    """``F.conv2d`` with groups=2 on a weight the model creates itself."""

    def __init__(self):
        super().__init__()
        self.weight = self.create_parameter([8, 2, 3, 3])

    def forward(self, x):
        return F.conv2d(x, self.weight, groups=2)


class Signal(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1D(4, 8, 3)

    def forward(self, x):
        return self.conv(x)


class Clip(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3D(3, 4, 3)

    def forward(self, x):
        return self.conv(x)


class Lookup(nn.Layer):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 8)

    def forward(self, ids):
        return self.embed(ids)


class Recurrent(nn.Layer):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 8)

    def forward(self, x):
        return self.lstm(x)[0]


class Flattened(nn.Layer):
    """A classifier sized for 8x8 feature maps."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class Pooled(nn.Layer):
    """Reshapes its features into groups of 16 values."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc(x.reshape([-1, 16]))


CHANNELS = "input_channels"  # Paddle: "... (received input_channels:1 != filter_channels * groups:3)"

CASES = [
    Case("grey_into_rgb", "refusals", RGBNet, (((1, 1, 16, 16), "float32"),), cli=("1x16x16",),
         refused="input_channels:1 != filter_channels * groups:3"),
    Case("grouped_channels", "refusals", GroupedNet, (((1, 3, 8, 8), "float32"),), cli=("3x8x8",),
         refused="input_channels:6 != filter_channels * groups:4"),
    Case("depthwise_channels", "refusals", DepthwiseNet, (((1, 6, 8, 8), "float32"),), cli=("6x8x8",),
         refused=CHANNELS),
    Case("functional_groups", "refusals", FunctionalGroups, (((1, 6, 8, 8), "float32"),), cli=("6x8x8",),
         refused="input_channels:6 != filter_channels * groups:4"),
    Case("conv1d_channels", "refusals", Signal, (((1, 3, 16), "float32"),), cli=("3x16",), refused=CHANNELS),
    Case("conv3d_channels", "refusals", Clip, (((1, 2, 4, 8, 8), "float32"),), cli=("2x4x8x8",),
         refused=CHANNELS),
    Case("float_ids", "refusals", Lookup, (((1, 12), "float32"),), cli=("12:float32",),
         refused="only support int32 and int64"),
    Case("lstm_feature_size", "refusals", Recurrent, (((1, 5, 10), "float32"),), cli=("5x10",),
         refused="matrix width"),
    Case("lstm_rank", "refusals", Recurrent, (((1, 2, 5, 16), "float32"),), cli=("2x5x16",),
         refused="must be 3", note="a rank problem, not 'input too small'"),
    Case("reshape_does_not_fit", "refusals", Pooled, (((1, 5, 10), "float32"),), cli=("5x10",),
         refused="ReshapeOp is invalid"),
    Case("linear_features", "refusals", Flattened, (((1, 1, 16, 16), "float32"),), cli=("1x16x16",),
         refused="K_lhs:1024 != K_rhs:256"),
]
