"""Hostile: at import, writes into the teacher's home (and other places outside its scratch directory).

TARGETS is replaced by the test with folders it owns; the writes are not guarded, so a
sandbox that refuses them turns into an import error.
"""

import os

import paddle.nn as nn
import paddle.nn.functional as F

TARGETS = [os.path.expanduser("~"), "/root", "/tmp"]

for folder in TARGETS:
    with open(os.path.join(folder, "convcalc-pwned.txt"), "w") as fh:
        fh.write("a student's file was here\n")


class Conv2D(nn.Layer):
    """A correct convolution: only the writes above can make this file fail."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.weight = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size])
        self.bias = self.create_parameter([out_channels], is_bias=True)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)
