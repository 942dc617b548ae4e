"""The catalogue behind ``convcalc formulas [NAME]``: every formula, in words and symbols.

Each entry names a function of :mod:`convcalc.formulas`, the book's equation
numbers, a one-line description and a legend of its symbols.  The symbolic
forms are made by *calling the function with sympy symbols*, so the printed
equation is the code that computes every number (one source of truth).
Never imports paddle.

Symbols follow the book: ``M, N`` input height/width, ``U, V`` kernel
height/width, ``S`` stride, ``P`` padding (5.6) or output channels (5.20),
``D`` input channels, ``M', N'`` output height/width.  Two extensions the book
does not name: ``d`` dilation and ``g`` groups.

>>> e = entry("conv_output_size")
>>> e.equations
'5.6, 5.7'
>>> e.forms[0].expr
floor((M + 2*P - d*(U - 1) - 1)/S) + 1
>>> entry("conv_params").forms[0].expr
D*P*U*V/g + P
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy

from convcalc.errors import UnknownNameError

__all__ = ["Form", "FormulaInfo", "names", "entry", "catalog", "GROUPS"]

GROUPS = ("shapes", "params", "flops", "receptive")
"""The catalogue's sections, in the order they are printed."""


@dataclass(frozen=True)
class Form:
    """One symbolic form of a formula: ``lhs = expr`` under the condition ``label``."""

    label: str
    lhs: str
    expr: sympy.Expr


@dataclass(frozen=True)
class FormulaInfo:
    """A catalogue entry: the function's name, book equations, words and symbolic forms."""

    name: str
    group: str
    equations: str
    description: str
    legend: str
    forms: tuple[Form, ...]


def _pos(names: str):
    """Symbols for sizes, kernels, strides, channels.

    They carry no assumptions: the forms print the same, and sympy skips the
    assumption queries that would otherwise cost most of the catalogue's time.
    """
    return sympy.symbols(names)


_nonneg = _pos  # paddings: printed alike


_SHAPE_LEGEND = "M input size, U kernel, S stride, P padding, d dilation"
_CONV_LEGEND = "D input channels, P output channels, U x V kernel, g groups"
_FLOP_CONV_LEGEND = "M' x N' output size, " + _CONV_LEGEND


def _conventions(fn: Callable[[str], sympy.Expr], lhs: str = "FLOPs") -> tuple[Form, ...]:
    return tuple(Form(c, lhs, fn(c)) for c in ("paddle", "macs", "flops"))


# ---------------------------------------------------------------- shapes
def _effective_kernel():
    from convcalc.formulas import shapes

    u, d = _pos("U d")
    return (Form("", "k_eff", shapes.effective_kernel(u, d)),)


def _effective_dilation():
    from convcalc.formulas import shapes

    (d,) = _pos("d,")
    return (
        Form("", "d_eff", shapes.effective_dilation(0, d)),
        Form("SAME", "d_eff", shapes.effective_dilation("SAME", d)),
    )


def _resolve_padding():
    from convcalc.formulas import shapes

    m, u, s = _pos("M U S")
    before, after = shapes.resolve_padding("SAME", m, u, s)
    return (Form("SAME", "P_before", before), Form("SAME", "P_after", after))


def _conv_output_size():
    from convcalc.formulas import shapes

    m, u, s, d = _pos("M U S d")
    (p,) = _nonneg("P,")
    pb, pa = _nonneg("P_1 P_2")
    return (
        Form("", "M'", shapes.conv_output_size(m, u, s, p, d)),
        Form("per-side padding", "M'", shapes.conv_output_size(m, u, s, (pb, pa), d)),
        Form("'SAME'", "M'", shapes.conv_output_size(m, u, s, "SAME", d)),
        Form("'VALID'", "M'", shapes.conv_output_size(m, u, s, "VALID", d)),
    )


def _conv_transpose_output_size():
    from convcalc.formulas import shapes

    m, u, s, d = _pos("M U S d")
    (p,) = _nonneg("P,")
    return (Form("", "M'", shapes.conv_transpose_output_size(m, u, s, p, d)),
            Form("output_padding O", "M'", shapes.conv_transpose_output_size(m, u, s, p, d, _pos("O"))))


