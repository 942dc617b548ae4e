"""Stored zoo reports for other input sizes: the report written in ``N``, ``H`` and ``W``, with the conditions
under which it is the live one (generation only: needs Paddle and sympy).

:mod:`convcalc.analysis.stored` writes each zoo model's report at its default sample; this module adds,
where it can prove them, the expressions that give the same report at another height and width (same
channels and dtype).  Per batch ``n`` in 1, 2, 3 the model is traced at its default size and analysed twice,
concretely and symbolically with exact floors (:mod:`convcalc.analysis.symbolic`, ``assume_divisible=False``).
Then:

1. **Alignment.** The symbolic report, evaluated at the default size, must be the concrete one leaf for
   leaf (a leaf that is an expression there must give the concrete number; every other leaf must be equal).
   Any difference, or a model the symbolic analysis cannot follow, and the model is stored for its default
   size only (:class:`Unsized`).
2. **Batch.** The three aligned forms are merged as the batch-only data is: an expression ``e(n)`` must be
   linear in ``n`` (checked at 3), stored as ``e(1) + (N - 1)*(e(2) - e(1))``.
3. **Conditions** (all checked by the reader before it serves a size; any that fails: trace live):

   - every size of every value that follows the input is positive (else Paddle or the trace decides);
   - the symbolic report's own conditions (shape tests taken in ``forward``, fixed-size layers, squeezes);
   - receptive-field *regimes*: the fields are propagated again on :class:`TracedInt` sizes, ints that carry
     their expression in ``H`` and ``W`` and log every decision taken on them (a comparison, a truth test, a
     use as a plain number pins the size).  Where every logged decision goes the same way the propagation
     runs exactly as it did, so the stored fields and field gaps are the live ones.  Each of
     :data:`SAMPLES` whose propagation gives the same fields adds its own decisions as another regime (an OR);
   The inference peak is no condition: the live report's peak is the first op with the most bytes alive,
   and the reader runs the same sweep on the stored buffers (birth, death, bytes as expressions).

Every expression is printed as plain integer arithmetic (:mod:`convcalc.analysis.size_exprs`) and checked
against sympy at several sizes before it is written.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

import sympy

from convcalc.analysis.symbolic import H, W
from convcalc.errors import ConvcalcError

__all__ = ["N", "Unsized", "SAMPLES", "sized_form"]

N = sympy.Symbol("N", positive=True, integer=True)
# Sample sizes whose receptive-field regimes are recorded too, the common ones first: square sides from 32
# to 512 and a few non-square ones (97x131, the example of an odd size).
SAMPLES = [(64, 64), (97, 131), (32, 32), (128, 128), (96, 96), (160, 160), (192, 192), (256, 256), (320, 320),
           (384, 384), (512, 512), (48, 48), (131, 97), (64, 80), (75, 75), (150, 200), (320, 288)]
MAX_ALTERNATIVES = 6  # other regimes stored per model (each is traced once when the data is written)
CHECK_AT = ((1, 97, 131), (3, 64, 50), (2, 301, 33), (5, 32, 32))  # where printed code must equal sympy


class Unsized(ConvcalcError):
    """A model whose report convcalc cannot store in sizes (it is stored for its default size only)."""


class _Sym:
    """A symbolic leaf met while aligning a symbolic report with the concrete one."""

    __slots__ = ("expr",)

    def __init__(self, expr: Any) -> None:
        self.expr = expr

    def __repr__(self) -> str:
        return f"_Sym({self.expr})"


def sym_leaf(value: Any, where: str) -> Any:
    """``stored._plain``'s form of a sympy value: an int, or a :class:`_Sym` when it follows the input."""
    if isinstance(value, sympy.Basic):
        if value.is_Integer:
            return int(value)
        if isinstance(value, sympy.Expr) and value.free_symbols <= {H, W}:
            return _Sym(value)
    raise Unsized(f"{where}: {value!r} has no stored form in sizes", "stored for the default size only")


