"""Average pooling that divides by k*k also where the window covers padding."""

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class Pool2D(nn.Layer):
    def __init__(self, kernel_size, stride=None, padding=0, mode="max"):
        super().__init__()
        self.k, self.s, self.p, self.mode = kernel_size, stride or kernel_size, padding, mode

    def forward(self, x):
        if self.mode == "max":
            return F.max_pool2d(x, self.k, self.s, self.p)
        padded = F.pad(x, [self.p] * 4)
        out_h = (padded.shape[2] - self.k) // self.s + 1
        out_w = (padded.shape[3] - self.k) // self.s + 1
        rows = []
        for i in range(out_h):
            cols = []
            for j in range(out_w):
                window = padded[:, :, i * self.s : i * self.s + self.k, j * self.s : j * self.s + self.k]
                cols.append(paddle.sum(window, axis=[2, 3]) / (self.k * self.k))
            rows.append(paddle.stack(cols, axis=-1))
        return paddle.stack(rows, axis=-2)
