"""Symbolic sizes: every value's shape as a sympy expression in the input's ``H`` and ``W``.

The model is traced once at a concrete size; then each op of the program is
replayed on symbolic shapes with the formulas (conv and pooling through
:func:`convcalc.formulas.conv_output_size`, elementwise ops by broadcasting,
concat by summing, flatten by multiplying, ...).  Every symbolic shape is
checked against the traced one at the traced size, so a handler that is wrong
for some model fails loudly instead of printing a wrong formula.

By default the sizes are simplified for ``H`` and ``W`` divisible by the
network's total stride ``S`` (the receptive-field jump of its deepest spatial
value): substituting ``H = S*h`` turns every nested ``floor`` into an affine
expression, e.g. ResNet's ``floor(floor(H/2 - 1/2)/2) + 1`` becomes ``H/4``.
``assume_divisible=False`` keeps the exact nested floors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import sympy

from convcalc.analysis.receptive import FieldMap, axis_paddings, pool_kernel
from convcalc.errors import ConvcalcError
from convcalc.formulas import conv_output_size, pool_output_size
from convcalc.records import Report, Totals
from convcalc.trace import ELEMENTWISE_OPS, OpNode, Trace, op_key

H = sympy.Symbol("H", positive=True, integer=True)
W = sympy.Symbol("W", positive=True, integer=True)
_h = sympy.Symbol("h", positive=True, integer=True)
_w = sympy.Symbol("w", positive=True, integer=True)


class SymbolicUnsupportedError(ConvcalcError):
    """A model containing an op whose output size convcalc cannot express symbolically."""


Shape = tuple
ShapeHandler = Callable[[OpNode, list, dict, Trace], list]


def _concrete(trace: Trace, vid: str) -> Shape:
    return tuple(sympy.Integer(d) for d in trace.shapes.get(vid, ()))


def _conv(op, ins, consts, trace):
    x = ins[0]
    wshape = trace.shapes[op.inputs[1]]
    a = op.attrs
    strides, dil = a.get("strides", [1, 1]), a.get("dilations", [1, 1])
    pads = axis_paddings(a.get("paddings"), a.get("padding_algorithm"))
    out = [conv_output_size(x[2 + i], wshape[2 + i], strides[i], pads[i], dil[i]) for i in (0, 1)]
    return [(x[0], sympy.Integer(wshape[0]), *out)]


def _pool(op, ins, consts, trace):
    x = ins[0]
    a = op.attrs
    if a.get("global_pooling"):
        return [(x[0], x[1], sympy.Integer(1), sympy.Integer(1))]
    if a.get("adaptive"):
        return [(x[0], x[1], *_concrete(trace, op.outputs[0])[2:])]
    kernel = pool_kernel(op, consts)
    strides = a.get("strides", kernel)
    pads = axis_paddings(a.get("paddings"), a.get("padding_algorithm"))
    ceil = bool(a.get("ceil_mode", False))
    out = [pool_output_size(x[2 + i], kernel[i], strides[i], pads[i], ceil) for i in (0, 1)]
    return [(x[0], x[1], *out)] + [(x[0], x[1], *out)] * (len(op.outputs) - 1)


def _broadcast(op, ins, consts, trace):
    out_c = _concrete(trace, op.outputs[0])
    shapes = [s for s in ins if isinstance(s, tuple)]
    result = []
    for pos in range(1, len(out_c) + 1):
        chosen = out_c[-pos]
        for s in shapes:
            if len(s) >= pos and not (s[-pos].is_number and s[-pos] == 1 and out_c[-pos] != 1):
                conc = trace.shapes.get(op.inputs[ins.index(s)], ())
                if len(conc) >= pos and conc[-pos] == out_c[-pos]:
                    chosen = s[-pos]
                    break
        result.append(chosen)
    first = tuple(reversed(result))
    return [first] + [_concrete(trace, v) for v in op.outputs[1:]]


def _combine(op, ins, consts, trace):
    return [list(ins)]


def _unpack(op, ins, consts, trace):
    bundle = ins[0]
    if isinstance(bundle, _SplitOf):
        pieces = []
        for vid in op.outputs:
            conc = _concrete(trace, vid)
            pieces.append(tuple(conc[i] if i == bundle.axis else d for i, d in enumerate(bundle.shape)))
        return pieces
    return list(bundle) if isinstance(bundle, list) else [_concrete(trace, v) for v in op.outputs]


def _axis(consts, vid, rank, default=0) -> int:
    axis = consts.get(vid, default)
    if isinstance(axis, list):
        axis = axis[0] if axis else default
    return int(axis) % rank if rank else 0


def _concat(op, ins, consts, trace):
    parts = ins[0]
    rank = len(parts[0])
    axis = _axis(consts, op.inputs[1], rank, 0) if len(op.inputs) > 1 else 0
    out = list(parts[0])
    out[axis] = sympy.Add(*[p[axis] for p in parts])
    return [tuple(out)]


def _add_n(op, ins, consts, trace):
    return [tuple(ins[0][0])]


@dataclass(frozen=True)
class _SplitOf:
    """A split's vector output: pieces keep every dim of ``shape`` except ``axis``."""

    shape: tuple
    axis: int


