"""The teacher's small network for question "net" (loaded with --allow-code)."""
import paddle.nn as nn


class Net(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 8, 3)                                  # 3x15x15 -> 8x13x13
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2D(2, 2, ceil_mode=True)                  # 8x13x13 -> 8x7x7 (floor: 8x6x6)
        self.conv2 = nn.Conv2D(8, 16, 3, padding=1, bias_attr=False)     # 8x7x7 -> 16x7x7
        self.relu2 = nn.ReLU()
        self.flatten = nn.Flatten()                                      # 784
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        x = self.relu1(self.conv1(x))
        x = self.pool1(x)
        x = self.relu2(self.conv2(x))
        return self.fc(self.flatten(x))
