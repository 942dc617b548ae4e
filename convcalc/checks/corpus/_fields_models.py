"""Models of the receptive-field corpus, written as users write them (imported only by their builders)."""

from __future__ import annotations

import paddle
import paddle.nn.functional as F
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



# ------------------------------------------------------------------ upsampling: transposed convs, interpolation
def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2D(cin, cout, 3, padding=1), nn.BatchNorm2D(cout), nn.ReLU())


class TinyUNet(nn.Layer):
    """A small U-Net: two poolings down, a ConvTranspose2D and a bilinear Upsample back up, skip concats."""

    def __init__(self, base: int = 4):
        super().__init__()
        self.enc1 = _block(3, base)
        self.pool1 = nn.MaxPool2D(2)
        self.enc2 = _block(base, 2 * base)
        self.pool2 = nn.MaxPool2D(2)
        self.bottleneck = _block(2 * base, 4 * base)
        self.up2 = nn.Conv2DTranspose(4 * base, 2 * base, kernel_size=2, stride=2)
        self.dec2 = _block(4 * base, 2 * base)
        self.up1 = nn.Upsample(scale_factor=2, mode="bilinear")
        self.dec1 = _block(3 * base, base)
        self.head = nn.Conv2D(base, 2, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool1(e1))
        b = self.bottleneck(self.pool2(e2))
        d2 = self.dec2(paddle.concat([self.up2(b), e2], axis=1))
        d1 = self.dec1(paddle.concat([self.up1(d2), e1], axis=1))
        return self.head(d1)


class FPNTopDown(nn.Layer):
    """An FPN-like neck: a strided backbone, 1x1 laterals, nearest 2x upsampling + add, 3x3 smoothing."""

    def __init__(self, ch: int = 8):
        super().__init__()
        self.c2 = nn.Sequential(nn.Conv2D(3, ch, 3, stride=2, padding=1), nn.ReLU(),
                                nn.Conv2D(ch, ch, 3, stride=2, padding=1), nn.ReLU())
        self.c3 = nn.Sequential(nn.Conv2D(ch, ch, 3, stride=2, padding=1), nn.ReLU())
        self.c4 = nn.Sequential(nn.Conv2D(ch, ch, 3, stride=2, padding=1), nn.ReLU())
        self.lat2 = nn.Conv2D(ch, ch, 1)
        self.lat3 = nn.Conv2D(ch, ch, 1)
        self.lat4 = nn.Conv2D(ch, ch, 1)
        self.merge3 = nn.Identity()
        self.merge2 = nn.Identity()
        self.smooth = nn.Conv2D(ch, ch, 3, padding=1)

    def forward(self, x):
        c2 = self.c2(x)
        c3 = self.c3(c2)
        c4 = self.c4(c3)
        p4 = self.lat4(c4)
        p3 = self.merge3(self.lat3(c3) + F.interpolate(p4, scale_factor=2, mode="nearest"))
        p2 = self.merge2(self.lat2(c2) + F.interpolate(p3, scale_factor=2, mode="nearest"))
        return self.smooth(p2)


class Signal1DDecoder(nn.Layer):
    """A 1-D encoder/decoder for signals: strided Conv1D down, Conv1DTranspose up (output_padding, groups,
    dilation), a linear Upsample."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv1D(2, 8, 5, stride=2, padding=2)
        self.act = nn.ReLU()
        self.up1 = nn.Conv1DTranspose(8, 8, 4, stride=2, padding=1)
        self.up2 = nn.Conv1DTranspose(8, 8, 3, stride=3, padding=1, output_padding=2, groups=2, dilation=2)
        self.up3 = nn.Upsample(scale_factor=2, mode="linear", align_corners=False, align_mode=1, data_format="NCW")
        self.out = nn.Conv1D(8, 1, 3, padding=1)

    def forward(self, x):
        x = self.act(self.down(x))
        x = self.act(self.up1(x))
        return self.out(self.up3(self.up2(x)))


class ResizeModes(nn.Layer):
    """Resizing a user meets besides 2x nearest/bilinear: bicubic F.interpolate, a Conv2DTranspose whose
    kernel is smaller than its stride (every other output sees no input: holes), and SAME padding."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3)
        self.mid = nn.Conv2D(4, 4, 3, padding=1)
        self.holes = nn.Conv2DTranspose(4, 4, 1, stride=2)
        self.same = nn.Conv2DTranspose(4, 4, 3, stride=2, padding="SAME")
        self.end = nn.Conv2D(4, 4, 3, padding=1)

    def forward(self, x):
        x = F.interpolate(self.conv(x), scale_factor=2, mode="bicubic")
        x = self.holes(self.mid(x))
        return self.end(self.same(x))


