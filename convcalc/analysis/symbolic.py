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

from convcalc.analysis.receptive import FieldMap, axis_paddings, pool_kernel, spatial_dims
from convcalc.analysis.records import (
    Condition,
    LayerRecord,
    Report,
    expand_report,
    replace_symbols,
    substitute_report,
)
from convcalc.analysis.records import cached_xreplace as _xsubs
from convcalc.errors import ConvcalcError
from convcalc.formulas import conv_output_size, pool_output_size
from convcalc.trace.graph import OpNode, Trace
from convcalc.trace.op_names import ELEMENTWISE_OPS, op_key

__all__ = ["H", "W", "SymbolicUnsupportedError", "symbolic_shapes", "finish_symbolic", "total_stride",
           "substitute_report"]

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


def _placed(x: Shape, dims: list[int], values: list, channel=None) -> Shape:
    """``x`` with ``values`` at the spatial ``dims`` (and ``channel`` at the channel dim, if given)."""
    out = list(x)
    for d, v in zip(dims, values):
        out[d] = v
    if channel is not None:
        out[1 if dims[0] == 2 else len(x) - 1] = channel
    return tuple(out)


def _conv(op, ins, consts, trace):
    x = ins[0]
    wshape = trace.shapes[op.inputs[1]]
    a = op.attrs
    dims = spatial_dims(len(x), a.get("data_format"))
    n = len(dims)
    strides, dil = a.get("strides", [1] * n), a.get("dilations", [1] * n)
    pads = axis_paddings(a.get("paddings"), a.get("padding_algorithm"), n)
    out = [conv_output_size(x[d], wshape[2 + i], strides[i], pads[i], dil[i]) for i, d in enumerate(dims)]
    return [_placed(x, dims, out, sympy.Integer(wshape[0]))]


