"""The vocabulary of Paddle's PIR ops as convcalc reads programs: op kinds and the ops that compute nothing.

Shared by the trace, the branch recorder, exported programs and the training
cost, so that every reader of a program agrees on what an op is.
"""

from __future__ import annotations

# Ops that only move constants or parameters around: not computation.
BOOKKEEPING_OPS = frozenset(
    {
        "builtin.parameter",
        "builtin.constant",
        "builtin.combine",
        "builtin.split",
        "builtin.slice",
        "pd_op.data",
        "pd_op.full",
        "pd_op.full_int_array",
        "pd_op.assign_value_",
        "pd_op.assign_value",
        "pd_op.shape",
        "pd_op.shape64",
        "cf.yield",
    }
)


# Ops that map each element (or broadcast pair of elements) to one output element:
# shapes broadcast, receptive fields pass through or merge.
ELEMENTWISE_OPS = frozenset(
    {
        "add", "subtract", "multiply", "divide", "maximum", "minimum", "elementwise_pow",
        "relu", "relu6", "leaky_relu", "hardswish", "hardsigmoid", "sigmoid", "swish", "silu",
        "gelu", "tanh", "elu", "selu", "softplus", "mish", "hardtanh", "clip", "logsigmoid", "exp", "sqrt",
        "rsqrt", "pow", "abs", "scale", "cast", "assign", "batch_norm", "dropout", "softmax",
        "log_softmax", "layer_norm", "group_norm", "instance_norm", "sync_batch_norm",
    }
)


def op_key(name: str) -> str:
    """``'pd_op.batch_norm_'`` -> ``'batch_norm'``: the op's kind, without dialect or in-place suffix."""
    key = name[len("pd_op."):] if name.startswith("pd_op.") else name
    return key[:-1] if key.endswith("_") and not key.startswith("builtin") else key
