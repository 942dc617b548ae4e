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

import sympy

from convcalc.errors import InvalidParameterError, UnknownNameError
from convcalc.explain.steps import (
    CONVENTIONS,
    Derivation,
    Step,
    check_bool,
    flop_steps,
    input_dims,
    product_text,
    rf_steps,
    shown,
    size_steps,
    symbol,
)
from convcalc.formulas import flops as _flops
from convcalc.formulas import flops_per_element as _per_element
from convcalc.formulas import params as _params
from convcalc.formulas import shapes as _shapes
from convcalc.formulas._common import as_expr, axis_paddings, check_at_least, pair
from convcalc.formulas.numbers import div, is_number

__all__ = ["Step", "Derivation", "KINDS", "explain_layer"]


KINDS = ("conv2d", "pool2d", "linear", "batchnorm", "conv_transpose2d", "layernorm", "softmax", "attention",
         "rnn_cell")
"""The layer kinds :func:`explain_layer` knows."""




# ------------------------------------------------------------------ kinds
def _conv2d(input_shape, out_channels=None, kernel=None, stride=1, padding=0, dilation=1, groups=1, bias=True):
    if out_channels is None or kernel is None:
        raise InvalidParameterError(
            "conv2d needs out_channels and kernel", "pass e.g. out_channels=6, kernel=3"
        )
    c, h, w = input_dims("conv2d", input_shape, 3)
    p_out = as_expr(out_channels, "out_channels")
    g = as_expr(groups, "groups")
    bias = check_bool(bias, "bias")
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
    st, oh, pbh = size_steps("height", h, kh, sh, pad_h, dh, False, pool=False)
    steps += st
    st, ow, pbw = size_steps("width", w, kw, sw, pad_w, dw, False, pool=False)
    steps += st
    steps.append(Step("output_shape", "5.6, 5.7", "conv_output_size",
                      sympy.Tuple(symbol("P"), symbol("M'"), symbol("N'")),
                      f"({shown(p_out)}, {shown(oh)}, {shown(ow)})", (p_out, oh, ow)))

    D, P, U, V, G = symbol("D"), symbol("P"), symbol("U"), symbol("V"), symbol("g")
    gs = 1 if g == 1 else G
    per_kernel = product_text(c, kh, kw) if g == 1 else f"({shown(c)}/{shown(g)})*{shown(kh)}*{shown(kw)}"
    steps.append(Step(
        "params", "5.20", "conv_params",
        _params.conv_params(D, P, (U, V), gs, bias),
        f"{shown(p_out)}*{per_kernel}" + (f" + {shown(p_out)}" if bias else ""),
        _params.conv_params(c, p_out, (kh, kw), g, bias),
    ))

    Mo, No = symbol("M'"), symbol("N'")
    pos = product_text(oh, ow, p_out)
    subs = {
        "paddle": f"{pos}*{per_kernel}" + (f" + {pos}" if bias else ""),
        "macs": f"{pos}*{per_kernel}",
        "flops": f"{pos}*(2*{per_kernel} - 1" + (" + 1)" if bias else ")"),
    }
    steps += flop_steps(
        "conv_flops", "5.21" if bias else "5.4, 5.8",
        lambda cv: _flops.conv_flops(Mo, No, P, D, (U, V), gs, bias, convention=cv),
        lambda cv: _flops.conv_flops(oh, ow, p_out, c, (kh, kw), g, bias, convention=cv),
        subs,
    )
    steps += rf_steps(
        (kh, kw), (sh, sw), (pbh, pbw),
        (_shapes.effective_dilation(pad_h, dh), _shapes.effective_dilation(pad_w, dw)),
    )
    return config, (c, h, w), steps


