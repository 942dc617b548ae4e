"""Worked derivations of one layer: each formula, the numbers put in, the result.

``explain_layer("conv2d", (3, 32, 32), out_channels=6, kernel=3)`` walks the
seed's equations for that layer -- output size (5.6/5.7), parameters (5.20),
FLOPs (5.4/5.8/5.21) in the three conventions, and the receptive-field step
from one input pixel (5.1.4) -- and returns a frozen :class:`Derivation`.
Inputs may be ints or sympy symbols (then the results are expressions).  No
strings are printed here; ``convcalc.render.derivation`` renders.  Never
imports paddle.

>>> d = explain_layer("conv2d", (3, 32, 32), out_channels=6, kernel=3)
>>> d.step("output_shape").result
(6, 30, 30)
>>> d.step("params").result, d.step("flops_paddle").result
(168, 151200)
>>> d.step("output_height").substituted
'floor((32 + 0 + 0 - 3)/1) + 1'

Layer kinds and their configuration (defaults after ``=``):

``conv2d``
    ``out_channels, kernel, stride=1, padding=0, dilation=1, groups=1, bias=True``
``pool2d``
    ``kernel, stride=None (= kernel), padding=0, mode="max"|"avg", ceil_mode=False``
``linear``
    ``out_features, bias=True`` (``input_shape`` is ``(in_features,)``)
``batchnorm``
    no options (``input_shape`` is ``(C, H, W)``)

``kernel``, ``stride`` and ``dilation`` are one number or ``(height, width)``.
``padding`` is one number, ``(before, after)`` applied to both axes,
``(top, bottom, left, right)`` as in Paddle, ``"SAME"`` or ``"VALID"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from convcalc.errors import InvalidParameterError, UnknownNameError
from convcalc.formulas import flops as _flops
from convcalc.formulas import params as _params
from convcalc.formulas import receptive as _rf
from convcalc.formulas import shapes as _shapes
from convcalc.formulas._common import as_expr, check_at_least, pair

__all__ = ["Step", "Derivation", "KINDS", "explain_layer"]

KINDS = ("conv2d", "pool2d", "linear", "batchnorm")
"""The layer kinds :func:`explain_layer` knows."""

_CONVENTIONS = ("paddle", "macs", "flops")


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``quantity = formula(symbolic) = substituted = result``."""

    quantity: str
    equation: str
    formula: str
    symbolic: Any
    substituted: str
    result: Any


@dataclass(frozen=True)
class Derivation:
    """A layer's worked derivation: its configuration, input shape and steps in order."""

    kind: str
    config: dict
    input_shape: tuple
    steps: tuple[Step, ...]

    def step(self, quantity: str) -> Step:
        """The step computing ``quantity``; :class:`UnknownNameError` names the closest."""
        for s in self.steps:
            if s.quantity == quantity:
                return s
        known = [s.quantity for s in self.steps]
        fix = None
        if quantity.startswith("rf_") and self.kind == "linear":
            fix = "a fully connected unit sees the whole input, so linear has no receptive-field step"
        raise UnknownNameError(f"{self.kind} derivation step", quantity, known, fix)

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(s.quantity for s in self.steps)


# ------------------------------------------------------------------ helpers
def _sym(name: str) -> sympy.Symbol:
    """A symbol of a step's symbolic form (no assumptions: cheaper, prints the same)."""
    return sympy.Symbol(name)


_nn = _sym


def _s(value) -> str:
    """A value as it appears inside a substituted expression (parenthesised if compound)."""
    if isinstance(value, str):
        return value
    e = sympy.sympify(value)
    return str(e) if (e.is_Atom or e.is_Function) and not (e.is_Rational and not e.is_Integer) else f"({e})"


def _mul(*factors) -> str:
    return "*".join(_s(f) for f in factors)


