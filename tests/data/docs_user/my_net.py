"""The user's own model that the docs' `convcalc report my_net.py:Net --input 3x64x64` examples name.

A small classifier written the ordinary way (paddle.nn layers, a forward with a functional op).
"""

import paddle.nn as nn
import paddle.nn.functional as F


class Net(nn.Layer):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2D(16)
        self.conv2 = nn.Conv2D(16, 32, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        return self.fc(self.pool(x).flatten(1))