def _pool2d(input_shape, kernel=None, stride=None, padding=0, mode="max", ceil_mode=False):
    if kernel is None:
        raise InvalidParameterError("pool2d needs kernel", "pass e.g. kernel=2")
    if mode not in ("max", "avg"):
        raise UnknownNameError("pooling mode", str(mode), ("max", "avg"))
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    c, h, w = input_dims("pool2d", input_shape, 3)
    kh, kw = pair(kernel, "kernel")
    sh, sw = (kh, kw) if stride is None else pair(stride, "stride")
    pad_h, pad_w = axis_paddings(padding)
    config = dict(kernel=kernel, stride=stride if stride is not None else kernel, padding=padding,
                  mode=mode, ceil_mode=ceil_mode)
    steps: list[Step] = []
    st, oh, pbh = size_steps("height", h, kh, sh, pad_h, 1, ceil_mode, pool=True)
    steps += st
    st, ow, pbw = size_steps("width", w, kw, sw, pad_w, 1, ceil_mode, pool=True)
    steps += st
    steps.append(Step("output_shape", "5.20, 5.21", "pool_output_size",
                      sympy.Tuple(symbol("C"), symbol("M'"), symbol("N'")),
                      f"({shown(c)}, {shown(oh)}, {shown(ow)})", (c, oh, ow)))
    steps.append(Step("params", "5.2.2", "", sympy.Integer(0), "pooling has no parameters",
                      sympy.Integer(0)))
    numel = c * oh * ow
    n_sym, U, V = symbol("numel_out"), symbol("U"), symbol("V")
    n_str = product_text(c, oh, ow)
    if mode == "avg":
        subs = {"paddle": n_str, "macs": "0", "flops": f"{n_str}*{product_text(kh, kw)}"}
        steps += flop_steps(
            "avgpool_flops", "5.2.2",
            lambda cv: _per_element.avgpool_flops(n_sym, (U, V), convention=cv),
            lambda cv: _per_element.avgpool_flops(numel, (kh, kw), convention=cv),
            subs,
        )
    else:
        subs = {"paddle": "0", "macs": "0", "flops": f"{n_str}*({product_text(kh, kw)} - 1)"}
        steps += flop_steps(
            "maxpool_flops", "5.2.2",
            lambda cv: _per_element.maxpool_flops(n_sym, (U, V), convention=cv),
            lambda cv: _per_element.maxpool_flops(numel, (kh, kw), convention=cv),
            subs,
        )
    steps += rf_steps((kh, kw), (sh, sw), (pbh, pbw), (1, 1))
    return config, (c, h, w), steps


def _linear(input_shape, out_features=None, bias=True):
    if out_features is None:
        raise InvalidParameterError("linear needs out_features", "pass e.g. out_features=84")
    bias = check_bool(bias, "bias")
    (i,) = input_dims("linear", input_shape, 1)
    o = as_expr(out_features, "out_features")
    config = dict(out_features=out_features, bias=bias)
    I_, O_ = symbol("in"), symbol("out")
    steps = [
        Step("output_shape", "", "", sympy.Tuple(O_), f"({shown(o)},)", (o,)),
        Step("params", "5.1.3", "linear_params", _params.linear_params(I_, O_, bias),
             f"{product_text(i, o)}" + (f" + {shown(o)}" if bias else ""), _params.linear_params(i, o, bias)),
    ]
    subs = {
        "paddle": product_text(i, o),
        "macs": product_text(i, o),
        "flops": f"{shown(o)}*(2*{shown(i)} - 1" + (" + 1)" if bias else ")"),
    }
    steps += flop_steps(
        "linear_flops", "",
        lambda cv: _flops.linear_flops(I_, O_, 1, bias, convention=cv),
        lambda cv: _flops.linear_flops(i, o, 1, bias, convention=cv),
        subs,
    )
    return config, (i,), steps


