"""Expected answers of layer questions, and the answers typical mistakes produce.

Expected values come from the formulas (``convcalc.formulas``, through
``convcalc.explain.layers`` when it is installed, so the derivation shown for a
wrong answer is the same text as ``convcalc explain``).  Mistaken variants
recompute the same stack with one deliberate error (no ``+1``, bias
forgotten, MACs instead of paddle FLOPs, ...: :data:`VARIANTS`); the hints
that name them are ``convcalc.homework.grading.misconceptions``.  Never imports paddle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy

from convcalc import formulas as F
from convcalc.homework.spec import LayerSpec, Question

__all__ = [
    "LayerResult",
    "StackResult",
    "VARIANTS",
    "compute_stack",
    "layer_result",
    "expected_layer_values",
    "to_number",
]


def to_number(value: Any) -> Any:
    """sympy Integer -> int, Rational -> Fraction-compatible float; tuples element-wise."""
    if isinstance(value, tuple):
        return tuple(to_number(v) for v in value)
    if isinstance(value, sympy.Basic):
        if value.is_Integer:
            return int(value)
        if value.is_Rational:
            return Fraction(int(value.p), int(value.q))
        if value.is_number:
            return float(value)
        return value
    return value


@dataclass(frozen=True)
class LayerResult:
    """One layer of a stack: shapes in and out and its costs."""

    kind: str
    config: dict
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    params_trainable: int
    flops: int
    rf: tuple[F.Field, F.Field] = field(default=(F.INPUT_FIELD, F.INPUT_FIELD))


@dataclass(frozen=True)
class StackResult:
    """A whole layer question computed: per-layer results and the answer fields."""

    layers: tuple[LayerResult, ...]
    values: dict
    batched: bool = False  # the input (and so output_shape) has a batch dimension


# The deliberate errors compute_stack can make (the hints live in convcalc.homework.grading.misconceptions).
VARIANTS = (
    "swap_hw",
    "no_plus_one",
    "extra_one",
    "padding_once",
    "no_padding",
    "no_stride",
    "no_dilation",
    "ceil",
    "no_ceil",
    "in_channels",
    "conv_no_bias",
    "linear_no_bias",
    "pool_zero",
    "macs",
    "paddle",
    "flops",
    "no_batch",
    "input_size_flops",
    "bn_trainable",
    "bn_with_running",
    "rf_no_jump",
    "rf_plus_one",
    "no_groups",
    "rf_no_dilation",
    "linear_bias_flops",
    "stride_as_dilation",
)


def _conv_size(m: int, k: Any, s: Any, p: Any, d: Any, ceil_mode: bool, mistake: str | None) -> int:
    if mistake == "no_dilation":
        d = 1
    if mistake == "no_padding":
        p = 0
    if mistake == "no_stride":
        s = 1
    if mistake == "padding_once":
        if isinstance(p, str) or not isinstance(p, int) or p == 0:
            raise ValueError("no symmetric padding to count once")
        p = (p, 0)
    if mistake == "ceil":
        ceil_mode = True
    if mistake == "no_ceil":
        ceil_mode = False
    out = int(F.conv_output_size(m, k, s, p, d, ceil_mode))
    if mistake == "no_plus_one":
        out -= 1
    if mistake == "extra_one":
        out += 1
    if out < 1:
        raise ValueError("mistaken output size is not positive")
    return out


def _axis(value: Any, axis: int) -> Any:
    return value[axis] if isinstance(value, tuple) else value


def _padding_axis(padding: Any, axis: int) -> Any:
    """One axis of a padding: a number, "SAME"/"VALID", or (before, after) of [t, b, l, r]."""
    if isinstance(padding, tuple):
        return padding[2 * axis : 2 * axis + 2]
    return padding


def _split(shape: tuple[int, ...], kind: str) -> tuple[int, tuple[int, ...], bool]:
    """(batch, feature dims, has_batch) of a question's shape."""
    if kind == "linear":
        if len(shape) in (1, 3):
            return 1, shape, False
        return shape[0], shape[1:], True
    if len(shape) == 4:
        return shape[0], shape[1:], True
    if len(shape) == 3:
        return 1, shape, False
    raise ValueError(f"a {kind} layer needs a C x H x W (or B x C x H x W) input, got {len(shape)} dims")


