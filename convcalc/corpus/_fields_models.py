"""Models of the receptive-field corpus, written as users write them (imported only by their builders)."""

from __future__ import annotations

import paddle
from paddle import nn


class ConvGroupNorm(nn.Layer):
    """GroupNorm's statistics span every position: after it, a unit sees the whole image."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 8, 3, padding=1)
        self.norm = nn.GroupNorm(num_groups=2, num_channels=8)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2D(8, 8, 3, padding=1)

    def forward(self, x):
        return self.conv2(self.act(self.norm(self.conv1(x))))


class ConvInstanceNorm(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 5, stride=2, padding=2)
        self.norm = nn.InstanceNorm2D(8)
        self.act = nn.LeakyReLU()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class ConvLayerNormCHW(nn.Layer):
    """LayerNorm over [C, H, W] (fixes the input at 12x12): H and W whole."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.norm = nn.LayerNorm([4, 12, 12])
        self.head = nn.Conv2D(4, 4, 1)

    def forward(self, x):
        return self.head(self.norm(self.conv(x)))


class ConvLayerNormW(nn.Layer):
    """LayerNorm over the last axis only (W): H keeps its field, W is whole."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 4, 3, padding=1)
        self.norm = nn.LayerNorm(16)
        self.conv2 = nn.Conv2D(4, 4, 3, padding=1)

    def forward(self, x):
        return self.conv2(self.norm(self.conv1(x)))


class SoftmaxAlongWidth(nn.Layer):
    """Attention-like weighting along W: softmax over the last axis."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 4, (3, 5), padding=(1, 2))
        self.softmax = nn.Softmax(axis=-1)
        self.conv2 = nn.Conv2D(4, 4, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv2(self.softmax(self.conv1(x)))


class MeanOverHeight(nn.Layer):
    """A column summary: mean over H (kept as a 1-high map), then a 1-D conv along W."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2D(8, 8, (1, 3), padding=(0, 1))
        self.pool = nn.AvgPool2D((1, 2), stride=(1, 2))

    def forward(self, x):
        x = self.conv1(x)
        x = x.mean(axis=2, keepdim=True)
        return self.pool(self.conv2(x))


class Conv1DStack(nn.Layer):
    """A 1-D signal net: strides, dilation, BatchNorm1D, MaxPool1D, an average pool."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1D(4, 8, 5, stride=2, padding=2)
        self.bn = nn.BatchNorm1D(8)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv1D(8, 8, 3, padding=2, dilation=2)
        self.pool = nn.MaxPool1D(2, stride=2)
        self.conv3 = nn.Conv1D(8, 16, 3, padding=1)
        self.avg = nn.AvgPool1D(3, stride=1, padding=1)

    def forward(self, x):
        x = self.act(self.bn(self.conv1(x)))
        return self.avg(self.conv3(self.pool(self.conv2(x))))


class Conv1DChannelLast(nn.Layer):
    """Channel-last 1-D (NLC) with SAME padding and stride: Paddle pads the smaller half before."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1D(3, 8, 4, stride=2, padding="SAME", data_format="NLC")
        self.conv2 = nn.Conv1D(8, 8, 3, stride=2, padding="SAME", data_format="NLC")

    def forward(self, x):
        return self.conv2(self.conv1(x))


class Conv3DStack(nn.Layer):
    """A small video/volume net: non-cubic kernels and strides, MaxPool3D, BatchNorm3D."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3D(2, 4, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2))
        self.bn = nn.BatchNorm3D(4)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool3D((1, 2, 2), stride=(1, 2, 2))
        self.conv2 = nn.Conv3D(4, 4, 3, padding=1)

    def forward(self, x):
        return self.conv2(self.pool(self.act(self.bn(self.conv1(x)))))


class ChannelLastSame(nn.Layer):
    """NHWC with SAME padding on an odd input: even kernels pad asymmetrically, and the start moves."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 8, 4, stride=2, padding="SAME", data_format="NHWC")
        self.bn = nn.BatchNorm2D(8, data_format="NHWC")
        self.pool = nn.MaxPool2D(3, stride=2, padding=1, data_format="NHWC")
        self.conv2 = nn.Conv2D(8, 8, (3, 2), stride=(1, 2), padding="SAME", data_format="NHWC")

    def forward(self, x):
        return self.conv2(self.pool(self.bn(self.conv1(x))))


class DilatedGroups(nn.Layer):
    """Dilation per axis, grouped and depthwise convs, a residual add of two dilations."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2D(3, 8, 3, padding=1)
        self.a = nn.Conv2D(8, 8, 3, padding=(2, 3), dilation=(2, 3), groups=2)
        self.b = nn.Conv2D(8, 8, 5, padding=2, groups=8)
        self.join = nn.ReLU()
        self.c = nn.Conv2D(8, 8, 3, stride=2, dilation=2, padding=2)

    def forward(self, x):
        x = self.stem(x)
        return self.c(self.join(self.a(x) + self.b(x)))


class HWCImage(nn.Layer):
    """Images arrive as H x W x C and are transposed to NCHW in forward (a common user pattern)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 8, (3, 5), stride=2, padding=(1, 2))
        self.pool = nn.MaxPool2D(2, 2)
        self.conv2 = nn.Conv2D(8, 8, 3, padding=1)

    def forward(self, x):
        x = paddle.transpose(x, [0, 3, 1, 2])
        return self.conv2(self.pool(self.conv1(x)))