def _pool(op, ins, consts, trace):
    x = ins[0]
    a = op.attrs
    dims = spatial_dims(len(x), a.get("data_format"))
    n = len(dims)
    if a.get("global_pooling"):
        out = [sympy.Integer(1)] * n
    elif a.get("adaptive"):
        conc = _concrete(trace, op.outputs[0])
        out = [conc[d] for d in dims]
    else:
        kernel = pool_kernel(op, consts, n)
        strides = a.get("strides", kernel)
        pads = axis_paddings(a.get("paddings"), a.get("padding_algorithm"), n)
        ceil = bool(a.get("ceil_mode", False))
        out = [pool_output_size(x[d], kernel[i], strides[i], pads[i], ceil) for i, d in enumerate(dims)]
    return [_placed(x, dims, out)] * len(op.outputs)


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
    """A reshape as groups of dims with equal element counts: a dim kept keeps its size, merged dims multiply,
    a split of a size that follows the input cannot be followed (refused, never guessed)."""
    x = ins[0]
    before = [int(d) for d in trace.shapes.get(op.inputs[0], ())]
    after = _concrete(trace, op.outputs[0])
    rest = [_concrete(trace, v) for v in op.outputs[1:]]
    if all(not sympy.sympify(d).free_symbols for d in x):
        return [after] + rest
    if before == [int(d) for d in after]:
        return [tuple(x)] + rest
    out: list = [None] * len(after)
    ins_left = [i for i, d in enumerate(before) if d != 1]
    outs_left = [j for j, d in enumerate(after) if int(d) != 1]
    for j, d in enumerate(after):
        if int(d) == 1:
            out[j] = sympy.Integer(1)
    dropped = [i for i, d in enumerate(before) if d == 1 and sympy.sympify(x[i]).free_symbols]
    groups: list[tuple[list[int], list[int]]] = []
    i = j = 0
    ok = True
    while ok and i < len(ins_left) and j < len(outs_left):
        gi, gj = [ins_left[i]], [outs_left[j]]
        pi, pj = before[ins_left[i]], int(after[outs_left[j]])
        while pi != pj:
            if pi < pj:
                i += 1
                if i >= len(ins_left):
                    break
                gi.append(ins_left[i])
                pi *= before[ins_left[i]]
            else:
                j += 1
                if j >= len(outs_left):
                    break
                gj.append(outs_left[j])
                pj *= int(after[outs_left[j]])
        if pi != pj:
            ok = False
            break
        groups.append((gi, gj))
        sizes = [x[k] for k in gi]
        if len(gj) == 1:
            out[gj[0]] = sympy.Mul(*sizes)
        elif all(not sympy.sympify(d).free_symbols for d in sizes):
            for k in gj:
                out[k] = after[k]
        else:
            ok = False
        i += 1
        j += 1
    for k in dropped:  # a size that is 1 at the traced size joins the merged dim next to it, if any
        near = [g for g in groups if len(g[1]) == 1 and min(g[0]) - 1 <= k <= max(g[0]) + 1]
        if not near:
            ok = False
            break
        out[near[0][1][0]] = out[near[0][1][0]] * x[k]
    if ok and all(d is not None for d in out):
        return [tuple(out)] + rest
    raise SymbolicUnsupportedError(
        f"a reshape to {list(map(int, after))} (op #{op.index}) splits a size that follows the input, "
        "which cannot be followed symbolically",
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


def _slice_bounds(op, consts) -> list[tuple[int, int, int]] | None:
    """(axis, start, end) of a ``slice`` with constant bounds, or None."""
    starts, ends = consts.get(op.inputs[1]), consts.get(op.inputs[2]) if len(op.inputs) > 2 else None
    if starts is None or ends is None:
        return None
    starts, ends = (v if isinstance(v, list) else [v] for v in (starts, ends))
    return [(int(ax), int(a), int(b)) for ax, a, b in zip(op.attrs.get("axes", []), starts, ends)]


def _slice(op, ins, consts, trace):
    """``x[..., a:b, ...]`` with constant bounds: a size that follows the input keeps ``b - a`` where
    ``0 <= a < b`` (a condition, :func:`_fixed_size_conditions`, says it is at least ``b``); a fixed size is
    sliced as Python slices it; ``decrease_axis`` drops the axis.  Other bounds cannot be followed."""
    x = ins[0]
    bounds = _slice_bounds(op, consts)
    if bounds is None:
        raise SymbolicUnsupportedError(f"a slice with computed bounds (op #{op.index})",
                                       "use a concrete report (without --symbolic)")
    out = list(x)
    for axis, a, b in bounds:
        axis %= len(x)
        if sympy.sympify(x[axis]).free_symbols:
            if not 0 <= a < b <= int(trace.shapes[op.inputs[0]][axis]):
                raise SymbolicUnsupportedError(
                    f"a slice [{a}:{b}] of a size that follows the input (op #{op.index})",
                    "use a concrete report (without --symbolic)")
            out[axis] = sympy.Integer(b - a)
        else:
            out[axis] = sympy.Integer(len(range(*slice(a, b).indices(int(x[axis])))))
    dropped = {int(d) % len(x) for d in op.attrs.get("decrease_axis", [])}
    return [tuple(d for i, d in enumerate(out) if i not in dropped)]


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
    "slice": _slice,
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
    and is applied to the finished report by :func:`finish_symbolic`.
    """
    if trace.unknown_sizes:
        raise SymbolicUnsupportedError(
            "a size of this model depends on tensor values (" + next(iter(trace.unknown_sizes.values())) + ")",
            "use a concrete report (without --symbolic)")
    if len(trace.input_shape) != 4:
        raise SymbolicUnsupportedError(
            f"symbolic sizes take a 4-D input (N, C, H, W or N, H, W, C), not {list(trace.input_shape)}",
            "use a concrete report (without --symbolic)")
    dims = [fields.input_dims[a] for a in ("H", "W") if a in fields.input_dims]
    if len(dims) != 2:
        raise SymbolicUnsupportedError("symbolic sizes need an input with two spatial axes (H, W)",
                                       "use a concrete report (without --symbolic)")
    h0, w0 = (trace.input_shape[d] for d in dims)
    concrete_in = tuple(sympy.Integer(d) for d in trace.input_shape)
    sh, sw = total_stride(trace)
    notes = []
    divisible = assume_divisible and h0 % sh == 0 and w0 % sw == 0
    if divisible:
        base = _placed(concrete_in, dims, [sh * _h, sw * _w])
        back = {_h: H / sh, _w: W / sw}
        notes.append(f"sizes simplified for H divisible by {sh} and W divisible by {sw} (the total stride)")
    else:
        base = _placed(concrete_in, dims, [H, W])
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


def traced_values(trace: Trace, back: dict) -> dict:
    """The traced size in the symbols the shapes are written in (``h``/``w`` when divisible, else ``H``/``W``)."""
    h0, w0 = _hw_values(trace)
    if back:
        return {_h: sympy.Integer(h0) * back[_h].subs(H, 1), _w: sympy.Integer(w0) * back[_w].subs(W, 1)}
    return {H: sympy.Integer(h0), W: sympy.Integer(w0)}


def _where(trace: Trace, index: int) -> str:
    leaf = [c for c in trace.calls if c.is_leaf and c.op_start <= index < c.op_end]
    return f"layer {leaf[0].path} ({leaf[0].kind})" if leaf else f"op #{index}"


_BINARY_OPS = frozenset({"add", "subtract", "multiply", "divide", "maximum", "minimum", "elementwise_pow"})


def _fixed_size_conditions(trace: Trace, shapes: dict) -> list[tuple[sympy.Basic, str]]:
    """Equations where a size that follows the input meets a fixed one (a Linear's weight, a parameter added)."""
    found = []

    def symbolic(d) -> bool:
        return bool(sympy.sympify(d).free_symbols)

    for op in trace.ops:
        key = op_key(op.name)
        ins = [shapes.get(v) for v in op.inputs]
        if key == "matmul" and len(ins) >= 2 and ins[0] and ins[1]:
            x, y = ins[0], ins[1]
            kx = x[-2] if op.attrs.get("transpose_x") else x[-1]
            ky = y[-1] if op.attrs.get("transpose_y") else y[-2]
            if symbolic(kx) != symbolic(ky):
                found.append((sympy.Eq(kx, ky), f"{_where(trace, op.index)} takes {ky if not symbolic(ky) else kx} "
                              "features"))
        elif key in _BINARY_OPS and len([s for s in ins if s]) >= 2:
            live = [s for s in ins if s]
            for pos in range(1, max(len(s) for s in live) + 1):
                dims = [s[-pos] for s in live if len(s) >= pos]
                sym = [d for d in dims if symbolic(d)]
                fixed = [d for d in dims if not symbolic(d) and d != 1]
                if sym and fixed:
                    found.append((sympy.Eq(sym[0], fixed[0]), f"{_where(trace, op.index)} adds a fixed-size operand"))
        elif key == "squeeze" and len(op.inputs) > 1 and ins[0]:
            axes = trace.constants.get(op.inputs[1], [])
            for a in (axes if isinstance(axes, list) else [axes]):
                d = ins[0][int(a) % len(ins[0])]
                if symbolic(d):  # Paddle squeezes an axis only where its size is 1 (else it leaves it in place)
                    found.append((sympy.Eq(d, 1), f"{_where(trace, op.index)} squeezes an axis of size 1"))
        elif key == "slice" and ins[0]:
            for axis, a, b in _slice_bounds(op, trace.constants) or ():
                d = ins[0][axis % len(ins[0])]
                if symbolic(d):  # the slice keeps b - a only where the size reaches b
                    found.append((sympy.Ge(d, b), f"{_where(trace, op.index)} slices [{a}:{b}] of it"))
    return found


def _guard_conditions(trace: Trace, shapes: dict) -> list[tuple[sympy.Basic, str]]:
    """Shape tests in ``forward`` written in the report's symbols, each as the side the trace took."""
    log = trace.guards
    if log is None:
        return []
    values = {}
    for sym, (vid, dim) in log.placeholders.items():
        shape = shapes.get(vid)
        if shape is None or dim >= len(shape):
            continue
        values[sym] = shape[dim]
    found = []
    for g in log.guards:
        rel = g.relation.xreplace(values)
        if rel.free_symbols & set(log.placeholders):
            continue  # a value convcalc has no symbolic size for
        found.append((rel if g.holds else sympy.Not(rel), f"a shape test in {g.where}"))
    return found


def _simplified(rel: sympy.Basic) -> sympy.Basic:
    try:
        return sympy.simplify(rel)
    except Exception:  # noqa: BLE001 - sympy may refuse on floors; keep the relation as is
        return rel


def finish_symbolic(report: Report, trace: Trace, shapes: dict, back: dict,
                    concrete_records: Callable[[], list[LayerRecord]]) -> Report:
    """Self-check a symbolic report at the traced size, attach its conditions, and write it in ``H``/``W``.

    Every row's FLOPs and parameters, evaluated at the traced size, must equal
    the concrete report's (as shapes are checked in :func:`symbolic_shapes`).
    Conditions: the shape tests the forward took and the fixed-size layers met;
    each must hold at the traced size (else an internal error), those that hold
    everywhere are dropped.
    """
    values = traced_values(trace, back)
    cache: dict = {}
    for sym_rec, conc_rec in zip(report.records, concrete_records()):
        for what in ("flops", "params_trainable", "params_non_trainable"):
            got = sympy.sympify(_xsubs(getattr(sym_rec, what), values, cache))
            want = sympy.sympify(getattr(conc_rec, what))
            if sympy.simplify(got - want) != 0:
                raise ConvcalcError(
                    f"internal check failed: symbolic {what} of {sym_rec.path} ({sym_rec.kind}) "
                    f"{getattr(sym_rec, what)} gives {got} at the traced size, the concrete report {want}",
                    "please report this model; use a concrete report meanwhile")
    at = tuple(zip((H, W), _hw_values(trace)))
    conditions: list[Condition] = []
    seen = set()
    for kind, found in (("range", _guard_conditions(trace, shapes)), ("fixed", _fixed_size_conditions(trace, shapes))):
        for rel, where in found:
            holds = rel.xreplace(values)
            if holds is sympy.false:
                raise ConvcalcError(
                    f"internal check failed: condition {rel} ({where}) is false at the traced size",
                    "please report this model; use a concrete report meanwhile")
            rel = _simplified(rel.xreplace(back)) if back else _simplified(rel)
            if rel is sympy.true or rel in seen:
                continue
            seen.add(rel)
            conditions.append(Condition(kind, rel, where, at if kind == "fixed" else ()))
    sh, sw = (sympy.simplify(sym / back[small]) for sym, small in ((H, _h), (W, _w))) if back else (1, 1)
    if sh != 1 or sw != 1:  # sizes simplified for H, W multiples of the total stride: a condition, not only a note
        conditions.append(Condition(
            "divisible", sympy.And(sympy.Eq(sympy.Mod(H, sh), 0), sympy.Eq(sympy.Mod(W, sw), 0)),
            f"sizes simplified for H divisible by {sh} and W divisible by {sw} (the total stride)"))
    symbols = (H, W)
    if back:
        report = replace_symbols(report, back)
    return replace(expand_report(report), symbols=symbols, conditions=tuple(conditions))


def _hw_values(trace: Trace) -> tuple[int, int]:
    from convcalc.analysis.receptive import input_axes

    dims = input_axes(trace)
    return trace.input_shape[dims["H"]], trace.input_shape[dims["W"]]