def _layer(
    spec: LayerSpec, shape: tuple[int, ...], rf: tuple, convention: str, mistake: str | None, explained: bool = True
) -> LayerResult:
    kind, cfg = spec.kind, spec.kwargs()
    batch, dims, has_batch = _split(shape, kind)
    conv = convention
    if mistake in ("macs", "paddle", "flops") and mistake != convention:
        conv = mistake
    flop_batch = 1 if mistake == "no_batch" else batch
    rf_h, rf_w = rf
    if kind in ("conv2d", "pool2d"):
        c, h, w = dims
        k = cfg["kernel"]
        if kind == "conv2d":
            s, d = cfg.get("stride", 1), cfg.get("dilation", 1)
            p = cfg.get("padding", 0)
            ceil = False
            if mistake == "stride_as_dilation":  # the stride read as the kernel's spacing
                d = tuple(_axis(s, i) if _axis(s, i) > 1 else _axis(d, i) for i in (0, 1))
                s = 1
        else:
            s, d = cfg.get("stride", k), 1
            p = cfg.get("padding", 0)
            ceil = cfg.get("ceil_mode", False)
        oh = _conv_size(h, _axis(k, 0), _axis(s, 0), _padding_axis(p, 0), _axis(d, 0), ceil, mistake)
        ow = _conv_size(w, _axis(k, 1), _axis(s, 1), _padding_axis(p, 1), _axis(d, 1), ceil, mistake)
        fh, fw = (h, w) if mistake == "input_size_flops" else (oh, ow)
        ph = F.resolve_padding(_padding_axis(p, 0), h, _axis(k, 0), _axis(s, 0), _axis(d, 0))[0]
        pw = F.resolve_padding(_padding_axis(p, 1), w, _axis(k, 1), _axis(s, 1), _axis(d, 1))[0]
        # Paddle applies no dilation under 'SAME' padding (formulas.effective_dilation).
        dh = F.effective_dilation(_padding_axis(p, 0), _axis(d, 0))
        dw = F.effective_dilation(_padding_axis(p, 1), _axis(d, 1))
        if mistake == "rf_no_dilation":  # the sizes right, the field with the undilated kernel
            dh = dw = 1
        rf_out = (
            F.field_after(rf_h, _axis(k, 0), _axis(s, 0), ph, dh),
            F.field_after(rf_w, _axis(k, 1), _axis(s, 1), pw, dw),
        )
        if mistake == "rf_no_jump":  # r_out = r_in + (k_eff - 1), the jump forgotten
            rf_out = tuple(
                f_out
                if f_in.whole
                else F.Field(
                    f_in.size + F.effective_kernel(_axis(k, i), _axis(d, i)) - 1,
                    f_out.jump,
                    f_out.start,
                )
                for i, (f_in, f_out) in enumerate(zip(rf, rf_out, strict=True))
            )
        if kind == "conv2d":
            out_c = c if mistake == "in_channels" else cfg["out_channels"]
            groups = 1 if mistake == "no_groups" else cfg.get("groups", 1)
            bias = cfg.get("bias", True) and mistake != "conv_no_bias"
            params = int(F.conv_params(c, out_c, k, groups, bias))
            flops = int(F.conv_flops(fh, fw, out_c, c, k, groups, bias, flop_batch, conv))
            trainable = params
        else:
            out_c = c
            params = trainable = 0
            numel = flop_batch * c * fh * fw
            if mistake == "pool_zero":
                flops = 0
            elif cfg.get("mode", "max") == "avg":
                flops = int(F.avgpool_flops(numel, k, conv))
            else:
                flops = int(F.maxpool_flops(numel, k, conv))
        out = (out_c, oh, ow)
    elif kind == "linear":
        features = 1
        for v in dims:
            features *= v
        bias = cfg.get("bias", True) and mistake != "linear_no_bias"
        params = trainable = int(F.linear_params(features, cfg["out_features"], bias))
        flops = int(F.linear_flops(features, cfg["out_features"], flop_batch, bias, conv))
        if mistake == "linear_bias_flops" and bias:  # the bias add counted under paddle's convention
            flops += flop_batch * cfg["out_features"]
        out = (cfg["out_features"],)
        rf_out = (F.WHOLE_INPUT, F.WHOLE_INPUT)
    elif kind == "batchnorm":
        c = dims[0]
        numel = flop_batch
        for v in dims:
            numel *= v
        trainable = int(F.batchnorm_params(c))
        running = int(F.batchnorm_running_stats(c))
        params = trainable if mistake == "bn_trainable" else trainable + running
        if mistake == "bn_with_running":
            trainable = trainable + running
        flops = int(F.batchnorm_flops(numel, conv, channels=c))
        out = dims
        rf_out = (rf_h, rf_w)
    else:  # pragma: no cover - the schema only lets known kinds through
        raise ValueError(f"unknown layer kind {kind!r}")
    if mistake is None and explained:  # the expected values: convcalc.explain.layers is the one source of truth
        out, params, trainable, flops = explained_values(spec, dims, convention, batch)
    out_shape = ((batch,) if has_batch else ()) + tuple(out)
    return LayerResult(kind, cfg, shape, out_shape, params, trainable, flops, rf_out)


