"""The training steps of ``convcalc explain ... --training``: a layer's input- and weight-gradient FLOPs.

Appended to :func:`convcalc.explain.layers.explain_layer`'s derivation (``training=True``)
from the derivation's own configuration and results, with the formulas of
:mod:`convcalc.formulas.backward`.  The input gradient is derived as if the
layer's input needs one (it does not for the first layer on the data).
Never imports paddle.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy

from convcalc.formulas import backward as B
from convcalc.formulas import shapes as _shapes
from convcalc.formulas._common import axis_paddings, pair

__all__ = ["backward_steps", "TRAINING_KINDS"]

TRAINING_KINDS = ("conv2d", "pool2d", "linear", "batchnorm", "layernorm", "softmax")


def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name)


def _steps(step_cls, steps: list, part: str, call: str, symbolic: Callable[[str], sympy.Expr],
           numeric: Callable[[str], sympy.Expr], formula: str) -> list:
    """``backward_<part>_<convention>`` steps: paddle (the forward count, per gradient), macs, flops."""
    forward = {s.quantity: s for s in steps}
    out = [step_cls(f"backward_{part}_paddle", "5.21", "paddle_backward_flops", forward["flops_paddle"].symbolic,
                    "the forward's paddle count", forward["flops_paddle"].result)]
    for c in ("macs", "flops"):
        out.append(step_cls(f"backward_{part}_{c}", "", formula, sympy.expand(symbolic(c)), call,
                            sympy.expand(numeric(c))))
    return out


def _pads_before(padding, sizes, kernels, strides, dilations) -> tuple:
    """The padding before each spatial axis, as the shape formulas resolve it (VALID: none)."""
    return tuple(_shapes.resolve_padding(p, m, k, s, d)[0] if p != "VALID" else 0
                 for p, m, k, s, d in zip(axis_paddings(padding), sizes, kernels, strides, dilations))


def backward_steps(step_cls, kind: str, config: dict, shape: tuple, steps: list) -> list:
    """The backward steps of one derivation (``kind`` in :data:`TRAINING_KINDS`)."""
    result = {s.quantity: s.result for s in steps}
    if kind == "conv2d":
        c, h, w = shape
        p, oh, ow = result["output_shape"]
        k, st, dl = pair(config["kernel"], "kernel"), pair(config["stride"], "stride"), pair(config["dilation"],
                                                                                             "dilation")
        pads = _pads_before(config["padding"], (h, w), k, st, dl)
        g = config["groups"]
        args = dict(stride=st, padding=pads, dilation=dl, groups=g)
        M, N, Mo, No, D, P, U, V = (_sym(s) for s in ("M", "N", "M'", "N'", "D", "P", "U", "V"))
        call = f"(({h}, {w}) -> ({oh}, {ow}), {c} -> {p} channels, kernel {k[0]}x{k[1]}, stride {st[0]}x{st[1]}, " \
               f"padding before {pads[0]}x{pads[1]}, groups {g})"
        bias = config["bias"]
        out = _steps(step_cls, steps, "input", "conv_input_grad_flops" + call,
                     lambda cv: B.conv_input_grad_flops((M, N), (Mo, No), D, P, (U, V), convention=cv),
                     lambda cv: B.conv_input_grad_flops((h, w), (oh, ow), c, p, k, **args, convention=cv),
                     "conv_input_grad_flops")
        out += _steps(step_cls, steps, "weight", "conv_weight_grad_flops" + call + (" + the bias" if bias else ""),
                      lambda cv: B.conv_weight_grad_flops((M, N), (Mo, No), D, P, (U, V), convention=cv)
                      + (B.broadcast_grad_flops(P * Mo * No, P, convention=cv) if bias else 0),
                      lambda cv: B.conv_weight_grad_flops((h, w), (oh, ow), c, p, k, **args, convention=cv)
                      + (B.broadcast_grad_flops(p * oh * ow, p, convention=cv) if bias else 0),
                      "conv_weight_grad_flops + broadcast_grad_flops" if bias else "conv_weight_grad_flops")
        return out
    if kind == "linear":
        (i,), (o,) = shape, result["output_shape"]
        bias = config["bias"]
        In, Out = _sym("in"), _sym("out")
        out = _steps(step_cls, steps, "input", f"matmul_grad_flops(1, {i}, {o}, operand {i} values)",
                     lambda cv: B.matmul_grad_flops(1, In, Out, 1, In, convention=cv),
                     lambda cv: B.matmul_grad_flops(1, i, o, 1, i, convention=cv), "matmul_grad_flops")
        out += _steps(step_cls, steps, "weight", f"matmul_grad_flops(1, {i}, {o}, operand {i}x{o} values)"
                      + (" + the bias" if bias else ""),
                      lambda cv: B.matmul_grad_flops(1, In, Out, 1, In * Out, convention=cv)
                      + (B.broadcast_grad_flops(Out, Out, convention=cv) if bias else 0),
                      lambda cv: B.matmul_grad_flops(1, i, o, 1, i * o, convention=cv)
                      + (B.broadcast_grad_flops(o, o, convention=cv) if bias else 0), "matmul_grad_flops")
        return out
    if kind == "pool2d":
        c, h, w = shape
        _, oh, ow = result["output_shape"]
        k = pair(config["kernel"], "kernel")
        mode = config["mode"]
        Y, X, U, V = _sym("numel_out"), _sym("numel_in"), _sym("U"), _sym("V")
        return _steps(step_cls, steps, "input", f"pool_input_grad_flops({c * oh * ow}, {c * h * w}, {mode})",
                      lambda cv: B.pool_input_grad_flops(Y, X, (U, V), mode, cv),
                      lambda cv: B.pool_input_grad_flops(c * oh * ow, c * h * w, k, mode, cv),
                      "pool_input_grad_flops")
    if kind in ("batchnorm", "layernorm"):
        numel = sympy.Mul(*shape)
        features = shape[0] if kind == "batchnorm" else sympy.Mul(*shape[len(shape) - config["normalized_dims"]:])
        Nn, F = _sym("numel"), _sym("F")
        out = _steps(step_cls, steps, "input", f"norm_input_grad_flops({numel})",
                     lambda cv: B.norm_input_grad_flops(Nn, cv), lambda cv: B.norm_input_grad_flops(numel, cv),
                     "norm_input_grad_flops")
        if kind == "batchnorm" or config.get("affine", True):
            out += _steps(step_cls, steps, "weight", f"norm_weight_grad_flops({numel}, {features})",
                          lambda cv: B.norm_weight_grad_flops(Nn, F, convention=cv),
                          lambda cv: B.norm_weight_grad_flops(numel, features, convention=cv),
                          "norm_weight_grad_flops")
        return out
    if kind == "softmax":
        numel, n = sympy.Mul(*shape), shape[config["axis"]]
        Nn, n_ = _sym("numel"), _sym("n")
        return _steps(step_cls, steps, "input", f"softmax_grad_flops({numel}, {n})",
                      lambda cv: B.softmax_grad_flops(Nn, n_, cv), lambda cv: B.softmax_grad_flops(numel, n, cv),
                      "softmax_grad_flops")
    return []
