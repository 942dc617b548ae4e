"""Rules: one small handler per layer class, applying the formulas to a layer call.

The registry is data (fvcore-style): a dict from layer class to a
:class:`Rule`.  Users add their own with :func:`register_rule`::

    from convcalc import formulas
    from convcalc.rules import Cost, register_rule

    @register_rule(MyConv)
    def my_conv(ctx):
        (n, c, h, w), (_, p, oh, ow) = ctx.input_shapes[0], ctx.output_shape
        return Cost(
            params_trainable=formulas.conv_params(c, p, ctx.layer.k),
            flops=formulas.conv_flops(oh, ow, p, c, ctx.layer.k, batch=n, convention=ctx.convention),
            formula="conv_flops (5.21)",
        )

Layers with no rule are reported as gaps (never silently zero FLOPs); their
parameters are still counted from the layer itself.  The same rules can be
handed to ``paddle.flops(custom_ops=...)`` through :func:`paddle_custom_ops`,
so a custom layer is counted identically on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod
from typing import Any

import sympy

from convcalc import formulas as F
from convcalc.formulas import Convention

__all__ = ["Cost", "Rule", "RuleContext", "register_rule", "find_rule", "paddle_custom_ops", "layer_params"]


@dataclass(frozen=True)
class RuleContext:
    """What a rule sees: the layer, its input and output shapes, the convention."""

    layer: Any
    input_shapes: tuple[tuple, ...]
    output_shape: tuple
    convention: Convention


@dataclass(frozen=True)
class Cost:
    """What a rule returns.  ``params_*=None`` means: count the layer's own parameters."""

    flops: sympy.Expr
    formula: str
    params_trainable: sympy.Expr | None = None
    params_non_trainable: sympy.Expr | None = None


@dataclass(frozen=True)
class Rule:
    cost: Callable[[RuleContext], Cost]
    static_forward: Callable[..., Any] | None = None


_RULES: dict[type, Rule] = {}
_BUILTINS_LOADED = False


def register_rule(layer_class: type, static_forward: Callable[..., Any] | None = None):
    """Decorator: register ``fn(ctx) -> Cost`` for ``layer_class`` (and its subclasses).

    ``static_forward(layer, x)``, if given, is an equivalent forward built
    from Paddle ops that tracing uses instead of the layer's own (for slow
    loop-based layers); it must produce the same output shape.
    """

    def deco(fn: Callable[[RuleContext], Cost]) -> Callable[[RuleContext], Cost]:
        _RULES[layer_class] = Rule(fn, static_forward)
        return fn

    return deco


def find_rule(layer: Any) -> tuple[type, Rule] | None:
    """``(registered class, rule)`` for ``layer``, looked up along its MRO."""
    _load_builtins()
    for cls in type(layer).__mro__:
        rule = _RULES.get(cls)
        if rule is not None:
            return cls, rule
    return None


def layer_params(layer: Any) -> tuple[int, int]:
    """(trainable, non-trainable) parameters held directly by ``layer``.

    Same selection as ``paddle.summary``: the layer's own ``_parameters``;
    trainable means ``trainable and not stop_gradient``.
    """
    trainable = frozen = 0
    for p in layer._parameters.values():
        if p is None:
            continue
        n = int(prod(p.shape))
        if getattr(p, "trainable", True) and not p.stop_gradient:
            trainable += n
        else:
            frozen += n
    return trainable, frozen


def paddle_custom_ops(convention: Convention | str = Convention.PADDLE) -> dict[type, Callable]:
    """``custom_ops`` for ``paddle.flops``: every *custom* (non-``paddle.nn``) layer with a rule.

    Each function adds the rule's FLOPs to ``m.total_ops`` the way Paddle's
    own counters do.
    """
    _load_builtins()
    conv = F.as_convention(convention)

    def make(rule: Rule) -> Callable:
        def count(m, x, y):
            shapes = tuple(tuple(int(d) for d in t.shape) for t in x if hasattr(t, "shape"))
            out = y[0] if isinstance(y, (list, tuple)) else y
            cost = rule.cost(RuleContext(m, shapes, tuple(int(d) for d in out.shape), conv))
            m.total_ops += int(cost.flops)

        return count

    return {cls: make(rule) for cls, rule in _RULES.items() if not cls.__module__.startswith("paddle.")}


