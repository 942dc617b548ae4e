"""FLOPs of functional ops (``F.conv2d``, ``matmul``, ``einsum``, ``softmax``, a residual ``add``, ...).

The ops a model runs outside any leaf layer -- functional calls, tensor
methods, the arithmetic inside a container's ``forward`` such as
``nn.MultiHeadAttention``'s ``q @ k^T`` -- are counted here, by their Paddle
op name.  The registry is data (fvcore's ``_DEFAULT_SUPPORTED_OPS``): a dict
from op key (``"matmul"``, ``"conv2d"``, ...) to a small handler that pulls
the shapes and attributes off the op and calls :mod:`convcalc.formulas`.
Add one with :func:`register_op`.  An op with no handler is a gap: its row
says "no rule" and the report's total becomes a lower bound.

``paddle.flops`` hooks layers only, so in the ``paddle`` convention every
functional op with a handler counts 0.  Never imports paddle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc import formulas as F
from convcalc.formulas import Convention
from convcalc.formulas.flops_per_element import ELEMENTWISE_OPS
from convcalc.formulas.numbers import div, expand, is_symbolic, maximum, product, simplify

if TYPE_CHECKING:
    import sympy

__all__ = ["OpContext", "OpCost", "register_op", "has_op_rule", "op_cost"]


@dataclass(frozen=True)
class OpContext:
    """What an op handler sees: attributes, operand shapes (lists expanded), result shape, constants."""

    key: str
    attrs: dict
    input_shapes: tuple[tuple | None, ...]
    output_shape: tuple
    constants: tuple[Any, ...]
    convention: Convention


@dataclass(frozen=True)
class OpCost:
    flops: sympy.Expr
    formula: str


OpHandler = Callable[[OpContext], OpCost]
_OPS: dict[str, OpHandler] = {}


def register_op(*keys: str):
    """Decorator: count the ops named ``keys`` (op names without ``pd_op.`` and in-place ``_``)."""

    def deco(fn: OpHandler) -> OpHandler:
        for k in keys:
            _OPS[k] = fn
        return fn

    return deco


def has_op_rule(key: str) -> bool:
    return key in _OPS


def op_cost(ctx: OpContext) -> OpCost | None:
    """The op's cost, or ``None`` when no rule knows it (a gap)."""
    handler = _OPS.get(ctx.key)
    if handler is None:
        return None
    cost = handler(ctx)
    if ctx.convention is Convention.PADDLE and cost.flops != 0:
        return OpCost(0, f"0: paddle.flops counts layers only ({cost.formula})")
    return cost


# --------------------------------------------------------------------------
def _numel(shape) -> Any:
    return product(shape) if shape else 1


def _channels_last(attrs: dict) -> bool:
    return str(attrs.get("data_format", "NCHW")) in ("NHWC", "NDHWC", "NLC")


def _split(shape: tuple, last: bool) -> tuple[Any, Any, tuple]:
    """(batch, channels, spatial sizes) of an activation shape in either layout."""
    if last:
        return shape[0], shape[-1], tuple(shape[1:-1])
    return shape[0], shape[1], tuple(shape[2:])


def _per_axis(values, rank: int) -> list:
    """Paddle's paddings attribute as the padding *before* each spatial axis."""
    values = list(values or [0])
    if len(values) == 2 * rank:
        return values[0::2]
    if len(values) == rank:
        return values
    return [values[0]] * rank


# ------------------------------------------------------------ dot products
@register_op("conv2d", "conv3d", "depthwise_conv2d")
def _conv(ctx: OpContext) -> OpCost:
    x, w = ctx.input_shapes[0], ctx.input_shapes[1]
    n, _, _ = _split(x, _channels_last(ctx.attrs))
    _, p, out = _split(ctx.output_shape, _channels_last(ctx.attrs))
    g = ctx.attrs.get("groups", 1)
    flops = F.convnd_flops(out, p, w[1] * g, tuple(w[2:]), g, False, n, ctx.convention)
    return OpCost(flops, "convnd_flops (bias: a separate add)")


