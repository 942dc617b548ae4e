"""Small models for the answer-key round trip: 1-D, 3-D and a net whose field differs per axis."""

import paddle.nn as nn


class Net1D(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1D(2, 4, 3, stride=2)
        self.pool = nn.MaxPool1D(2)

    def forward(self, x):
        return self.pool(self.conv(x))


class Net3D(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3D(1, 2, (3, 1, 3), stride=(1, 2, 1))
        self.pool = nn.MaxPool3D(2)

    def forward(self, x):
        return self.pool(self.conv(x))


class NetRF(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(1, 2, (3, 1), stride=(2, 1))
        self.conv2 = nn.Conv2D(2, 2, (1, 3), bias_attr=False)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv2(self.conv1(x)))
