"""The student raises the recursion limit (as Stack Overflow answers suggest) and recurses without end.

Uncapped, Python 3.11 frames grow on the heap towards the 2 GiB limit for close to a minute; the
sandbox caps the limit, so it fails within seconds."""
import sys

import paddle.nn as nn

sys.setrecursionlimit(10**8)


def depth(n):
    return depth(n + 1) + 1


class Conv2D(nn.Layer):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.weight = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size])
        self.bias = self.create_parameter([out_channels], is_bias=True)

    def forward(self, x):
        return depth(0)