class Volume3DUp(nn.Layer):
    """A 3-D decoder step: Conv3D down, Conv3DTranspose up with per-axis strides, trilinear Upsample."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv3D(1, 4, 3, stride=(1, 2, 2), padding=1)
        self.up = nn.Conv3DTranspose(4, 4, (1, 4, 4), stride=(1, 2, 2), padding=(0, 1, 1))
        self.tri = nn.Upsample(scale_factor=(2, 1, 1), mode="trilinear")
        self.out = nn.Conv3D(4, 2, 3, padding=1)

    def forward(self, x):
        return self.out(self.tri(self.up(self.down(x))))


class WindowAttention(nn.Layer):
    """Swin-style window attention: split H and W into 4x4 windows, fold the windows into the batch, attend
    within each window (q k^T over its 16 tokens, softmax, times v), merge the windows back; a 1x1 head.
    Each output sees its own window (on top of the 3x3 conv): by hand 3 + 3 = 6 at most, never whole."""

    def __init__(self, ws: int = 4):
        super().__init__()
        self.ws = ws
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.qkv = nn.Linear(8, 24)
        self.proj = nn.Linear(8, 8)
        self.head = nn.Conv2D(8, 4, 1)

    def forward(self, x):
        x = self.conv(x)
        b, c, h, w = x.shape
        ws = self.ws
        t = x.transpose([0, 2, 3, 1]).reshape([b, h // ws, ws, w // ws, ws, c])
        t = t.transpose([0, 1, 3, 2, 4, 5]).reshape([-1, ws * ws, c])         # [B*nW, ws*ws, C]
        q, k, v = paddle.chunk(self.qkv(t), 3, axis=-1)
        attn = F.softmax(paddle.matmul(q, k, transpose_y=True) / 8 ** 0.5, axis=-1)
        t = self.proj(paddle.matmul(attn, v))
        t = t.reshape([b, h // ws, w // ws, ws, ws, c]).transpose([0, 1, 3, 2, 4, 5]).reshape([b, h, w, c])
        return self.head(t.transpose([0, 3, 1, 2]))


class PatchMLP(nn.Layer):
    """An MLP over the 4 positions of each 4-wide patch along W (split W into (W/4, 4), Linear on the 4, merge);
    H untouched.  By hand: W sees its patch (3 + 3 = 6), H keeps 3, then the head's 3x3 adds 2 each."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(4, 4, 3, padding=1)
        self.mix = nn.Linear(4, 4)
        self.head = nn.Conv2D(4, 4, 3, padding=1)

    def forward(self, x):
        x = self.conv(x)
        b, c, h, w = x.shape
        t = self.mix(x.reshape([b, c, h, w // 4, 4]))
        return self.head(t.reshape([b, c, h, w]))


class RowFold(nn.Layer):
    """Row-wise ops: H folded into the batch ([B*H, C, W]), a Conv1D along each row, unfolded; at any batch
    H keeps the 3x3 conv's 3 and W grows to 5 (by hand)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(4, 4, 3, padding=1)
        self.row = nn.Conv1D(4, 4, 3, padding=1)
        self.head = nn.Conv2D(4, 4, 1)

    def forward(self, x):
        x = self.conv(x)
        b, c, h, w = x.shape
        rows = self.row(x.transpose([0, 2, 1, 3]).reshape([b * h, c, w]))
        return self.head(rows.reshape([b, h, c, w]).transpose([0, 2, 1, 3]))


class AxialAttention(nn.Layer):
    """Axial attention: attend along W within each row (H folded into the batch), then along H within each
    column (W folded into the batch).  By hand: after the row step W is whole and H keeps 3; after the column
    step both are whole."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.row_out = nn.Conv2D(8, 8, 1)
        self.col_out = nn.Conv2D(8, 8, 1)

    @staticmethod
    def _attend(t):
        return paddle.matmul(F.softmax(paddle.matmul(t, t, transpose_y=True), axis=-1), t)

    def forward(self, x):
        x = self.conv(x)
        b, c, h, w = x.shape
        rows = self._attend(x.transpose([0, 2, 3, 1]).reshape([b * h, w, c]))          # along W
        x = self.row_out(rows.reshape([b, h, w, c]).transpose([0, 3, 1, 2]))
        cols = self._attend(x.transpose([0, 3, 2, 1]).reshape([b * w, h, c]))          # along H
        return self.col_out(cols.reshape([b, w, h, c]).transpose([0, 3, 2, 1]))


class Shuffles(nn.Layer):
    """ChannelShuffle (no spatial change), PixelShuffle(2) (nearest 2x upsampling: jump 1/2), PixelUnshuffle(2)
    (each 2x2 block into channels: window 2, stride 2), a 3x3 head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 16, 3, padding=1)
        self.cs = nn.ChannelShuffle(4)
        self.ps = nn.PixelShuffle(2)
        self.mid = nn.Conv2D(4, 4, 3, padding=1)
        self.pu = nn.PixelUnshuffle(2)
        self.head = nn.Conv2D(16, 4, 3, padding=1)

    def forward(self, x):
        return self.head(self.pu(self.mid(self.ps(self.cs(self.conv(x))))))
