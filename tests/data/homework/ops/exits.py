"""Kills its own process in forward: the checker must survive."""

import os

import paddle.nn as nn


class Conv2D(nn.Layer):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.weight = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size])

    def forward(self, x):
        os._exit(3)
