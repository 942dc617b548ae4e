"""Worked derivations of one layer: each formula, the numbers put in, the result.

``explain_layer("conv2d", (3, 32, 32), out_channels=6, kernel=3)`` walks the
book's equations for that layer -- output size (5.6/5.7), parameters (5.20),
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
``conv_transpose2d``
    ``out_channels, kernel, stride=1, padding=0, output_padding=0, dilation=1, groups=1, bias=True``
``layernorm``
    ``normalized_dims=1, affine=True`` (``input_shape`` any, e.g. ``(197, 768)``)
``softmax``
    ``axis=-1, log=False``
``attention``
    ``heads, bias=True`` (``input_shape`` is ``(T, D)``: tokens, width; nn.MultiHeadAttention)
``rnn_cell``
    ``hidden_size, mode="lstm"|"gru"|"rnn_tanh"|"rnn_relu", steps=1, bias=True`` (``input_shape`` ``(I,)``)

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
from convcalc.formulas._common import as_expr, axis_paddings, check_at_least, pair

__all__ = ["Step", "Derivation", "KINDS", "explain_layer"]

KINDS = ("conv2d", "pool2d", "linear", "batchnorm", "conv_transpose2d", "layernorm", "softmax", "attention",
         "rnn_cell")
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
    pad_h, pad_w = axis_paddings(padding)
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
        "flops": f"{pos}*(2*{per_kernel} - 1" + (" + 1)" if bias else ")"),
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
    pad_h, pad_w = axis_paddings(padding)
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
        "flops": f"{_s(o)}*(2*{_s(i)} - 1" + (" + 1)" if bias else ")"),
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
        lambda cv: _flops.batchnorm_flops(n_sym, convention=cv, channels=C),
        lambda cv: _flops.batchnorm_flops(numel, convention=cv, channels=c),
        {"paddle": f"2*{n_str}", "macs": "0", "flops": f"4*{n_str} + 2*{_s(c)}"},
    )
    one = sympy.Integer(1)
    steps += _rf_steps((one, one), (one, one), (sympy.Integer(0),) * 2, (one, one))
    return {}, (c, h, w), steps


def _conv_transpose2d(input_shape, out_channels=None, kernel=None, stride=1, padding=0, output_padding=0,
                      dilation=1, groups=1, bias=True):
    if out_channels is None or kernel is None:
        raise InvalidParameterError("conv_transpose2d needs out_channels and kernel",
                                    "pass e.g. out_channels=8, kernel=2, stride=2")
    c, h, w = _input("conv_transpose2d", input_shape, 3)
    p_out, g = as_expr(out_channels, "out_channels"), as_expr(groups, "groups")
    bias = _check_bool(bias, "bias")
    kh, kw = pair(kernel, "kernel")
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    oph, opw = pair(output_padding, "output_padding")
    dh, dw = pair(dilation, "dilation")
    _params.conv_params(c, p_out, (kh, kw), g, bias)  # validates channels and groups
    config = dict(out_channels=out_channels, kernel=kernel, stride=stride, padding=padding,
                  output_padding=output_padding, dilation=dilation, groups=groups, bias=bias)
    M, U, S, P_, d_, o_sym = _sym("M"), _sym("U"), _sym("S"), _nn("P"), _sym("d"), _sym("O")
    steps: list[Step] = []
    outs = []
    for axis, size, k, st, pd, op, dl in (("height", h, kh, sh, ph, oph, dh), ("width", w, kw, sw, pw, opw, dw)):
        out = _shapes.conv_transpose_output_size(size, k, st, pd, dl, op)
        keff = _s(k) if dl == 1 else f"({_s(dl)}*({_s(k)} - 1) + 1)"
        steps.append(Step(f"output_{axis}", "5.6 (inverted)", "conv_transpose_output_size",
                          _shapes.conv_transpose_output_size(M, U, S, P_, d_, o_sym),
                          f"({_s(size)} - 1)*{_s(st)} - 2*{_s(pd)} + {keff} + {_s(op)}", out))
        outs.append(out)
    oh, ow = outs
    steps.append(Step("output_shape", "", "conv_transpose_output_size", sympy.Tuple(_sym("P"), _sym("M'"), _sym("N'")),
                      f"({_s(p_out)}, {_s(oh)}, {_s(ow)})", (p_out, oh, ow)))
    D, P, V, G = _sym("D"), _sym("P"), _sym("V"), _sym("g")
    gs = 1 if g == 1 else G
    steps.append(Step("params", "5.20", "conv_params", _params.conv_params(D, P, (U, V), gs, bias),
                      f"{_s(c)}*({_s(p_out)}/{_s(g)})*{_s(kh)}*{_s(kw)}" + (f" + {_s(p_out)}" if bias else ""),
                      _params.conv_params(c, p_out, (kh, kw), g, bias)))
    M_, N_, Mo, No = _sym("M"), _sym("N"), _sym("M'"), _sym("N'")
    geometry = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))

    def numeric(cv):
        return _flops.conv_transpose_flops((h, w), (oh, ow), c, p_out, (kh, kw), groups=g, bias=bias,
                                           convention=cv, **geometry)

    hits = [_flops.conv_transpose_flops((m,), (o,), 1, 1, (k,), st, pd, dl, convention="macs")
            for m, o, k, st, pd, dl in ((h, oh, kh, sh, ph, dh), (w, ow, kw, sw, pw, dw))]
    per = f"{_s(p_out)}*({_s(c)}/{_s(g)})"
    subs = {
        "paddle": f"{_mul(oh, ow, p_out)}*({_s(c)}/{_s(g)}*{_s(kh)}*{_s(kw)}" + (" + 1)" if bias else ")"),
        "macs": f"{per}*{_s(hits[0])}*{_s(hits[1])}  (input-tap pairs landing in the output, per axis)",
        "flops": "2*macs - outputs reached" + (" + one bias add per output" if bias else ""),
    }
    steps += _flop_steps(
        "conv_transpose_flops", "",
        lambda cv: _flops.conv_transpose_flops((M_, N_), (Mo, No), D, P, (U, V), groups=gs, bias=bias, convention=cv),
        numeric, subs,
    )
    return config, (c, h, w), steps


def _any_shape(kind: str, input_shape) -> tuple:
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise InvalidParameterError(f"{kind} needs an input shape, got {input_shape!r}", "pass e.g. (197, 768)")
    out = tuple(as_expr(v, "input size") for v in input_shape)
    for v in out:
        check_at_least(v, 1, "input size", "every input dimension is at least 1")
    return out


def _layernorm(input_shape, normalized_dims=1, affine=True):
    shape = _any_shape("layernorm", input_shape)
    if not isinstance(normalized_dims, int) or not 1 <= normalized_dims <= len(shape):
        raise InvalidParameterError(f"normalized_dims must be 1..{len(shape)}, got {normalized_dims!r}",
                                    "pass the number of trailing dimensions normalised together, e.g. 1")
    affine = _check_bool(affine, "affine")
    n = sympy.Mul(*shape[len(shape) - normalized_dims:])
    groups = sympy.Mul(*shape[:len(shape) - normalized_dims])
    a = 2 if affine else 0
    G, n_ = _sym("G"), _sym("n")
    steps = [
        Step("output_shape", "", "", sympy.Tuple(*[_sym(f"d{i}") for i in range(len(shape))]),
             str(tuple(shape)), shape),
        Step("params", "", "", 2 * n_ if affine else sympy.Integer(0), f"2*{_s(n)}" if affine else "0",
             2 * n if affine else sympy.Integer(0)),
    ]
    steps += _flop_steps(
        "norm_flops", "",
        lambda cv: _flops.norm_flops(G, n_, a, convention=cv),
        lambda cv: _flops.norm_flops(groups, n, a, convention=cv),
        {"paddle": "0 (paddle.flops has no LayerNorm rule)", "macs": "0",
         "flops": f"{_s(groups)}*(5*{_s(n)} + 2" + (f" + 2*{_s(n)})" if affine else ")")},
    )
    return dict(normalized_dims=normalized_dims, affine=affine), shape, steps


def _softmax(input_shape, axis=-1, log=False):
    shape = _any_shape("softmax", input_shape)
    if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
        raise InvalidParameterError(f"axis {axis!r} is outside the input's {len(shape)} dimensions",
                                    "pass e.g. axis=-1")
    log = _check_bool(log, "log")
    numel, n = sympy.Mul(*shape), shape[axis]
    N_, n_ = _sym("numel"), _sym("n")
    steps = [Step("output_shape", "", "", sympy.Tuple(*[_sym(f"d{i}") for i in range(len(shape))]),
                  str(tuple(shape)), shape),
             Step("params", "", "", sympy.Integer(0), "0", sympy.Integer(0))]
    per_row = f"3*{_s(n)}" if log else f"(3*{_s(n)} - 1)"
    steps += _flop_steps(
        "softmax_flops", "",
        lambda cv: _flops.softmax_flops(N_, n_, log, convention=cv),
        lambda cv: _flops.softmax_flops(numel, n, log, convention=cv),
        {"paddle": "0", "macs": "0", "flops": f"({_s(numel)}/{_s(n)})*{per_row}"},
    )
    return dict(axis=axis, log=log), shape, steps


def _attention(input_shape, heads=None, bias=True):
    """Self-attention (nn.MultiHeadAttention) on ``(T, D)`` tokens: projections, QK^T, softmax, AV."""
    if heads is None:
        raise InvalidParameterError("attention needs heads", "pass e.g. heads=12")
    t, d = _any_shape("attention", input_shape) if len(input_shape) == 2 else _input("attention", input_shape, 2)
    h = as_expr(heads, "heads")
    check_at_least(h, 1, "heads", "use heads=1 for single-head attention")
    if d.is_number and h.is_number and d % h:
        raise InvalidParameterError(f"heads {h} does not divide the width {d}", "pick heads dividing the width")
    bias = _check_bool(bias, "bias")
    T, D, H = _sym("T"), _sym("D"), _sym("h")
    steps = [
        Step("output_shape", "", "", sympy.Tuple(T, D), f"({_s(t)}, {_s(d)})", (t, d)),
        Step("params", "", "linear_params", 4 * _params.linear_params(D, D, bias),
             f"4*({_mul(d, d)}" + (f" + {_s(d)})" if bias else ")"), 4 * _params.linear_params(d, d, bias)),
    ]
    parts = (
        ("projections", "linear_flops", lambda T_, D_, H_, cv: 4 * _flops.linear_flops(D_, D_, T_, bias, cv)),
        ("scale", "elementwise_flops", lambda T_, D_, H_, cv: _flops.elementwise_flops(T_ * D_, 1, cv)),
        ("scores", "matmul_flops", lambda T_, D_, H_, cv: _flops.matmul_flops(T_, D_ / H_, T_, H_, cv)),
        ("softmax", "softmax_flops", lambda T_, D_, H_, cv: _flops.softmax_flops(H_ * T_ * T_, T_, False, cv)),
        ("mix", "matmul_flops", lambda T_, D_, H_, cv: _flops.matmul_flops(T_, T_, D_ / H_, H_, cv)),
    )
    for name, formula, fn in parts:
        for cv in _CONVENTIONS:
            steps.append(Step(f"{name}_{cv}", "", formula, fn(T, D, H, cv), "", fn(t, d, h, cv)))
    total_sym = {cv: sum((fn(T, D, H, cv) for _, _, fn in parts), sympy.Integer(0)) for cv in _CONVENTIONS}
    total = {cv: sum((fn(t, d, h, cv) for _, _, fn in parts), sympy.Integer(0)) for cv in _CONVENTIONS}
    for cv in _CONVENTIONS:
        steps.append(Step(f"flops_{cv}", "", "sum of the parts", sympy.expand(total_sym[cv]),
                          "projections + scale + scores + softmax + mix", sympy.expand(total[cv])))
    return dict(heads=heads, bias=bias), (t, d), steps


def _rnn_cell(input_shape, hidden_size=None, mode="lstm", steps=1, bias=True):
    if hidden_size is None:
        raise InvalidParameterError("rnn_cell needs hidden_size", "pass e.g. hidden_size=32")
    (i,) = _input("rnn_cell", input_shape, 1)
    hs, t = as_expr(hidden_size, "hidden_size"), as_expr(steps, "steps")
    bias = _check_bool(bias, "bias")
    if mode not in _flops.RNN_GATES:
        raise UnknownNameError("RNN mode", str(mode), _flops.RNN_GATES)
    g = _flops.RNN_GATES[mode]
    I_, H_, T_ = _sym("I"), _sym("H"), _sym("T")
    out = [
        Step("output_shape", "", "", sympy.Tuple(H_), f"({_s(hs)},)", (hs,)),
        Step("params", "", "", g * H_ * (I_ + H_) + (2 * g * H_ if bias else 0),
             f"{g}*{_s(hs)}*({_s(i)} + {_s(hs)})" + (f" + 2*{g}*{_s(hs)}" if bias else ""),
             g * hs * (i + hs) + (2 * g * hs if bias else 0)),
    ]
    out += _flop_steps(
        "rnn_cell_flops", "",
        lambda cv: _flops.rnn_cell_flops(I_, H_, mode, 1, T_, bias, cv),
        lambda cv: _flops.rnn_cell_flops(i, hs, mode, 1, t, bias, cv),
        {"paddle": "0 (paddle.flops has no RNN rule)", "macs": f"{_s(t)}*{g}*{_s(hs)}*({_s(i)} + {_s(hs)})",
         "flops": f"{_s(t)}*{_s(hs)}*({g}*(2*{_s(i)} + 2*{_s(hs)} - 1" + (" + 2" if bias else "")
         + ") + gate arithmetic)"},
    )
    return dict(hidden_size=hidden_size, mode=mode, steps=steps, bias=bias), (i,), out


_BUILDERS = {"conv2d": _conv2d, "pool2d": _pool2d, "linear": _linear, "batchnorm": _batchnorm,
             "conv_transpose2d": _conv_transpose2d, "layernorm": _layernorm, "softmax": _softmax,
             "attention": _attention, "rnn_cell": _rnn_cell}


def explain_layer(kind: str, input_shape: tuple, training: bool = False, **config) -> Derivation:
    """Derive one layer's output shape, parameters, FLOPs and receptive-field step.

    ``training=True`` adds the backward of one training step: the input-gradient
    and weight-gradient FLOPs in the three conventions (``backward_input_*``,
    ``backward_weight_*``; :mod:`convcalc.explain.backward`).

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
    if _check_bool(training, "training"):
        from convcalc.explain.backward import TRAINING_KINDS, backward_steps

        if kind not in TRAINING_KINDS:
            raise InvalidParameterError(f"no training derivation for {kind}",
                                        "use one of: " + ", ".join(TRAINING_KINDS) + " (or convcalc report MODEL "
                                        "--training for any model)")
        steps = [*steps, *backward_steps(Step, kind, cfg, shape, steps)]
        cfg = dict(cfg, training=True)
    return Derivation(kind=kind, config=cfg, input_shape=shape, steps=tuple(steps))
