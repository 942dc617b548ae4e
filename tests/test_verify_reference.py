"""verify-op's numpy reference equals Paddle's own Conv2D / MaxPool2D / AvgPool2D, outputs and gradients.

The checker compares a student's operator with :mod:`convcalc.homework.operators.reference` (so
it never imports paddle); here the truth is Paddle itself, on every configuration of the grid
and on drawn ones (non-square inputs, strides, paddings, kernels).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.homework.operators.configurations import CONV_GRID, POOL_GRID, POOL_PADDED_GRID, configurations
from convcalc.homework.operators.reference import conv2d, pool2d

paddle = pytest.importorskip("paddle")
F = pytest.importorskip("paddle.nn.functional")


def _paddle_conv(x, w, b, s, pad, seed):
    xt, wt, bt = (paddle.to_tensor(a, stop_gradient=False) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=s, padding=pad)
    (out * paddle.to_tensor(seed)).sum().backward()
    return {"out": out.numpy(), "grad_x": xt.grad.numpy(), "grad_weight": wt.grad.numpy(), "grad_bias": bt.grad.numpy()}


def _paddle_pool(x, mode, k, s, pad, seed, exclusive=True):
    xt = paddle.to_tensor(x, stop_gradient=False)
    if mode == "max":
        out = F.max_pool2d(xt, kernel_size=k, stride=s, padding=pad)
    else:
        out = F.avg_pool2d(xt, kernel_size=k, stride=s, padding=pad, exclusive=exclusive)
    (out * paddle.to_tensor(seed)).sum().backward()
    return {"out": out.numpy(), "grad_x": xt.grad.numpy()}


def _same(ours: dict, truth: dict) -> None:
    assert set(ours) == set(truth)
    for name in truth:
        np.testing.assert_allclose(ours[name], truth[name], rtol=1e-5, atol=1e-5, err_msg=name)


def test_every_grid_configuration_matches_paddle():
    for c in configurations("conv2d", [], True) + configurations("pool2d", ["max", "avg"], True):
        a = c.arrays
        if c.kind == "conv":
            s, pad = c.dims[6], c.dims[7]
            _same(
                conv2d(a["x"], a["weight"], a["bias"], s, pad, a["seed"]),
                _paddle_conv(a["x"], a["weight"], a["bias"], s, pad, a["seed"]),
            )
        else:
            k, s, pad = c.dims[4:]
            _same(pool2d(a["x"], c.mode, k, s, pad, a["seed"]), _paddle_pool(a["x"], c.mode, k, s, pad, a["seed"]))
    assert len(CONV_GRID) == 9 and len(POOL_GRID + POOL_PADDED_GRID) == 8


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 2),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(4, 9),
    st.integers(4, 9),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(0, 2**32 - 1),
)
def test_drawn_convolutions_match_paddle(b, d, p, h, w, k, s, pad, seed):
    if h + 2 * pad < k or w + 2 * pad < k:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, d, h, w)).astype("float32")
    wt = rng.standard_normal((p, d, k, k)).astype("float32")
    bias = rng.standard_normal((p,)).astype("float32")
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    g = rng.standard_normal((b, p, oh, ow)).astype("float32")
    _same(conv2d(x, wt, bias, s, pad, g), _paddle_conv(x, wt, bias, s, pad, g))


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["max", "avg"]),
    st.booleans(),
    st.integers(1, 2),
    st.integers(1, 3),
    st.integers(4, 9),
    st.integers(4, 9),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(0, 2**32 - 1),
)
def test_drawn_poolings_match_paddle(mode, exclusive, b, c, h, w, k, s, pad, seed):
    if pad > k // 2 or h + 2 * pad < k or w + 2 * pad < k:
        return  # Paddle refuses a padding over half the window
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, c, h, w)).astype("float32")
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    g = rng.standard_normal((b, c, oh, ow)).astype("float32")
    _same(pool2d(x, mode, k, s, pad, g, exclusive), _paddle_pool(x, mode, k, s, pad, g, exclusive))
