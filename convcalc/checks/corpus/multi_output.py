"""Corpus kind ``multi_output``: sublayers (and models) returning several tensors.

Every output's shape must be kept, and ``compare`` must not report a
mismatch where every number agrees.
"""

from __future__ import annotations

import paddle
from paddle import nn

from convcalc.checks.corpus import Case


class Halves(nn.Layer):
    """A conv whose channels are split in two halves, returned as a tuple."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)

    def forward(self, x):
        a, b = paddle.split(self.conv(x), 2, axis=1)
        return a, b


class GatedConv(nn.Layer):
    """Uses :class:`Halves` as a sublayer: value * sigmoid(gate)."""

    def __init__(self):
        super().__init__()
        self.halves = Halves()
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        value, gate = self.halves(x)
        y = self.pool(value * paddle.nn.functional.sigmoid(gate))
        return self.fc(paddle.flatten(y, 1))


class TwoHeads(nn.Layer):
    """A shared trunk with a classification and a box-regression head (the model returns both)."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2D(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2D(2), nn.Flatten())
        self.cls = nn.Linear(32, 5)
        self.box = nn.Linear(32, 4)

    def forward(self, x):
        f = self.trunk(x)
        return self.cls(f), self.box(f)


class WithAux(nn.Layer):
    """A block that returns (output, auxiliary logits); the parent uses only the output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(4, 4, 3, padding=1)
        self.aux = nn.Linear(4, 10)

    def forward(self, x):
        y = self.conv(x)
        return y, self.aux(y.mean(axis=[2, 3]))


class AuxNet(nn.Layer):
    def __init__(self):
        super().__init__()
        self.block = WithAux()
        self.head = nn.Conv2D(4, 1, 1)

    def forward(self, x):
        y, _ = self.block(x)
        return self.head(y)


class Stats(nn.Layer):
    """Returns a dict of tensors (mean and max over channels)."""

    def forward(self, x):
        return {"mean": x.mean(axis=1), "max": x.max(axis=1)}


class UsesStats(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(2, 6, 3)
        self.stats = Stats()
        self.fc = nn.Linear(2 * 4 * 4, 2)

    def forward(self, x):
        s = self.stats(self.conv(x))
        return self.fc(paddle.concat([s["mean"].flatten(1), s["max"].flatten(1)], axis=1))


CASES = [
    Case("tuple_halves", "multi_output", GatedConv, (((1, 3, 8, 8), "float32"),), cli=("3x8x8",)),
    Case("two_heads", "multi_output", TwoHeads, (((2, 3, 16, 16), "float32"),), cli=("3x16x16",), batch=2),
    Case("block_with_aux", "multi_output", AuxNet, (((1, 4, 6, 6), "float32"),), cli=("4x6x6",)),
    Case("dict_output", "multi_output", UsesStats, (((1, 2, 6, 6), "float32"),), cli=("2x6x6",)),
]
