"""Off by one: the last window is dropped."""

import paddle
import paddle.nn as nn


class Pool2D(nn.Layer):
    def __init__(self, size=(2, 2), mode="max", stride=1):
        super().__init__()
        self.mode = mode
        self.h, self.w = size
        self.stride = stride

    def forward(self, x):
        s = self.stride
        out_h = (x.shape[2] - self.h) // s
        out_w = (x.shape[3] - self.w) // s
        output = paddle.zeros([x.shape[0], x.shape[1], out_h, out_w])
        for i in range(out_h):
            for j in range(out_w):
                window = x[:, :, s * i : s * i + self.h, s * j : s * j + self.w]
                if self.mode == "max":
                    output[:, :, i, j] = paddle.max(window, axis=[2, 3])
                else:
                    output[:, :, i, j] = paddle.mean(window, axis=[2, 3])
        return output