# ----------------------------------------------------------------------------- 1. alignment
def align(concrete: Any, symbolic: Any, at: dict, where: str = "report") -> Any:
    """The symbolic plain form, checked leaf for leaf against the concrete one at the traced size ``at``."""
    if isinstance(symbolic, _Sym):
        if type(concrete) is not int or symbolic.expr.xreplace(at) != concrete:
            raise Unsized(f"{where}: {symbolic.expr} is not {concrete!r} at the traced size",
                          "stored for the default size only")
        return symbolic
    if isinstance(concrete, dict) and isinstance(symbolic, dict):
        if concrete.keys() != symbolic.keys():
            raise Unsized(f"{where}: the symbolic report has other fields", "stored for the default size only")
        if concrete.get("$") == "Report":  # a concrete report states no symbols and no conditions
            symbolic = dict(symbolic, symbols=concrete["symbols"], conditions=concrete["conditions"])
        return {k: align(concrete[k], symbolic[k], at, f"{where}.{k}") for k in concrete}
    if isinstance(concrete, list) and isinstance(symbolic, list) and len(concrete) == len(symbolic):
        return [align(a, b, at, f"{where}[{i}]") for i, (a, b) in enumerate(zip(concrete, symbolic))]
    if type(concrete) is not type(symbolic) or concrete != symbolic:
        raise Unsized(f"{where}: {symbolic!r} in the symbolic report, {concrete!r} in the concrete one",
                      "stored for the default size only")
    return concrete


# ----------------------------------------------------------------------------- 2. batch
def merge(a: Any, b: Any, c: Any, intern, plain_merge, where: str = "report") -> Any:
    """One node from the aligned forms at batch 1, 2, 3 (``intern``: expression -> its index; ``plain_merge``:
    the batch-only data's merge of leaves that are no expressions, ``stored._merge``)."""
    if isinstance(a, dict) and isinstance(b, dict) and isinstance(c, dict):
        if not a.keys() == b.keys() == c.keys():
            raise Unsized(f"{where} changes form with the batch", "stored for the default size only")
        return {k: merge(a[k], b[k], c[k], intern, plain_merge, f"{where}.{k}") for k in a}
    if isinstance(a, list) and isinstance(b, list) and isinstance(c, list):
        if not len(a) == len(b) == len(c):
            raise Unsized(f"{where} changes length with the batch", "stored for the default size only")
        return [merge(x, y, z, intern, plain_merge, f"{where}[{i}]") for i, (x, y, z) in enumerate(zip(a, b, c))]
    if not any(isinstance(v, _Sym) for v in (a, b, c)):
        return plain_merge(a, b, c, where)
    if not all(isinstance(v, (_Sym, int)) and not isinstance(v, bool) for v in (a, b, c)):
        raise Unsized(f"{where} changes type with the batch", "stored for the default size only")
    e1, e2, e3 = (_polynomial(sympy.sympify(v.expr if isinstance(v, _Sym) else v)) for v in (a, b, c))
    step = sympy.expand(e2 - e1)
    if sympy.expand(e3 - e2 - step) != 0:
        raise Unsized(f"{where} is not linear in the batch: {e1}, {e2}, {e3}", "stored for the default size only")
    return {"$e": intern(e1 + (N - 1) * step if step != 0 else e1)}


def _polynomial(e: Any) -> Any:
    """``e`` with a division by a size cancelled (an attention rule's ``L*L*D/L``): a polynomial in the sizes
    and floor atoms where it is one (else left as it is, and printing it refuses)."""
    if e.is_number or sympy.fraction(sympy.together(e))[1].is_number:
        return e
    return sympy.cancel(e)


