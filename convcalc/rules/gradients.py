"""Backward cost of one static-program op, by the forward op's name (the backward twin of :mod:`convcalc.rules.ops`).

A handler sees the forward op's attributes, operand and result shapes and
which operands need a gradient, and returns the FLOPs of each operand's
gradient (0 where none is needed) from :mod:`convcalc.formulas.backward`.
The same handlers count Paddle's own grad ops (``conv2d_grad`` is counted
as the backward of ``conv2d``, from its own operand shapes) in
:mod:`convcalc.checks.backward_program`, so prediction and oracle share one rule
per op.  :data:`SAVED` says which forward values each op's backward reads
(convcalc's model of Paddle's grad kernels; the oracle reads the real ones).
Never imports paddle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.formulas import backward as B
from convcalc.formulas.flops import Convention
from convcalc.formulas.numbers import div, product, simplify

if TYPE_CHECKING:
    import sympy

__all__ = ["GradContext", "grad_costs", "has_grad_rule", "SAVED", "NO_GRADIENT_OPS"]


@dataclass(frozen=True)
class GradContext:
    """A forward op as its backward sees it."""

    key: str
    attrs: dict
    input_shapes: tuple[tuple | None, ...]
    output_shapes: tuple[tuple, ...]
    needs: tuple[bool, ...]  # per operand: is its gradient computed
    convention: Convention  # macs or flops
    constants: tuple[Any, ...] = ()


GradHandler = Callable[[GradContext], tuple]
_GRADS: dict[str, GradHandler] = {}

NO_GRADIENT_OPS = frozenset({
    "shape", "shape64", "argmax", "argmin", "equal", "not_equal", "less_than", "less_equal", "greater_than",
    "greater_equal", "logical_and", "logical_or", "logical_not", "full_like", "zeros_like", "ones_like",
    "one_hot", "arange", "full", "full_int_array", "isnan", "isinf", "isfinite", "sign", "floor", "ceil", "round",
})
"""Ops whose outputs carry no gradient (Paddle builds no grad op for them)."""

SAVED: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    # forward op -> (operand indices, result indices) its grad kernel reads (parameters are not activations)
    "conv2d": ((0, 1), ()), "conv3d": ((0, 1), ()), "depthwise_conv2d": ((0, 1), ()),
    "conv2d_transpose": ((0, 1), ()), "conv3d_transpose": ((0, 1), ()), "depthwise_conv2d_transpose": ((0, 1), ()),
    "matmul": ((0, 1), ()), "bmm": ((0, 1), ()), "mm": ((0, 1), ()),
    "multiply": ((0, 1), ()), "divide": ((0, 1), (0,)), "maximum": ((0, 1), ()), "minimum": ((0, 1), ()),
    "relu": ((), (0,)), "relu6": ((), (0,)), "sigmoid": ((), (0,)), "tanh": ((), (0,)), "exp": ((), (0,)),
    "sqrt": ((), (0,)), "rsqrt": ((), (0,)), "hardsigmoid": ((), (0,)), "elu": ((0,), (0,)),
    "leaky_relu": ((0,), ()), "gelu": ((0,), ()), "silu": ((0,), ()), "swish": ((0,), ()), "hardswish": ((0,), ()),
    "softplus": ((0,), ()), "mish": ((0,), ()), "log": ((0,), ()), "abs": ((0,), ()), "square": ((0,), ()),
    "pow": ((0,), ()), "hardtanh": ((0,), ()), "clip": ((0,), ()), "selu": ((), (0,)),
    "softmax": ((), (0,)), "log_softmax": ((), (0,)),
    "batch_norm": ((0,), (3, 4)), "layer_norm": ((0,), (1, 2)), "instance_norm": ((0,), (1, 2)),
    "group_norm": ((0,), (0, 1, 2)),
    "pool2d": ((0,), (0,)), "pool3d": ((0,), (0,)),
    "dropout": ((), (1,)),
    "embedding": ((0,), ()),
    "max": ((0,), (0,)), "min": ((0,), (0,)), "amax": ((0,), (0,)), "amin": ((0,), (0,)),
}


def register_grad(*keys: str):
    def deco(fn: GradHandler) -> GradHandler:
        for k in keys:
            _GRADS[k] = fn
        return fn

    return deco


def has_grad_rule(key: str) -> bool:
    return key in _GRADS


def grad_costs(ctx: GradContext) -> tuple[sympy.Expr, ...] | None:
    """FLOPs of each operand's gradient (0 where ``needs`` is False); None when no rule knows the op."""
    handler = _GRADS.get(ctx.key)
    if handler is None:
        return None
    costs = handler(ctx)
    zero = 0
    return tuple((c if need else zero) for c, need in zip(list(costs) + [zero] * len(ctx.needs),
                                                                            ctx.needs))


