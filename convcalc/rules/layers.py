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

Layers with no rule are reported as gaps (never silently zero FLOPs).
Parameters are never taken from a rule: they are counted from the model's
parameter objects, once each by identity (:mod:`convcalc.analysis.params`).
A rule's ``params_*`` state what its layer kind's formula gives; a row whose
layer holds something else (``weight_norm``, a subclass adding parameters)
gets a note saying so.  The same rules can be
handed to ``paddle.flops(custom_ops=...)`` through :func:`paddle_custom_ops`,
so a custom layer is counted identically on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING, Any

from convcalc import formulas as F
from convcalc.formulas import Convention
from convcalc.formulas.numbers import div, expand, product
from convcalc.rules.fused_act import act_flops_per_element, fused_forward

if TYPE_CHECKING:
    import sympy

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
    """What a rule returns.  ``params_*``: what the layer kind's formula gives (None: no formula).

    The counts in a report always come from the parameter objects; these
    only describe the formula, and a layer that holds other parameters gets
    a note on its row.
    """

    flops: sympy.Expr
    formula: str
    params_trainable: sympy.Expr | None = None
    params_non_trainable: sympy.Expr | None = None
    notes: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # parts of the layer's work no rule counts (the row is a gap, the total a bound)


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
    """(trainable, non-trainable) parameters held directly by ``layer`` (its own ``_parameters``).

    Same selection as ``paddle.summary``; trainable means ``not stop_gradient``
    (``ParamAttr(trainable=False)`` sets it).  A rule's formula only: report
    counts come from :mod:`convcalc.analysis.params` (tied weights once).
    """
    trainable = frozen = 0
    for p in layer._parameters.values():
        if p is None:
            continue
        n = int(prod(p.shape))
        if not p.stop_gradient:
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


def _numel(shape: tuple) -> Any:
    return product(shape)


_CHANNELS_LAST = ("NHWC", "NLC", "NDHWC")


def _channels_last(layer: Any) -> bool:
    fmt = getattr(layer, "_data_format", None) or getattr(layer, "data_format", None) or "NCHW"
    return str(fmt) in _CHANNELS_LAST


def _split(shape: tuple, last: bool) -> tuple[Any, Any, tuple]:
    """(batch, channels, spatial sizes) of an activation shape in either layout."""
    if last:
        return shape[0], shape[-1], tuple(shape[1:-1])
    return shape[0], shape[1], tuple(shape[2:])


def _sizes(value, rank: int) -> tuple:
    """A layer's kernel/stride/dilation attribute (one number or a list) as ``rank`` numbers."""
    if isinstance(value, (list, tuple)):
        return tuple(value) if len(value) == rank else tuple(value[:1]) * rank
    return (value,) * rank


def _paddle_reads_dim1(ctx: RuleContext, last: bool) -> tuple[str, ...]:
    if last and ctx.convention is Convention.PADDLE:
        return ("paddle.flops reads dim 1 of a channels-last input as the channel count; "
                "the paddle convention follows it (use --convention macs or flops for the true count)",)
    return ()


def _conv_cost(ctx: RuleContext, in_channels, out_channels, kernel, groups, bias: bool) -> Cost:
    """The book's 2-D conv operators (NCHW)."""
    n, c = ctx.input_shapes[0][0], ctx.input_shapes[0][1]
    _, p, oh, ow = ctx.output_shape
    return Cost(
        flops=F.conv_flops(oh, ow, p, c, kernel, groups, bias, batch=n, convention=ctx.convention),
        formula="conv_flops (5.21)",
        params_trainable=F.conv_params(in_channels, out_channels, kernel, groups, bias),
        params_non_trainable=0,
    )


