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

from convcalc.errors import UnknownNameError
from convcalc.formulas import catalog_forms as forms
from convcalc.formulas.catalog_forms import Form

__all__ = ["Form", "FormulaInfo", "names", "entry", "catalog", "GROUPS"]


GROUPS = ("shapes", "params", "flops", "backward", "receptive")
"""The catalogue's sections, in the order they are printed."""


@dataclass(frozen=True)
class FormulaInfo:
    """A catalogue entry: the function's name, book equations, words and symbolic forms."""

    name: str
    group: str
    equations: str
    description: str
    legend: str
    forms: tuple[Form, ...]


_SHAPE_LEGEND = "M input size, U kernel, S stride, P padding, d dilation"


_CONV_LEGEND = "D input channels, P output channels, U x V kernel, g groups"


_FLOP_CONV_LEGEND = "M' x N' output size, " + _CONV_LEGEND


_S = "shapes"


_PA = "params"


_F = "flops"


_R = "receptive"


_B = "backward"


_BACK_LEGEND = "M x N input, M' x N' output, D input channels, P output channels, U x V kernel, g groups, B batch"


# name -> (group, book equations, description, legend, builder)
_TABLE: dict[str, tuple[str, str, str, str, Callable[[], tuple[Form, ...]]]] = {
    "conv_output_size": (
        _S, "5.6, 5.7",
        "Output length of a convolution on one axis, with stride, padding and dilation "
        "(floor of the padded span over the stride, plus one).",
        _SHAPE_LEGEND + ", P_1/P_2 padding before/after", forms.conv_output_size,
    ),
    "conv_transpose_output_size": (
        _S, "5.6 (inverted)",
        "Output length of a transposed convolution: the length a convolution with the same kernel, "
        "stride and padding maps back to M (plus output_padding).",
        _SHAPE_LEGEND + ", O output_padding", forms.conv_transpose_output_size,
    ),
    "pool_output_size": (
        _S, "5.20, 5.21 (of 5.2.2)",
        "Output length of max/avg pooling: the convolution formula, stride defaulting to the "
        "kernel, rounding up with ceil_mode (also after 'SAME' padding, as Paddle does).",
        "M input size, U window, S stride, P padding", forms.pool_output_size,
    ),
    "narrow_conv_output_size": (
        _S, "5.2, 5.3, 5.9, 5.10",
        "Narrow convolution (S=1, no padding): the output shrinks by U-1.",
        "M input size, U kernel", forms.narrow,
    ),
    "wide_conv_output_size": (
        _S, "5.11, 5.12",
        "Wide convolution (S=1, P=U-1 on both sides): the output grows by U-1.",
        "M input size, U kernel", forms.wide,
    ),
    "same_conv_output_size": (
        _S, "5.13, 5.14",
        "Same (equal-width) convolution (S=1, P=(U-1)/2, odd U): the output keeps the input size.",
        "M input size, U kernel", forms.same,
    ),
    "effective_kernel": (
        _S, "5.6 (with dilation)",
        "Extent of a dilated kernel: d-1 gaps between each of its U taps.",
        "U kernel, d dilation", forms.effective_kernel,
    ),
    "effective_dilation": (
        _S, "",
        "The dilation Paddle applies: reset to 1 under 'SAME' padding.",
        "d dilation", forms.effective_dilation,
    ),
    "resolve_padding": (
        _S, "",
        "Paddle's 'SAME' padding on one axis: the total needed for ceil(M/S) outputs, "
        "the smaller half before.",
        "M input size, U kernel, S stride", forms.resolve_padding,
    ),
    "kernel_params": (
        _PA, "5.1.3",
        "Weights of one single-channel U x V kernel (9 for 3 x 3).",
        "U x V kernel", forms.kernel_params,
    ),
    "conv_params": (
        _PA, "5.20",
        "Parameters of a convolution: P kernels of (D/g) x U x V weights, plus P biases.",
        _CONV_LEGEND, forms.conv_params,
    ),
    "linear_params": (
        _PA, "5.1.3",
        "Parameters of a fully connected layer: one weight per input-output pair, plus one "
        "bias per output (1,025 for 32 x 32 inputs into one neuron).",
        "in input features, out output features", forms.linear_params,
    ),
    "batchnorm_params": (
        _PA, "",
        "Trainable parameters of BatchNorm: a scale and a shift per channel.",
        "C channels", forms.bn_params,
    ),
    "batchnorm_running_stats": (
        _PA, "",
        "Non-trainable running mean and variance of BatchNorm, which paddle.summary counts.",
        "C channels", forms.bn_running,
    ),
    "conv_flops": (
        _F, "5.4, 5.8, 5.21",
        "FLOPs of a convolution: D/g x U x V multiply-adds per output value, plus the bias.",
        _FLOP_CONV_LEGEND, forms.conv_flops,
    ),
    "linear_flops": (
        _F, "",
        "FLOPs of a fully connected layer: in x out per row (paddle ignores the bias).",
        "in/out features, B batch rows", forms.linear_flops,
    ),
    "batchnorm_flops": (
        _F, "",
        "FLOPs of BatchNorm at inference: 2 per element in paddle, 4 in flops.",
        "numel elements", forms.bn_flops,
    ),
    "avgpool_flops": (
        _F, "5.2.2",
        "FLOPs of average pooling: one per output value in paddle; U x V adds and divide in flops.",
        "numel_out output values, U x V window", forms.avgpool_flops,
    ),
    "maxpool_flops": (
        _F, "5.2.2",
        "FLOPs of max pooling: none in paddle and macs; U x V - 1 comparisons per output in flops.",
        "numel_out output values, U x V window", forms.maxpool_flops,
    ),
    "adaptive_avgpool_flops": (
        _F, "",
        "FLOPs of adaptive average pooling (M, N) -> (M', N'): paddle counts "
        "floor(M/M') x floor(N/N') + 1 per output value.",
        "M x N input, M' x N' output, C channels, B batch", forms.adaptive_avg,
    ),
    "adaptive_maxpool_flops": (
        _F, "",
        "FLOPs of adaptive max pooling: comparisons only, counted in flops.",
        "M x N input, M' x N' output, C channels, B batch", forms.adaptive_max,
    ),
    "activation_flops": (
        _F, "",
        "FLOPs of an elementwise activation: one per element in flops; paddle counts only "
        "LeakyReLU.",
        "numel elements", forms.activation_flops,
    ),
    "add_flops": (
        _F, "5.22",
        "FLOPs of an elementwise sum (the residual add of 5.22): one per element in flops.",
        "numel elements", forms.add_flops,
    ),
    "convnd_flops": (
        _F, "5.4, 5.8, 5.21",
        "FLOPs of a 1-, 2- or 3-D convolution: D/g x prod(kernel) multiply-adds per output value; in flops "
        "K multiplies, K-1 adds and the bias.",
        "L', M', N' output sizes, " + _CONV_LEGEND + ", W kernel depth", forms.convnd_flops,
    ),
    "conv_transpose_flops": (
        _F, "",
        "FLOPs of a transposed convolution: every input value times the P/g x U x V weights it scatters to "
        "(paddle.flops counts it like a conv over the output, stride^2 too many).",
        "M x N input, M' x N' output, " + _CONV_LEGEND, forms.conv_transpose_flops,
    ),
    "matmul_flops": (
        _F, "",
        "FLOPs of B products of m x k and k x n matrices (matmul, bmm, mm, F.linear, attention); 0 in paddle, "
        "which counts layers only.",
        "m, k, n matrix sizes, B batch", forms.matmul_flops,
    ),
    "addmm_flops": (
        _F, "",
        "FLOPs of beta*input + alpha*(x @ y): a matmul plus one add per output (and the scalings if not 1).",
        "m, k, n matrix sizes", forms.addmm_flops,
    ),
    "einsum_flops": (
        _F, "",
        "FLOPs of einsum evaluated directly: (operands-1) multiplies per index combination, then the sums.",
        "the equation's index sizes", forms.einsum_flops,
    ),
    "norm_flops": (
        _F, "",
        "FLOPs of LayerNorm/GroupNorm/InstanceNorm: 5n + 2 per group of n values (mean, variance, "
        "normalise) plus the affine scale and shift.",
        "G groups of n values", forms.norm_flops,
    ),
    "adaptive_pool_flops": (
        _F, "",
        "FLOPs of adaptive average/max pooling of any rank: paddle's (prod floor(M/M') + 1) per output; "
        "flops the window values.",
        "M input, M' output size per axis, C channels, B batch", forms.adaptive_pool_flops,
    ),
    "elementwise_flops": (
        _F, "",
        "FLOPs of an elementwise op: its formula's k operations per value (ELEMENTWISE_OPS), in flops only.",
        "numel values, k operations per value", forms.elementwise_flops,
    ),
    "softmax_flops": (
        _F, "",
        "FLOPs of softmax over n values: n exps, n-1 adds, n divides per row (log-softmax: 3n).",
        "numel values, n along the axis", forms.softmax_flops,
    ),
    "interpolate_flops": (
        _F, "",
        "FLOPs of interpolation: a weighted sum of 2/4/8/16 inputs per output (linear/bilinear/"
        "trilinear/bicubic), nothing for nearest.",
        "numel_out output values", forms.interpolate_flops,
    ),
    "embedding_flops": (
        _F, "",
        "FLOPs of an embedding lookup: none, rows are copied.",
        "numel_out output values", forms.embedding_flops,
    ),
    "rnn_cell_flops": (
        _F, "",
        "FLOPs of T steps of a SimpleRNN/LSTM/GRU cell: G gates of H x (I + H) multiply-adds, then the "
        "gate arithmetic.",
        "I input size, H hidden size, B batch, T steps", forms.rnn_cell_flops,
    ),
    "paddle_backward_flops": (
        _B, "5.21",
        "Backward in the paddle convention: each gradient a layer computes (input, weight) costs its forward "
        "count F, as paddle.flops counts the forward; none where no gradient is needed.",
        "F the layer's forward FLOPs (paddle)", forms.paddle_backward,
    ),
    "conv_input_grad_flops": (
        _B, "5.21 (backwards)",
        "Input gradient of a convolution: the transposed conv of dy; products with padding are not made. "
        "flops: 2 x MACs minus the input values reached.",
        _BACK_LEGEND, forms.conv_input_grad,
    ),
    "conv_weight_grad_flops": (
        _B, "5.21 (backwards)",
        "Weight gradient of a convolution: each weight sums x * dy over the batch and its output positions.",
        _BACK_LEGEND, forms.conv_weight_grad,
    ),
    "conv_transpose_input_grad_flops": (
        _B, "",
        "Input gradient of a transposed convolution: an ordinary conv of dy over the pairs the forward scattered.",
        _BACK_LEGEND, forms.conv_transpose_input_grad,
    ),
    "conv_transpose_weight_grad_flops": (
        _B, "",
        "Weight gradient of a transposed convolution.",
        _BACK_LEGEND, forms.conv_transpose_weight_grad,
    ),
    "matmul_grad_flops": (
        _B, "",
        "Gradient of one operand of a matmul or linear: dA = dC B^T, dB = A^T dC; a broadcast operand "
        "(a Linear's weight) also sums over the batch.",
        "m x k times k x n, B products, numel_X the operand's size", forms.matmul_grad,
    ),
    "broadcast_grad_flops": (
        _B, "",
        "Gradient of one operand of an elementwise op (add, multiply, a bias): k ops per output gradient, then "
        "the broadcast axes summed back.",
        "numel_out output values, numel_X the operand's size, k ops per element (add 0, multiply 1)",
        forms.broadcast_grad,
    ),
    "elementwise_grad_flops": (
        _B, "",
        "Input gradient of an activation: dy times its derivative, from the saved input or output.",
        "numel values", forms.elementwise_grad,
    ),
    "norm_input_grad_flops": (
        _B, "",
        "Input gradient of BatchNorm/LayerNorm/GroupNorm/InstanceNorm in training mode: 10 ops per value.",
        "numel values", forms.norm_input_grad,
    ),
    "norm_weight_grad_flops": (
        _B, "",
        "Gradients of a norm's scale (sum of dy * x_hat) and shift (sum of dy).",
        "numel values, F values of the scale (channels for BatchNorm)", forms.norm_weight_grad,
    ),
    "pool_input_grad_flops": (
        _B, "5.2.2",
        "Input gradient of pooling: max routes each output gradient to its maximum; avg divides it over the "
        "window (plus adds where windows overlap).",
        "numel_out/numel_in values, U x V window", forms.pool_input_grad,
    ),
    "adaptive_pool_input_grad_flops": (
        _B, "",
        "Input gradient of adaptive pooling (a global average pool: one divide per output).",
        "M input size, M' output size, C channels, B batch", forms.adaptive_pool_input_grad,
    ),
    "softmax_grad_flops": (
        _B, "",
        "Input gradient of softmax y*(dy - sum(dy*y)) or log_softmax dy - exp(y)*sum(dy): 4n - 1 per row.",
        "numel values, rows of n", forms.softmax_grad,
    ),
    "embedding_grad_flops": (
        _B, "",
        "Weight gradient of an embedding: each looked-up row of dy added into the table.",
        "numel_out values looked up", forms.embedding_grad,
    ),
    "rf_jump": (
        _R, "5.1.4",
        "Jump of the receptive field: input pixels between neighbouring units, the product "
        "of the strides.",
        "j_in jump before the layer, S stride", forms.rf_jump,
    ),
    "rf_size": (
        _R, "5.1.4",
        "Size of the receptive field: each layer adds (k_eff - 1) jumps (two 3 x 3 convs: 5).",
        "r_in/j_in size and jump before the layer, U kernel, d dilation", forms.rf_size,
    ),
    "rf_start": (
        _R, "5.1.4",
        "Centre of the first unit's field, in input pixels (the effective padding).",
        "start_in/j_in before the layer, U kernel, P padding before, d dilation", forms.rf_start,
    ),
    "field_after": (
        _R, "5.1.4",
        "The three receptive-field recurrences applied through one conv or pool layer.",
        "r_in, j_in, start_in before the layer; U kernel, S stride, P padding, d dilation",
        forms.field_after,
    ),
    "merge_fields": (
        _R, "5.22",
        "Branches that are added or concatenated: jumps must agree; the merged field covers "
        "all branches.",
        "r_i/start_i size and centre of branch i, j the common jump", forms.merge_fields,
    ),
    "transposed_field": (
        _R, "5.1.4 (inverted)",
        "Field after a transposed convolution: the jump divides by the stride; output o sees the inputs "
        "(o + P - t*d)/S that are whole numbers, so the field depends on o mod S (exact per position; the "
        "reported size is the largest).",
        "U kernel, S stride, P padding before, d dilation, t tap", forms.transposed_field,
    ),
    "resampled_field": (
        _R, "",
        "Field after interpolation (nearest, linear, bilinear, trilinear, bicubic) as Paddle maps output o to "
        "the source ratio*o + offset: the jump multiplies by the ratio (in/out); exact per position.",
        "ratio in/out (1/scale; (in-1)/(out-1) with align_corners), offset (ratio-1)/2 for half-pixel modes",
        forms.resampled_field,
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