def _numel(shape) -> Any:
    return product(shape) if shape else 1


def _last(attrs: dict) -> bool:
    return str(attrs.get("data_format", "NCHW")) in ("NHWC", "NDHWC", "NLC")


def _split(shape: tuple, last: bool):
    if last:
        return shape[0], shape[-1], tuple(shape[1:-1])
    return shape[0], shape[1], tuple(shape[2:])


def _pads_before(attrs: dict, ins, outs, kernel, strides, dils, transpose: bool) -> list:
    """The padding before each spatial axis from Paddle's ``paddings``/``padding_algorithm`` attributes."""
    rank = len(ins)
    algorithm = str(attrs.get("padding_algorithm", "EXPLICIT")).upper()
    if algorithm == "VALID":
        return [0] * rank
    if algorithm == "SAME":
        small, big = (ins, outs) if transpose else (outs, ins)
        return [max((int(a) - 1) * s + d * (k - 1) + 1 - int(b), 0) // 2
                for a, b, k, s, d in zip(small, big, kernel, strides, dils)]
    values = list(attrs.get("paddings") or [0])
    if len(values) == 2 * rank:
        return values[0::2]
    if len(values) == rank:
        return values
    return [values[0]] * rank


def _conv_args(ctx: GradContext, transpose: bool):
    x, w = ctx.input_shapes[0], ctx.input_shapes[1]
    last = _last(ctx.attrs)
    n, c, ins = _split(x, last)
    _, p, outs = _split(ctx.output_shapes[0], last)
    rank = len(ins)
    kernel = tuple(w[2:])
    strides = list(ctx.attrs.get("strides") or [1] * rank)
    dils = list(ctx.attrs.get("dilations") or [1] * rank)
    strides = strides * rank if len(strides) == 1 else strides
    dils = dils * rank if len(dils) == 1 else dils
    pads = _pads_before(ctx.attrs, ins, outs, kernel, strides, dils, transpose)
    g = int(ctx.attrs.get("groups", 1) or 1)
    if ctx.key.startswith("depthwise") and g == 1:
        g = int(c)
    return dict(in_sizes=ins, out_sizes=outs, in_channels=c, out_channels=p, kernel_size=kernel, stride=strides,
                padding=pads, dilation=dils, groups=g, batch=n, convention=ctx.convention)


@register_grad("conv2d", "conv3d", "depthwise_conv2d")
def _conv(ctx: GradContext) -> tuple:
    a = _conv_args(ctx, False)
    return (B.conv_input_grad_flops(**a) if ctx.needs[0] else 0,
            B.conv_weight_grad_flops(**a) if ctx.needs[1] else 0)


@register_grad("conv2d_transpose", "conv3d_transpose", "depthwise_conv2d_transpose")
def _conv_transpose(ctx: GradContext) -> tuple:
    a = _conv_args(ctx, True)
    return (B.conv_transpose_input_grad_flops(**a) if ctx.needs[0] else 0,
            B.conv_transpose_weight_grad_flops(**a) if ctx.needs[1] else 0)


@register_grad("matmul", "bmm", "mm")
def _matmul(ctx: GradContext) -> tuple:
    a, b = ctx.input_shapes[0], ctx.input_shapes[1]
    a2 = (1, a[0]) if len(a) == 1 else a
    b2 = (b[0], 1) if len(b) == 1 else b
    tx, ty = bool(ctx.attrs.get("transpose_x")), bool(ctx.attrs.get("transpose_y"))
    m, k = (a2[-1], a2[-2]) if tx else (a2[-2], a2[-1])
    n = b2[-2] if ty else b2[-1]
    batch = simplify(div(_numel(ctx.output_shapes[0]), m * n)) if ctx.output_shapes[0] else 1
    return (B.matmul_grad_flops(m, k, n, batch, _numel(a), ctx.convention),
            B.matmul_grad_flops(m, k, n, batch, _numel(b), ctx.convention))


def _broadcast(ops: tuple[int, ...]):
    def handler(ctx: GradContext) -> tuple:
        out = _numel(ctx.output_shapes[0])
        return tuple(B.broadcast_grad_flops(out, _numel(s), o, ctx.convention) if s is not None else 0
                     for s, o in zip(ctx.input_shapes, ops))

    return handler


