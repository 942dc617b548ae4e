"""Counts of a real-library model from Paddle alone: ``paddle.flops`` per layer and multiply-adds by hand.

Never reads convcalc's analysis (a truth: the ``truths-blind`` import contract).  One eager
forward (eval mode, no grad) on the given inputs, with hooks on every sublayer:

- **paddle FLOPs per layer**: Paddle's own counting functions
  (``paddle.hapi.dynamic_flops.register_hooks``, matched by exact type as ``paddle.flops`` does)
  called on each leaf layer's call; the total is also taken from a real ``paddle.flops`` call
  (:func:`paddle_flops_total`), and the two must agree.
- **multiply-adds by hand**: every leaf ``Conv*``/``Conv*Transpose``/``Linear`` from its weight
  and hooked shapes (a transposed conv counts the (input, tap) pairs that land in its output);
  and the functional ops run outside those leaves, caught where Paddle dispatches them
  (``paddle._C_ops``: ``matmul``, ``bmm``, ``linear``, ``conv2d``, ``depthwise_conv2d``,
  ``conv3d``, every ``*_interp``; and ``Tensor.__matmul__``): a matmul counts
  ``numel(out) x K``, an interpolation ``numel(out) x taps`` (nearest 0, linear 2, bilinear 4,
  trilinear 8, bicubic 16).  ``einsum`` calls are listed, not counted.  Those run inside any other
  leaf layer (an ``nn.Upsample``, a library's own attention leaf) are that leaf's, per leaf
  (``macs_inside_leaves``), as a report counts them on the leaf's row.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Counts", "counts_for", "paddle_flops_total", "TAPS"]

TAPS = {"nearest": 0, "linear": 2, "bilinear": 4, "trilinear": 8, "bicubic": 16}
KINDS = ("conv_linear_leaves", "other_leaves", "functional_matmul", "functional_linear", "functional_conv",
         "functional_interp")


@dataclass(frozen=True)
class Counts:
    """Paddle's per-layer FLOPs and the hand multiply-adds of one model at one input."""

    paddle_flops_by_layer: dict[str, int] = field(default_factory=dict)  # leaf layer path -> sum over its calls
    macs_by_layer: dict[str, int] = field(default_factory=dict)  # conv/linear leaf path -> sum over its calls
    macs_by_kind: dict[str, int] = field(default_factory=dict)  # KINDS -> multiply-adds
    functional_calls: dict[str, int] = field(default_factory=dict)  # calls caught outside conv/linear leaves
    macs_inside_leaves: dict[str, int] = field(default_factory=dict)  # other leaf path -> the ops run inside it

    @property
    def paddle_flops(self) -> int:
        return sum(self.paddle_flops_by_layer.values())

    @property
    def macs(self) -> int:
        return sum(self.macs_by_kind.values())


def _numel(t: Any) -> int:
    return math.prod(int(d) for d in t.shape)


def transposed_macs(layer: Any, x: Any, out: Any) -> int:
    """Multiply-adds of a transposed conv that land in its output.

    Per axis, the (input position i, tap k) pairs with ``0 <= i*stride - pad_before + k*dilation < out``
    (taps cropped by the padding do not count).  Channel-first layouts; others get the full count.
    """
    w = [int(d) for d in layer.weight.shape]  # [in, out/groups, k...]
    nd = len(w) - 2
    ins, outs = [int(d) for d in x.shape[2:]], [int(d) for d in out.shape[2:]]
    full = _numel(x) * w[1] * math.prod(w[2:])
    stride = list(layer._stride) if isinstance(layer._stride, (list, tuple)) else [layer._stride] * nd
    dil = list(layer._dilation) if isinstance(layer._dilation, (list, tuple)) else [layer._dilation] * nd
    pad = layer._padding
    if str(getattr(layer, "_data_format", "NCHW"))[1] != "C":
        return full
    if isinstance(pad, str):
        before = [0 if pad.upper() == "VALID" else max((m - 1) * s + d * (k - 1) + 1 - o, 0) // 2
                  for m, o, k, s, d in zip(ins, outs, w[2:], stride, dil)]
    elif isinstance(pad, int):
        before = [pad] * nd
    elif len(pad) == nd and all(isinstance(p, int) for p in pad):
        before = list(pad)
    elif len(pad) == 2 * nd and all(isinstance(p, int) for p in pad):
        before = list(pad[0::2])
    else:
        return full
    per_axis = [sum(1 for i in range(m) for k in range(kk) if 0 <= i * s - p + k * d < o)
                for m, o, kk, s, d, p in zip(ins, outs, w[2:], stride, dil, before)]
    return int(x.shape[0]) * int(x.shape[1]) * w[1] * math.prod(per_axis)


class _Proxy:
    """What Paddle's counting functions see as ``m``: the layer, with a ``total_ops`` of its own."""

    def __init__(self, layer: Any) -> None:
        self.__dict__["_layer"] = layer
        self.__dict__["total_ops"] = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_layer"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value