def _batchnorm(input_shape):
    c, h, w = input_dims("batchnorm", input_shape, 3)
    C = symbol("C")
    numel = c * h * w
    n_str = product_text(c, h, w)
    steps = [
        Step("output_shape", "", "", sympy.Tuple(C, symbol("M"), symbol("N")),
             f"({shown(c)}, {shown(h)}, {shown(w)})", (c, h, w)),
        Step("params", "", "batchnorm_params + batchnorm_running_stats",
             _params.batchnorm_params(C) + _params.batchnorm_running_stats(C),
             f"2*{shown(c)} + 2*{shown(c)}",
             _params.batchnorm_params(c) + _params.batchnorm_running_stats(c)),
        Step("params_trainable", "", "batchnorm_params", _params.batchnorm_params(C),
             f"2*{shown(c)}", _params.batchnorm_params(c)),
        Step("params_running", "", "batchnorm_running_stats", _params.batchnorm_running_stats(C),
             f"2*{shown(c)}", _params.batchnorm_running_stats(c)),
    ]
    n_sym = symbol("numel")
    steps += flop_steps(
        "batchnorm_flops", "",
        lambda cv: _per_element.batchnorm_flops(n_sym, convention=cv, channels=C),
        lambda cv: _per_element.batchnorm_flops(numel, convention=cv, channels=c),
        {"paddle": f"2*{n_str}", "macs": "0", "flops": f"4*{n_str} + 2*{shown(c)}"},
    )
    one = sympy.Integer(1)
    steps += rf_steps((one, one), (one, one), (sympy.Integer(0),) * 2, (one, one))
    return {}, (c, h, w), steps


