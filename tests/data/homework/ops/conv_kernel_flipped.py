"""Kernel flipped: a true convolution instead of cross-correlation."""

import paddle
import paddle.nn as nn


class Conv2D(nn.Layer):
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        weight_attr=None,
        bias_attr=None,
    ):
        super().__init__()
        self.weight = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size], attr=weight_attr)
        self.bias = self.create_parameter([out_channels, 1], attr=bias_attr, is_bias=True)
        self.stride, self.padding = stride, padding
        self.in_channels, self.out_channels = in_channels, out_channels

    def single_forward(self, X, weight):
        p, s = self.padding, self.stride
        new_X = paddle.zeros([X.shape[0], X.shape[1] + 2 * p, X.shape[2] + 2 * p])
        new_X[:, p : X.shape[1] + p, p : X.shape[2] + p] = X
        u, v = weight.shape
        out_h = (new_X.shape[1] - u) // s + 1
        out_w = (new_X.shape[2] - v) // s + 1
        output = paddle.zeros([X.shape[0], out_h, out_w])
        for i in range(out_h):
            for j in range(out_w):
                output[:, i, j] = paddle.sum(
                    new_X[:, s * i : s * i + u, s * j : s * j + v] * paddle.flip(weight, axis=[0, 1]),
                    axis=[1, 2],
                )
        return output

    def forward(self, inputs):
        maps = []
        for w, b in zip(self.weight, self.bias, strict=True):
            outs = [self.single_forward(inputs[:, i, :, :], w[i]) for i in range(self.in_channels)]
            maps.append(paddle.sum(paddle.stack(outs), axis=0) + b)
        return paddle.stack(maps, 1)
