"""Small user models for the ``path/to/file.py:Name`` tests of ``convcalc.models.zoo``."""

from __future__ import annotations

import paddle
from paddle import nn

CONVCALC_INPUT = (3, 16, 16)


class TinyNet(nn.Layer):
    """A two-conv network with a linear head."""

    def __init__(self, num_classes: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2D(8, 8, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = paddle.nn.functional.relu(self.conv1(x))
        x = paddle.nn.functional.relu(self.conv2(x))
        return self.fc(paddle.flatten(self.pool(x), 1))


class GrayNet(TinyNet):
    """TinyNet's twin for one-channel 8x8 images."""

    CONVCALC_INPUT = "1x8x8"

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(1, 8, 3, padding=1)


class NeedsArgs(nn.Layer):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2D(3, width, 3)


class Explodes(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        raise RuntimeError("constructor exploded")


class NotALayer:
    pass


def make_tiny() -> TinyNet:
    """Factory: TinyNet with ten classes."""
    return TinyNet(num_classes=10)


def make_number() -> int:
    return 3


def make_with_args(width: int) -> NeedsArgs:
    return NeedsArgs(width)


ready_model = TinyNet()
SOME_CONSTANT = 7