def _split(op, ins, consts, trace):
    x = ins[0]
    rank = len(x)
    axis = _axis(consts, op.inputs[-1], rank, 0)
    if axis >= rank - 2 and rank >= 4:
        raise SymbolicUnsupportedError(f"split along a spatial axis (op #{op.index})", "use a concrete report")
    return [_SplitOf(x, axis) for _ in op.outputs]


def _flatten(op, ins, consts, trace):
    x = ins[0]
    rank = len(x)
    start = op.attrs.get("start_axis", 1) % rank
    stop = op.attrs.get("stop_axis", -1) % rank
    return [tuple(x[:start]) + (sympy.Mul(*x[start : stop + 1]),) + tuple(x[stop + 1 :])]


def _reshape(op, ins, consts, trace):
    x = ins[0]
    before = trace.shapes.get(op.inputs[0], ())
    after = _concrete(trace, op.outputs[0])
    if len(after) >= 4 and len(before) >= 4 and tuple(int(d) for d in after[-2:]) == tuple(before[-2:]):
        return [tuple(after[:-2]) + tuple(x[-2:])] + [_concrete(trace, v) for v in op.outputs[1:]]
    if len(after) == 2 and len(before) >= 2 and int(after[0]) == before[0]:
        return [(x[0], sympy.Mul(*x[1:]))] + [_concrete(trace, v) for v in op.outputs[1:]]
    if all(not d.free_symbols for d in x):
        return [after] + [_concrete(trace, v) for v in op.outputs[1:]]
    raise SymbolicUnsupportedError(
        f"a reshape to {list(map(int, after))} (op #{op.index}) cannot be followed symbolically",
        "use a concrete report (without --symbolic)",
    )


def _transpose(op, ins, consts, trace):
    x = ins[0]
    return [tuple(x[i] for i in op.attrs.get("perm", range(len(x))))]


def _squeeze(op, ins, consts, trace):
    x = ins[0]
    axes = consts.get(op.inputs[1], []) if len(op.inputs) > 1 else []
    rank = len(x)
    axes = {int(a) % rank for a in (axes if isinstance(axes, list) else [axes])}
    if not axes:
        axes = {i for i, d in enumerate(x) if d.is_number and d == 1}
    return [tuple(d for i, d in enumerate(x) if i not in axes)] + [
        _concrete(trace, v) for v in op.outputs[1:]
    ]


def _unsqueeze(op, ins, consts, trace):
    x = list(ins[0])
    axes = consts.get(op.inputs[1], []) if len(op.inputs) > 1 else []
    for a in sorted(int(a) for a in (axes if isinstance(axes, list) else [axes])):
        x.insert(a if a >= 0 else len(x) + a + 1, sympy.Integer(1))
    return [tuple(x)] + [_concrete(trace, v) for v in op.outputs[1:]]