# ----------------------------------------------------------------------------- 3. receptive-field regimes
class TracedInt(int):
    """An int that remembers its expression in ``H`` and ``W`` and logs every decision taken on it.

    Comparisons and truth tests log the relation as it came out; a use as a plain number (``int()``,
    an index, a hash, text) logs ``expression == value``; arithmetic with ``+ - * // %`` keeps the
    expression.  Any other int operation pins the value first, so nothing reads the size unlogged.
    """

    log: list = []

    def __new__(cls, value: int, expr: Any) -> TracedInt:
        obj = int.__new__(cls, value)
        obj.expr = expr
        return obj

    def _plain(self) -> int:
        return int.__int__(self)

    def pin(self) -> int:
        if self.expr.free_symbols:
            TracedInt.log.append(sympy.Eq(self.expr, self._plain()))
        return self._plain()

    def _other(self, other: Any) -> tuple[int, Any]:
        if isinstance(other, TracedInt):
            return other._plain(), other.expr
        return int(other), sympy.Integer(int(other))

    def _decide(self, other: Any, rel, test) -> Any:
        if isinstance(other, bool) or not isinstance(other, int):
            return NotImplemented
        value, expr = self._other(other)
        outcome = test(self._plain(), value)
        relation = rel(self.expr, expr)
        if relation not in (sympy.true, sympy.false):
            TracedInt.log.append(relation if outcome else sympy.Not(relation))
        return outcome

    def __eq__(self, o):
        return self._decide(o, sympy.Eq, operator.eq)

    def __ne__(self, o):
        return self._decide(o, sympy.Ne, operator.ne)

    def __lt__(self, o):
        return self._decide(o, sympy.Lt, operator.lt)

    def __le__(self, o):
        return self._decide(o, sympy.Le, operator.le)

    def __gt__(self, o):
        return self._decide(o, sympy.Gt, operator.gt)

    def __ge__(self, o):
        return self._decide(o, sympy.Ge, operator.ge)

    def __bool__(self):
        return self._decide(0, sympy.Ne, operator.ne)

    def _arith(self, other: Any, op, right: bool = False) -> Any:
        if isinstance(other, bool) or not isinstance(other, int):
            return NotImplemented
        value, expr = self._other(other)
        a, b = (value, self._plain()) if right else (self._plain(), value)
        ea, eb = (expr, self.expr) if right else (self.expr, expr)
        return TracedInt(op(a, b), op(ea, eb))

    def __add__(self, o):
        return self._arith(o, lambda a, b: a + b)

    def __radd__(self, o):
        return self._arith(o, lambda a, b: a + b, True)

    def __sub__(self, o):
        return self._arith(o, lambda a, b: a - b)

    def __rsub__(self, o):
        return self._arith(o, lambda a, b: a - b, True)

    def __mul__(self, o):
        return self._arith(o, lambda a, b: a * b)

    def __rmul__(self, o):
        return self._arith(o, lambda a, b: a * b, True)

    def __floordiv__(self, o):
        return self._arith(o, _floordiv)

    def __rfloordiv__(self, o):
        return self._arith(o, _floordiv, True)

    def __mod__(self, o):
        return self._arith(o, lambda a, b: a - b * _floordiv(a, b))

    def __rmod__(self, o):
        return self._arith(o, lambda a, b: a - b * _floordiv(a, b), True)

    def __neg__(self):
        return TracedInt(-self._plain(), -self.expr)

    def __hash__(self):
        return hash(self.pin())

    def __int__(self):
        return self.pin()

    def __index__(self):
        return self.pin()

    def __str__(self):
        return str(self.pin())

    __repr__ = __str__

    def __format__(self, spec):
        return format(self.pin(), spec)