def _leaf_macs(layer: Any, args: tuple, output: Any, linear: type, transposed: tuple) -> int:
    out = output[0] if isinstance(output, (list, tuple)) else output
    w = layer.weight.shape
    if isinstance(layer, linear):
        return _numel(out) * int(w[0])
    if isinstance(layer, transposed):
        return transposed_macs(layer, args[0], out)
    return _numel(out) * int(w[1]) * math.prod(int(d) for d in w[2:])  # conv: weight [out, in/groups, k...]


def counts_for(model: Any, inputs: list) -> Counts:
    """Run ``model`` once on ``inputs`` (eval, no grad) and count (see the module docstring)."""
    import paddle
    import paddle.nn as nn
    from paddle import _C_ops
    from paddle.hapi.dynamic_flops import register_hooks

    model.eval()
    paths = {id(layer): path for path, layer in model.named_sublayers(include_self=True)}
    transposed = (nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose)
    mac_kinds = (nn.Conv1D, nn.Conv2D, nn.Conv3D, *transposed, nn.Linear)
    pflops: dict[str, int] = {}
    macs: dict[str, int] = {}
    functional = dict.fromkeys(("matmul", "linear", "conv", "interp"), 0)
    calls = dict.fromkeys(("matmul", "linear", "conv", "interp", "einsum"), 0)
    inside = [0]  # conv/linear leaves being run: their own ops are theirs
    other_leaves: list[str] = []  # other leaf layers being run (innermost last): the ops they run are theirs
    in_leaves: dict[str, int] = {}

    def pre(layer, args):
        if not layer.sublayers():
            if isinstance(layer, mac_kinds):
                inside[0] += 1
            else:
                other_leaves.append(paths[id(layer)])

    def post(layer, args, output):
        if layer.sublayers():
            return
        path = paths[id(layer)]
        fn = register_hooks.get(type(layer))
        if fn is not None:
            proxy = _Proxy(layer)
            fn(proxy, args, output)
            pflops[path] = pflops.get(path, 0) + int(proxy.total_ops)
        else:
            pflops.setdefault(path, 0)
        if isinstance(layer, mac_kinds):
            inside[0] -= 1
            macs[path] = macs.get(path, 0) + _leaf_macs(layer, args, output, nn.Linear, transposed)
        elif other_leaves:
            other_leaves.pop()

    def matmul(a, k, out):  # matmul(x, y, transpose_x, transpose_y)
        x = a[0]
        tx = bool(a[2]) if len(a) > 2 else bool(k.get("transpose_x", False))
        kdim = int(x.shape[0]) if len(x.shape) == 1 else int(x.shape[-2] if tx else x.shape[-1])
        return _numel(out) * kdim

    counters = {
        "matmul": ("matmul", matmul),
        "bmm": ("matmul", lambda a, k, out: _numel(out) * int(a[0].shape[-1])),
        "linear": ("linear", lambda a, k, out: _numel(out) * int(a[1].shape[0])),
        "einsum": ("einsum", lambda a, k, out: 0),
        **{op: ("conv", lambda a, k, out: _numel(out) * int(a[1].shape[1]) * math.prod(int(d) for d in a[1].shape[2:]))
           for op in ("conv2d", "depthwise_conv2d", "conv3d")},
        **{f"{mode}_interp": ("interp", lambda a, k, out, taps=taps: _numel(out) * taps)
           for mode, taps in TAPS.items()},
    }
    real = {op: getattr(_C_ops, op) for op in counters if hasattr(_C_ops, op)}

    def _add(kind: str, n: int) -> None:
        if other_leaves:
            in_leaves[other_leaves[-1]] = in_leaves.get(other_leaves[-1], 0) + n
        else:
            functional[kind] += n

    def wrapped(op):
        kind, count = counters[op]
        fn = real[op]

        def call(*a, **k):
            out = fn(*a, **k)
            if inside[0] == 0:
                calls[kind] += 1
                if kind != "einsum":
                    _add(kind, int(count(a, k, out)))
            return out

        return call

    real_matmul = paddle.Tensor.__matmul__

    def tensor_matmul(self, other):
        out = real_matmul(self, other)
        if inside[0] == 0:
            calls["matmul"] += 1
            _add("matmul", _numel(out) * (int(self.shape[0]) if len(self.shape) == 1 else int(self.shape[-1])))
        return out

    handles = []
    try:
        for op in real:
            setattr(_C_ops, op, wrapped(op))
        paddle.Tensor.__matmul__ = tensor_matmul
        for _, layer in model.named_sublayers():
            handles.append(layer.register_forward_pre_hook(pre))
            handles.append(layer.register_forward_post_hook(post))
        with paddle.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for op, fn in real.items():
            setattr(_C_ops, op, fn)
        paddle.Tensor.__matmul__ = real_matmul
    by_kind = {"conv_linear_leaves": sum(macs.values()), "other_leaves": sum(in_leaves.values()),
               **{f"functional_{k}": v for k, v in functional.items()}}
    return Counts(pflops, macs, by_kind, calls, in_leaves)


def paddle_flops_total(model: Any, shape: tuple[int, ...]) -> int:
    """What ``paddle.flops(model, shape)`` returns (its printout swallowed)."""
    import paddle

    with contextlib.redirect_stdout(io.StringIO()):
        return int(paddle.flops(model, list(shape), print_detail=False))