def _conv_transpose2d(input_shape, out_channels=None, kernel=None, stride=1, padding=0, output_padding=0,
                      dilation=1, groups=1, bias=True):
    if out_channels is None or kernel is None:
        raise InvalidParameterError("conv_transpose2d needs out_channels and kernel",
                                    "pass e.g. out_channels=8, kernel=2, stride=2")
    c, h, w = input_dims("conv_transpose2d", input_shape, 3)
    p_out, g = as_expr(out_channels, "out_channels"), as_expr(groups, "groups")
    bias = check_bool(bias, "bias")
    kh, kw = pair(kernel, "kernel")
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    oph, opw = pair(output_padding, "output_padding")
    dh, dw = pair(dilation, "dilation")
    _params.conv_params(c, p_out, (kh, kw), g, bias)  # validates channels and groups
    config = dict(out_channels=out_channels, kernel=kernel, stride=stride, padding=padding,
                  output_padding=output_padding, dilation=dilation, groups=groups, bias=bias)
    M, U, S, P_, d_, o_sym = symbol("M"), symbol("U"), symbol("S"), symbol("P"), symbol("d"), symbol("O")
    steps: list[Step] = []
    outs = []
    for axis, size, k, st, pd, op, dl in (("height", h, kh, sh, ph, oph, dh), ("width", w, kw, sw, pw, opw, dw)):
        out = _shapes.conv_transpose_output_size(size, k, st, pd, dl, op)
        keff = shown(k) if dl == 1 else f"({shown(dl)}*({shown(k)} - 1) + 1)"
        steps.append(Step(f"output_{axis}", "5.6 (inverted)", "conv_transpose_output_size",
                          _shapes.conv_transpose_output_size(M, U, S, P_, d_, o_sym),
                          f"({shown(size)} - 1)*{shown(st)} - 2*{shown(pd)} + {keff} + {shown(op)}", out))
        outs.append(out)
    oh, ow = outs
    steps.append(Step("output_shape", "", "conv_transpose_output_size",
                      sympy.Tuple(symbol("P"), symbol("M'"), symbol("N'")),
                      f"({shown(p_out)}, {shown(oh)}, {shown(ow)})", (p_out, oh, ow)))
    D, P, V, G = symbol("D"), symbol("P"), symbol("V"), symbol("g")
    gs = 1 if g == 1 else G
    steps.append(Step("params", "5.20", "conv_params", _params.conv_params(D, P, (U, V), gs, bias),
                      f"{shown(c)}*({shown(p_out)}/{shown(g)})*{shown(kh)}*{shown(kw)}"
                      + (f" + {shown(p_out)}" if bias else ""),
                      _params.conv_params(c, p_out, (kh, kw), g, bias)))
    M_, N_, Mo, No = symbol("M"), symbol("N"), symbol("M'"), symbol("N'")
    geometry = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))

    def numeric(cv):
        return _flops.conv_transpose_flops((h, w), (oh, ow), c, p_out, (kh, kw), groups=g, bias=bias,
                                           convention=cv, **geometry)

    hits = [_flops.conv_transpose_flops((m,), (o,), 1, 1, (k,), st, pd, dl, convention="macs")
            for m, o, k, st, pd, dl in ((h, oh, kh, sh, ph, dh), (w, ow, kw, sw, pw, dw))]
    per = f"{shown(p_out)}*({shown(c)}/{shown(g)})"
    subs = {
        "paddle": f"{product_text(oh, ow, p_out)}*({shown(c)}/{shown(g)}*{shown(kh)}*{shown(kw)}"
                  + (" + 1)" if bias else ")"),
        "macs": f"{per}*{shown(hits[0])}*{shown(hits[1])}  (input-tap pairs landing in the output, per axis)",
        "flops": "2*macs - outputs reached" + (" + one bias add per output" if bias else ""),
    }
    steps += flop_steps(
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
    affine = check_bool(affine, "affine")
    n = sympy.Mul(*shape[len(shape) - normalized_dims:])
    groups = sympy.Mul(*shape[:len(shape) - normalized_dims])
    a = 2 if affine else 0
    G, n_ = symbol("G"), symbol("n")
    steps = [
        Step("output_shape", "", "", sympy.Tuple(*[symbol(f"d{i}") for i in range(len(shape))]),
             str(tuple(shape)), shape),
        Step("params", "", "", 2 * n_ if affine else sympy.Integer(0), f"2*{shown(n)}" if affine else "0",
             2 * n if affine else sympy.Integer(0)),
    ]
    steps += flop_steps(
        "norm_flops", "",
        lambda cv: _per_element.norm_flops(G, n_, a, convention=cv),
        lambda cv: _per_element.norm_flops(groups, n, a, convention=cv),
        {"paddle": "0 (paddle.flops has no LayerNorm rule)", "macs": "0",
         "flops": f"{shown(groups)}*(5*{shown(n)} + 2" + (f" + 2*{shown(n)})" if affine else ")")},
    )
    return dict(normalized_dims=normalized_dims, affine=affine), shape, steps


def _softmax(input_shape, axis=-1, log=False):
    shape = _any_shape("softmax", input_shape)
    if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
        raise InvalidParameterError(f"axis {axis!r} is outside the input's {len(shape)} dimensions",
                                    "pass e.g. axis=-1")
    log = check_bool(log, "log")
    numel, n = sympy.Mul(*shape), shape[axis]
    N_, n_ = symbol("numel"), symbol("n")
    steps = [Step("output_shape", "", "", sympy.Tuple(*[symbol(f"d{i}") for i in range(len(shape))]),
                  str(tuple(shape)), shape),
             Step("params", "", "", sympy.Integer(0), "0", sympy.Integer(0))]
    per_row = f"3*{shown(n)}" if log else f"(3*{shown(n)} - 1)"
    steps += flop_steps(
        "softmax_flops", "",
        lambda cv: _per_element.softmax_flops(N_, n_, log, convention=cv),
        lambda cv: _per_element.softmax_flops(numel, n, log, convention=cv),
        {"paddle": "0", "macs": "0", "flops": f"({shown(numel)}/{shown(n)})*{per_row}"},
    )
    return dict(axis=axis, log=log), shape, steps


def _attention(input_shape, heads=None, bias=True):
    """Self-attention (nn.MultiHeadAttention) on ``(T, D)`` tokens: projections, QK^T, softmax, AV."""
    if heads is None:
        raise InvalidParameterError("attention needs heads", "pass e.g. heads=12")
    t, d = _any_shape("attention", input_shape) if len(input_shape) == 2 else input_dims("attention", input_shape, 2)
    h = as_expr(heads, "heads")
    check_at_least(h, 1, "heads", "use heads=1 for single-head attention")
    if is_number(d) and is_number(h) and d % h:
        raise InvalidParameterError(f"heads {h} does not divide the width {d}", "pick heads dividing the width")
    bias = check_bool(bias, "bias")
    T, D, H = symbol("T"), symbol("D"), symbol("h")
    steps = [
        Step("output_shape", "", "", sympy.Tuple(T, D), f"({shown(t)}, {shown(d)})", (t, d)),
        Step("params", "", "linear_params", 4 * _params.linear_params(D, D, bias),
             f"4*({product_text(d, d)}" + (f" + {shown(d)})" if bias else ")"), 4 * _params.linear_params(d, d, bias)),
    ]
    parts = (
        ("projections", "linear_flops", lambda T_, D_, H_, cv: 4 * _flops.linear_flops(D_, D_, T_, bias, cv)),
        ("scale", "elementwise_flops", lambda T_, D_, H_, cv: _per_element.elementwise_flops(T_ * D_, 1, cv)),
        ("scores", "matmul_flops", lambda T_, D_, H_, cv: _flops.matmul_flops(T_, div(D_, H_), T_, H_, cv)),
        ("softmax", "softmax_flops", lambda T_, D_, H_, cv: _per_element.softmax_flops(H_ * T_ * T_, T_, False, cv)),
        ("mix", "matmul_flops", lambda T_, D_, H_, cv: _flops.matmul_flops(T_, T_, div(D_, H_), H_, cv)),
    )
    for name, formula, fn in parts:
        for cv in CONVENTIONS:
            steps.append(Step(f"{name}_{cv}", "", formula, fn(T, D, H, cv), "", fn(t, d, h, cv)))
    total_sym = {cv: sum((fn(T, D, H, cv) for _, _, fn in parts), sympy.Integer(0)) for cv in CONVENTIONS}
    total = {cv: sum((fn(t, d, h, cv) for _, _, fn in parts), sympy.Integer(0)) for cv in CONVENTIONS}
    for cv in CONVENTIONS:
        steps.append(Step(f"flops_{cv}", "", "sum of the parts", sympy.expand(total_sym[cv]),
                          "projections + scale + scores + softmax + mix", sympy.expand(total[cv])))
    return dict(heads=heads, bias=bias), (t, d), steps


def _rnn_cell(input_shape, hidden_size=None, mode="lstm", steps=1, bias=True):
    if hidden_size is None:
        raise InvalidParameterError("rnn_cell needs hidden_size", "pass e.g. hidden_size=32")
    (i,) = input_dims("rnn_cell", input_shape, 1)
    hs, t = as_expr(hidden_size, "hidden_size"), as_expr(steps, "steps")
    bias = check_bool(bias, "bias")
    if mode not in _flops.RNN_GATES:
        raise UnknownNameError("RNN mode", str(mode), _flops.RNN_GATES)
    g = _flops.RNN_GATES[mode]
    I_, H_, T_ = symbol("I"), symbol("H"), symbol("T")
    out = [
        Step("output_shape", "", "", sympy.Tuple(H_), f"({shown(hs)},)", (hs,)),
        Step("params", "", "", g * H_ * (I_ + H_) + (2 * g * H_ if bias else 0),
             f"{g}*{shown(hs)}*({shown(i)} + {shown(hs)})" + (f" + 2*{g}*{shown(hs)}" if bias else ""),
             g * hs * (i + hs) + (2 * g * hs if bias else 0)),
    ]
    out += flop_steps(
        "rnn_cell_flops", "",
        lambda cv: _flops.rnn_cell_flops(I_, H_, mode, 1, T_, bias, cv),
        lambda cv: _flops.rnn_cell_flops(i, hs, mode, 1, t, bias, cv),
        {"paddle": "0 (paddle.flops has no RNN rule)", "macs": f"{shown(t)}*{g}*{shown(hs)}*({shown(i)} + {shown(hs)})",
         "flops": f"{shown(t)}*{shown(hs)}*({g}*(2*{shown(i)} + 2*{shown(hs)} - 1" + (" + 2" if bias else "")
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
    if check_bool(training, "training"):
        from convcalc.explain.backward import TRAINING_KINDS, backward_steps

        if kind not in TRAINING_KINDS:
            raise InvalidParameterError(f"no training derivation for {kind}",
                                        "use one of: " + ", ".join(TRAINING_KINDS) + " (or convcalc report MODEL "
                                        "--training for any model)")
        steps = [*steps, *backward_steps(Step, kind, cfg, shape, steps)]
        cfg = dict(cfg, training=True)
    return Derivation(kind=kind, config=cfg, input_shape=shape, steps=tuple(steps))
