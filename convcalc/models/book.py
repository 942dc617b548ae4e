"""The book's operators and models, with the book's signatures and attribute names.

Everything here follows chapter 5 of the book so that the book's own code runs
against it:

- :class:`SimpleConv2D` -- the single-channel operator of 5.1.2 / 5.1.6 (one
  ``[k, k]`` kernel, inputs ``[B, M, N]``, no bias), used by the edge-detection
  example 5.1.7.
- :class:`Conv2D` -- the multi-channel convolution operator of 5.2.1.2, written
  as the book teaches it: explicit loops over output channels, input channels
  and output positions, with zero padding and stride (5.1.6).  Bias shape
  ``[out_channels, 1]``.
- :class:`Pool2D` -- the max / average pooling operator of 5.2.2, loop version.
- :class:`VectorizedConv2D`, :class:`VectorizedPool2D` -- the same operators
  (same signature, same parameter names and shapes, same outputs and gradients)
  written with tensor ops as a student would (im2col by ``F.unfold`` plus one
  ``matmul``; the maximum of strided window views, or two averaging-matrix
  products), without Paddle's conv or pool kernels; thousands of times faster
  than the loops, and at batch 1 as fast as Paddle's layers.  They
  subclass the loop operators, so ``isinstance(layer, Conv2D)`` holds for both.
- :class:`Model_LeNet` and :class:`Paddle_LeNet` (5.3.2), :class:`ResBlock`,
  :func:`make_first_module`, :func:`resnet_module`, :func:`make_modules` and
  :class:`Model_ResNet18` (5.4.1).

The layer attribute names (``conv1``, ``pool2``, ..., ``net``, ``shortcut``,
``bn3``) are the book's, so ``state_dict`` keys and ``paddle.summary`` rows are
the book's too: ``paddle.summary(Model_ResNet18(1, 10), (1, 1, 32, 32))`` reports
11,185,034 parameters, ``Paddle_LeNet(1)`` at the same input 61,706.

Written against Paddle 3 (``Layer.create_parameter``, no ``paddle.fluid``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from convcalc.errors import InvalidParameterError, ShapeError

__all__ = [
    "SimpleConv2D",
    "Conv2D",
    "Pool2D",
    "VectorizedConv2D",
    "VectorizedPool2D",
    "Model_LeNet",
    "Paddle_LeNet",
    "ResBlock",
    "make_first_module",
    "resnet_module",
    "make_modules",
    "Model_ResNet18",
]

# The book's defaults (5.2.1.2): weights initialised to 1, biases to 0.  Paddle
# deep-copies a ParamAttr when it creates a parameter, so sharing these default
# objects between instances is safe.
_ONES = paddle.ParamAttr(initializer=nn.initializer.Constant(value=1.0))
_ZEROS = paddle.ParamAttr(initializer=nn.initializer.Constant(value=0.0))


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidParameterError(
            f"{name} must be a positive integer, got {value!r}",
            f"pass e.g. {name}=1",
        )
    return value


def _non_negative_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterError(
            f"{name} must be a non-negative integer, got {value!r}",
            f"pass e.g. {name}=0",
        )
    return value


class SimpleConv2D(nn.Layer):
    """Single-channel 2-D convolution with stride and zero padding, as loops (5.1.2, 5.1.6).

    ``y_ij = sum_{u,v} w_uv x_{i*s+u, j*s+v}`` on the zero-padded input (5.1);
    ``weight`` has shape ``[kernel_size, kernel_size]``, there is no bias.
    Inputs are ``[B, M, N]`` (no channel axis), outputs ``[B, M', N']``.
    """

    def __init__(
        self,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        weight_attr: paddle.ParamAttr | None = _ONES,
    ) -> None:
        super().__init__()
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.stride = _positive_int("stride", stride)
        self.padding = _non_negative_int("padding", padding)
        self.weight = self.create_parameter(shape=[kernel_size, kernel_size], attr=weight_attr, dtype="float32")

    def forward(self, X: paddle.Tensor) -> paddle.Tensor:
        p, s = self.padding, self.stride
        padded = paddle.zeros([X.shape[0], X.shape[1] + 2 * p, X.shape[2] + 2 * p], X.dtype)
        padded[:, p : X.shape[1] + p, p : X.shape[2] + p] = X
        u, v = self.weight.shape
        out_h = (padded.shape[1] - u) // s + 1
        out_w = (padded.shape[2] - v) // s + 1
        output = paddle.zeros([X.shape[0], out_h, out_w], X.dtype)
        for i in range(out_h):
            for j in range(out_w):
                window = padded[:, s * i : s * i + u, s * j : s * j + v]
                output[:, i, j] = paddle.sum(window * self.weight, axis=[1, 2])
        return output

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Conv2D(nn.Layer):
    """Multi-channel 2-D convolution with stride and zero padding, as loops (5.2.1.2).

    ``Y^p = sum_d W^{p,d} (*) X^d + b^p`` (5.15-5.16), each single-channel
    convolution computed position by position after zero padding (5.1.6).

    Parameters: ``weight`` of shape ``[out_channels, in_channels, k, k]`` and
    ``bias`` of shape ``[out_channels, 1]`` (``None`` when ``bias_attr=False``).
    ``P*D*U*V + P`` parameters (5.20).  Slow by design: this is the operator the
    book teaches; use :class:`VectorizedConv2D` for the same numbers fast.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        weight_attr: paddle.ParamAttr | None = _ONES,
        bias_attr: paddle.ParamAttr | bool | None = _ZEROS,
    ) -> None:
        super().__init__()
        self.in_channels = _positive_int("in_channels", in_channels)
        self.out_channels = _positive_int("out_channels", out_channels)
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.stride = _positive_int("stride", stride)
        self.padding = _non_negative_int("padding", padding)
        self.weight = self.create_parameter(
            shape=[out_channels, in_channels, kernel_size, kernel_size],
            attr=weight_attr,
            dtype="float32",
        )
        self.bias = self.create_parameter(shape=[out_channels, 1], attr=bias_attr, dtype="float32", is_bias=True)

    def single_forward(self, X: paddle.Tensor, weight: paddle.Tensor) -> paddle.Tensor:
        """One input channel ``X`` [B, M, N] convolved with one kernel ``weight`` [U, V]."""
        p, s = self.padding, self.stride
        padded = paddle.zeros([X.shape[0], X.shape[1] + 2 * p, X.shape[2] + 2 * p], X.dtype)
        padded[:, p : X.shape[1] + p, p : X.shape[2] + p] = X
        u, v = weight.shape
        out_h = (padded.shape[1] - u) // s + 1
        out_w = (padded.shape[2] - v) // s + 1
        output = paddle.zeros([X.shape[0], out_h, out_w], X.dtype)
        for i in range(out_h):
            for j in range(out_w):
                window = padded[:, s * i : s * i + u, s * j : s * j + v]
                output[:, i, j] = paddle.sum(window * weight, axis=[1, 2])
        return output

    def forward(self, inputs: paddle.Tensor) -> paddle.Tensor:
        """``inputs`` [B, D, M, N] -> [B, P, M', N'] with M' = (M + 2p - k) // s + 1 (5.6)."""
        feature_maps = []
        for p in range(self.out_channels):
            per_channel = [self.single_forward(inputs[:, d, :, :], self.weight[p, d]) for d in range(self.in_channels)]
            feature_map = paddle.sum(paddle.stack(per_channel), axis=0)
            if self.bias is not None:
                feature_map = feature_map + self.bias[p]
            feature_maps.append(feature_map)
        return paddle.stack(feature_maps, axis=1)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
        )