def _axis_paddings(padding) -> tuple[object, object]:
    """Split a 2-D padding spec into the per-axis forms the shape formulas take."""
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise InvalidParameterError(
                f"unknown padding {padding!r}",
                "use a number, 'before,after', 'top,bottom,left,right', 'same' or 'valid'",
            )
        return padding.upper(), padding.upper()
    if isinstance(padding, (tuple, list)):
        if len(padding) == 2:
            side = (padding[0], padding[1])
            return side, side
        if len(padding) == 4:
            return (padding[0], padding[1]), (padding[2], padding[3])
        raise InvalidParameterError(
            f"padding must have 1, 2 or 4 numbers, got {padding!r}",
            "pass e.g. 1, (before, after) or (top, bottom, left, right)",
        )
    return padding, padding


def _input(kind: str, input_shape, dims: int) -> tuple:
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != dims:
        want = "(C, H, W)" if dims == 3 else "(in_features,)"
        raise InvalidParameterError(
            f"{kind} needs an input shape {want}, got {input_shape!r}",
            "pass e.g. (3, 32, 32)" if dims == 3 else "pass e.g. (120,)",
        )
    names = ("channels", "height", "width") if dims == 3 else ("in_features",)
    out = tuple(as_expr(v, n) for v, n in zip(input_shape, names))
    for v, n in zip(out, names):
        check_at_least(v, 1, f"input {n}", "every input dimension is at least 1")
    return out


def _size_steps(
    axis: str,
    size,
    kernel,
    stride,
    padding,
    dilation,
    ceil_mode: bool,
    pool: bool,
) -> tuple[list[Step], Any, Any]:
    """Steps for one output axis; returns (steps, output size, padding before)."""
    m_sym, u_sym = (_sym("M"), _sym("U")) if axis == "height" else (_sym("N"), _sym("V"))
    s_sym, d_sym = _sym("S"), _sym("d")
    steps: list[Step] = []
    if pool:
        formula = "pool_output_size"
        equation = "5.20" if axis == "height" else "5.21"
    else:
        formula = "conv_output_size"
        equation = "5.6" if axis == "height" else "5.7"
    if isinstance(padding, str):
        p_sym_form: object = padding
        if padding == "SAME":
            pb, pa = _shapes.resolve_padding("SAME", size, kernel, stride, dilation)
            steps.append(
                Step(
                    f"padding_{axis}",
                    "",
                    "resolve_padding",
                    sympy.Tuple(*_shapes.resolve_padding("SAME", m_sym, u_sym, s_sym)),
                    f"SAME: total max((ceiling({_s(size)}/{_s(stride)}) - 1)*{_s(stride)} + "
                    f"{_s(kernel)} - {_s(size)}, 0), smaller half before",
                    (pb, pa),
                )
            )
        else:
            pb = pa = sympy.Integer(0)
    elif isinstance(padding, tuple):
        p_sym_form = (_nn("P_1"), _nn("P_2"))
        pb, pa = _shapes.resolve_padding(padding, size, kernel, stride, dilation)
    else:
        p_sym_form = _nn("P")
        pb, pa = _shapes.resolve_padding(padding, size, kernel, stride, dilation)

    if pool:
        symbolic = _shapes.pool_output_size(m_sym, u_sym, s_sym, p_sym_form, ceil_mode)
        result = _shapes.pool_output_size(size, kernel, stride, padding, ceil_mode)
    else:
        dil = 1 if dilation == 1 else d_sym
        symbolic = _shapes.conv_output_size(m_sym, u_sym, s_sym, p_sym_form, dil)
        result = _shapes.conv_output_size(size, kernel, stride, padding, dilation)

    if padding == "SAME":
        substituted = f"ceiling({_s(size)}/{_s(stride)})"
    else:
        k_eff = _s(kernel) if dilation == 1 else f"({_s(dilation)}*({_s(kernel)} - 1) + 1)"
        rounding = "ceiling" if ceil_mode else "floor"
        substituted = f"{rounding}(({_s(size)} + {_s(pb)} + {_s(pa)} - {k_eff})/{_s(stride)}) + 1"
    steps.append(Step(f"output_{axis}", equation, formula, symbolic, substituted, result))
    return steps, result, pb


