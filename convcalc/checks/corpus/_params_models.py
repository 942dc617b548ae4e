"""Models for the parameters corpus (convcalc/checks/corpus/params.py), written the way users write them.

Imported only when a case is built (it imports paddle).
"""

from __future__ import annotations

import paddle
import paddle.nn.functional as F
from paddle import nn


class TiedAutoencoder(nn.Layer):
    """Encoder and decoder share one weight matrix (``dec.weight = enc.weight``)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2D(3, 8, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.flatten = nn.Flatten()
        self.enc = nn.Linear(8, 8)
        self.dec = nn.Linear(8, 8)
        self.dec.weight = self.enc.weight

    def forward(self, x):
        z = self.enc(self.flatten(self.pool(self.stem(x))))
        return self.dec(F.relu(z))


class RecurrentBlock(nn.Layer):
    """One conv applied three times (a layer called more than once)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2D(3, 16, 3, padding=1)
        self.block = nn.Conv2D(16, 16, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.stem(x)
        for _ in range(3):
            x = self.act(self.block(x))
        return x


class SiameseAliases(nn.Layer):
    """The same conv registered under two names and used on both branches."""

    def __init__(self):
        super().__init__()
        self.left = nn.Conv2D(3, 8, 3, padding=1)
        self.right = self.left
        self.merge = nn.Conv2D(16, 4, 1)

    def forward(self, x):
        a = self.left(x)
        b = self.right(paddle.flip(x, axis=[3]))
        return self.merge(paddle.concat([a, b], axis=1))


class SharedBlocks(nn.Layer):
    """``nn.LayerList([block] * 3)``: one block object in three slots."""

    def __init__(self):
        super().__init__()
        block = nn.Sequential(nn.Conv2D(8, 8, 3, padding=1), nn.BatchNorm2D(8), nn.ReLU())
        self.stem = nn.Conv2D(3, 8, 3, padding=1)
        self.blocks = nn.LayerList([block] * 3)

    def forward(self, x):
        x = self.stem(x)
        for blk in self.blocks:
            x = blk(x)
        return x


def _small_cnn():
    return nn.Sequential(
        nn.Conv2D(3, 8, 3, padding=1), nn.BatchNorm2D(8), nn.ReLU(), nn.MaxPool2D(2),
        nn.Conv2D(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2D(1), nn.Flatten(),
    )


class FrozenBackbone(nn.Layer):
    """Transfer learning: the backbone frozen after construction (``p.stop_gradient = True``)."""

    def __init__(self):
        super().__init__()
        self.backbone = _small_cnn()
        for p in self.backbone.parameters():
            p.stop_gradient = True
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        return self.head(self.backbone(x))


class FrozenByParamAttr(nn.Layer):
    """A fixed (non-trainable) first conv and a conv with a frozen bias only, through ``ParamAttr``."""

    def __init__(self):
        super().__init__()
        self.fixed = nn.Conv2D(3, 8, 3, weight_attr=paddle.ParamAttr(trainable=False),
                               bias_attr=paddle.ParamAttr(trainable=False))
        self.conv = nn.Conv2D(8, 8, 3, bias_attr=paddle.ParamAttr(trainable=False))
        self.bn = nn.BatchNorm2D(8, weight_attr=paddle.ParamAttr(trainable=False),
                                 bias_attr=paddle.ParamAttr(trainable=False))

    def forward(self, x):
        return self.bn(self.conv(F.relu(self.fixed(x))))


class TinyViT(nn.Layer):
    """ViT-style: a class token and a position embedding created on the root model."""

    def __init__(self, dim=16, patch=8, image=32, classes=10):
        super().__init__()
        self.patch_embed = nn.Conv2D(3, dim, patch, stride=patch)
        n = (image // patch) ** 2
        self.cls_token = self.create_parameter([1, 1, dim], default_initializer=nn.initializer.Constant(0.0))
        self.pos_embed = self.create_parameter([1, n + 1, dim],
                                               default_initializer=nn.initializer.TruncatedNormal(std=0.02))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose([0, 2, 1])
        cls = self.cls_token.expand([x.shape[0], -1, -1])
        x = paddle.concat([cls, x], axis=1) + self.pos_embed
        return self.head(self.norm(x)[:, 0])


class UnreadRootProjection(nn.Layer):
    """A root-held projection only another method uses (PaddleClas's CLIP/MoCo ViTs hold ``proj`` so)."""

    def __init__(self, dim=16, patch=8, classes=10):
        super().__init__()
        self.patch_embed = nn.Conv2D(3, dim, patch, stride=patch)
        self.proj = self.create_parameter([dim, 8])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def embed(self, x):  # never called by forward
        return paddle.matmul(x, self.proj)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose([0, 2, 1])
        return self.head(self.norm(x).mean(axis=1))


class FunctionalConvBlock(nn.Layer):
    """A container holding its own conv weight, used through ``F.conv2d``, beside a sublayer."""

    def __init__(self, cin, cout):
        super().__init__()
        self.weight = self.create_parameter([cout, cin, 3, 3])
        self.bias = self.create_parameter([cout], is_bias=True)
        self.bn = nn.BatchNorm2D(cout)

    def forward(self, x):
        return F.relu(self.bn(F.conv2d(x, self.weight, self.bias, padding=1)))


class FunctionalNet(nn.Layer):
    """Two functional conv blocks, and a head whose weights the root holds and applies with ``F.linear``."""

    def __init__(self):
        super().__init__()
        self.block1 = FunctionalConvBlock(3, 8)
        self.block2 = FunctionalConvBlock(8, 8)
        self.fc_w = self.create_parameter([8, 10])
        self.fc_b = self.create_parameter([10], is_bias=True)

    def forward(self, x):
        x = self.block2(self.block1(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return F.linear(x, self.fc_w, self.fc_b)


class WeightNormNet(nn.Layer):
    """``paddle.nn.utils.weight_norm`` on a conv and a linear layer (weight -> weight_g, weight_v)."""

    def __init__(self):
        super().__init__()
        self.conv = paddle.nn.utils.weight_norm(nn.Conv2D(3, 8, 3, padding=1))
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = paddle.nn.utils.weight_norm(nn.Linear(8, 4), dim=1)

    def forward(self, x):
        return self.fc(self.pool(F.relu(self.conv(x))).flatten(1))


class SpectralNormNet(nn.Layer):
    """``paddle.nn.utils.spectral_norm`` on a conv (weight -> weight_orig, u and v buffers)."""

    def __init__(self):
        super().__init__()
        self.conv = paddle.nn.utils.spectral_norm(nn.Conv2D(3, 8, 3, padding=1))
        self.out = nn.Conv2D(8, 1, 3, padding=1)

    def forward(self, x):
        return self.out(F.leaky_relu(self.conv(x), 0.2))


class LoRALinear(nn.Linear):
    """A Linear with a frozen base weight and trainable low-rank A, B matrices (LoRA)."""

    def __init__(self, in_features, out_features, rank=2, alpha=4.0):
        super().__init__(in_features, out_features)
        self.weight.stop_gradient = True
        self.lora_A = self.create_parameter([in_features, rank])
        self.lora_B = self.create_parameter([rank, out_features], default_initializer=nn.initializer.Constant(0.0))
        self.scaling = alpha / rank

    def forward(self, x):
        return super().forward(x) + (x @ self.lora_A @ self.lora_B) * self.scaling


class LoRAClassifier(nn.Layer):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2D(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2D(1),
                                      nn.Flatten())
        self.fc1 = LoRALinear(8, 16)
        self.fc2 = LoRALinear(16, 4, rank=4)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(self.features(x))))


class ScaledConv2D(nn.Conv2D):
    """A Conv2D subclass with a learnable per-channel output scale."""

    def __init__(self, in_channels, out_channels, kernel_size, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        self.gain = self.create_parameter([1, out_channels, 1, 1], default_initializer=nn.initializer.Constant(1.0))

    def forward(self, x):
        return super().forward(x) * self.gain


class ScaledConvNet(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv1 = ScaledConv2D(3, 8, 3, padding=1)
        self.conv2 = ScaledConv2D(8, 8, 3, stride=2, padding=1, bias_attr=False)

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(x)))


class BNNet(nn.Layer):
    """BatchNorm's running mean and variance are (non-trainable) parameters in Paddle."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1, bias_attr=False)
        self.bn = nn.BatchNorm2D(8)
        self.bn1d = nn.BatchNorm1D(8)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.bn(self.conv(x))), 1).flatten(1)
        return self.bn1d(x)


class BufferNet(nn.Layer):
    """A fixed mask registered as a buffer (state, not a parameter)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.register_buffer("mask", paddle.tril(paddle.ones([16, 16])))

    def forward(self, x):
        return self.conv(x) * self.mask


class AuxHeadNet(nn.Layer):
    """An auxiliary head used only in training: at inference it never runs."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2D(3, 8, 3, padding=1), nn.ReLU())
        self.aux_head = nn.Conv2D(8, 2, 1)
        self.head = nn.Conv2D(8, 4, 1)

    def forward(self, x):
        x = self.body(x)
        if self.training:
            return self.head(x), self.aux_head(x)
        return self.head(x)


class TiedOutsideOrder(nn.Layer):
    """A weight shared by two convs of different blocks, through ``create_parameter`` in a container."""

    def __init__(self):
        super().__init__()
        self.shared = self.create_parameter([8, 8, 3, 3])
        self.stem = nn.Conv2D(3, 8, 1)
        self.a = nn.Conv2D(8, 8, 3, padding=1)
        self.b = nn.Conv2D(8, 8, 3, padding=1, bias_attr=False)
        self.a.weight = self.shared
        self.b.weight = self.shared

    def forward(self, x):
        x = self.stem(x)
        return self.b(F.relu(self.a(x)))


class TiedLM(nn.Layer):
    """A language model whose output projection reuses the embedding matrix, with a root-owned output bias."""

    def __init__(self, vocab=50, dim=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.encoder = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.out_bias = self.create_parameter([vocab], is_bias=True)

    def forward(self, ids):
        h = self.norm(F.gelu(self.encoder(self.embed(ids))))
        return paddle.matmul(h, self.embed.weight, transpose_y=True) + self.out_bias


class UnreadProjection(nn.Layer):
    """MoCo v3 / CLIP ViT: the root creates a ``proj`` matrix its forward never uses (only a later head would),
    beside a root-held ``scale`` that it does use.  Used: the conv, the norm and ``scale``; not ``proj``."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.norm = nn.LayerNorm(8)
        self.scale = self.create_parameter([8], default_initializer=nn.initializer.Constant(1.0))
        self.proj = self.create_parameter([8, 4])

    def forward(self, x):
        t = self.conv(x).flatten(2).transpose([0, 2, 1])
        return self.norm(t) * self.scale