class VectorizedConv2D(Conv2D):
    """:class:`Conv2D` as im2col plus one matrix product: same parameters, outputs and gradients.

    Written with tensor ops only, as a student would; no Paddle convolution
    kernel runs:

    1. im2col: every ``k x k`` window (with stride ``s``) of every input
       channel, zero-padded (5.1.6), becomes a column, ``cols`` [B, D*U*V, M'*N'] -
       one ``F.unfold`` (a gather of windows, not a convolution: it multiplies
       and adds nothing);
    2. ``Y = W_flat @ cols + b`` with ``W_flat`` [P, D*U*V] - all of 5.15-5.16
       in one ``matmul``.
    """

    def forward(self, inputs: paddle.Tensor) -> paddle.Tensor:
        """``inputs`` [B, D, M, N] -> [B, P, M', N'] with M' = (M + 2p - k) // s + 1 (5.6)."""
        p, s, k = self.padding, self.stride, self.kernel_size
        batch, channels, height, width = inputs.shape
        out_h, out_w = (height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1
        if out_h <= 0 or out_w <= 0:
            raise ShapeError(
                f"input {height}x{width}{f' padded by {p}' if p else ''} is smaller than the {k}x{k} kernel",
                "use a larger input or more padding",
            )
        positions = out_h * out_w
        # column (i, j) of cols holds window (i, j), its rows ordered (d, u, v) like the weight's
        if p == 0 and height == width == k:  # the one window is the whole input (LeNet's conv5): a reshape
            cols = paddle.reshape(inputs, [batch, channels * k * k, 1])
        else:
            cols = F.unfold(inputs, [k, k], strides=s, paddings=p)
        weight = paddle.reshape(self.weight, [self.out_channels, channels * k * k])
        if positions >= self.out_channels:
            out = paddle.matmul(weight, cols)  # [B, P, M'*N']
        else:  # few positions (LeNet's conv5 has one): cols^T @ W^T is one large product, not B tiny ones
            out = paddle.transpose(paddle.matmul(cols, weight, transpose_x=True, transpose_y=True), [0, 2, 1])
        if self.bias is not None:
            out = out + self.bias  # [P, 1] broadcasts over the M'*N' positions
        return paddle.reshape(out, [batch, self.out_channels, out_h, out_w])


_POOL_MODES = ("max", "avg")


class Pool2D(nn.Layer):
    """Max or average pooling over ``size`` windows with ``stride``, as loops (5.2.2).

    No parameters and no padding.  ``size`` is ``(height, width)``.  (The book
    unpacks ``self.h, self.w = size`` but then slides ``w`` along the height
    axis; for the square windows the book uses both readings agree, and here
    ``h`` is the window height, as in ``paddle.nn.MaxPool2D``.)
    """

    def __init__(self, size: Sequence[int] = (2, 2), mode: str = "max", stride: int = 1) -> None:
        super().__init__()
        if mode not in _POOL_MODES:
            raise InvalidParameterError(f"unknown pooling mode {mode!r}", "use mode='max' or mode='avg'")
        try:
            h, w = size
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"size must be a (height, width) pair, got {size!r}", "pass e.g. size=(2, 2)"
            ) from None
        self.mode = mode
        self.h = _positive_int("size[0]", h)
        self.w = _positive_int("size[1]", w)
        self.stride = _positive_int("stride", stride)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """``x`` [B, C, M, N] -> [B, C, (M - h) // s + 1, (N - w) // s + 1]."""
        s, h, w = self.stride, self.h, self.w
        out_h = (x.shape[2] - h) // s + 1
        out_w = (x.shape[3] - w) // s + 1
        reduce = paddle.max if self.mode == "max" else paddle.mean
        output = paddle.zeros([x.shape[0], x.shape[1], out_h, out_w], x.dtype)
        for i in range(out_h):
            for j in range(out_w):
                window = x[:, :, s * i : s * i + h, s * j : s * j + w]
                output[:, :, i, j] = reduce(window, axis=[2, 3])
        return output

    def extra_repr(self) -> str:
        return f"size=({self.h}, {self.w}), mode={self.mode!r}, stride={self.stride}"


