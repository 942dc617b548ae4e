"""The activation a layer fuses by name: ``nn.BatchNorm(C, act="hard_swish")``, the legacy form real OCR models use.

Paddle's eager forward applies ``_legacy_C_ops.<act>`` with its default attributes
(``base/dygraph_utils.py``), so it accepts any one-input legacy op name; its
static (PIR) build maps only ``hard_swish`` and calls ``_C_ops.<act>(x)`` with no
attributes, which segfaults or reads garbage for ``leaky_relu``, ``elu``,
``mish``, ``hardsigmoid`` and has no op for ``hard_sigmoid`` or ``hard_shrink``.
So convcalc never builds Paddle's fused path: the layer's static forward
(:func:`fused_forward`) runs its own batch norm, then the activation through
Paddle's functional API with the legacy op's default attributes.

:data:`ACTS` lists every name Paddle 3.3.1's eager ``nn.BatchNorm(4, act=name)``
runs keeping the shape (enumerated op by op, one process each: the others
crash Paddle or change the shape), each with its arithmetic per element in
the ``flops`` convention (``None``: unknown, the row is a gap) and its static
equivalent.  ``paddle.flops`` counts a BatchNorm without its activation, and
an activation has no multiply-accumulate, so only the ``flops`` convention
depends on the name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ACTS", "act_flops_per_element", "fused_forward", "ELEMENTARY", "RESHAPING"]

ELEMENTARY = ("abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "cos", "cosh", "erf", "erfinv",
              "exp", "expm1", "floor", "log", "log10", "log1p", "log2", "reciprocal", "round", "rsqrt", "sign", "sin",
              "sinh", "sqrt", "square", "tan", "trunc", "digamma", "lgamma", "i0", "i0e", "i1", "i1e")
"""One elementary function per element (as ``convcalc.formulas.ELEMENTWISE_OPS`` counts ``exp`` or ``sin``)."""


def _f(name: str, **kwargs: Any) -> Callable[[Any], Any]:
    def apply(x: Any) -> Any:
        import paddle.nn.functional as F

        return getattr(F, name)(x, **kwargs)

    return apply


def _p(name: str, *args: Any) -> Callable[[Any], Any]:
    def apply(x: Any) -> Any:
        import paddle

        return getattr(paddle, name)(x, *args)

    return apply


# name -> (arithmetic per element in the flops convention, or "softmax"/"log_softmax", or None: unknown;
#          the static equivalent with the legacy op's defaults, or None: a copy of the same shape)
ACTS: dict[str, tuple[int | str | None, Callable[[Any], Any] | None]] = {
    "relu": (1, _f("relu")),
    "relu6": (2, _f("relu6")),                                    # min(max(x, 0), 6)
    "sigmoid": (4, _f("sigmoid")),
    "tanh": (1, _p("tanh")),
    "gelu": (5, _f("gelu")),
    "silu": (5, _f("silu")),
    "swish": (5, _f("swish")),
    "elu": (4, _f("elu", alpha=1.0)),
    "celu": (4, _f("celu", alpha=1.0)),                           # max(0, x) + min(0, a*(exp(x/a) - 1))
    "selu": (5, _f("selu")),
    "mish": (5, _f("mish")),
    "hard_swish": (5, _f("hardswish")),
    "hard_sigmoid": (4, _f("hardsigmoid", slope=0.2, offset=0.5)),  # the legacy op's slope and offset
    "hard_shrink": (2, _f("hardshrink", threshold=0.5)),          # |x| > t ? x : 0
    "softshrink": (3, _f("softshrink", threshold=0.5)),           # x > t ? x - t : x < -t ? x + t : 0
    "softsign": (3, _f("softsign")),
    "tanh_shrink": (2, _f("tanhshrink")),
    "logsigmoid": (5, _f("log_sigmoid")),
    "thresholded_relu": (1, _f("thresholded_relu", threshold=1.0)),
    "stanh": (3, _p("stanh", 0.67, 1.7159)),                      # b * tanh(a * x)
    "brelu": (2, _f("hardtanh", min=0.0, max=24.0)),              # min(max(x, 0), 24)
    "softmax": ("softmax", _f("softmax", axis=-1)),
    "log_softmax": ("log_softmax", _f("log_softmax", axis=-1)),
    "pow": (1, _p("pow", 1.0)),
    "scale": (0, _p("scale", 1.0, 0.0)),                          # 1*x + 0
    **{name: (1, _p(name)) for name in ELEMENTARY},
    # accepted by the eager forward but no activation: copies, samplers, fills, cumulative ops
    **{name: (None, None) for name in (
        "angle", "bernoulli", "conj", "cumsum", "dirichlet", "exponential", "fill_any", "fill_any_like",
        "fill_diagonal", "gammaln", "gaussian_inplace", "gumbel_softmax", "logcumsumexp", "npu_identity",
        "pixel_shuffle", "pixel_unshuffle", "poisson", "rint", "shadow_output", "share_data", "shuffle_channel",
        "standard_gamma", "tile", "tril_triu", "uniform_random_inplace")},
}


RESHAPING = frozenset({
    "argsort", "as_complex", "check_numerics", "cummax", "cummin", "determinant", "diag_embed", "diagonal", "dropout",
    "eig", "eigh", "eigvals", "eigvalsh", "fake_channel_wise_quantize_abs_max", "fake_quantize_abs_max",
    "fill_constant", "flatten2", "frobenius_norm", "histogram", "identity_loss", "is_empty", "isfinite_v2",
    "isinf_v2", "isnan_v2", "l1_norm", "logical_not", "logsumexp", "lrn", "lu", "mean", "median", "mode",
    "nanmedian", "nansum", "p_norm", "qr", "quantize", "reduce_all", "reduce_amax", "reduce_amin", "reduce_any",
    "reduce_max", "reduce_mean", "reduce_min", "reduce_prod", "reduce_sum", "rrelu", "shape", "shape64", "size",
    "slogdet_v2", "slogdeterminant", "squared_l2_norm", "squeeze2", "std", "svd", "svdvals", "swiglu", "top_k",
    "top_k_v2", "trace", "unsqueeze2", "var", "variance", "where_index"})
"""Names the eager forward runs but whose result is no tensor of the input's shape and dtype (a reduction,
a tuple, a boolean map): convcalc cannot follow them as an activation."""


def act_flops_per_element(act: str) -> int | str | None:
    """Arithmetic per element of a fused ``act=`` in the flops convention (``"softmax"``/``"log_softmax"``:
    a softmax over the last axis; ``None``: unknown)."""
    found = ACTS.get(str(act))
    return None if found is None else found[0]


def fused_forward(layer: Any, x: Any) -> Any:
    """``nn.BatchNorm``'s forward, with its fused ``act=`` built from Paddle's functional API (see the module).

    Eagerly (the judge of what Paddle accepts) it is Paddle's own forward.
    """
    import paddle

    act = getattr(layer, "_act", None)
    forward = type(layer).forward
    if act is None or paddle.in_dynamic_mode():
        return forward(layer, x)
    layer._act = None
    try:
        y = forward(layer, x)
    finally:
        layer._act = act
    if str(act) in RESHAPING:
        from convcalc.errors import ModelLoadError

        raise ModelLoadError(f"{type(layer).__name__}(act={act!r}): {act!r} is no activation (its result does not "
                             "keep the input's shape and dtype); convcalc cannot follow it",
                             "apply the op after the layer in forward, or use an activation")
    found = ACTS.get(str(act))
    # (a name Paddle's eager forward refuses, such as 'leaky_relu': a copy here, and Paddle's eager check says no)
    return found[1](y) if found is not None and found[1] is not None else paddle.assign(y)