register_grad("add")(_broadcast((0, 0)))
register_grad("subtract")(_broadcast((0, 1)))
register_grad("multiply")(_broadcast((1, 1)))
register_grad("divide")(_broadcast((1, 3)))
register_grad("maximum", "minimum")(_broadcast((1, 1)))
register_grad("expand", "expand_as", "tile", "broadcast_to")(_broadcast((0,)))


@register_grad(*[k for k in B.BACKWARD_ELEMENTWISE_OPS if k not in ("scale",)])
def _elementwise(ctx: GradContext) -> tuple:
    return (B.elementwise_grad_flops(_numel(ctx.output_shapes[0]), ctx.key, ctx.convention),)


@register_grad("scale")
def _scale(ctx: GradContext) -> tuple:
    factor = ctx.constants[1] if len(ctx.constants) > 1 else ctx.attrs.get("scale", 1.0)
    factor = factor[0] if isinstance(factor, list) and factor else factor
    ops = int(factor is None or float(factor) != 1.0)
    return (B.elementwise_grad_flops(_numel(ctx.output_shapes[0]), "scale", ctx.convention) * ops,)


def _affine_grads(ctx: GradContext, x_index: int, scale_index: int, bias_index: int) -> dict:
    x = ctx.input_shapes[x_index]
    costs = {x_index: B.norm_input_grad_flops(_numel(x), ctx.convention)}
    for i, is_scale in ((scale_index, True), (bias_index, False)):
        s = ctx.input_shapes[i] if i < len(ctx.input_shapes) else None
        if s:
            costs[i] = B.norm_weight_grad_flops(_numel(x), _numel(s), is_scale, not is_scale, ctx.convention)
    return costs


def _norm(x_index: int, scale_index: int, bias_index: int):
    def handler(ctx: GradContext) -> tuple:
        costs = _affine_grads(ctx, x_index, scale_index, bias_index)
        return tuple(costs.get(i, 0) for i in range(len(ctx.input_shapes)))

    return handler


register_grad("batch_norm")(_norm(0, 3, 4))  # batch_norm(x, mean, variance, scale, bias)
register_grad("layer_norm", "group_norm", "instance_norm")(_norm(0, 1, 2))


@register_grad("pool2d", "pool3d")
def _pool(ctx: GradContext) -> tuple:
    last = _last(ctx.attrs)
    x, y = ctx.input_shapes[0], ctx.output_shapes[0]
    n, c, ins = _split(x, last)
    _, _, outs = _split(y, last)
    mode = str(ctx.attrs.get("pooling_type", "max"))
    if ctx.attrs.get("adaptive") or ctx.attrs.get("global_pooling"):
        return (B.adaptive_pool_input_grad_flops(ins, outs, c, n, mode, ctx.convention),)
    kernel = ctx.constants[1] if len(ctx.constants) > 1 and ctx.constants[1] is not None else ctx.attrs.get("ksize")
    kernel = tuple(kernel) if isinstance(kernel, (list, tuple)) else (kernel,) * len(ins)
    return (B.pool_input_grad_flops(_numel(y), _numel(x), kernel, mode, ctx.convention),)


@register_grad("softmax", "log_softmax")
def _softmax(ctx: GradContext) -> tuple:
    x = ctx.input_shapes[0]
    return (B.softmax_grad_flops(_numel(x), x[int(ctx.attrs.get("axis", -1))], ctx.convention),)


@register_grad("embedding")
def _embedding(ctx: GradContext) -> tuple:
    return (0, B.embedding_grad_flops(_numel(ctx.output_shapes[0]), ctx.convention))


@register_grad("mean")
def _mean(ctx: GradContext) -> tuple:  # dy / N, broadcast back: one divide per output gradient
    return (B.elementwise_grad_flops(_numel(ctx.output_shapes[0]), "scale", ctx.convention),)


@register_grad("sum", "max", "min", "amax", "amin")
def _reduce(ctx: GradContext) -> tuple:  # broadcast back (max/min: routed to the selected value)
    return (0,)


_MOVES = (
    "reshape", "transpose", "flatten", "squeeze", "unsqueeze", "concat", "split", "split_with_num", "slice",
    "strided_slice", "gather", "gather_nd", "index_select", "pad", "pad3d", "stack", "unstack", "flip", "roll",
    "where", "take_along_axis", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "unbind", "chunk",
    "assign_out", "share_data", "tril", "triu", "memcpy", "nearest_interp",
)


@register_grad(*_MOVES)
def _free(ctx: GradContext) -> tuple:  # data movement (gathers scatter back into zeros: no arithmetic counted)
    return (0,) * len(ctx.input_shapes)