def _pool_output_size():
    from convcalc.formulas import shapes

    m, u, s = _pos("M U S")
    (p,) = _nonneg("P,")
    return (
        Form("", "M'", shapes.pool_output_size(m, u, s, p)),
        Form("ceil_mode", "M'", shapes.pool_output_size(m, u, s, p, ceil_mode=True)),
        Form("'SAME'", "M'", shapes.pool_output_size(m, u, s, "SAME")),
    )


def _narrow():
    from convcalc.formulas import shapes

    m, u = _pos("M U")
    return (Form("", "M'", shapes.narrow_conv_output_size(m, u)),)


def _wide():
    from convcalc.formulas import shapes

    m, u = _pos("M U")
    return (Form("", "M'", shapes.wide_conv_output_size(m, u)),)


def _same():
    from convcalc.formulas import shapes

    m, u = _pos("M U")
    return (Form("", "M'", shapes.same_conv_output_size(m, u)),)


# ---------------------------------------------------------------- params
def _kernel_params():
    from convcalc.formulas import params

    u, v = _pos("U V")
    return (Form("", "parameters", params.kernel_params((u, v))),)


def _conv_params():
    from convcalc.formulas import params

    d, p, u, v, g = _pos("D P U V g")
    return (
        Form("", "parameters", params.conv_params(d, p, (u, v), g)),
        Form("bias=False", "parameters", params.conv_params(d, p, (u, v), g, bias=False)),
    )


def _linear_params():
    from convcalc.formulas import params

    i, o = _pos("in out")
    return (
        Form("", "parameters", params.linear_params(i, o)),
        Form("bias=False", "parameters", params.linear_params(i, o, bias=False)),
    )


def _bn_params():
    from convcalc.formulas import params

    (c,) = _pos("C,")
    return (Form("", "trainable", params.batchnorm_params(c)),)


def _bn_running():
    from convcalc.formulas import params

    (c,) = _pos("C,")
    return (Form("", "non-trainable", params.batchnorm_running_stats(c)),)


# ---------------------------------------------------------------- FLOPs
def _conv_flops():
    from convcalc.formulas import flops

    mo, no = _pos("M' N'")
    d, p, u, v, g = _pos("D P U V g")
    return _conventions(lambda c: flops.conv_flops(mo, no, p, d, (u, v), g, convention=c))


def _linear_flops():
    from convcalc.formulas import flops

    i, o, b = _pos("in out B")
    return _conventions(lambda c: flops.linear_flops(i, o, b, convention=c))


def _bn_flops():
    from convcalc.formulas import flops

    (n,) = _pos("numel,")
    return _conventions(lambda c: flops.batchnorm_flops(n, convention=c))


def _avgpool_flops():
    from convcalc.formulas import flops

    n, u, v = _pos("numel_out U V")
    return _conventions(lambda c: flops.avgpool_flops(n, (u, v), convention=c))


def _maxpool_flops():
    from convcalc.formulas import flops

    n, u, v = _pos("numel_out U V")
    return _conventions(lambda c: flops.maxpool_flops(n, (u, v), convention=c))


def _adaptive_avg():
    from convcalc.formulas import flops

    m, n, mo, no, c, b = _pos("M N M' N' C B")
    return _conventions(lambda k: flops.adaptive_avgpool_flops(m, n, mo, no, c, b, convention=k))


def _adaptive_max():
    from convcalc.formulas import flops

    m, n, mo, no, c, b = _pos("M N M' N' C B")
    return _conventions(lambda k: flops.adaptive_maxpool_flops(m, n, mo, no, c, b, convention=k))


def _activation_flops():
    from convcalc.formulas import flops

    (n,) = _pos("numel,")
    forms = _conventions(lambda c: flops.activation_flops(n, convention=c))
    leaky = Form("paddle, LeakyReLU", "FLOPs", flops.activation_flops(n, "paddle", True))
    return forms[:1] + (leaky,) + forms[1:]


def _add_flops():
    from convcalc.formulas import flops

    (n,) = _pos("numel,")
    return _conventions(lambda c: flops.add_flops(n, convention=c))


