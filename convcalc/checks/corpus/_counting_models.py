"""Small models for the counting corpus, written the way people write them (imported by the cases' builds)."""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class Upsampler(nn.Layer):
    """A decoder's 2x upsampling step."""

    def __init__(self):
        super().__init__()
        self.up = nn.Conv2DTranspose(16, 8, 2, stride=2)

    def forward(self, x):
        return self.up(x)


class ChannelsLastNet(nn.Layer):
    """NHWC end to end: conv, ReLU, global average pool, classifier."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(16, 8, 3, padding=1, data_format="NHWC")
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2D(1, data_format="NHWC")
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.pool(self.act(self.conv(x)))
        return self.fc(x.flatten(1))


class Signal1D(nn.Layer):
    """A 1-D signal model (NCL)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1D(4, 8, 3)
        self.act = nn.ReLU()
        self.pool = nn.AvgPool1D(2)
        self.conv2 = nn.Conv1D(8, 8, 3)

    def forward(self, x):
        return self.conv2(self.pool(self.act(self.conv1(x))))


class Volume3D(nn.Layer):
    """A 3-D (volumetric) block."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3D(2, 4, 3, padding=1)
        self.pool = nn.MaxPool3D(2)

    def forward(self, x):
        return self.pool(self.conv(x))


class GroupedDilated(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(8, 8, 3, stride=2, dilation=2, groups=4)

    def forward(self, x):
        return self.conv(x)


class FunctionalHead(nn.Layer):
    """Parameters used through the functional API: F.conv2d, F.linear, matmul, bmm, einsum, addmm."""

    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([4, 3, 3, 3])
        self.fc = self.create_parameter([4, 6])

    def forward(self, x):                                   # [1, 3, 8, 8]
        y = F.conv2d(x, self.w)                             # [1, 4, 6, 6]
        y = y.mean(axis=[2, 3])                             # [1, 4]
        z = F.linear(y, self.fc)                            # [1, 6]
        g = paddle.matmul(z, z, transpose_x=True)           # [6, 6]
        b = paddle.bmm(g.unsqueeze(0), g.unsqueeze(0))      # [1, 6, 6]
        e = paddle.einsum("ij,jk->ik", g, g)                # [6, 6]
        return paddle.addmm(e, g, b[0])                     # [6, 6]


class SelfAttention(nn.Layer):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiHeadAttention(16, 2)

    def forward(self, x):
        return self.attn(x, x, x)


class TinyEncoder(nn.Layer):
    def __init__(self):
        super().__init__()
        self.block = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0)

    def forward(self, x):
        return self.block(x)


class Recurrent(nn.Layer):
    """One LSTM cell step on a batch of feature vectors."""

    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(8, 16)

    def forward(self, x):
        h, _ = self.cell(x)
        return h


class UpsampleThenConv(nn.Layer):
    def __init__(self):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.conv = nn.Conv2D(3, 8, 1, bias_attr=False)

    def forward(self, x):
        return self.conv(self.up(x))


class MixerLike(nn.Layer):
    """LayerNorm, a token-wise Linear and a softmax over the features."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 16)
        self.soft = nn.Softmax()

    def forward(self, x):
        return self.soft(self.fc(self.norm(x)))


class WithUnknowns(nn.Layer):
    """A layer and an op convcalc has no FLOP rule for: the total must read as a lower bound."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3)
        self.lrn = nn.LocalResponseNorm(3)

    def forward(self, x):
        return paddle.cumsum(self.lrn(self.conv(x)), axis=1)