def _floordiv(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    return sympy.floor(a / b)


def _pinned(name: str):
    real = getattr(int, name)

    def method(self, *args):
        return real(self.pin(), *(a.pin() if isinstance(a, TracedInt) else a for a in args))

    method.__name__ = name
    return method


for _name in ("__abs__", "__pos__", "__invert__", "__pow__", "__rpow__", "__truediv__", "__rtruediv__",
              "__divmod__", "__rdivmod__", "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__rxor__",
              "__lshift__", "__rlshift__", "__rshift__", "__rrshift__", "__float__", "__round__", "__trunc__",
              "__floor__", "__ceil__", "bit_length", "to_bytes", "as_integer_ratio",
              "conjugate", "__getnewargs__"):
    setattr(TracedInt, _name, _pinned(_name))


def _pin_all(value: Any) -> Any:
    """Every :class:`TracedInt` inside ``value`` pinned (a field that holds a size holds only at that size);
    the same structure with plain ints."""
    if isinstance(value, TracedInt):
        return value.pin()
    if isinstance(value, (tuple, list)):
        return type(value)(_pin_all(v) for v in value)
    if isinstance(value, dict):
        return {k: _pin_all(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple((f.name, _pin_all(getattr(value, f.name))) for f in dataclasses.fields(value))
    return value


def _fields_at(trace: Any, shapes: dict, at: dict | None) -> tuple[Any, list]:
    """(the propagated fields as plain data, every size decision taken) with sizes that follow the input traced
    (``at``: evaluate them at another ``H``, ``W``; None: the traced size)."""
    from convcalc.analysis.receptive import GraphView, propagate

    traced = {}
    for vid, conc in trace.shapes.items():
        sym = shapes.get(vid)
        if sym is None or len(sym) != len(conc):
            traced[vid] = conc
            continue
        dims = []
        for d, e in zip(conc, sym):
            e = sympy.sympify(e)
            if not e.free_symbols:
                dims.append(d)
                continue
            value = int(e.xreplace(at)) if at else int(d)
            if value <= 0:
                raise Unsized("a size is not positive at this sample", "")
            dims.append(TracedInt(value, e))
        traced[vid] = tuple(dims)
    TracedInt.log = []
    fields = propagate(GraphView(trace.ops, traced, trace.constants, trace.input_value))
    states = [s.public() for s in fields.states.values() if hasattr(s, "public")]  # (value ids differ by trace)
    signature = _pin_all((states, list(fields.unsupported_ops), list(fields.misaligned), dict(fields.input_dims)))
    log, TracedInt.log = list(dict.fromkeys(TracedInt.log)), []
    return signature, log


def field_regimes(trace: Any, shapes: dict, samples=SAMPLES) -> tuple[list, list]:
    """The receptive-field regimes met at the traced size and at ``samples``: (guard sets of the traced
    fields, ``[(signature, [(sample, guard set), ...]), ...]`` for each other set of fields met).

    A guard set is a list of relations in ``H``, ``W``: where every one holds, the propagation gives exactly
    the fields of the size it was logged at.  :class:`Unsized` when the propagation on traced sizes does not
    give the concrete fields.
    """
    from convcalc.analysis.receptive import GraphView, propagate

    plain = propagate(GraphView(trace.ops, trace.shapes, trace.constants, trace.input_value))
    truth = _pin_all(([s.public() for s in plain.states.values() if hasattr(s, "public")],
                      list(plain.unsupported_ops), list(plain.misaligned), dict(plain.input_dims)))
    base, guards = _fields_at(trace, shapes, None)
    if base != truth:
        raise Unsized("the fields on traced sizes differ from the concrete ones", "stored for the default size only")
    regimes, others = [guards], []
    for h, w in samples:
        try:
            signature, found = _fields_at(trace, shapes, {H: h, W: w})
        except Unsized:
            continue
        except Exception:  # noqa: BLE001 - a sample where the propagation itself fails: not a regime
            TracedInt.log = []
            continue
        if signature == base:
            if found not in regimes:
                regimes.append(found)
            continue
        group = next((g for g in others if g[0] == signature), None)
        if group is None:
            others.append((signature, [((h, w), found)]))
        elif found not in [f for _, f in group[1]]:
            group[1].append(((h, w), found))
    return regimes, others


def alternatives(runs_regimes: list) -> list[tuple[tuple[int, int], list]]:
    """The other regimes that hold at every batch: (a sample size to trace for its fields, its guard sets).

    A regime met at batch 1 is kept only where batches 2 and 3 meet the same fields under the same guards
    (so that its fields, traced once, hold for any batch as the rest of the data does)."""
    kept = []
    first, *rest = [others for _, others in runs_regimes]
    for signature, found in first:
        sets = [g for _, g in found]
        if all(any(sig == signature and [g for _, g in f] == sets for sig, f in others) for others in rest):
            kept.append((found[0][0], sets))
    return kept[:MAX_ALTERNATIVES]


# ----------------------------------------------------------------------------- memory
def memory_sweep(trace: Any, shapes: dict) -> dict:
    """The inference-peak sweep of :mod:`convcalc.analysis.memory` as data: buffers (born, dies, bytes as
    :class:`_Sym` or int), the ops in order (index, computes) and the traced peak's op."""
    from convcalc.analysis.memory import Liveness, inference_peak
    from convcalc.trace.op_names import BOOKKEEPING_OPS

    live = Liveness(trace)
    at = {H: trace.input_shape[2], W: trace.input_shape[3]}
    buffers = []
    for b in live.buffers.values():
        nbytes = sympy.sympify(live.value_bytes(b.value, shapes))
        if nbytes.xreplace(at) != b.nbytes:
            raise Unsized(f"buffer {b.value}: {nbytes} is not {b.nbytes} bytes at the traced size",
                          "stored for the default size only")
        buffers.append([b.born, b.dies, _Sym(nbytes) if nbytes.free_symbols else int(nbytes)])
    ops = [[op.index, int(op.name not in BOOKKEEPING_OPS)] for op in trace.ops]
    return {"buffers": buffers, "ops": ops, "peak": inference_peak(trace).op}


# ----------------------------------------------------------------------------- printing (sympy -> integer code)
def _int_den(den: Any, e: Any) -> str:
    if not den.is_Integer or den <= 0:
        raise Unsized(f"cannot write {e} as integer arithmetic (denominator {den})", "stored for the default size only")
    return str(int(den))


def _poly(e: Any) -> str:
    """An integer-valued polynomial in the sizes and atoms as Python (no division)."""
    if e.is_Integer:
        return f"({int(e)})" if e < 0 else str(int(e))
    if e.is_Symbol:
        return e.name
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        num, den = sympy.fraction(sympy.together(e.args[0]))
        top, bottom = _poly(sympy.expand(num)), _int_den(den, e)
        return f"(({top})//{bottom})" if isinstance(e, sympy.floor) else f"(-((-({top}))//{bottom}))"
    if isinstance(e, (sympy.Max, sympy.Min)):
        return ("max(" if isinstance(e, sympy.Max) else "min(") + ", ".join(py_expr(a) for a in e.args) + ")"
    if e.is_Add:
        return "(" + " + ".join(_poly(a) for a in e.args) + ")"
    if e.is_Mul:
        return "(" + "*".join(_poly(a) for a in e.args) + ")"
    if e.is_Pow and e.exp.is_Integer and 0 < e.exp <= 8:
        return f"({_poly(e.base)})**{int(e.exp)}"
    raise Unsized(f"cannot write {e!r} ({type(e).__name__}) as integer arithmetic", "stored for the default size only")


def py_expr(e: Any) -> str:
    """A sympy expression that is an integer at every size, as exact Python integer arithmetic."""
    e = sympy.sympify(e)
    num, den = sympy.fraction(sympy.together(e))
    if den != 1:
        return f"({_poly(sympy.expand(num))})//{_int_den(den, e)}"
    return _poly(e)


_RELATIONS = {sympy.Eq: "==", sympy.Ne: "!=", sympy.StrictGreaterThan: ">", sympy.GreaterThan: ">=",
              sympy.StrictLessThan: "<", sympy.LessThan: "<="}


def py_relation(rel: Any) -> str:
    """A sympy relation (or And/Or/Not of them) as a Python comparison."""
    if rel is sympy.true:
        return "True"
    if rel is sympy.false:
        return "False"
    if isinstance(rel, sympy.And):
        return "(" + " and ".join(py_relation(a) for a in rel.args) + ")"
    if isinstance(rel, sympy.Or):
        return "(" + " or ".join(py_relation(a) for a in rel.args) + ")"
    if isinstance(rel, sympy.Not):
        return f"(not {py_relation(rel.args[0])})"
    for cls, op in _RELATIONS.items():
        if isinstance(rel, cls):
            return f"({py_expr(rel.lhs)} {op} {py_expr(rel.rhs)})"
    raise Unsized(f"cannot write the condition {rel!r} as Python", "stored for the default size only")


def shared_atoms(items: list) -> tuple[list, dict]:
    """Every floor/ceiling in ``items`` as a named atom, defined once, innermost first: (atoms, mapping)."""
    found: set = set()
    for e in items:
        found |= sympy.sympify(e).atoms(sympy.floor, sympy.ceiling)
    order = sorted(found, key=lambda a: (len(a.atoms(sympy.floor, sympy.ceiling)), sympy.count_ops(a), str(a)))
    mapping: dict = {}
    atoms = []
    for k, atom in enumerate(order):
        sym = sympy.Symbol(f"f{k}", integer=True)
        atoms.append([sym.name, _poly(atom.func(atom.args[0].xreplace(mapping)))])
        mapping[atom] = sym
    return atoms, mapping


# ----------------------------------------------------------------------------- the whole form
def sized_form(runs: list, plain, plain_merge, conventions: tuple[str, ...]) -> tuple[dict, dict]:
    """(node per convention, the ``sizes`` block) of one model from its runs at batch 1, 2, 3.

    ``runs``: per batch, ``(concrete reports by convention, symbolic reports by convention, trace, shapes)``;
    ``plain``, ``plain_merge``: :func:`convcalc.analysis.stored._plain` (``other=`` the symbolic leaf form) and
    ``stored._merge`` (passed in: this module is imported by ``stored`` only when it writes).
    :class:`Unsized` when any step cannot be proved at the traced size.
    """
    from convcalc.analysis.size_exprs import Sizes

    trace0 = runs[0][2]
    h0, w0 = trace0.input_shape[2], trace0.input_shape[3]
    at = {H: h0, W: w0}
    exprs: list = []
    index: dict = {}

    def intern(e: Any) -> int:
        e = sympy.sympify(e)
        if e not in index:
            index[e] = len(exprs)
            exprs.append(e)
        return index[e]

    nodes = {}
    for c in conventions:
        aligned = [align(plain(conc[c], "report"),
                         plain(dataclasses.replace(sym[c], symbols=(), conditions=()), "report", sym_leaf), at)
                   for conc, sym, _, _ in runs]
        nodes[c] = merge(*aligned, intern, plain_merge)
    sweeps = [memory_sweep(trace, shapes) for _, _, trace, shapes in runs]
    memory = merge(*sweeps, intern, plain_merge, "memory")
    dims = sorted({intern(d) for shape in runs[0][3].values() for d in shape
                   if isinstance(d, sympy.Expr) and d.free_symbols})
    checks = list(dict.fromkeys((cond.relation, cond.where) for _, sym, _, _ in runs
                                for cond in sym[conventions[0]].conditions))
    found = [field_regimes(trace, shapes) for _, _, trace, shapes in runs]
    regimes = {str(n): sets for n, (sets, _) in enumerate(found, 1)}
    others = alternatives(found)
    relations = ([r for r, _ in checks] + [g for sets in regimes.values() for gs in sets for g in gs]
                 + [g for _, sets in others for gs in sets for g in gs])
    atoms, mapping = shared_atoms(exprs + [side for r in relations for side in _sides(r)])
    sizes = {
        "atoms": atoms,
        "exprs": [py_expr(e.xreplace(mapping)) for e in exprs],
        "dims": dims,
        "checks": [[py_relation(r.xreplace(mapping)), where] for r, where in checks],
        "regimes": {n: [[py_relation(g.xreplace(mapping)) for g in gs] for gs in sets] for n, sets in regimes.items()},
        "memory": memory,
        "alternatives": [{"sample": list(sample),
                          "guards": [[py_relation(g.xreplace(mapping)) for g in gs] for gs in sets]}
                         for sample, sets in others],
    }
    compiled = Sizes(sizes["atoms"], sizes["exprs"])
    for n, h, w in (*CHECK_AT, *((n, h0, w0) for n in (1, 2, 3))):
        env = compiled.env(n, h, w)
        point = {N: n, H: h, W: w}
        for e, got in zip(exprs, compiled.values(env)):
            if e.xreplace(point) != got:
                raise Unsized(f"{e} is {e.xreplace(point)} by sympy, {got} printed", "please report this")
        for r, (text, _) in zip((r for r, _ in checks), sizes["checks"]):
            if bool(r.xreplace(point)) != compiled.holds(text, env):
                raise Unsized(f"the condition {r} prints wrongly as {text}", "please report this")
        for n_run, sets in regimes.items():
            for gs, texts in zip(sets, sizes["regimes"][n_run]):
                for g, text in zip(gs, texts):
                    if bool(g.xreplace(point)) != compiled.holds(text, env):
                        raise Unsized(f"the guard {g} prints wrongly as {text}", "please report this")
        for (_, sets), alt in zip(others, sizes["alternatives"]):
            for gs, texts in zip(sets, alt["guards"]):
                for g, text in zip(gs, texts):
                    if bool(g.xreplace(point)) != compiled.holds(text, env):
                        raise Unsized(f"the guard {g} prints wrongly as {text}", "please report this")
    return nodes, sizes


def _sides(rel: Any) -> list:
    """The expressions a relation (or a Boolean of relations) compares."""
    if isinstance(rel, (sympy.And, sympy.Or, sympy.Not)):
        return [s for a in rel.args for s in _sides(a)]
    return [rel.lhs, rel.rhs] if hasattr(rel, "lhs") else []