@register_op("conv2d_transpose", "conv3d_transpose", "depthwise_conv2d_transpose")
def _conv_transpose(ctx: OpContext) -> OpCost:
    x, w = ctx.input_shapes[0], ctx.input_shapes[1]
    last = _channels_last(ctx.attrs)
    n, c, ins = _split(x, last)
    _, p, out = _split(ctx.output_shape, last)
    g = ctx.attrs.get("groups", 1)
    rank = len(ins)
    k = tuple(w[2:])
    strides = ctx.attrs.get("strides", [1] * rank)
    dils = ctx.attrs.get("dilations", [1] * rank)
    if ctx.attrs.get("padding_algorithm", "EXPLICIT") == "EXPLICIT":
        pads = _per_axis(ctx.attrs.get("paddings"), rank)
    else:
        pads = transpose_padding_before(ins, out, k, strides, dils, ctx.attrs["padding_algorithm"])
    flops = F.conv_transpose_flops(ins, out, c, p, k, strides, pads, dils, g, False, n, ctx.convention)
    return OpCost(flops, "conv_transpose_flops (bias: a separate add)")


@register_op("deformable_conv")
def _deformable_conv(ctx: OpContext) -> OpCost:
    """``paddle.vision.ops.deform_conv2d`` / ``DeformConv2D`` (v1; v2 with a mask): a conv of sampled values.

    Every output position samples each input channel at the kernel's ``k*k``
    offset positions (``S = N*H'*W'*C*k*k`` sampled values, bilinear: 4 taps),
    then a conv takes them (``K = C/g*k*k`` products per output value).  macs:
    ``K*numel(out) + 4*S``; flops: ``(2K-1)*numel(out) + 7*S`` (bilinear) ``+ 2*S``
    (the offsets added to the positions) ``+ S`` with a mask (v2: one multiply per
    sampled value); paddle: 0 (``paddle.flops`` has no rule for it).
    """
    x, w = ctx.input_shapes[0], ctx.input_shapes[2]
    masked = len(ctx.input_shapes) > 3 and bool(ctx.input_shapes[3])
    n, c = x[0], x[1]
    _, p, oh, ow = ctx.output_shape
    g = ctx.attrs.get("groups", 1)
    kernel = tuple(w[2:])
    samples = n * oh * ow * c * _numel(kernel)
    flops = (F.convnd_flops((oh, ow), p, w[1] * g, kernel, g, False, n, ctx.convention)
             + F.interpolate_flops(samples, "bilinear", ctx.convention)
             + F.elementwise_flops(samples, 2 + int(masked), ctx.convention))
    return OpCost(expand(flops), "convnd_flops of the sampled values + bilinear sampling"
                  + (" + mask" if masked else ""))


