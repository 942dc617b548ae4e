"""Parameter counts (book eq. 5.20 and 5.1.3).

>>> conv_params(3, 6, 3)          # 6 kernels of 3x3x3: book §5.2.1.3
168
>>> linear_params(32 * 32, 1)     # one fully connected neuron on 32x32: book §5.1.3
1025
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from convcalc.errors import InvalidParameterError
from convcalc.formulas._common import Quantity, as_expr, check_at_least, pair
from convcalc.formulas.numbers import div, expand, is_number

if TYPE_CHECKING:
    import sympy

__all__ = [
    "kernel_params",
    "conv_params",
    "linear_params",
    "batchnorm_params",
    "batchnorm_running_stats",
]


def kernel_params(kernel_size) -> sympy.Expr:
    """Weights of one single-channel kernel: ``U*V`` (book §5.1.3).

    >>> kernel_params(3)
    9
    """
    u, v = pair(kernel_size, "kernel_size")
    check_at_least(u, 1, "kernel", "a kernel covers at least one pixel")
    check_at_least(v, 1, "kernel", "a kernel covers at least one pixel")
    return u * v


def _check_groups(in_channels, out_channels, groups) -> None:
    check_at_least(groups, 1, "groups", "use groups=1 for an ordinary convolution")
    for name, c in (("in_channels", in_channels), ("out_channels", out_channels)):
        check_at_least(c, 1, name, "a layer has at least one channel")
        if is_number(c) and is_number(groups) and c % groups != 0:
            raise InvalidParameterError(
                f"groups={groups} does not divide {name}={c}",
                "choose groups among the common divisors of the channel counts",
            )


def conv_params(
    in_channels: Quantity,
    out_channels: Quantity,
    kernel_size,
    groups: Quantity = 1,
    bias: bool = True,
) -> sympy.Expr:
    """Parameters of a 2-D convolution: ``P*(D/g)*U*V + P`` (book eq. 5.20).

    ``D`` input channels, ``P`` output channels, ``g`` groups; the ``+P``
    bias term is dropped with ``bias=False``.

    >>> conv_params(1, 6, 5)                      # LeNet C1
    156
    >>> conv_params(64, 64, 3, bias=False)        # a ResNet 3x3
    36864
    >>> import sympy
    >>> P, D, U, V = sympy.symbols('P D U V', positive=True, integer=True)
    >>> conv_params(D, P, (U, V))
    D*P*U*V + P
    """
    d, p, g = as_expr(in_channels, "in_channels"), as_expr(out_channels, "out_channels"), as_expr(groups, "groups")
    _check_groups(d, p, g)
    weights = p * div(d, g) * kernel_params(kernel_size)
    return expand(weights + (p if bias else 0))


def linear_params(in_features: Quantity, out_features: Quantity, bias: bool = True) -> sympy.Expr:
    """Parameters of a fully connected layer: ``in*out + out``.

    >>> linear_params(120, 84)
    10164
    """
    i, o = as_expr(in_features, "in_features"), as_expr(out_features, "out_features")
    check_at_least(i, 1, "in_features", "a linear layer has at least one input")
    check_at_least(o, 1, "out_features", "a linear layer has at least one output")
    return expand(i * o + (o if bias else 0))


def batchnorm_params(channels: Quantity) -> sympy.Expr:
    """Trainable parameters of BatchNorm: scale and shift, ``2C``.

    >>> batchnorm_params(64)
    128
    """
    c = as_expr(channels, "channels")
    check_at_least(c, 1, "channels", "BatchNorm normalises at least one channel")
    return 2 * c


def batchnorm_running_stats(channels: Quantity) -> sympy.Expr:
    """Non-trainable running mean and variance of BatchNorm, ``2C``.

    ``paddle.summary`` counts them as parameters (non-trainable), so a
    BatchNorm2D(64) row shows ``batchnorm_params + batchnorm_running_stats = 256``.

    >>> batchnorm_running_stats(64)
    128
    """
    return batchnorm_params(channels)