def _convnd_flops():
    from convcalc.formulas import flops

    lo, mo, no, d, p, u, v, w, g = _pos("L' M' N' D P U V W g")
    return (
        Form("1-D", "FLOPs", flops.convnd_flops((lo,), p, d, (u,), g, convention="flops")),
        Form("3-D", "FLOPs", flops.convnd_flops((lo, mo, no), p, d, (w, u, v), g, convention="flops")),
    ) + _conventions(lambda c: flops.convnd_flops((mo, no), p, d, (u, v), g, convention=c))


def _conv_transpose_flops():
    from convcalc.formulas import flops

    m, n, mo, no, d, p, u, v, g = _pos("M N M' N' D P U V g")
    return _conventions(lambda c: flops.conv_transpose_flops((m, n), (mo, no), d, p, (u, v), groups=g,
                                                             convention=c))


def _matmul_flops():
    from convcalc.formulas import flops

    m, k, n, b = _pos("m k n B")
    return _conventions(lambda c: flops.matmul_flops(m, k, n, b, convention=c))


def _addmm_flops():
    from convcalc.formulas import flops

    m, k, n = _pos("m k n")
    return _conventions(lambda c: flops.addmm_flops(m, k, n, convention=c))


def _einsum_flops():
    from convcalc.formulas import flops

    return _conventions(lambda c: flops.einsum_flops("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], convention=c),
                        lhs="FLOPs of bij,bjk->bik at 2x3x4, 2x4x5")


def _norm_flops():
    from convcalc.formulas import flops

    g, n = _pos("G n")
    return (Form("flops, affine", "FLOPs", flops.norm_flops(g, n, 2, "flops")),
            Form("paddle, macs", "FLOPs", flops.norm_flops(g, n, 2, "paddle")))


def _adaptive_pool_flops():
    from convcalc.formulas import flops

    m, mo, c, b = _pos("M M' C B")
    return _conventions(lambda k: flops.adaptive_pool_flops((m,), (mo,), c, b, "avg", convention=k), lhs="FLOPs 1-D")


def _elementwise_flops():
    from convcalc.formulas import flops

    n, k = _pos("numel k")
    return _conventions(lambda c: flops.elementwise_flops(n, k, convention=c))


def _softmax_flops():
    from convcalc.formulas import flops

    n, k = _pos("numel n")
    return _conventions(lambda c: flops.softmax_flops(n, k, convention=c)) + (
        Form("flops, log_softmax", "FLOPs", flops.softmax_flops(n, k, True, "flops")),)


def _interpolate_flops():
    from convcalc.formulas import flops

    (n,) = _pos("numel_out,")
    return tuple(Form(f"{c}, {mode}", "FLOPs", flops.interpolate_flops(n, mode, c))
                 for mode in ("bilinear", "bicubic") for c in ("macs", "flops"))


def _embedding_flops():
    from convcalc.formulas import flops

    (n,) = _pos("numel_out,")
    return _conventions(lambda c: flops.embedding_flops(n, convention=c))


def _rnn_cell_flops():
    from convcalc.formulas import flops

    i, h, b, t = _pos("I H B T")
    return tuple(Form(f"{c}, {mode}", "FLOPs", flops.rnn_cell_flops(i, h, mode, b, t, convention=c))
                 for mode in ("rnn_tanh", "lstm", "gru") for c in ("macs", "flops"))


# ---------------------------------------------------------------- receptive field
def _rf_jump():
    from convcalc.formulas import receptive

    j, s = _pos("j_in S")
    return (Form("", "j_out", receptive.rf_jump(j, s)),)


def _rf_size():
    from convcalc.formulas import receptive

    r, j, u, d = _pos("r_in j_in U d")
    return (Form("", "r_out", receptive.rf_size(r, j, u, d)),)


def _rf_start():
    from convcalc.formulas import receptive

    j, u, d = _pos("j_in U d")
    (start,) = _pos("start_in,")
    (p,) = _nonneg("P,")
    return (Form("", "start_out", receptive.rf_start(start, j, u, p, d)),)


def _field_after():
    from convcalc.formulas import receptive

    r, j, u, s, d = _pos("r_in j_in U S d")
    (start,) = _pos("start_in,")
    (p,) = _nonneg("P,")
    f = receptive.field_after(receptive.Field(r, j, start), u, s, p, d)
    return (Form("", "r_out", f.size), Form("", "j_out", f.jump), Form("", "start_out", f.start))


def _merge_fields():
    from convcalc.formulas import receptive

    r1, r2, j = _pos("r_1 r_2 j")
    s1, s2 = _pos("start_1 start_2")
    f = receptive.merge_fields([receptive.Field(r1, j, s1), receptive.Field(r2, j, s2)])
    return (Form("equal jumps", "r", f.size), Form("equal jumps", "start", f.start))


def _transposed_field():
    from convcalc.formulas import receptive

    f = receptive.transposed_field(receptive.INPUT_FIELD, 3, 2, 1)
    sizes = [b[1] - b[0] + 1 for b in f.phases]
    return (Form("U=3, S=2, P=1 on input pixels", "j_out", f.jump),
            Form("U=3, S=2, P=1 on input pixels", "r_out (largest)", f.size),
            Form("even outputs", "r", sizes[0]), Form("odd outputs", "r", sizes[1]))


def _resampled_field():
    from fractions import Fraction

    from convcalc.formulas import receptive

    def taps(mode):
        return lambda src: receptive.interpolation_taps(mode, src)

    half = Fraction(1, 2)
    near = receptive.resampled_field(receptive.INPUT_FIELD, half, Fraction(0), taps("nearest"))
    lin = receptive.resampled_field(receptive.INPUT_FIELD, half, (half - 1) / 2, taps("linear"))
    return (Form("2x nearest", "j_out", near.jump), Form("2x nearest", "r_out", near.size),
            Form("2x bilinear, half-pixel", "r_out", lin.size))


_S = "shapes"
_PA = "params"
_F = "flops"
_R = "receptive"

# name -> (group, book equations, description, legend, builder)
_TABLE: dict[str, tuple[str, str, str, str, Callable[[], tuple[Form, ...]]]] = {
    "conv_output_size": (
        _S, "5.6, 5.7",
        "Output length of a convolution on one axis, with stride, padding and dilation "
        "(floor of the padded span over the stride, plus one).",
        _SHAPE_LEGEND + ", P_1/P_2 padding before/after", _conv_output_size,
    ),
    "conv_transpose_output_size": (
        _S, "5.6 (inverted)",
        "Output length of a transposed convolution: the length a convolution with the same kernel, "
        "stride and padding maps back to M (plus output_padding).",
        _SHAPE_LEGEND + ", O output_padding", _conv_transpose_output_size,
    ),
    "pool_output_size": (
        _S, "5.20, 5.21 (of 5.2.2)",
        "Output length of max/avg pooling: the convolution formula, stride defaulting to the "
        "kernel, rounding up with ceil_mode (also after 'SAME' padding, as Paddle does).",
        "M input size, U window, S stride, P padding", _pool_output_size,
    ),
    "narrow_conv_output_size": (
        _S, "5.2, 5.3, 5.9, 5.10",
        "Narrow convolution (S=1, no padding): the output shrinks by U-1.",
        "M input size, U kernel", _narrow,
    ),
    "wide_conv_output_size": (
        _S, "5.11, 5.12",
        "Wide convolution (S=1, P=U-1 on both sides): the output grows by U-1.",
        "M input size, U kernel", _wide,
    ),
    "same_conv_output_size": (
        _S, "5.13, 5.14",
        "Same (equal-width) convolution (S=1, P=(U-1)/2, odd U): the output keeps the input size.",
        "M input size, U kernel", _same,
    ),
    "effective_kernel": (
        _S, "5.6 (with dilation)",
        "Extent of a dilated kernel: d-1 gaps between each of its U taps.",
        "U kernel, d dilation", _effective_kernel,
    ),
    "effective_dilation": (
        _S, "",
        "The dilation Paddle applies: reset to 1 under 'SAME' padding.",
        "d dilation", _effective_dilation,
    ),
    "resolve_padding": (
        _S, "",
        "Paddle's 'SAME' padding on one axis: the total needed for ceil(M/S) outputs, "
        "the smaller half before.",
        "M input size, U kernel, S stride", _resolve_padding,
    ),
    "kernel_params": (
        _PA, "5.1.3",
        "Weights of one single-channel U x V kernel (9 for 3 x 3).",
        "U x V kernel", _kernel_params,
    ),
    "conv_params": (
        _PA, "5.20",
        "Parameters of a convolution: P kernels of (D/g) x U x V weights, plus P biases.",
        _CONV_LEGEND, _conv_params,
    ),
    "linear_params": (
        _PA, "5.1.3",
        "Parameters of a fully connected layer: one weight per input-output pair, plus one "
        "bias per output (1,025 for 32 x 32 inputs into one neuron).",
        "in input features, out output features", _linear_params,
    ),
    "batchnorm_params": (
        _PA, "",
        "Trainable parameters of BatchNorm: a scale and a shift per channel.",
        "C channels", _bn_params,
    ),
    "batchnorm_running_stats": (
        _PA, "",
        "Non-trainable running mean and variance of BatchNorm, which paddle.summary counts.",
        "C channels", _bn_running,
    ),
    "conv_flops": (
        _F, "5.4, 5.8, 5.21",
        "FLOPs of a convolution: D/g x U x V multiply-adds per output value, plus the bias.",
        _FLOP_CONV_LEGEND, _conv_flops,
    ),
    "linear_flops": (
        _F, "",
        "FLOPs of a fully connected layer: in x out per row (paddle ignores the bias).",
        "in/out features, B batch rows", _linear_flops,
    ),
    "batchnorm_flops": (
        _F, "",
        "FLOPs of BatchNorm at inference: 2 per element in paddle, 4 in flops.",
        "numel elements", _bn_flops,
    ),
    "avgpool_flops": (
        _F, "5.2.2",
        "FLOPs of average pooling: one per output value in paddle; U x V adds and divide in flops.",
        "numel_out output values, U x V window", _avgpool_flops,
    ),
    "maxpool_flops": (
        _F, "5.2.2",
        "FLOPs of max pooling: none in paddle and macs; U x V - 1 comparisons per output in flops.",
        "numel_out output values, U x V window", _maxpool_flops,
    ),
    "adaptive_avgpool_flops": (
        _F, "",
        "FLOPs of adaptive average pooling (M, N) -> (M', N'): paddle counts "
        "floor(M/M') x floor(N/N') + 1 per output value.",
        "M x N input, M' x N' output, C channels, B batch", _adaptive_avg,
    ),
    "adaptive_maxpool_flops": (
        _F, "",
        "FLOPs of adaptive max pooling: comparisons only, counted in flops.",
        "M x N input, M' x N' output, C channels, B batch", _adaptive_max,
    ),
    "activation_flops": (
        _F, "",
        "FLOPs of an elementwise activation: one per element in flops; paddle counts only "
        "LeakyReLU.",
        "numel elements", _activation_flops,
    ),
    "add_flops": (
        _F, "5.22",
        "FLOPs of an elementwise sum (the residual add of 5.22): one per element in flops.",
        "numel elements", _add_flops,
    ),
    "convnd_flops": (
        _F, "5.4, 5.8, 5.21",
        "FLOPs of a 1-, 2- or 3-D convolution: D/g x prod(kernel) multiply-adds per output value; in flops "
        "K multiplies, K-1 adds and the bias.",
        "L', M', N' output sizes, " + _CONV_LEGEND + ", W kernel depth", _convnd_flops,
    ),
    "conv_transpose_flops": (
        _F, "",
        "FLOPs of a transposed convolution: every input value times the P/g x U x V weights it scatters to "
        "(paddle.flops counts it like a conv over the output, stride^2 too many).",
        "M x N input, M' x N' output, " + _CONV_LEGEND, _conv_transpose_flops,
    ),
    "matmul_flops": (
        _F, "",
        "FLOPs of B products of m x k and k x n matrices (matmul, bmm, mm, F.linear, attention); 0 in paddle, "
        "which counts layers only.",
        "m, k, n matrix sizes, B batch", _matmul_flops,
    ),
    "addmm_flops": (
        _F, "",
        "FLOPs of beta*input + alpha*(x @ y): a matmul plus one add per output (and the scalings if not 1).",
        "m, k, n matrix sizes", _addmm_flops,
    ),
    "einsum_flops": (
        _F, "",
        "FLOPs of einsum evaluated directly: (operands-1) multiplies per index combination, then the sums.",
        "the equation's index sizes", _einsum_flops,
    ),
    "norm_flops": (
        _F, "",
        "FLOPs of LayerNorm/GroupNorm/InstanceNorm: 5n + 2 per group of n values (mean, variance, "
        "normalise) plus the affine scale and shift.",
        "G groups of n values", _norm_flops,
    ),
    "adaptive_pool_flops": (
        _F, "",
        "FLOPs of adaptive average/max pooling of any rank: paddle's (prod floor(M/M') + 1) per output; "
        "flops the window values.",
        "M input, M' output size per axis, C channels, B batch", _adaptive_pool_flops,
    ),
    "elementwise_flops": (
        _F, "",
        "FLOPs of an elementwise op: its formula's k operations per value (ELEMENTWISE_OPS), in flops only.",
        "numel values, k operations per value", _elementwise_flops,
    ),
    "softmax_flops": (
        _F, "",
        "FLOPs of softmax over n values: n exps, n-1 adds, n divides per row (log-softmax: 3n).",
        "numel values, n along the axis", _softmax_flops,
    ),
    "interpolate_flops": (
        _F, "",
        "FLOPs of interpolation: a weighted sum of 2/4/8/16 inputs per output (linear/bilinear/"
        "trilinear/bicubic), nothing for nearest.",
        "numel_out output values", _interpolate_flops,
    ),
    "embedding_flops": (
        _F, "",
        "FLOPs of an embedding lookup: none, rows are copied.",
        "numel_out output values", _embedding_flops,
    ),
    "rnn_cell_flops": (
        _F, "",
        "FLOPs of T steps of a SimpleRNN/LSTM/GRU cell: G gates of H x (I + H) multiply-adds, then the "
        "gate arithmetic.",
        "I input size, H hidden size, B batch, T steps", _rnn_cell_flops,
    ),
    "rf_jump": (
        _R, "5.1.4",
        "Jump of the receptive field: input pixels between neighbouring units, the product "
        "of the strides.",
        "j_in jump before the layer, S stride", _rf_jump,
    ),
    "rf_size": (
        _R, "5.1.4",
        "Size of the receptive field: each layer adds (k_eff - 1) jumps (two 3 x 3 convs: 5).",
        "r_in/j_in size and jump before the layer, U kernel, d dilation", _rf_size,
    ),
    "rf_start": (
        _R, "5.1.4",
        "Centre of the first unit's field, in input pixels (the effective padding).",
        "start_in/j_in before the layer, U kernel, P padding before, d dilation", _rf_start,
    ),
    "field_after": (
        _R, "5.1.4",
        "The three receptive-field recurrences applied through one conv or pool layer.",
        "r_in, j_in, start_in before the layer; U kernel, S stride, P padding, d dilation",
        _field_after,
    ),
    "merge_fields": (
        _R, "5.22",
        "Branches that are added or concatenated: jumps must agree; the merged field covers "
        "all branches.",
        "r_i/start_i size and centre of branch i, j the common jump", _merge_fields,
    ),
    "transposed_field": (
        _R, "5.1.4 (inverted)",
        "Field after a transposed convolution: the jump divides by the stride; output o sees the inputs "
        "(o + P - t*d)/S that are whole numbers, so the field depends on o mod S (exact per position; the "
        "reported size is the largest).",
        "U kernel, S stride, P padding before, d dilation, t tap", _transposed_field,
    ),
    "resampled_field": (
        _R, "",
        "Field after interpolation (nearest, linear, bilinear, trilinear, bicubic) as Paddle maps output o to "
        "the source ratio*o + offset: the jump multiplies by the ratio (in/out); exact per position.",
        "ratio in/out (1/scale; (in-1)/(out-1) with align_corners), offset (ratio-1)/2 for half-pixel modes",
        _resampled_field,
    ),
}


def names() -> tuple[str, ...]:
    """Every catalogued formula name, grouped as printed (no symbolic work)."""
    return tuple(n for g in GROUPS for n, row in _TABLE.items() if row[0] == g)


def entry(name: str) -> FormulaInfo:
    """One catalogue entry; :class:`~convcalc.errors.UnknownNameError` names the closest."""
    try:
        group, equations, description, legend, build = _TABLE[name]
    except KeyError:
        raise UnknownNameError("formula", name, _TABLE) from None
    return FormulaInfo(name, group, equations, description, legend, build())


def catalog() -> tuple[FormulaInfo, ...]:
    """All entries, grouped as printed."""
    return tuple(entry(n) for n in names())
