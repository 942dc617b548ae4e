"""Weight created as [in_channels, out_channels, k, k] (the transposed-convolution layout)."""

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class Conv2D(nn.Layer):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.weight = self.create_parameter([in_channels, out_channels, kernel_size, kernel_size])
        self.bias = self.create_parameter([out_channels], is_bias=True)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        w = paddle.transpose(self.weight, [1, 0, 2, 3])
        return F.conv2d(x, w, self.bias, stride=self.stride, padding=self.padding)
