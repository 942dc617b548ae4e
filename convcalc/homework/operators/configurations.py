"""The configurations a student's operator is checked on, their random arrays, and the reference for each.

The reference is :mod:`convcalc.homework.operators.reference` (numpy, checked against Paddle by
the tests): the checker never imports paddle."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from convcalc.homework.operators._harness import skipped
from convcalc.homework.operators.reference import conv2d, pool2d

__all__ = [
    "Config",
    "CONV_GRID",
    "POOL_GRID",
    "POOL_PADDED_GRID",
    "reference_name",
    "configurations",
    "plan",
    "reference",
    "out_size",
]


# (batch, in_channels, out_channels, height, width, kernel, stride, padding):
# small, simplest first, so a failure points at the simplest broken case.
CONV_GRID = (
    (1, 1, 1, 5, 5, 3, 1, 0),
    (2, 2, 3, 5, 5, 3, 1, 1),
    (1, 2, 1, 7, 7, 3, 2, 1),
    (1, 1, 2, 6, 6, 2, 2, 0),
    (2, 2, 3, 5, 7, 3, 1, 0),
    (1, 1, 1, 6, 6, 5, 1, 2),
    (1, 2, 2, 4, 4, 1, 1, 0),
    (1, 1, 1, 8, 8, 3, 3, 0),
    (1, 2, 1, 7, 5, 3, 2, 2),
)


# (batch, channels, height, width, kernel, stride, padding)
POOL_GRID = (
    (1, 1, 4, 4, 2, 2, 0),
    (2, 3, 6, 6, 2, 2, 0),
    (1, 2, 7, 7, 3, 2, 0),
    (1, 2, 6, 8, 2, 1, 0),
    (2, 1, 8, 8, 3, 3, 0),
    (1, 2, 8, 6, 2, 2, 0),
)


POOL_PADDED_GRID = ((1, 2, 7, 7, 3, 2, 1), (2, 1, 6, 8, 2, 2, 1))


@dataclass
class Config:
    """One configuration: its parameters, the arrays sent to the worker, and Paddle's reference (lazily)."""

    index: int
    kind: str  # "conv" or "pool"
    dims: tuple
    mode: str | None
    arrays: dict[str, Any]
    bias: bool = True
    ref: dict[str, Any] | None = None
    position: int = 0
    """1-based place in the run's plan (the configurations actually tried)."""

    @property
    def ident(self) -> str:
        return f"c{self.index}"

    @property
    def desc(self) -> str:
        if self.kind == "conv":
            b, d, p, h, w, k, s, pad = self.dims
            return f"batch {b}, in_channels {d}, out_channels {p}, input {h}x{w}, kernel {k}, stride {s}, padding {pad}"
        b, c, h, w, k, s, pad = self.dims
        return f"{self.mode} pooling, batch {b}, channels {c}, input {h}x{w}, kernel {k}, stride {s}" + (
            f", padding {pad}" if pad else ""
        )

    def spec(self) -> dict:
        if self.kind == "conv":
            _, d, p, _, _, k, s, pad = self.dims
            extra = {"in_channels": d, "out_channels": p}
        else:
            _, _, _, _, k, s, pad = self.dims
            extra = {}
        return {
            "index": self.index,
            "id": self.ident,
            "kind": self.kind,
            "mode": self.mode,
            "kernel": k,
            "stride": s,
            "padding": pad,
            "arrays": sorted(self.arrays),
            **extra,
        }


def reference_name(kind: str, modes: list[str]) -> str:
    if kind == "conv2d":
        return "paddle.nn.Conv2D"
    return " and ".join({"max": "paddle.nn.MaxPool2D", "avg": "paddle.nn.AvgPool2D"}[m] for m in modes)


def configurations(kind: str, modes: list[str], bias: bool) -> list[Config]:
    """Fresh random inputs (a new seed per run: nothing can be precomputed) for every configuration."""
    import numpy as np

    rng = np.random.default_rng(secrets.randbits(64))
    out: list[Config] = []
    if kind == "conv2d":
        for i, dims in enumerate(CONV_GRID, 1):
            b, d, p, h, w, k, s, pad = dims
            oh, ow = out_size(h, k, s, pad), out_size(w, k, s, pad)
            arrays = {
                "x": rng.standard_normal((b, d, h, w)).astype("float32"),
                "weight": rng.standard_normal((p, d, k, k)).astype("float32"),
                "bias": (rng.standard_normal((p,)) if bias else np.zeros(p)).astype("float32"),
                "seed": rng.standard_normal((b, p, oh, ow)).astype("float32"),
            }
            out.append(Config(i, "conv", dims, None, arrays, bias))
        return out
    for mode in modes:
        for dims in POOL_GRID + POOL_PADDED_GRID:
            b, c, h, w, k, s, pad = dims
            arrays = {
                "x": rng.standard_normal((b, c, h, w)).astype("float32"),
                "seed": rng.standard_normal((b, c, out_size(h, k, s, pad), out_size(w, k, s, pad))).astype("float32"),
            }
            out.append(Config(len(out) + 1, "pool", dims, mode, arrays))
    return out


def plan(configs: list[Config], accepts: dict, auto_modes: bool) -> list[Config]:
    """The configurations the harness asks for, given what the constructor takes (its own rule, one definition)."""
    plan = [c for c in configs if not skipped(c.spec(), accepts, auto_modes)]
    for i, c in enumerate(plan, 1):
        c.position = i
    return plan


def out_size(m: int, k: int, s: int, p: int) -> int:
    return (m + 2 * p - k) // s + 1


def reference(c: Config) -> dict[str, Any]:
    if c.ref is None:
        a = c.arrays
        if c.kind == "conv":
            c.ref = conv2d(a["x"], a["weight"], a["bias"], c.dims[6], c.dims[7], a["seed"])
        else:
            c.ref = pool2d(a["x"], c.mode or "max", *c.dims[4:], seed=a["seed"])
    return c.ref