def _rf_steps(kernels, strides, pads_before, dilations) -> list[Step]:
    """Receptive field of one output unit, from a single input pixel (r=1, j=1, start=0)."""
    r_in, j_in, s_in = sympy.Integer(1), sympy.Integer(1), sympy.Integer(0)
    per_axis = [
        _rf.field_after(_rf.INPUT_FIELD, k, s, p, d)
        for k, s, p, d in zip(kernels, strides, pads_before, dilations)
    ]
    square = per_axis[0] == per_axis[1]
    ks = kernels if not square else kernels[:1]
    ss = strides if not square else strides[:1]
    ps = pads_before if not square else pads_before[:1]
    ds = dilations if not square else dilations[:1]

    def pick(values):
        return values[0] if square else tuple(values)

    def sub(fmt) -> str:
        parts = [fmt(k, s, p, d) for k, s, p, d in zip(ks, ss, ps, ds)]
        return parts[0] if square else "(" + ", ".join(parts) + ")"

    def keff(k, d) -> str:
        return _s(k) if d == 1 else f"({_s(d)}*({_s(k)} - 1) + 1)"

    u, s_, p_, d_ = _sym("U"), _sym("S"), _nn("P"), _sym("d")
    r0, j0 = _sym("r_in"), _sym("j_in")
    st0 = _sym("start_in")
    any_dil = any(d != 1 for d in dilations)
    dd = d_ if any_dil else 1
    return [
        Step(
            "rf_size",
            "5.1.4",
            "rf_size",
            _rf.rf_size(r0, j0, u, dd),
            sub(lambda k, s, p, d: f"{r_in} + ({keff(k, d)} - 1)*{j_in}"),
            pick([f.size for f in per_axis]),
        ),
        Step(
            "rf_jump",
            "5.1.4",
            "rf_jump",
            _rf.rf_jump(j0, s_),
            sub(lambda k, s, p, d: f"{j_in}*{_s(s)}"),
            pick([f.jump for f in per_axis]),
        ),
        Step(
            "rf_start",
            "5.1.4",
            "rf_start",
            _rf.rf_start(st0, j0, u, p_, dd),
            sub(lambda k, s, p, d: f"{s_in} + (({keff(k, d)} - 1)/2 - {_s(p)})*{j_in}"),
            pick([f.start for f in per_axis]),
        ),
    ]


def _flop_steps(formula: str, equation: str, symbolic_fn, numeric_fn, substituted: dict) -> list[Step]:
    return [
        Step(
            f"flops_{c}",
            equation if c == "paddle" else "",
            formula,
            symbolic_fn(c),
            substituted[c],
            numeric_fn(c),
        )
        for c in _CONVENTIONS
    ]


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be True or False, got {value!r}", f"pass {name}=True or False")
    return value


# ------------------------------------------------------------------ kinds
def _conv2d(input_shape, out_channels=None, kernel=None, stride=1, padding=0, dilation=1, groups=1, bias=True):
    if out_channels is None or kernel is None:
        raise InvalidParameterError(
            "conv2d needs out_channels and kernel", "pass e.g. out_channels=6, kernel=3"
        )
    c, h, w = _input("conv2d", input_shape, 3)
    p_out = as_expr(out_channels, "out_channels")
    g = as_expr(groups, "groups")
    bias = _check_bool(bias, "bias")
    kh, kw = pair(kernel, "kernel")
    sh, sw = pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    pad_h, pad_w = _axis_paddings(padding)
    _params.conv_params(c, p_out, (kh, kw), g, bias)  # validates channels and groups first
    config = dict(
        out_channels=out_channels, kernel=kernel, stride=stride, padding=padding,
        dilation=dilation, groups=groups, bias=bias,
    )
    steps: list[Step] = []
    st, oh, pbh = _size_steps("height", h, kh, sh, pad_h, dh, False, pool=False)
    steps += st
    st, ow, pbw = _size_steps("width", w, kw, sw, pad_w, dw, False, pool=False)
    steps += st
    steps.append(Step("output_shape", "5.6, 5.7", "conv_output_size",
                      sympy.Tuple(_sym("P"), _sym("M'"), _sym("N'")),
                      f"({_s(p_out)}, {_s(oh)}, {_s(ow)})", (p_out, oh, ow)))

    D, P, U, V, G = _sym("D"), _sym("P"), _sym("U"), _sym("V"), _sym("g")
    gs = 1 if g == 1 else G
    per_kernel = _mul(c, kh, kw) if g == 1 else f"({_s(c)}/{_s(g)})*{_s(kh)}*{_s(kw)}"
    steps.append(Step(
        "params", "5.20", "conv_params",
        _params.conv_params(D, P, (U, V), gs, bias),
        f"{_s(p_out)}*{per_kernel}" + (f" + {_s(p_out)}" if bias else ""),
        _params.conv_params(c, p_out, (kh, kw), g, bias),
    ))

    Mo, No = _sym("M'"), _sym("N'")
    pos = _mul(oh, ow, p_out)
    subs = {
        "paddle": f"{pos}*{per_kernel}" + (f" + {pos}" if bias else ""),
        "macs": f"{pos}*{per_kernel}",
        "flops": f"2*{pos}*{per_kernel}" + (f" + {pos}" if bias else ""),
    }
    steps += _flop_steps(
        "conv_flops", "5.21" if bias else "5.4, 5.8",
        lambda cv: _flops.conv_flops(Mo, No, P, D, (U, V), gs, bias, convention=cv),
        lambda cv: _flops.conv_flops(oh, ow, p_out, c, (kh, kw), g, bias, convention=cv),
        subs,
    )
    steps += _rf_steps(
        (kh, kw), (sh, sw), (pbh, pbw),
        (_shapes.effective_dilation(pad_h, dh), _shapes.effective_dilation(pad_w, dw)),
    )
    return config, (c, h, w), steps


