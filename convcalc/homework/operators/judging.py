"""Judging one configuration: the student's arrays beside Paddle's, and the hint that names the likely mistake."""

from __future__ import annotations

from typing import Any

from convcalc.homework.operators import sandbox
from convcalc.homework.operators.configurations import Config, out_size, reference
from convcalc.homework.operators.reference import conv2d as reference_conv
from convcalc.homework.operators.reference import pool2d as reference_pool

__all__ = ["ATOL", "RTOL", "Failure", "judge", "memory_hint"]

ATOL = RTOL = 1e-4


def _compare(got: Any, want: Any) -> tuple[bool, float]:
    import numpy as np

    diff = np.abs(got.astype("float64") - want.astype("float64"))
    ok = bool(np.all(diff <= ATOL + RTOL * np.abs(want)))
    return ok, float(np.nan_to_num(diff, nan=np.inf).max()) if diff.size else 0.0


def _shape_hint(got: tuple, c: Config) -> str:
    """Name the mistake whose output size equals the student's."""
    if c.kind == "conv":
        b, _, channels, h, w, k, s, p = c.dims
    else:
        b, channels, h, w, k, s, p = c.dims
    if len(got) != 4:
        return f"the output must be 4-D [batch, channels, height, width]; yours has {len(got)} dims"
    if got[0] != b:
        return f"the batch dimension is {got[0]}, expected {b}: keep every sample of the batch"
    if got[1] != channels:
        return f"{got[1]} output channels, expected {channels}"
    candidates = [
        ("off by one: M' = (M + 2P - U) // S + 1", (out_size(h, k, s, p) - 1, out_size(w, k, s, p) - 1)),
        (
            "padding ignored: pad the input with P zeros on every side first",
            (out_size(h, k, s, 0), out_size(w, k, s, 0)),
        ),
        ("stride applied twice (S*S): the window moves by S", (out_size(h, k, s * s, p), out_size(w, k, s * s, p))),
        ("stride ignored: the window must move by S", (out_size(h, k, 1, p), out_size(w, k, 1, p))),
        ("padding added on one side only: pad P zeros on both sides", ((h + p - k) // s + 1, (w + p - k) // s + 1)),
        ("height and width swapped", (out_size(w, k, s, p), out_size(h, k, s, p))),
    ]
    right = (out_size(h, k, s, p), out_size(w, k, s, p))
    return "; or ".join([text for text, size in candidates if tuple(got[2:]) == size and size != right][:2])


def _value_hint(got: Any, c: Config) -> str:
    """Name the mistake whose output equals the student's (recomputed by the reference on the same inputs)."""
    import numpy as np

    a = c.arrays
    if c.kind == "conv":
        s, pad = c.dims[6], c.dims[7]
        w, b = a["weight"], a["bias"]
        variants = [
            (
                "kernel flipped: you computed a true convolution; paddle.nn.Conv2D (and the book) "
                "slide the kernel without flipping it (cross-correlation)",
                w[:, :, ::-1, ::-1],
                b,
            ),
            ("kernel transposed: row u of the kernel must multiply row i*S+u of the input", w.transpose(0, 1, 3, 2), b),
            ("bias not added: Z^p = sum_d W^{p,d} * X^d + b^p (5.18)", w, np.zeros_like(b)),
        ]
        if w.shape[0] == w.shape[1]:
            variants.append(
                (
                    "weight axes swapped: the weight should be [P, D, k, k] (W^{p,d}, output channel first);"
                    " yours is used as [D, P, k, k]",
                    w.transpose(1, 0, 2, 3),
                    b,
                )
            )
        for text, w_alt, b_alt in variants:
            if _compare(got, reference_conv(a["x"], np.ascontiguousarray(w_alt), b_alt, s, pad)["out"])[0]:
                return text
        return ""
    mode = c.mode or "max"
    k, s, pad = c.dims[4:]
    if mode == "avg" and pad and _compare(got, reference_pool(a["x"], "avg", k, s, pad, exclusive=False)["out"])[0]:
        return (
            "the average counted the padded zeros: paddle.nn.AvgPool2D (exclusive=True) divides by the"
            " number of real input pixels in each window"
        )
    other = "avg" if mode == "max" else "max"
    if _compare(got, reference_pool(a["x"], other, k, s, pad)["out"])[0]:
        return f"computes {other} pooling where {mode} pooling was asked"
    return ""


class Failure(Exception):
    def __init__(self, failure: str, **data: Any) -> None:
        super().__init__(failure)
        self.failure = failure
        self.data = data


def judge(c: Config, msg: dict, arrays: dict[str, Any], memory: int, notes: list[str]) -> None:
    """Raise :class:`Failure` unless the worker's arrays for configuration ``c`` match Paddle's."""
    where = {"config": c.desc, "config_index": c.position}
    status = msg.get("status")
    if status == "error":
        stage = {"constructor": "the constructor", "weights": "setting the weights", "backward": "backward"}.get(
            str(msg.get("stage")), "forward"
        )
        error = str(msg.get("error", "an error"))[:400]
        hint = memory_hint(memory) if error.startswith("MemoryError") else ""
        if error.startswith("RecursionError"):
            hint = "a recursion that never ends? (the sandbox caps the recursion limit at 10,000 calls)"
        raise Failure(f"{stage} raised {error}", detail=str(msg.get("detail", ""))[:2000], hint=hint, **where)
    if c.kind == "conv":
        _, d, p, _, _, k, _, _ = c.dims
        want_w = [p, d, k, k]
        got_w = msg.get("weight")
        if status == "weight" or got_w != want_w:
            if got_w is None:
                raise Failure(
                    f"no weight parameter with {p}x{d}x{k}x{k} = {p * d * k * k} values",
                    hint="create the kernel as a parameter [out_channels, in_channels, k, k] (self.weight)",
                    **where,
                )
            if got_w == [d, p, k, k]:
                raise Failure(
                    f"weight should be [P, D, k, k] = {want_w}, got [D, P, k, k] = {got_w}",
                    hint="the first axis of the kernel is the output channel p, the second the input channel d"
                    " (W^{p,d}, 5.18), as in paddle.nn.Conv2D",
                    **where,
                )
            raise Failure(f"weight should be [P, D, k, k] = {want_w}, got {got_w}", **where)
        if c.bias and msg.get("bias") is None:
            raise Failure(
                "no bias parameter: the book's Conv2D adds a bias b^p to each output channel (5.18)",
                hint="create self.bias = self.create_parameter([out_channels], is_bias=True) and add it;"
                " pass --no-bias if this assignment's operator has none",
                **where,
            )
    if status != "ok":
        raise Failure(f"the operator's process sent an unknown status {str(status)[:40]!r}", **where)
    ref = reference(c)
    got = arrays["out"]
    if tuple(got.shape) != tuple(ref["out"].shape):
        raise Failure(
            "wrong output shape",
            got_shape=list(got.shape),
            expected_shape=list(ref["out"].shape),
            hint=_shape_hint(tuple(got.shape), c),
            **where,
        )
    ok, max_diff = _compare(got, ref["out"])
    if not ok:
        raise Failure("wrong values", max_diff=max_diff, got_shape=list(got.shape), hint=_value_hint(got, c), **where)
    grads = [n for n in ("grad_x", "grad_weight", "grad_bias") if n in ref]
    if msg.get("note") == "detached":
        note = "gradients not checked: the output is not connected to the input by paddle operations"
        if note not in notes:
            notes.append(note)
        return
    for name in grads:
        what = {"grad_x": "the input", "grad_weight": "the weight", "grad_bias": "the bias"}[name]
        if name not in arrays:
            if name == "grad_bias" and msg.get("bias") is None:
                continue  # --no-bias and no bias parameter
            raise Failure(
                f"no gradient reached {what} (the forward values are right)",
                hint=f"use {what.split()[-1]} through paddle operations: a copy through numpy or .detach()"
                " leaves the parameter untrained",
                **where,
            )
        g, want = arrays[name], ref[name]
        if g.size != want.size:
            raise Failure(f"the gradient with respect to {what} has shape {list(g.shape)}", **where)
        ok, diff = _compare(g.reshape(want.shape), want)
        if not ok:
            raise Failure(
                f"wrong gradient with respect to {what} (the forward values are right)",
                max_diff=diff,
                hint="paddle differentiates the forward by itself: a custom backward, or values copied"
                " through numpy, break the gradient",
                **where,
            )


def memory_hint(memory: int) -> str:
    return f"the sandbox allows {memory / sandbox.GiB:g} GiB of memory (--memory to change)"