# --------------------------------------------------------------------------
# Built-in rules.  Each is a few lines: pull the configuration off the layer,
# call the formulas.  Conventions: see convcalc.formulas.flops.


def _numel(shape: tuple) -> sympy.Expr:
    return sympy.Mul(*[sympy.sympify(d) for d in shape])


def _conv_cost(ctx: RuleContext, in_channels, out_channels, kernel, groups, bias: bool) -> Cost:
    n, c = ctx.input_shapes[0][0], ctx.input_shapes[0][1]
    _, p, oh, ow = ctx.output_shape
    return Cost(
        flops=F.conv_flops(oh, ow, p, c, kernel, groups, bias, batch=n, convention=ctx.convention),
        formula="conv_flops (5.21)",
        params_trainable=F.conv_params(in_channels, out_channels, kernel, groups, bias),
        params_non_trainable=sympy.Integer(0),
    )


def _pool_kernel(value) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    import paddle.nn as nn

    @register_rule(nn.Conv2D)
    def conv2d(ctx: RuleContext) -> Cost:
        lay = ctx.layer
        k = tuple(lay.weight.shape[2:])
        return _conv_cost(ctx, lay._in_channels, lay._out_channels, k, lay._groups, lay.bias is not None)

    @register_rule(nn.Conv2DTranspose)
    def conv2d_transpose(ctx: RuleContext) -> Cost:
        # paddle.flops counts numel(y) * (C_in/groups * k*k + bias), as for Conv2D.
        lay = ctx.layer
        k = tuple(lay.weight.shape[2:])
        n, c = ctx.input_shapes[0][0], ctx.input_shapes[0][1]
        _, p, oh, ow = ctx.output_shape
        bias = lay.bias is not None
        return Cost(
            flops=F.conv_flops(oh, ow, p, c, k, lay._groups, bias, batch=n, convention=ctx.convention),
            formula="conv_flops (5.21, transposed)",
            params_trainable=F.conv_params(lay._in_channels, lay._out_channels, k, lay._groups, bias),
            params_non_trainable=sympy.Integer(0),
        )

    @register_rule(nn.Linear)
    def linear(ctx: RuleContext) -> Cost:
        lay = ctx.layer
        i, o = lay.weight.shape
        rows = _numel(ctx.output_shape[:-1])
        bias = lay.bias is not None
        return Cost(
            flops=F.linear_flops(i, o, rows, bias, ctx.convention),
            formula="linear_flops",
            params_trainable=F.linear_params(i, o, bias),
            params_non_trainable=sympy.Integer(0),
        )

    def batchnorm(ctx: RuleContext) -> Cost:
        lay = ctx.layer
        numel = _numel(ctx.input_shapes[0])
        counted = type(lay) in (nn.BatchNorm2D, nn.BatchNorm) or ctx.convention is not Convention.PADDLE
        flops = F.batchnorm_flops(numel, ctx.convention) if counted else sympy.Integer(0)
        if getattr(lay, "_act", None):  # paddle.nn.BatchNorm(act='relu') fuses an activation
            flops += F.activation_flops(numel, ctx.convention)
        trainable, frozen = layer_params(lay)
        return Cost(
            flops=flops,
            formula="batchnorm_flops" if counted else "not counted by paddle.flops",
            params_trainable=sympy.Integer(trainable),
            params_non_trainable=sympy.Integer(frozen),
        )

    for cls in (nn.BatchNorm, nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D, nn.SyncBatchNorm):
        register_rule(cls)(batchnorm)

    @register_rule(nn.MaxPool2D)
    def maxpool2d(ctx: RuleContext) -> Cost:
        k = _pool_kernel(ctx.layer.ksize)
        return Cost(F.maxpool_flops(_numel(ctx.output_shape), k, ctx.convention), "maxpool_flops")

    @register_rule(nn.AvgPool2D)
    def avgpool2d(ctx: RuleContext) -> Cost:
        k = _pool_kernel(ctx.layer.ksize)
        return Cost(F.avgpool_flops(_numel(ctx.output_shape), k, ctx.convention), "avgpool_flops")

    def _adaptive(fn, name):
        def rule(ctx: RuleContext) -> Cost:
            n, c, h, w = ctx.input_shapes[0]
            _, _, oh, ow = ctx.output_shape
            return Cost(fn(h, w, oh, ow, c, n, ctx.convention), name)

        return rule

    register_rule(nn.AdaptiveAvgPool2D)(_adaptive(F.adaptive_avgpool_flops, "adaptive_avgpool_flops"))
    register_rule(nn.AdaptiveMaxPool2D)(_adaptive(F.adaptive_maxpool_flops, "adaptive_maxpool_flops"))

    def activation(counted_by_paddle: bool):
        def rule(ctx: RuleContext) -> Cost:
            numel = _numel(ctx.output_shape)
            return Cost(F.activation_flops(numel, ctx.convention, counted_by_paddle), "activation_flops")

        return rule

    register_rule(nn.LeakyReLU)(activation(True))
    for name in ("ReLU", "ReLU6", "Hardswish", "Hardsigmoid", "Sigmoid", "Swish", "Silu", "GELU",
                 "Tanh", "ELU", "SELU", "Softplus", "Mish", "Hardtanh", "Softmax", "LogSoftmax"):
        cls = getattr(nn, name, None)
        if cls is not None:
            register_rule(cls)(activation(False))

    def free(ctx: RuleContext) -> Cost:
        return Cost(sympy.Integer(0), "no arithmetic")

    for name in ("Dropout", "Dropout2D", "Flatten", "Identity", "Unflatten"):
        cls = getattr(nn, name, None)
        if cls is not None:
            register_rule(cls)(free)

    _load_book_rules()