def _pool2d(input_shape, kernel=None, stride=None, padding=0, mode="max", ceil_mode=False):
    if kernel is None:
        raise InvalidParameterError("pool2d needs kernel", "pass e.g. kernel=2")
    if mode not in ("max", "avg"):
        raise UnknownNameError("pooling mode", str(mode), ("max", "avg"))
    ceil_mode = _check_bool(ceil_mode, "ceil_mode")
    c, h, w = _input("pool2d", input_shape, 3)
    kh, kw = pair(kernel, "kernel")
    sh, sw = (kh, kw) if stride is None else pair(stride, "stride")
    pad_h, pad_w = _axis_paddings(padding)
    config = dict(kernel=kernel, stride=stride if stride is not None else kernel, padding=padding,
                  mode=mode, ceil_mode=ceil_mode)
    steps: list[Step] = []
    st, oh, pbh = _size_steps("height", h, kh, sh, pad_h, 1, ceil_mode, pool=True)
    steps += st
    st, ow, pbw = _size_steps("width", w, kw, sw, pad_w, 1, ceil_mode, pool=True)
    steps += st
    steps.append(Step("output_shape", "5.20, 5.21", "pool_output_size",
                      sympy.Tuple(_sym("C"), _sym("M'"), _sym("N'")),
                      f"({_s(c)}, {_s(oh)}, {_s(ow)})", (c, oh, ow)))
    steps.append(Step("params", "5.2.2", "", sympy.Integer(0), "pooling has no parameters",
                      sympy.Integer(0)))
    numel = c * oh * ow
    n_sym, U, V = _sym("numel_out"), _sym("U"), _sym("V")
    n_str = _mul(c, oh, ow)
    if mode == "avg":
        subs = {"paddle": n_str, "macs": "0", "flops": f"{n_str}*{_mul(kh, kw)}"}
        steps += _flop_steps(
            "avgpool_flops", "5.2.2",
            lambda cv: _flops.avgpool_flops(n_sym, (U, V), convention=cv),
            lambda cv: _flops.avgpool_flops(numel, (kh, kw), convention=cv),
            subs,
        )
    else:
        subs = {"paddle": "0", "macs": "0", "flops": f"{n_str}*({_mul(kh, kw)} - 1)"}
        steps += _flop_steps(
            "maxpool_flops", "5.2.2",
            lambda cv: _flops.maxpool_flops(n_sym, (U, V), convention=cv),
            lambda cv: _flops.maxpool_flops(numel, (kh, kw), convention=cv),
            subs,
        )
    steps += _rf_steps((kh, kw), (sh, sw), (pbh, pbw), (1, 1))
    return config, (c, h, w), steps


