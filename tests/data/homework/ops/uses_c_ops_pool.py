"""A Pool2D that calls Paddle's kernel below the public API (paddle._C_ops.pool2d)."""

import paddle
import paddle.nn as nn


class Pool2D(nn.Layer):
    def __init__(self, size=(2, 2), mode="max", stride=2):
        super().__init__()
        self.size, self.mode, self.stride = list(size), mode, stride

    def forward(self, x):
        return paddle._C_ops.pool2d(
            x, self.size, [self.stride, self.stride], [0, 0], False, True, "NCHW", self.mode, False, False, "EXPLICIT"
        )