def explain_input(kind: str, dims: tuple[int, ...]) -> tuple[int, ...]:
    """The per-sample shape ``explain_layer`` takes (a linear layer sees its input flattened)."""
    if kind == "linear":
        features = 1
        for v in dims:
            features *= v
        return (features,)
    return tuple(dims)


def explain(spec: LayerSpec, dims: tuple[int, ...]):
    """``convcalc.explain.layers.explain_layer`` for one layer of a question (per sample)."""
    from convcalc.explain.layers import explain_layer

    return explain_layer(spec.kind, explain_input(spec.kind, dims), **spec.kwargs())


def explained_values(spec: LayerSpec, dims: tuple[int, ...], convention: str, batch: int):
    """(output shape, params, trainable params, FLOPs x batch) read off the explain steps."""
    d = explain(spec, dims)
    names = d.quantities
    out = tuple(to_number(v) for v in d.step("output_shape").result)
    params = int(d.step("params").result)
    trainable = int(d.step("params_trainable").result) if "params_trainable" in names else params
    flops = int(d.step(f"flops_{convention}").result) * batch
    return out, params, trainable, flops


def _rf_value(f: F.Field, what: str) -> Any:
    if f.whole:
        return "whole" if what == "size" else None
    return to_number(getattr(f, what))


def _pair_value(h: Any, w: Any) -> Any:
    return h if h == w else (h, w)


def layer_result(spec: LayerSpec, shape: tuple[int, ...], convention: str) -> LayerResult:
    """One layer on a given input shape (with or without batch), straight from the formulas."""
    return _layer(spec, tuple(shape), (F.INPUT_FIELD, F.INPUT_FIELD), convention, None, explained=False)


def compute_stack(question: Question, mistake: str | None = None, *, explained: bool = True) -> StackResult:
    """Run a layer question's stack through the formulas (optionally with one mistake).

    ``explained=False`` skips building ``convcalc.explain.layers``'s derivations for
    the expected values (the same numbers, faster: used to recompute variants).
    """
    if mistake is not None and mistake not in VARIANTS:
        raise ValueError(f"unknown variant {mistake!r}")
    shape = tuple(question.input_shape)
    rf = (F.INPUT_FIELD, F.INPUT_FIELD)
    results = []
    batched = bool(question.layers) and _split(shape, question.layers[0].kind)[2]
    for spec in question.layers:
        res = _layer(spec, shape, rf, question.convention, mistake, explained)
        results.append(res)
        shape, rf = res.output_shape, res.rf
    out_shape = shape
    if mistake == "swap_hw" and len(out_shape) >= 3:
        out_shape = out_shape[:-2] + (out_shape[-1], out_shape[-2])
    rf_h, rf_w = rf
    size = _pair_value(_rf_value(rf_h, "size"), _rf_value(rf_w, "size"))
    if mistake == "rf_plus_one" and size != "whole":
        size = tuple(v + 1 for v in size) if isinstance(size, tuple) else size + 1
    values: dict[str, Any] = {
        "output_shape": out_shape,
        "params": sum(r.params for r in results),
        "params_trainable": sum(r.params_trainable for r in results),
        "flops": sum(r.flops for r in results),
        "rf": size,
        "rf_jump": _pair_value(_rf_value(rf_h, "jump"), _rf_value(rf_w, "jump")),
        "rf_start": _pair_value(_rf_value(rf_h, "start"), _rf_value(rf_w, "start")),
    }
    if len(out_shape) >= 3:
        values["output_height"], values["output_width"] = out_shape[-2], out_shape[-1]
    return StackResult(tuple(results), values, batched)


def expected_layer_values(question: Question) -> StackResult:
    """The correct answers of a layer question."""
    return compute_stack(question, None)


def formulas_field() -> F.Field:
    """The field of one input pixel (r=1, j=1, start=0)."""
    return F.INPUT_FIELD