def _matmul(op, ins, consts, trace):
    x, y = ins[0], ins[1]
    tx, ty = op.attrs.get("transpose_x", False), op.attrs.get("transpose_y", False)
    m = x[-1] if tx else x[-2]
    n = y[-2] if ty else y[-1]
    return [tuple(x[:-2]) + (m, n)]


def _reduce(op, ins, consts, trace):
    x = ins[0]
    after = trace.shapes.get(op.outputs[0], ())
    rank = len(x)
    axes = consts.get(op.inputs[1], []) if len(op.inputs) > 1 else op.attrs.get("axis", [])
    axes = {int(a) % rank for a in (axes if isinstance(axes, list) else [axes])} or set(range(rank))
    keep = len(after) == rank
    out = [sympy.Integer(1) if i in axes else d for i, d in enumerate(x) if keep or i not in axes]
    return [tuple(out)]


HANDLERS: dict[str, ShapeHandler] = {
    "conv2d": _conv,
    "depthwise_conv2d": _conv,
    "pool2d": _pool,
    "max_pool2d_with_index": _pool,
    "builtin.combine": _combine,
    "builtin.split": _unpack,
    "concat": _concat,
    "add_n": _add_n,
    "split": _split,
    "split_with_num": _split,
    "flatten": _flatten,
    "reshape": _reshape,
    "transpose": _transpose,
    "squeeze": _squeeze,
    "unsqueeze": _unsqueeze,
    "matmul": _matmul,
    "mean": _reduce,
    "sum": _reduce,
    "max": _reduce,
}
for _name in ELEMENTWISE_OPS:
    HANDLERS[_name] = _broadcast


def total_stride(trace: Trace) -> tuple[int, int]:
    """The network's total stride (height, width): the largest product of strides on any path.

    A jump-only walk of the graph: conv/pool multiply it by their stride,
    every other op passes on the largest jump of its inputs (unlike the
    receptive field, a gating multiply by a globally pooled branch does not
    end it).
    """
    jumps: dict = {trace.input_value: (1, 1)}
    best = (1, 1)
    for op in trace.ops:
        ins = [jumps[v] for v in op.inputs if v in jumps]
        if not ins:
            continue
        jh, jw = max(j[0] for j in ins), max(j[1] for j in ins)
        if op_key(op.name) in ("conv2d", "depthwise_conv2d", "pool2d", "max_pool2d_with_index"):
            if not (op.attrs.get("adaptive") or op.attrs.get("global_pooling")):
                sh, sw = (list(op.attrs.get("strides", [1, 1])) * 2)[:2]
                jh, jw = jh * int(sh), jw * int(sw)
        for v in op.outputs:
            jumps[v] = (jh, jw)
        best = (max(best[0], jh), max(best[1], jw))
    return best


