"""verify-op's reference in numpy (float64): what paddle.nn.Conv2D / MaxPool2D / AvgPool2D compute, and their gradients.

The checker needs no paddle (its import alone takes longer than a whole run): these functions
give the output and the gradients of ``sum(output * seed)`` with respect to the input, the
weight and the bias, by the definitions the book states (5.18 for the convolution, a
cross-correlation; pooling windows over the zero-padded input).  ``tests/test_verify_reference.py``
compares them with Paddle itself on every configuration of the grid and on drawn ones.

* conv2d: ``out[b, p, i, j] = sum_{d, u, v} w[p, d, u, v] * xpad[b, d, i*s + u, j*s + v] + bias[p]``;
* max pooling: the maximum over the window, padding counting as ``-inf``; its gradient goes to
  the maximum (inputs are continuous random numbers: ties have probability zero);
* avg pooling: Paddle's ``exclusive=True`` divides by the number of real (unpadded) pixels in
  the window; ``exclusive=False`` by ``k*k``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["conv2d", "pool2d"]


def _windows(x: np.ndarray, k: int, s: int, oh: int, ow: int) -> np.ndarray:
    """``[b, c, oh, ow, k, k]`` views of the windows of a padded input."""
    b, c = x.shape[:2]
    sb, sc, sh, sw = x.strides
    return np.lib.stride_tricks.as_strided(x, (b, c, oh, ow, k, k), (sb, sc, sh * s, sw * s, sh, sw), writeable=False)


def conv2d(x: Any, weight: Any, bias: Any, s: int, pad: int, seed: Any | None = None) -> dict[str, np.ndarray]:
    x = np.asarray(x, dtype="float64")
    w = np.asarray(weight, dtype="float64")
    bias = np.asarray(bias, dtype="float64").reshape(-1)
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (xp.shape[2] - k) // s + 1
    ow = (xp.shape[3] - k) // s + 1
    win = _windows(xp, k, s, oh, ow)
    out = np.einsum("bcijuv,pcuv->bpij", win, w) + bias[None, :, None, None]
    ref = {"out": out}
    if seed is not None:
        g = np.asarray(seed, dtype="float64")
        ref["grad_weight"] = np.einsum("bpij,bcijuv->pcuv", g, win)
        ref["grad_bias"] = g.sum(axis=(0, 2, 3))
        gxp = np.zeros_like(xp)
        contrib = np.einsum("bpij,pcuv->bcijuv", g, w)
        for u in range(k):
            for v in range(k):
                gxp[:, :, u : u + s * oh : s, v : v + s * ow : s] += contrib[:, :, :, :, u, v]
        ref["grad_x"] = gxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    return ref


def pool2d(
    x: Any, mode: str, k: int, s: int, pad: int, seed: Any | None = None, exclusive: bool = True
) -> dict[str, np.ndarray]:
    x = np.asarray(x, dtype="float64")
    h, w = x.shape[2:]
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    fill = -np.inf if mode == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    win = _windows(xp, k, s, oh, ow)
    if mode == "max":
        flat = win.reshape(*win.shape[:4], k * k)
        arg = flat.argmax(axis=-1)
        out = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    else:
        real = np.pad(np.ones((h, w)), pad)
        count = _windows(real[None, None], k, s, oh, ow).sum(axis=(-1, -2))[0, 0] if exclusive else k * k
        out = win.sum(axis=(-1, -2)) / count
    ref = {"out": out}
    if seed is not None:
        g = np.asarray(seed, dtype="float64")
        gxp = np.zeros_like(xp, dtype="float64")
        for i in range(oh):
            for j in range(ow):
                if mode == "max":
                    u, v = np.divmod(arg[:, :, i, j], k)
                    bi, ci = np.meshgrid(np.arange(x.shape[0]), np.arange(x.shape[1]), indexing="ij")
                    np.add.at(gxp, (bi, ci, i * s + u, j * s + v), g[:, :, i, j])
                else:
                    share = g[:, :, i, j] / (count[i, j] if exclusive else count)
                    gxp[:, :, i * s : i * s + k, j * s : j * s + k] += share[:, :, None, None]
        ref["grad_x"] = gxp[:, :, pad : pad + h, pad : pad + w]
    return ref