def _window_views(x: paddle.Tensor, size: tuple[int, int], stride: int, out_hw: tuple[int, int]) -> list[paddle.Tensor]:
    """The ``h*w`` strided views of ``x`` [B, C, M, N]: view ``(u, v)`` holds ``x[:, :, i*s+u, j*s+v]``."""
    (h, w), (out_h, out_w) = size, out_hw
    return [
        x[:, :, u : u + stride * (out_h - 1) + 1 : stride, v : v + stride * (out_w - 1) + 1 : stride]
        for u in range(h)
        for v in range(w)
    ]


def _window_max(x: paddle.Tensor, size: tuple[int, int], stride: int, out_hw: tuple[int, int]) -> paddle.Tensor:
    """Every window's maximum, with ``paddle.max``'s gradient (shared equally by tied elements), as the loop's.

    The gradient is routed by a mask: ``max + sum((x - x.detach()) * mask /
    count)`` over each window has exactly the max's value (the added term is
    0) and gives each of the ``count`` elements equal to the max ``1 / count``
    of the output gradient, as the loop version's ``paddle.max`` does.
    (Paddle 3.3.1's own ``max`` gradient over two axes is wrong for tensors of
    more than four dimensions and very slow for four, and ``maximum``'s
    gradient goes to one of two tied elements.)

    Windows that tile the input (``stride == h == w``) are one reshape of it
    into ``[B*C*M', h, N', w]``, reduced over the window axes; overlapping
    windows are the ``h*w`` strided views of the input (:func:`_window_views`),
    reduced by a chain of elementwise ``maximum``.
    """
    (h, w), (out_h, out_w) = size, out_hw
    channels = x.shape[1]
    needs_grad = paddle.is_grad_enabled() and not x.stop_gradient
    if stride == h and stride == w:
        tiles = x[:, :, : out_h * h, : out_w * w] if list(x.shape[2:]) != [out_h * h, out_w * w] else x
        tiles = paddle.reshape(tiles, [-1, h, out_w, w])  # -1: the batch may be dynamic in a static program
        if not needs_grad:
            return paddle.reshape(paddle.max(tiles, axis=[1, 3]), [-1, channels, out_h, out_w])
        with paddle.no_grad():
            top = paddle.max(tiles, axis=[1, 3], keepdim=True)
            mask = paddle.cast(tiles == top, x.dtype)
            share = mask / paddle.sum(mask, axis=[1, 3], keepdim=True)
        routed = paddle.sum((tiles - tiles.detach()) * share, axis=[1, 3], keepdim=True)
        return paddle.reshape(top + routed, [-1, channels, out_h, out_w])
    views = _window_views(x, size, stride, out_hw)
    with paddle.no_grad():
        top = functools.reduce(paddle.maximum, views)
    if not needs_grad:
        return top
    masks = [paddle.cast(v.detach() == top, v.dtype) for v in views]
    routed = paddle.add_n([(v - v.detach()) * m for v, m in zip(views, masks)])
    return top + routed / paddle.add_n(masks)


