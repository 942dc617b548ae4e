"""The formulas, as plain functions: ints or sympy in, sympy out.

One source of truth for every number convcalc prints.  The leaf of the package: imports nothing of
convcalc but ``convcalc.errors``, and never paddle (an import contract).

>>> from convcalc import formulas
>>> formulas.conv_output_size(32, 5)
28
>>> formulas.conv_params(3, 6, 3)
168
"""

from convcalc.formulas.backward import (
    adaptive_pool_input_grad_flops,
    broadcast_grad_flops,
    conv_input_grad_flops,
    conv_transpose_input_grad_flops,
    conv_transpose_weight_grad_flops,
    conv_weight_grad_flops,
    elementwise_grad_flops,
    embedding_grad_flops,
    matmul_grad_flops,
    norm_input_grad_flops,
    norm_weight_grad_flops,
    paddle_backward_flops,
    pool_input_grad_flops,
    softmax_grad_flops,
)
from convcalc.formulas.conventions import Convention, as_convention
from convcalc.formulas.flops import (
    addmm_flops,
    conv_flops,
    conv_transpose_flops,
    convnd_flops,
    einsum_flops,
    linear_flops,
    matmul_flops,
    rnn_cell_flops,
)
from convcalc.formulas.flops_per_element import (
    activation_flops,
    adaptive_avgpool_flops,
    adaptive_maxpool_flops,
    adaptive_pool_flops,
    add_flops,
    avgpool_flops,
    batchnorm_flops,
    elementwise_flops,
    embedding_flops,
    interpolate_flops,
    maxpool_flops,
    norm_flops,
    softmax_flops,
)
from convcalc.formulas.params import (
    batchnorm_params,
    batchnorm_running_stats,
    conv_params,
    kernel_params,
    linear_params,
)
from convcalc.formulas.receptive import (
    INPUT_FIELD,
    WHOLE_INPUT,
    Field,
    field_after,
    merge_fields,
    resampled_field,
    rf_jump,
    rf_size,
    rf_start,
    transposed_field,
)
from convcalc.formulas.shapes import (
    conv_output_size,
    conv_transpose_output_size,
    effective_dilation,
    effective_kernel,
    narrow_conv_output_size,
    pool_output_size,
    resolve_padding,
    same_conv_output_size,
    wide_conv_output_size,
)

__all__ = [
    "Convention",
    "as_convention",
    # shapes (5.2-5.3, 5.6-5.14)
    "conv_output_size",
    "conv_transpose_output_size",
    "pool_output_size",
    "effective_kernel",
    "effective_dilation",
    "resolve_padding",
    "narrow_conv_output_size",
    "wide_conv_output_size",
    "same_conv_output_size",
    # parameters (5.20)
    "kernel_params",
    "conv_params",
    "linear_params",
    "batchnorm_params",
    "batchnorm_running_stats",
    # FLOPs (5.4, 5.8, 5.21)
    "conv_flops",
    "convnd_flops",
    "conv_transpose_flops",
    "linear_flops",
    "matmul_flops",
    "addmm_flops",
    "einsum_flops",
    "batchnorm_flops",
    "norm_flops",
    "avgpool_flops",
    "maxpool_flops",
    "adaptive_avgpool_flops",
    "adaptive_maxpool_flops",
    "adaptive_pool_flops",
    "activation_flops",
    "elementwise_flops",
    "add_flops",
    "softmax_flops",
    "interpolate_flops",
    "embedding_flops",
    "rnn_cell_flops",
    # backward: one training step's gradients (convcalc.formulas.backward)
    "paddle_backward_flops",
    "conv_input_grad_flops",
    "conv_weight_grad_flops",
    "conv_transpose_input_grad_flops",
    "conv_transpose_weight_grad_flops",
    "matmul_grad_flops",
    "broadcast_grad_flops",
    "elementwise_grad_flops",
    "norm_input_grad_flops",
    "norm_weight_grad_flops",
    "pool_input_grad_flops",
    "adaptive_pool_input_grad_flops",
    "softmax_grad_flops",
    "embedding_grad_flops",
    # receptive field (5.1.4)
    "Field",
    "INPUT_FIELD",
    "WHOLE_INPUT",
    "rf_jump",
    "rf_size",
    "rf_start",
    "transposed_field",
    "resampled_field",
    "field_after",
    "merge_fields",
]