def _linear(input_shape, out_features=None, bias=True):
    if out_features is None:
        raise InvalidParameterError("linear needs out_features", "pass e.g. out_features=84")
    bias = _check_bool(bias, "bias")
    (i,) = _input("linear", input_shape, 1)
    o = as_expr(out_features, "out_features")
    config = dict(out_features=out_features, bias=bias)
    I_, O_ = _sym("in"), _sym("out")
    steps = [
        Step("output_shape", "", "", sympy.Tuple(O_), f"({_s(o)},)", (o,)),
        Step("params", "5.1.3", "linear_params", _params.linear_params(I_, O_, bias),
             f"{_mul(i, o)}" + (f" + {_s(o)}" if bias else ""), _params.linear_params(i, o, bias)),
    ]
    subs = {
        "paddle": _mul(i, o),
        "macs": _mul(i, o),
        "flops": f"2*{_mul(i, o)}" + (f" + {_s(o)}" if bias else ""),
    }
    steps += _flop_steps(
        "linear_flops", "",
        lambda cv: _flops.linear_flops(I_, O_, 1, bias, convention=cv),
        lambda cv: _flops.linear_flops(i, o, 1, bias, convention=cv),
        subs,
    )
    return config, (i,), steps


def _batchnorm(input_shape):
    c, h, w = _input("batchnorm", input_shape, 3)
    C = _sym("C")
    numel = c * h * w
    n_str = _mul(c, h, w)
    steps = [
        Step("output_shape", "", "", sympy.Tuple(C, _sym("M"), _sym("N")),
             f"({_s(c)}, {_s(h)}, {_s(w)})", (c, h, w)),
        Step("params", "", "batchnorm_params + batchnorm_running_stats",
             _params.batchnorm_params(C) + _params.batchnorm_running_stats(C),
             f"2*{_s(c)} + 2*{_s(c)}",
             _params.batchnorm_params(c) + _params.batchnorm_running_stats(c)),
        Step("params_trainable", "", "batchnorm_params", _params.batchnorm_params(C),
             f"2*{_s(c)}", _params.batchnorm_params(c)),
        Step("params_running", "", "batchnorm_running_stats", _params.batchnorm_running_stats(C),
             f"2*{_s(c)}", _params.batchnorm_running_stats(c)),
    ]
    n_sym = _sym("numel")
    steps += _flop_steps(
        "batchnorm_flops", "",
        lambda cv: _flops.batchnorm_flops(n_sym, convention=cv),
        lambda cv: _flops.batchnorm_flops(numel, convention=cv),
        {"paddle": f"2*{n_str}", "macs": "0", "flops": f"4*{n_str}"},
    )
    one = sympy.Integer(1)
    steps += _rf_steps((one, one), (one, one), (sympy.Integer(0),) * 2, (one, one))
    return {}, (c, h, w), steps


_BUILDERS = {"conv2d": _conv2d, "pool2d": _pool2d, "linear": _linear, "batchnorm": _batchnorm}


def explain_layer(kind: str, input_shape: tuple, **config) -> Derivation:
    """Derive one layer's output shape, parameters, FLOPs and receptive-field step.

    Raises :class:`~convcalc.errors.UnknownNameError` for an unknown ``kind``
    or option, and the formulas' :class:`~convcalc.errors.ShapeError` /
    :class:`~convcalc.errors.InvalidParameterError` for bad values.

    >>> import sympy
    >>> H, W = sympy.symbols("H W", positive=True, integer=True)
    >>> explain_layer("conv2d", (3, H, W), out_channels=6, kernel=3).step("output_shape").result
    (6, H - 2, W - 2)
    >>> explain_layer("pool2d", (6, 28, 28), kernel=2).step("output_shape").result
    (6, 14, 14)
    """
    try:
        build = _BUILDERS[kind]
    except (KeyError, TypeError):
        raise UnknownNameError("layer kind", str(kind), KINDS) from None
    import inspect

    allowed = [p for p in inspect.signature(build).parameters if p != "input_shape"]
    for key in config:
        if key not in allowed:
            raise UnknownNameError(
                f"{kind} option", key, allowed,
                None if allowed else f"{kind} takes no options",
            )
    cfg, shape, steps = build(input_shape, **config)
    return Derivation(kind=kind, config=cfg, input_shape=shape, steps=tuple(steps))