def _load_book_rules() -> None:
    """Rules for the book's custom operators (counted like their paddle.nn twins)."""
    try:
        from convcalc.models import book
    except ImportError:  # pragma: no cover - models package absent
        return
    import paddle.nn.functional as PF

    def book_conv_forward(layer, x):
        bias = layer.bias.reshape([-1]) if layer.bias is not None else None
        return PF.conv2d(x, layer.weight, bias, stride=layer.stride, padding=layer.padding)

    def book_conv(ctx: RuleContext) -> Cost:
        lay = ctx.layer
        p, d, kh, kw = lay.weight.shape
        return _conv_cost(ctx, d, p, (kh, kw), 1, lay.bias is not None)

    def book_pool_forward(layer, x):
        k = (layer.h, layer.w)
        if layer.mode == "max":
            return PF.max_pool2d(x, k, stride=layer.stride)
        return PF.avg_pool2d(x, k, stride=layer.stride)

    def book_pool(ctx: RuleContext) -> Cost:
        lay = ctx.layer
        k = (lay.h, lay.w)
        fn = F.maxpool_flops if lay.mode == "max" else F.avgpool_flops
        return Cost(fn(_numel(ctx.output_shape), k, ctx.convention), fn.__name__)

    # Both the loops and the vectorised twins (strided slices + matmul) trace as one conv2d / pool2d op,
    # so receptive fields and symbolic sizes see a kernel, not hundreds of slicing ops.
    for name in ("Conv2D", "VectorizedConv2D"):
        cls = getattr(book, name, None)
        if cls is not None:
            register_rule(cls, static_forward=book_conv_forward)(book_conv)
    for name in ("Pool2D", "VectorizedPool2D"):
        cls = getattr(book, name, None)
        if cls is not None:
            register_rule(cls, static_forward=book_pool_forward)(book_pool)