def _averaging_matrix(length: int, size: int, stride: int, out: int, dtype: str) -> np.ndarray:
    """``[out, length]``: row ``i`` averages the ``size`` entries of window ``i`` (``i*stride`` onwards)."""
    matrix = np.zeros((out, length), dtype)
    for i in range(out):
        matrix[i, i * stride : i * stride + size] = 1.0 / size
    return matrix


class VectorizedPool2D(Pool2D):
    """:class:`Pool2D` over strided windows: same outputs and gradients, no Paddle pooling kernel.

    Max: every window's maximum over the strided window views
    (:func:`_window_max`, with the loop version's gradient, ties sharing it
    equally).  Average: a window's mean is the mean over its ``h`` rows of the
    means over its ``w`` columns, so the whole pooling is two matrix products,
    ``A_h @ X @ A_w^T``, where row ``i`` of ``A_h`` [M', M] holds ``1/h`` on
    window ``i``'s rows (and ``A_w`` likewise); any stride, overlapping or not.
    The two small matrices are built once per input size.
    """

    def __init__(self, size: Sequence[int] = (2, 2), mode: str = "max", stride: int = 1) -> None:
        super().__init__(size, mode, stride)
        self._averaging: dict[tuple, tuple[paddle.Tensor, paddle.Tensor]] = {}

    def _averaging_matrices(self, height: int, width: int, out_hw: tuple[int, int], dtype) -> tuple:
        key = (height, width, str(dtype))
        if key in self._averaging:
            return self._averaging[key]
        name = str(dtype).replace("paddle.", "")
        pair = (
            paddle.to_tensor(_averaging_matrix(height, self.h, self.stride, out_hw[0], name)),
            paddle.to_tensor(_averaging_matrix(width, self.w, self.stride, out_hw[1], name)),
        )
        if paddle.in_dynamic_mode():  # a static program's constants belong to that program
            self._averaging[key] = pair
        return pair

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """``x`` [B, C, M, N] -> [B, C, (M - h) // s + 1, (N - w) // s + 1]."""
        s, h, w = self.stride, self.h, self.w
        height, width = x.shape[2:]
        out_h, out_w = (height - h) // s + 1, (width - w) // s + 1
        if out_h <= 0 or out_w <= 0:
            raise ShapeError(
                f"input {height}x{width} is smaller than the {h}x{w} pooling window", "use a larger input"
            )
        if self.mode == "max":
            return _window_max(x, (h, w), s, (out_h, out_w))
        rows, columns = self._averaging_matrices(height, width, (out_h, out_w), x.dtype)
        return paddle.matmul(paddle.matmul(rows, x), columns, transpose_y=True)