def transpose_padding_before(ins, outs, kernel, strides, dilations, algorithm: str) -> list:
    """Padding before each axis of a transposed conv under 'SAME'/'VALID' (half the crop, rounded down)."""
    if str(algorithm).upper() == "VALID":
        return [0] * len(ins)
    pads = []
    for m, o, k, s, d in zip(ins, outs, kernel, strides, dilations):
        total = (m - 1) * s + d * (k - 1) + 1 - o
        pads.append(maximum(total, 0) // 2 if is_symbolic(total) else max(total, 0) // 2)
    return pads


def _matmul_dims(a: tuple, b: tuple, tx: bool, ty: bool) -> tuple:
    a = (1, a[0]) if len(a) == 1 else a
    b = (b[0], 1) if len(b) == 1 else b
    m, k = (a[-1], a[-2]) if tx else (a[-2], a[-1])
    n = b[-2] if ty else b[-1]
    return m, k, n


@register_op("matmul", "bmm", "mm")
def _matmul(ctx: OpContext) -> OpCost:
    m, k, n = _matmul_dims(ctx.input_shapes[0], ctx.input_shapes[1],
                           bool(ctx.attrs.get("transpose_x")), bool(ctx.attrs.get("transpose_y")))
    batch = simplify(div(_numel(ctx.output_shape), m * n)) if ctx.output_shape else 1
    return OpCost(F.matmul_flops(m, k, n, batch, ctx.convention), "matmul_flops")


@register_op("addmm")
def _addmm(ctx: OpContext) -> OpCost:
    m, k, n = _matmul_dims(ctx.input_shapes[1], ctx.input_shapes[2], False, False)
    scaled = int(float(ctx.attrs.get("alpha", 1.0)) != 1.0) + int(float(ctx.attrs.get("beta", 1.0)) != 1.0)
    return OpCost(F.addmm_flops(m, k, n, 1, scaled, ctx.convention), "addmm_flops")


@register_op("einsum")
def _einsum(ctx: OpContext) -> OpCost:
    shapes = [tuple(int(d) for d in s) for s in ctx.input_shapes if s is not None]
    return OpCost(F.einsum_flops(str(ctx.attrs["equation"]), shapes, ctx.convention), "einsum_flops")


# ------------------------------------------------------------ elementwise
def _elementwise(ctx: OpContext) -> OpCost:
    key = "gelu_tanh" if ctx.key == "gelu" and ctx.attrs.get("approximate") else ctx.key  # F.gelu(approximate=True)
    ops = ELEMENTWISE_OPS[key]
    return OpCost(F.elementwise_flops(_numel(ctx.output_shape), ops, ctx.convention),
                  f"elementwise_flops ({ops}/element)" if ops else "no arithmetic")


register_op(*ELEMENTWISE_OPS)(_elementwise)


@register_op("scale")
def _scale(ctx: OpContext) -> OpCost:
    factor = ctx.constants[1] if len(ctx.constants) > 1 else ctx.attrs.get("scale", 1.0)
    factor = factor[0] if isinstance(factor, list) and factor else factor
    ops = int(factor is None or float(factor) != 1.0) + int(float(ctx.attrs.get("bias", 0.0)) != 0.0)
    return OpCost(F.elementwise_flops(_numel(ctx.output_shape), ops, ctx.convention), f"scale ({ops}/element)")


@register_op("add_n")
def _add_n(ctx: OpContext) -> OpCost:
    inputs = len([s for s in ctx.input_shapes if s is not None])
    return OpCost(F.add_flops(_numel(ctx.output_shape), ctx.convention, inputs), "add_flops")


@register_op("softmax", "log_softmax")
def _softmax(ctx: OpContext) -> OpCost:
    x = ctx.input_shapes[0]
    axis = int(ctx.attrs.get("axis", -1))
    return OpCost(F.softmax_flops(_numel(x), x[axis], ctx.key == "log_softmax", ctx.convention), "softmax_flops")


@register_op("sum", "mean", "max", "min", "amax", "amin", "prod", "argmax", "argmin", "any", "all")
def _reduce(ctx: OpContext) -> OpCost:
    n_in, n_out = _numel(ctx.input_shapes[0]), _numel(ctx.output_shape)
    ops = n_in - n_out + (n_out if ctx.key == "mean" else 0)
    return OpCost(F.elementwise_flops(ops, 1, ctx.convention), "reduction: one op per value folded in")


# ------------------------------------------------------------ norms, pooling, resampling
@register_op("layer_norm")
def _layer_norm(ctx: OpContext) -> OpCost:
    x = ctx.input_shapes[0]
    axis = int(ctx.attrs.get("begin_norm_axis", len(x) - 1))
    rows, size = _numel(x[:axis]), _numel(x[axis:])
    affine = sum(1 for s in ctx.input_shapes[1:3] if s)
    return OpCost(F.norm_flops(rows, size, affine, ctx.convention), "norm_flops")


@register_op("group_norm")
def _group_norm(ctx: OpContext) -> OpCost:
    x = ctx.input_shapes[0]
    n, c, _ = _split(x, _channels_last(ctx.attrs))
    groups = int(ctx.attrs.get("groups", 1))
    affine = sum(1 for s in ctx.input_shapes[1:3] if s)
    return OpCost(F.norm_flops(n * groups, div(_numel(x), n * groups), affine, ctx.convention), "norm_flops")


@register_op("instance_norm")
def _instance_norm(ctx: OpContext) -> OpCost:
    x = ctx.input_shapes[0]
    n, c, _ = _split(x, False)
    affine = sum(1 for s in ctx.input_shapes[1:3] if s)
    return OpCost(F.norm_flops(n * c, div(_numel(x), n * c), affine, ctx.convention), "norm_flops")


@register_op("batch_norm")
def _batch_norm(ctx: OpContext) -> OpCost:
    x = ctx.input_shapes[0]
    _, c, _ = _split(x, _channels_last(ctx.attrs)) if len(x) > 2 else (x[0], x[1], ())
    affine = bool(len(ctx.input_shapes) > 4 and ctx.input_shapes[3])
    return OpCost(F.batchnorm_flops(_numel(x), ctx.convention, channels=c, affine=affine), "batchnorm_flops")


@register_op("pool2d", "pool3d", "max_pool2d_with_index", "max_pool3d_with_index")
def _pool(ctx: OpContext) -> OpCost:
    last = _channels_last(ctx.attrs)
    x = ctx.input_shapes[0]
    n, c, ins = _split(x, last)
    _, _, outs = _split(ctx.output_shape, last)
    kind = str(ctx.attrs.get("pooling_type", "max"))
    if ctx.attrs.get("adaptive") or ctx.attrs.get("global_pooling"):
        return OpCost(F.adaptive_pool_flops(ins, outs, c, n, kind, ctx.convention), "adaptive_pool_flops")
    kernel = ctx.constants[1] if len(ctx.constants) > 1 and ctx.constants[1] is not None else (
        ctx.attrs.get("ksize") or ctx.attrs.get("kernel_size"))  # pool3d carries it as kernel_size
    kernel = tuple(kernel) if isinstance(kernel, (list, tuple)) else (kernel,) * len(ins)
    fn = F.avgpool_flops if kind == "avg" else F.maxpool_flops
    return OpCost(fn(_numel(ctx.output_shape), kernel, ctx.convention), fn.__name__)


@register_op("p_norm")
def _p_norm(ctx: OpContext) -> OpCost:
    """``paddle.norm(x, p, axis)``, ``F.normalize``'s norm: per result the values it folds (``n`` of them).

    p = 2: ``n`` squares, ``n - 1`` adds, a square root (``2n`` per result); p = 1: ``n`` absolute values,
    ``n - 1`` adds; any other p: ``|x|**p`` (2 per value), ``n - 1`` adds, one root.
    """
    n_in, n_out = _numel(ctx.input_shapes[0]), _numel(ctx.output_shape)
    p = float(ctx.attrs.get("porder", 2.0))
    ops = {2.0: 2 * n_in, 1.0: 2 * n_in - n_out}.get(p, 3 * n_in)
    return OpCost(F.elementwise_flops(ops, 1, ctx.convention), f"p_norm (p = {p:g})")


@register_op("nearest_interp", "linear_interp", "bilinear_interp", "trilinear_interp", "bicubic_interp")
def _interp(ctx: OpContext) -> OpCost:
    mode = ctx.key[: -len("_interp")]
    return OpCost(F.interpolate_flops(_numel(ctx.output_shape), mode, ctx.convention), "interpolate_flops")


# ------------------------------------------------------------ data movement: no arithmetic
_MOVES = (
    "reshape", "transpose", "flatten", "squeeze", "unsqueeze", "concat", "split", "split_with_num", "slice",
    "strided_slice", "gather", "gather_nd", "index_select", "embedding", "expand", "expand_as", "tile", "pad",
    "pad3d", "stack", "unstack", "flip", "roll", "full_like", "zeros_like", "ones_like", "where", "take_along_axis",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "unbind", "chunk", "set_value", "set_value_with_tensor",
    "assign_out", "share_data", "meshgrid", "tril", "triu", "one_hot", "masked_select", "index_put",
    "put_along_axis", "memcpy", "logical_and", "logical_or", "logical_not", "unfold", "unpool", "unpool3d",
)
_CREATES = ("uniform", "gaussian", "randint", "randperm")  # random values: no arithmetic on any input


@register_op(*_MOVES)
def _free(ctx: OpContext) -> OpCost:
    return OpCost(0, "no arithmetic (moves or selects values)")


@register_op(*_CREATES)
def _creates(ctx: OpContext) -> OpCost:
    return OpCost(0, "no arithmetic (creates random values)")
