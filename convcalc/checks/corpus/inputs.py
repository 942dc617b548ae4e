"""Corpus kind ``inputs``: models whose input is not one float image.

Sequences ``[N, L, D]``, Conv1D ``[N, C, L]``, Conv3D ``[N, C, D, H, W]``,
integer token ids into an ``nn.Embedding``, and models whose ``forward``
takes several inputs.  Written the way users write them; each class builds
with no arguments, so the CLI can load it (``convcalc/checks/corpus/inputs.py:Name``).
"""

from __future__ import annotations

import paddle
import paddle.nn.functional as F
from paddle import nn

from convcalc.checks.corpus import Case


class TokenMLP(nn.Layer):
    """A per-token MLP over a sequence of feature vectors [N, L, D]."""

    def __init__(self, dim: int = 64, hidden: int = 128, classes: int = 10):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(self.norm(x))))


class SignalNet(nn.Layer):
    """1-D convolutions over a 4-channel signal [N, 4, L]."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1D(4, 16, kernel_size=5, padding=2),
            nn.BatchNorm1D(16),
            nn.ReLU(),
            nn.MaxPool1D(2),
            nn.Conv1D(16, 32, kernel_size=3, stride=2),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool1D(1)
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.head(paddle.flatten(x, 1))


class VoxelNet(nn.Layer):
    """3-D convolutions over a clip: 2 channels, 4 frames of 8x8 [N, 2, 4, 8, 8]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3D(2, 8, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm3D(8)
        self.pool = nn.MaxPool3D(kernel_size=2)
        self.conv2 = nn.Conv3D(8, 16, kernel_size=(1, 3, 3))
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.conv2(x))
        return self.head(x.mean(axis=[2, 3, 4]))


class BagOfWords(nn.Layer):
    """Token ids -> embeddings -> mean -> classifier."""

    def __init__(self, vocab: int = 1000, dim: int = 32):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.classify = nn.Linear(dim, 4)

    def forward(self, ids):
        return self.classify(self.embed(ids).mean(axis=1))


class TinyEncoder(nn.Layer):
    """Token ids plus learned positions through one transformer encoder layer."""

    def __init__(self, vocab: int = 500, dim: int = 32, length: int = 10):
        super().__init__()
        self.tokens = nn.Embedding(vocab, dim)
        self.positions = nn.Embedding(length, dim)
        self.encoder = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=64, dropout=0.0)
        self.out = nn.Linear(dim, 2)

    def forward(self, ids):
        pos = paddle.arange(ids.shape[1]).unsqueeze(0)
        x = self.tokens(ids) + self.positions(pos)
        return self.out(self.encoder(x)[:, 0])


class ImageAndText(nn.Layer):
    """Two inputs: an image and a caption's token ids, fused by concatenation."""

    def __init__(self):
        super().__init__()
        self.cnn = nn.Sequential(nn.Conv2D(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2D(1), nn.Flatten())
        self.words = nn.Embedding(200, 8)
        self.fuse = nn.Linear(16, 2)

    def forward(self, image, caption):
        text = self.words(caption).mean(axis=1)
        return self.fuse(paddle.concat([self.cnn(image), text], axis=1))


class MaskedMean(nn.Layer):
    """Three inputs: features [N, L, D], token ids [N, L] (int64) and a float mask [N, L]."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 16)
        self.kind = nn.Embedding(3, 16)

    def forward(self, feats, kinds, mask):
        x = self.proj(feats) + self.kind(kinds)
        w = mask.unsqueeze(-1)
        return (x * w).sum(axis=1) / (w.sum(axis=1) + 1.0)


class Siamese(nn.Layer):
    """Two images through one shared tower (the same layer called twice)."""

    def __init__(self):
        super().__init__()
        self.tower = nn.Sequential(nn.Conv2D(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 8))

    def forward(self, a, b):
        return paddle.abs(self.tower(a) - self.tower(b)).sum(axis=1)


CASES = [
    Case("token_mlp", "inputs", TokenMLP, (((1, 16, 64), "float32"),), cli=("16x64",)),
    Case("signal_conv1d", "inputs", SignalNet, (((1, 4, 32), "float32"),), cli=("4x32",)),
    Case("voxel_conv3d", "inputs", VoxelNet, (((1, 2, 4, 8, 8), "float32"),), cli=("2x4x8x8",),
         note="a 4-number --input read as one Conv3D sample"),
    Case("bag_of_words_ids", "inputs", BagOfWords, (((2, 12), "int64"),), cli=("12:int64",), batch=2),
    Case("bag_of_words_auto_ids", "inputs", BagOfWords, (((1, 12), "int64"),), cli=("12",),
         note="no dtype given: int64 because the first layer is an embedding"),
    Case("tiny_encoder", "inputs", TinyEncoder, (((2, 10), "int64"),), cli=("10:int64",), batch=2),
    Case("image_and_text", "inputs", ImageAndText, (((1, 3, 16, 16), "float32"), ((1, 6), "int64")),
         cli=("3x16x16", "6:int64")),
    Case("masked_mean_three_inputs", "inputs", MaskedMean,
         (((2, 5, 16), "float32"), ((2, 5), "int64"), ((2, 5), "float32")), cli=("5x16", "5:int64", "5"), batch=2),
    Case("siamese_shared_tower", "inputs", Siamese, (((1, 1, 8, 8), "float32"), ((1, 1, 8, 8), "float32")),
         cli=("1x8x8", "1x8x8")),
]
