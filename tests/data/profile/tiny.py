"""A tiny model for the profile tests: conv, batch norm, a ReLU called twice, a residual add, a layer
with no rule, global pooling, flatten and a linear layer (the layers convcalc's rows must all time)."""

import paddle
from paddle import nn


class Wobble(nn.Layer):
    """A user's own leaf layer: convcalc has no rule for it, and its forward runs an op no rule counts."""

    def forward(self, x):
        return paddle.sort(x, axis=-1) * paddle.nn.functional.sigmoid(x)  # sort: an op convcalc cannot count


class Block(nn.Layer):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2D(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2D(c)
        self.act = nn.ReLU()

    def forward(self, x):
        y = self.act(self.bn(self.conv(x)))
        return self.act(x + y)  # a functional add; act called twice


class Tiny(nn.Layer):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2D(3, 8, 3, padding=1)
        self.block = Block(8)
        self.wobble = Wobble()
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.wobble(self.block(self.stem(x)))
        return self.fc(self.pool(x).flatten(1))


CONVCALC_INPUT = "3x16x16"