def _pool_kernel(value) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def conv_rule(ctx: RuleContext) -> Cost:
    """Conv1D/2D/3D in NCL/NCHW/NCDHW or NLC/NHWC/NDHWC."""
    lay = ctx.layer
    last = _channels_last(lay)
    n, c, _ = _split(ctx.input_shapes[0], last)
    _, p, out = _split(ctx.output_shape, last)
    if ctx.convention is Convention.PADDLE:
        c = ctx.input_shapes[0][1]
    k = tuple(lay.weight.shape[2:])
    flops = F.convnd_flops(out, p, c, k, lay._groups, lay.bias is not None, n, ctx.convention)
    return Cost(flops, "convnd_flops (5.21)", notes=_paddle_reads_dim1(ctx, last))


def conv_transpose_rule(ctx: RuleContext) -> Cost:
    """Conv1D/2D/3DTranspose: the scatter form's products (paddle: as paddle.flops, like a conv)."""
    from convcalc.rules.ops import transpose_padding_before

    lay = ctx.layer
    last = _channels_last(lay)
    x = ctx.input_shapes[0]
    n, c, ins = _split(x, last)
    _, p, out = _split(ctx.output_shape, last)
    rank = len(ins)
    k = tuple(lay.weight.shape[2:])
    strides, dils = _sizes(lay._stride, rank), _sizes(lay._dilation, rank)
    pad = lay._padding
    if isinstance(pad, str):
        pads = transpose_padding_before(ins, out, k, strides, dils, pad)
    elif isinstance(pad, (list, tuple)) and len(pad) == 2 * rank and not isinstance(pad[0], (list, tuple)):
        pads = tuple(pad[0::2])
    elif isinstance(pad, (list, tuple)) and pad and isinstance(pad[0], (list, tuple)):
        spatial = [q for q in pad if list(q) != [0, 0]] or [[0, 0]] * rank
        pads = tuple(q[0] for q in spatial)
    else:
        pads = _sizes(pad, rank)
    if ctx.convention is Convention.PADDLE:
        c = x[1]
    flops = F.conv_transpose_flops(ins, out, c, p, k, strides, pads, dils, lay._groups,
                                   lay.bias is not None, n, ctx.convention)
    return Cost(flops, "conv_transpose_flops", notes=_paddle_reads_dim1(ctx, last))


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    import paddle.nn as nn

    for cls in (nn.Conv1D, nn.Conv2D, nn.Conv3D):
        register_rule(cls)(conv_rule)
    for cls in (nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose):
        register_rule(cls)(conv_transpose_rule)

    @register_rule(nn.Linear)
    def linear(ctx: RuleContext) -> Cost:
        lay = ctx.layer
        i, o = lay.weight.shape
        rows = _numel(ctx.output_shape[:-1])
        return Cost(F.linear_flops(i, o, rows, lay.bias is not None, ctx.convention), "linear_flops")

    def batchnorm(ctx: RuleContext) -> Cost:
        lay = ctx.layer
        numel = _numel(ctx.input_shapes[0])
        counted = type(lay) in (nn.BatchNorm2D, nn.BatchNorm) or ctx.convention is not Convention.PADDLE
        channels = lay.weight.shape[0] if getattr(lay, "weight", None) is not None else lay._mean.shape[0]
        # weight_attr=False means no affine step (Paddle then holds a constant, stop_gradient scale); a weight
        # the user froze is still applied, so freezing never changes the forward count.
        affine = getattr(lay, "weight", None) is not None and getattr(lay, "_weight_attr", None) is not False
        flops = (F.batchnorm_flops(numel, ctx.convention, channels=channels, affine=affine)
                 if counted else 0)
        unknown: tuple[str, ...] = ()
        act = getattr(lay, "_act", None)
        if act and ctx.convention is Convention.FLOPS:  # paddle.nn.BatchNorm(act='hard_swish') fuses an activation
            per = act_flops_per_element(str(act))
            x = ctx.input_shapes[0]
            if per in ("softmax", "log_softmax"):
                flops += F.softmax_flops(numel, x[-1], per == "log_softmax", ctx.convention)
            elif per is None:
                unknown = (f"act={act!r}",)
            else:
                flops += F.elementwise_flops(numel, per, ctx.convention)
        return Cost(flops, "batchnorm_flops" + (f" + act {act}" if act else "") if counted
                    else "0: paddle.flops has no rule for it", unknown=unknown)

    register_rule(nn.BatchNorm, static_forward=fused_forward)(batchnorm)
    for cls in (nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D, nn.SyncBatchNorm):
        register_rule(cls)(batchnorm)

    def norm(groups_of):
        def rule(ctx: RuleContext) -> Cost:
            lay = ctx.layer
            x = ctx.input_shapes[0]
            groups = groups_of(lay, x)
            affine = sum(1 for name in ("weight", "scale", "bias") if getattr(lay, name, None) is not None)
            return Cost(F.norm_flops(groups, div(_numel(x), groups), affine, ctx.convention), "norm_flops")

        return rule

    register_rule(nn.LayerNorm)(norm(lambda lay, x: div(_numel(x), _numel(lay._normalized_shape))))
    register_rule(nn.GroupNorm)(norm(lambda lay, x: x[0] * lay._num_groups))
    for cls in (nn.InstanceNorm1D, nn.InstanceNorm2D, nn.InstanceNorm3D):
        register_rule(cls)(norm(lambda lay, x: x[0] * _split(x, _channels_last(lay))[1]))

    def pool(fn, attr):
        def rule(ctx: RuleContext) -> Cost:
            rank = len(ctx.output_shape) - 2
            k = _sizes(getattr(ctx.layer, attr), rank)
            return Cost(fn(_numel(ctx.output_shape), k, ctx.convention), fn.__name__)

        return rule

    register_rule(nn.MaxPool1D)(pool(F.maxpool_flops, "kernel_size"))
    register_rule(nn.AvgPool1D)(pool(F.avgpool_flops, "kernel_size"))
    for cls in (nn.MaxPool2D, nn.MaxPool3D):
        register_rule(cls)(pool(F.maxpool_flops, "ksize"))
    for cls in (nn.AvgPool2D, nn.AvgPool3D):
        register_rule(cls)(pool(F.avgpool_flops, "ksize"))

    def adaptive(mode: str):
        def rule(ctx: RuleContext) -> Cost:
            x, y = ctx.input_shapes[0], ctx.output_shape
            last = _channels_last(ctx.layer)
            if ctx.convention is Convention.PADDLE:  # paddle.flops reads x.shape[2:] // y.shape[2:]
                n, c, ins, outs = y[0], y[1], tuple(x[2:]), tuple(y[2:])
            else:
                (n, c, ins), outs = _split(x, last), _split(y, last)[2]
            return Cost(F.adaptive_pool_flops(ins, outs, c, n, mode, ctx.convention), "adaptive_pool_flops",
                        notes=_paddle_reads_dim1(ctx, last) if mode == "avg" else ())

        return rule

    for cls in (nn.AdaptiveAvgPool1D, nn.AdaptiveAvgPool2D, nn.AdaptiveAvgPool3D):
        register_rule(cls)(adaptive("avg"))
    for cls in (nn.AdaptiveMaxPool1D, nn.AdaptiveMaxPool2D, nn.AdaptiveMaxPool3D):
        register_rule(cls)(adaptive("max"))

    def activation(kind: str, counted_by_paddle: bool = False):
        def rule(ctx: RuleContext) -> Cost:
            k = "gelu_tanh" if kind == "gelu" and getattr(ctx.layer, "_approximate", False) else kind
            numel = _numel(ctx.output_shape)
            return Cost(F.activation_flops(numel, ctx.convention, counted_by_paddle, kind=k), "activation_flops")

        return rule

    register_rule(nn.LeakyReLU)(activation("leaky_relu", True))
    for name, kind in (("ReLU", "relu"), ("ReLU6", "relu6"), ("Hardswish", "hardswish"),
                       ("Hardsigmoid", "hardsigmoid"), ("Sigmoid", "sigmoid"), ("Swish", "swish"),
                       ("Silu", "silu"), ("GELU", "gelu"), ("Tanh", "tanh"), ("ELU", "elu"), ("SELU", "selu"),
                       ("Softplus", "softplus"), ("Mish", "mish"), ("Hardtanh", "hardtanh"),
                       ("Softsign", "softsign"), ("Tanhshrink", "tanh_shrink"), ("LogSigmoid", "log_sigmoid")):
        cls = getattr(nn, name, None)
        if cls is not None:
            register_rule(cls)(activation(kind))

    def softmax(log: bool):
        def rule(ctx: RuleContext) -> Cost:
            x = ctx.input_shapes[0]
            return Cost(F.softmax_flops(_numel(x), x[ctx.layer._axis], log, ctx.convention), "softmax_flops")

        return rule

    register_rule(nn.Softmax)(softmax(False))
    register_rule(nn.LogSoftmax)(softmax(True))

    def upsample(ctx: RuleContext) -> Cost:
        default = "bilinear" if isinstance(ctx.layer, nn.UpsamplingBilinear2D) else "nearest"  # no .mode there
        mode = str(getattr(ctx.layer, "mode", default)).lower()
        y = ctx.output_shape
        if mode == "area" and ctx.convention is Convention.PADDLE:
            return Cost(0, "0: paddle.flops has no rule for Upsample")
        if mode == "area":
            last = _channels_last(ctx.layer)
            (n, c, ins), outs = _split(ctx.input_shapes[0], last), _split(y, last)[2]
            return Cost(F.adaptive_pool_flops(ins, outs, c, n, "avg", ctx.convention), "adaptive_pool_flops (area)")
        return Cost(F.interpolate_flops(_numel(y), mode, ctx.convention), "interpolate_flops")

    for name in ("Upsample", "UpsamplingNearest2D", "UpsamplingBilinear2D"):
        register_rule(getattr(nn, name))(upsample)

    @register_rule(nn.Embedding)
    def embedding(ctx: RuleContext) -> Cost:
        return Cost(F.embedding_flops(_numel(ctx.output_shape), ctx.convention), "embedding_flops (a lookup)")

    def cell(mode_of):
        def rule(ctx: RuleContext) -> Cost:
            lay = ctx.layer
            bias = getattr(lay, "bias_ih", None) is not None
            flops = F.rnn_cell_flops(lay.input_size, lay.hidden_size, mode_of(lay), ctx.input_shapes[0][0],
                                     1, bias, ctx.convention)
            return Cost(flops, "rnn_cell_flops")

        return rule

    def rnn(ctx: RuleContext) -> Cost:
        """SimpleRNN/LSTM/GRU as one leaf: every layer and direction runs its cell once per step."""
        lay = ctx.layer
        x = ctx.input_shapes[0]
        steps, batch = (x[0], x[1]) if lay.time_major else (x[1], x[0])
        mode = {"LSTM": "lstm", "GRU": "gru", "RNN_RELU": "rnn_relu"}.get(str(lay.mode), "rnn_tanh")
        bias = any("bias" in name for name, _ in lay.named_parameters())
        flops = 0
        for layer_index in range(lay.num_layers):
            size = lay.input_size if layer_index == 0 else lay.hidden_size * lay.num_directions
            flops += lay.num_directions * F.rnn_cell_flops(size, lay.hidden_size, mode, batch, steps, bias,
                                                           ctx.convention)
        return Cost(expand(flops), "rnn_cell_flops x layers x directions")

    for cls in (nn.SimpleRNN, nn.LSTM, nn.GRU):
        register_rule(cls)(rnn)

    register_rule(nn.SimpleRNNCell)(cell(lambda lay: "rnn_relu" if "relu" in str(lay.activation) else "rnn_tanh"))
    register_rule(nn.LSTMCell)(cell(lambda lay: "lstm"))
    register_rule(nn.GRUCell)(cell(lambda lay: "gru"))

    def free(ctx: RuleContext) -> Cost:
        return Cost(0, "no arithmetic")

    for name in ("Dropout", "Dropout2D", "Dropout3D", "AlphaDropout", "Flatten", "Identity", "Unflatten",
                 "Pad1D", "Pad2D", "Pad3D", "ZeroPad2D", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle"):
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