def symbolic_shapes(trace: Trace, fields: FieldMap, assume_divisible: bool = True):
    """``(shapes, (H, W), notes, back)``: sizes by value id and the substitution to H, W.

    With divisibility assumed the shapes are in the internal symbols ``h = H/S``
    (so that rules simplify their floors too); ``back`` maps them to ``H``/``W``
    and is applied to the finished report by :func:`substitute_report`.
    """
    n, c, h0, w0 = trace.input_shape
    sh, sw = total_stride(trace)
    notes = []
    divisible = assume_divisible and h0 % sh == 0 and w0 % sw == 0
    if divisible:
        base = (sympy.Integer(n), sympy.Integer(c), sh * _h, sw * _w)
        back = {_h: H / sh, _w: W / sw}
        notes.append(f"sizes simplified for H divisible by {sh} and W divisible by {sw} (the total stride)")
    else:
        base = (sympy.Integer(n), sympy.Integer(c), H, W)
        back = {}
        if assume_divisible:
            notes.append(
                f"the traced input {h0}x{w0} is not a multiple of the total stride {sh}x{sw}: "
                "sizes are exact nested floor expressions"
            )
    shapes: dict = {trace.input_value: base}
    for op in trace.ops:
        ins = [shapes.get(v) for v in op.inputs]
        if not any(s is not None for s in ins):
            continue
        if op.name in ("builtin.parameter", "pd_op.data", "pd_op.full", "pd_op.full_int_array"):
            continue
        key = op_key(op.name)
        handler = HANDLERS.get(key)
        # Operands that do not depend on the input keep their concrete shapes.
        ins = [s if s is not None else _concrete(trace, v) for s, v in zip(ins, op.inputs)]
        if handler is None:
            raise SymbolicUnsupportedError(
                f"op {op.name} (#{op.index}) has no symbolic size rule",
                "use a concrete report (without --symbolic)",
            )
        outs = handler(op, ins, trace.constants, trace)
        for vid, shape in zip(op.outputs, outs):
            shapes[vid] = shape
    values = {_h: sympy.Integer(h0 // sh), _w: sympy.Integer(w0 // sw)} if divisible else {
        H: sympy.Integer(h0), W: sympy.Integer(w0)}
    cache: dict = {}
    for vid, shape in shapes.items():
        if not isinstance(shape, tuple):
            continue
        conc = trace.shapes.get(vid)
        if conc is None or len(conc) != len(shape):
            continue
        got = tuple(_xsubs(d, values, cache) for d in shape)
        if any(g != cc for g, cc in zip(got, conc)):
            raise ConvcalcError(
                f"internal check failed: symbolic shape {shape} gives {got} at {h0}x{w0}, traced {conc}",
                "please report this model; use a concrete report meanwhile",
            )
    # Keep only tensor shapes (drop bundles).
    shapes = {k: v for k, v in shapes.items() if isinstance(v, tuple)}
    for vid, conc in trace.shapes.items():
        shapes.setdefault(vid, tuple(sympy.Integer(d) for d in conc))
    return shapes, (H, W), notes, back


def _xsubs(expr, values: dict, cache: dict):
    """Structural substitution (``xreplace``), memoised: far faster than ``subs`` here."""
    expr = sympy.sympify(expr)
    try:
        return cache[expr]
    except KeyError:
        out = cache[expr] = expr.xreplace(values)
        return out


def _subs(expr, values, cache=None):
    return _xsubs(expr, values, {} if cache is None else cache)


def substitute_report(report: Report, values: dict) -> Report:
    """A symbolic report evaluated at concrete sizes (``{H: 224, W: 224}``)."""
    # Keys by name: 'H', sympy.Symbol('H') and the report's own H (positive integer) are the same size.
    values = {sympy.Symbol(str(k), positive=True, integer=True): sympy.sympify(v) for k, v in values.items()}
    cache: dict = {}

    def shape(s):
        return tuple(_subs(d, values, cache) for d in s)

    records = tuple(
        replace(
            r,
            input_shapes=tuple(shape(s) for s in r.input_shapes),
            output_shape=shape(r.output_shape),
            params_trainable=_subs(r.params_trainable, values, cache),
            params_non_trainable=_subs(r.params_non_trainable, values, cache),
            flops=_subs(r.flops, values, cache),
        )
        for r in report.records
    )
    t = report.totals
    totals = Totals(
        params=_subs(t.params, values),
        params_trainable=_subs(t.params_trainable, values),
        params_non_trainable=_subs(t.params_non_trainable, values),
        params_in_model=t.params_in_model,
        params_unused=t.params_unused,
        flops=_subs(t.flops, values),
        input_bytes=_subs(t.input_bytes, values),
        activation_bytes=_subs(t.activation_bytes, values),
        param_bytes=_subs(t.param_bytes, values),
    )
    return replace(report, input_shape=shape(report.input_shape), records=records, totals=totals, symbols=())


def simplify_report(report: Report) -> Report:
    """Expand every expression of a symbolic report (after substitution)."""
    def ex(e):
        return sympy.expand(e)

    records = tuple(
        replace(
            r,
            input_shapes=tuple(tuple(ex(d) for d in s) for s in r.input_shapes),
            output_shape=tuple(ex(d) for d in r.output_shape),
            flops=ex(r.flops),
        )
        for r in report.records
    )
    return replace(report, records=records)
