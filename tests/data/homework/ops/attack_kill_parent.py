"""Hostile: at import, kills its parent process (which used to be the checker) and its process group."""

import os
import signal

import paddle
import paddle.nn as nn

try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
try:
    os.kill(0, signal.SIGKILL)  # the whole process group (kill(0) spares nobody in it, this file included)
except OSError:
    pass


class Conv2D(nn.Layer):
    """Reached only if the kills failed: no convolution at all."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.weight = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size])
        self.bias = self.create_parameter([out_channels], is_bias=True)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        b, _, h, w = x.shape
        k, s, p = self.weight.shape[-1], self.stride, self.padding
        return paddle.zeros([b, self.weight.shape[0], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1])