class Model_LeNet(nn.Layer):  # noqa: N801 - the book's name
    """LeNet-5 built from the book's operators (5.3.2).

    conv1 (6@5x5) -> relu -> pool2 (max 2x2/2) -> conv3 (16@5x5) -> relu ->
    pool4 (avg 2x2/2) -> conv5 (120@5x5) -> relu -> squeeze -> linear6 (84) ->
    relu -> linear7.  Expects 32x32 inputs (conv5 must produce 1x1, as in the
    book).  ``vectorized=True`` swaps in :class:`VectorizedConv2D` and
    :class:`VectorizedPool2D`; parameter names are unchanged, so state dicts
    are interchangeable between the two.
    """

    def __init__(self, in_channels: int, num_classes: int = 10, vectorized: bool = False) -> None:
        super().__init__()
        conv = VectorizedConv2D if vectorized else Conv2D
        pool = VectorizedPool2D if vectorized else Pool2D
        default = paddle.ParamAttr()  # Paddle's default initialiser, as in the book
        self.vectorized = vectorized
        self.conv1 = conv(in_channels, 6, kernel_size=5, weight_attr=default)
        self.pool2 = pool(size=(2, 2), mode="max", stride=2)
        self.conv3 = conv(6, 16, kernel_size=5, stride=1, weight_attr=default)
        self.pool4 = pool(size=(2, 2), mode="avg", stride=2)
        self.conv5 = conv(16, 120, kernel_size=5, stride=1, weight_attr=default)
        self.linear6 = nn.Linear(120, 84)
        self.linear7 = nn.Linear(84, num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        output = F.relu(self.conv1(x))
        output = self.pool2(output)
        output = F.relu(self.conv3(output))
        output = self.pool4(output)
        output = F.relu(self.conv5(output))
        output = paddle.squeeze(output, axis=[2, 3])
        output = F.relu(self.linear6(output))
        return self.linear7(output)


class Paddle_LeNet(nn.Layer):  # noqa: N801 - the book's name
    """The same LeNet-5 from Paddle's own layers (5.3.2); conv biases have shape [P]."""

    def __init__(self, in_channels: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(in_channels=in_channels, out_channels=6, kernel_size=5)
        self.pool2 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.conv3 = nn.Conv2D(in_channels=6, out_channels=16, kernel_size=5)
        self.pool4 = nn.AvgPool2D(kernel_size=2, stride=2)
        self.conv5 = nn.Conv2D(in_channels=16, out_channels=120, kernel_size=5)
        self.linear6 = nn.Linear(in_features=120, out_features=84)
        self.linear7 = nn.Linear(in_features=84, out_features=num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        output = F.relu(self.conv1(x))
        output = self.pool2(output)
        output = F.relu(self.conv3(output))
        output = self.pool4(output)
        output = F.relu(self.conv5(output))
        output = paddle.squeeze(output, axis=[2, 3])
        output = F.relu(self.linear6(output))
        return self.linear7(output)


class ResBlock(nn.Layer):
    """The residual unit of 5.4.1.1.

    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut)``; ``conv1`` carries the
    block's ``stride``.  When the shape changes (``in_channels != out_channels``
    or ``stride != 1``) the shortcut is a 1x1 ``shortcut`` conv followed by
    ``bn3``, otherwise the identity.  ``use_residual=False`` drops the addition
    (the layers still exist, so the parameter count is unchanged).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, use_residual: bool = True) -> None:
        super().__init__()
        self.stride = stride
        self.use_residual = use_residual
        self.conv1 = nn.Conv2D(in_channels, out_channels, 3, padding=1, stride=stride, bias_attr=False)
        self.conv2 = nn.Conv2D(out_channels, out_channels, 3, padding=1, bias_attr=False)
        self.use_1x1conv = in_channels != out_channels or stride != 1
        if self.use_1x1conv:
            self.shortcut = nn.Conv2D(in_channels, out_channels, 1, stride=stride, bias_attr=False)
        self.bn1 = nn.BatchNorm2D(out_channels)
        self.bn2 = nn.BatchNorm2D(out_channels)
        if self.use_1x1conv:
            self.bn3 = nn.BatchNorm2D(out_channels)

    def forward(self, inputs: paddle.Tensor) -> paddle.Tensor:
        y = F.relu(self.bn1(self.conv1(inputs)))
        y = self.bn2(self.conv2(y))
        if self.use_residual:
            shortcut = self.bn3(self.shortcut(inputs)) if self.use_1x1conv else inputs
            y = paddle.add(shortcut, y)
        return F.relu(y)


def make_first_module(in_channels: int) -> nn.Sequential:
    """Module 1 of ResNet18 (5.4.1.2): 7x7/2 conv (64, with bias), BN, ReLU, 3x3/2 max pool."""
    return nn.Sequential(
        nn.Conv2D(in_channels, 64, 7, stride=2, padding=3),
        nn.BatchNorm2D(64),
        nn.ReLU(),
        nn.MaxPool2D(kernel_size=3, stride=2, padding=1),
    )


def resnet_module(
    input_channels: int,
    out_channels: int,
    num_res_blocks: int,
    stride: int = 1,
    use_residual: bool = True,
) -> list[ResBlock]:
    """``num_res_blocks`` residual units; only the first changes channels / stride (5.4.1.2)."""
    blocks = [ResBlock(input_channels, out_channels, stride=stride, use_residual=use_residual)]
    for _ in range(num_res_blocks - 1):
        blocks.append(ResBlock(out_channels, out_channels, use_residual=use_residual))
    return blocks


def make_modules(
    use_residual: bool,
) -> tuple[nn.Sequential, nn.Sequential, nn.Sequential, nn.Sequential]:
    """Modules 2-5 of ResNet18: two units each, 64/128/256/512 channels, strides 1/2/2/2."""
    return (
        nn.Sequential(*resnet_module(64, 64, 2, stride=1, use_residual=use_residual)),
        nn.Sequential(*resnet_module(64, 128, 2, stride=2, use_residual=use_residual)),
        nn.Sequential(*resnet_module(128, 256, 2, stride=2, use_residual=use_residual)),
        nn.Sequential(*resnet_module(256, 512, 2, stride=2, use_residual=use_residual)),
    )


class Model_ResNet18(nn.Layer):  # noqa: N801 - the book's name
    """The book's ResNet18 (5.4.1.2): ``net`` = m1..m5, AdaptiveAvgPool2D(1), Flatten, Linear.

    Differs from ``paddle.vision.models.resnet18`` only in the stem conv, which
    has a bias here (3,200 parameters for one input channel instead of 3,136).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, use_residual: bool = True) -> None:
        super().__init__()
        m1 = make_first_module(in_channels)
        m2, m3, m4, m5 = make_modules(use_residual)
        self.net = nn.Sequential(m1, m2, m3, m4, m5, nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(512, num_classes))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.net(x)
