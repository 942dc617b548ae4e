"""Corpus kind ``control_flow``: a ``forward`` whose path depends on tensor values or on Python values.

A branch on a tensor value is analysed along the path Paddle's eager forward
takes at the case's input (ones for float inputs), with a note saying so.
"""

from __future__ import annotations

import paddle
from paddle import nn

from convcalc.checks.corpus import Case


class GatedHead(nn.Layer):
    """Two heads of different widths; which one runs depends on the input's mean."""

    def __init__(self):
        super().__init__()
        self.wide = nn.Linear(8, 8)
        self.narrow = nn.Linear(8, 4)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        if x.mean() > 0:
            y = self.wide(x)
        else:
            y = paddle.concat([self.narrow(x), self.narrow(x)], axis=-1)
        return self.out(y)


class EarlyExit(nn.Layer):
    """Returns early (a different shape) when the features are small."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3)
        self.classifier = nn.Linear(8, 2)

    def forward(self, x):
        y = self.conv(x)
        if y.abs().max() > 1e6:
            return y
        return self.classifier(y.mean(axis=[2, 3]))


class ElseBranch(nn.Layer):
    """The ``else`` branch is the one taken at an input of ones (its sum is positive)."""

    def __init__(self):
        super().__init__()
        self.neg = nn.Conv2D(1, 2, 3)
        self.pos = nn.Conv2D(1, 4, 5, padding=1)

    def forward(self, x):
        if x.sum() < 0:
            return self.neg(x)
        else:
            return self.pos(x)


class RefineUntilLarge(nn.Layer):
    """A ``while`` on a tensor: doubles the activations until their sum passes 100."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 4)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        y = paddle.abs(self.stem(x)) + 1.0
        while y.sum() < 100:
            y = y * 2
        return self.head(y)


class CompoundCondition(nn.Layer):
    """``and`` / ``not`` on tensor conditions: Python asks each tensor in turn."""

    def __init__(self):
        super().__init__()
        self.small = nn.Conv2D(2, 4, 1)
        self.large = nn.Conv2D(2, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.min() >= 0 and not x.max() > 100:
            y = self.large(x)
        else:
            y = self.small(x)
        return self.fc(y.mean(axis=[2, 3]))


class Unrolled(nn.Layer):
    """A Python loop and a Python flag: plain control flow, the same at every input."""

    def __init__(self, steps: int = 3, residual: bool = True):
        super().__init__()
        self.steps, self.residual = steps, residual
        self.block = nn.Linear(6, 6)

    def forward(self, x):
        for _ in range(self.steps):
            y = self.block(x)
            x = x + y if self.residual else y
        return x


CASES = [
    Case("gated_head", "control_flow", GatedHead, (((1, 8), "float32"),), cli=("8",)),
    Case("early_exit", "control_flow", EarlyExit, (((1, 3, 8, 8), "float32"),), cli=("3x8x8",)),
    Case("else_branch", "control_flow", ElseBranch, (((1, 1, 9, 9), "float32"),), cli=("1x9x9",)),
    Case("while_on_tensor", "control_flow", RefineUntilLarge, (((1, 4), "float32"),), cli=("4",)),
    Case("compound_condition", "control_flow", CompoundCondition, (((1, 2, 6, 6), "float32"),), cli=("2x6x6",)),
    Case("python_loop_and_flag", "control_flow", Unrolled, (((2, 6), "float32"),), cli=("6",), batch=2),
]
