"""Shape tests taken while tracing: ``if x.shape[-1] > 16:`` in a forward becomes data.

Paddle builds the static program by running ``forward`` once at the traced
size; a Python ``if`` on a shape is decided there and leaves no trace in the
program, so a symbolic report would silently hold only on one side of it.
While the program is built, :func:`recording` makes ``Value.shape`` (as read
by user code) return :class:`TracedDim` integers: ordinary ints that remember
which value and dimension they came from, through ``+ - * // %``, and record
every comparison with its outcome.  The symbolic analysis later writes each
placeholder as its symbolic size and turns the records into the report's
conditions ("valid for W > 16").
"""

from __future__ import annotations

import contextlib
import operator
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sympy

__all__ = ["ShapeGuard", "GuardLog", "TracedDim", "recording"]

# Expressions are kept as small trees while tracing (a concrete report never needs them, so sympy is not
# imported then) and turned into sympy only when a symbolic report reads them:
# ("sym", name) | ("int", value) | (op, a, b) for op in _ARITH; a relation is (rel, a, b) for rel in _RELATIONS.
_ARITH = ("add", "sub", "mul", "floordiv", "mod")
_RELATIONS = ("gt", "ge", "lt", "le", "eq", "ne")


def _to_sympy(tree: tuple, symbols: dict) -> Any:
    import sympy

    kind = tree[0]
    if kind == "sym":
        return symbols[tree[1]]
    if kind == "int":
        return sympy.Integer(tree[1])
    a, b = _to_sympy(tree[1], symbols), _to_sympy(tree[2], symbols)
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    if kind == "floordiv":
        return sympy.floor(a / b)
    if kind == "mod":
        return sympy.Mod(a, b)
    return {"gt": sympy.Gt, "ge": sympy.Ge, "lt": sympy.Lt, "le": sympy.Le,
            "eq": lambda x, y: sympy.Eq(x, y, evaluate=False),
            "ne": lambda x, y: sympy.Ne(x, y, evaluate=False)}[kind](a, b)


@dataclass(frozen=True)
class ShapeGuard:
    """One comparison on shapes, evaluated to ``holds`` at ``where``; ``relation`` is it in placeholder symbols."""

    tree: tuple
    holds: bool
    where: str
    log: Any = field(default=None, compare=False, repr=False)

    @property
    def relation(self) -> sympy.Basic:
        return _to_sympy(self.tree, self.log.symbols)


@dataclass
class GuardLog:
    """The guards of one trace and what each placeholder stands for: ``(value id, dimension)``."""

    guards: list[ShapeGuard] = field(default_factory=list)
    names: dict = field(default_factory=dict)  # placeholder name -> (value id, dimension)
    _by_key: dict = field(default_factory=dict, repr=False, compare=False)  # its inverse (a lookup per read)

    def placeholder(self, vid: str, dim: int) -> tuple:
        name = self._by_key.get((vid, dim))
        if name is None:
            name = self._by_key[(vid, dim)] = f"_shape_{len(self.names)}"
            self.names[name] = (vid, dim)
        return ("sym", name)

    @property
    def symbols(self) -> dict:
        """Placeholder name -> its sympy symbol (imports sympy)."""
        import sympy

        return {name: sympy.Symbol(name, integer=True) for name in self.names}

    @property
    def placeholders(self) -> dict:
        """Placeholder sympy symbol -> ``(value id, dimension)`` (imports sympy)."""
        symbols = self.symbols
        return {symbols[name]: key for name, key in self.names.items()}


_PADDLE_DIR = ""


def _user_frame(depth: int):
    """The first frame outside Paddle and this module (the user's forward), or None."""
    f = sys._getframe(depth)
    while f is not None and (f.f_code.co_filename.startswith(_PADDLE_DIR) or f.f_code.co_filename == __file__):
        f = f.f_back
    return f


def _describe(frame) -> str:
    """``Branchy.forward: if x.shape[-1] > 16`` (Paddle runs a rewritten copy of forward: name the method)."""
    if frame is None:
        return "forward"
    import linecache

    owner = frame.f_locals.get("self")
    name = f"{type(owner).__name__}.{frame.f_code.co_name}" if owner is not None else frame.f_code.co_name
    path, lineno = frame.f_code.co_filename, frame.f_lineno
    try:  # map the rewritten line back to the user's own (as Paddle's error messages do)
        from paddle.jit.dy2static.origin_info import global_origin_info_map

        origin = global_origin_info_map.get((path, lineno))
        if origin is not None:
            path, lineno = origin.location.filepath, origin.location.lineno
    except ImportError:
        pass
    line = linecache.getline(path, lineno).strip()
    where = f"{name} ({os.path.basename(path)}:{lineno})"
    return f"{where}: {line}" if line else where


class TracedDim(int):
    """An int read from a traced shape that remembers its expression and logs comparisons."""

    expr: tuple
    log: GuardLog

    def __new__(cls, value: int, expr: tuple, log: GuardLog) -> TracedDim:
        obj = super().__new__(cls, value)
        obj.expr, obj.log = expr, log
        return obj

    __hash__ = int.__hash__

    def _arith(self, other, op, name, reflected=False):
        if isinstance(other, bool) or not isinstance(other, int):
            return op(other, int(self)) if reflected else op(int(self), other)
        a, b = self.expr, (other.expr if isinstance(other, TracedDim) else ("int", int(other)))
        x, y = (b, a) if reflected else (a, b)
        value = op(int(other), int(self)) if reflected else op(int(self), int(other))
        if name in ("floordiv", "mod") and int(other if not reflected else self) == 0:
            return value
        return TracedDim(value, (name, x, y), self.log)

    def __add__(self, o):
        return self._arith(o, operator.add, "add")

    def __radd__(self, o):
        return self._arith(o, operator.add, "add", True)

    def __sub__(self, o):
        return self._arith(o, operator.sub, "sub")

    def __rsub__(self, o):
        return self._arith(o, operator.sub, "sub", True)

    def __mul__(self, o):
        return self._arith(o, operator.mul, "mul")

    def __rmul__(self, o):
        return self._arith(o, operator.mul, "mul", True)

    def __floordiv__(self, o):
        return self._arith(o, operator.floordiv, "floordiv")

    def __rfloordiv__(self, o):
        return self._arith(o, operator.floordiv, "floordiv", True)

    def __mod__(self, o):
        return self._arith(o, operator.mod, "mod")

    def _compare(self, other, op, rel):
        holds = op(int(self), other if not isinstance(other, TracedDim) else int(other))
        if isinstance(other, int) and not isinstance(other, bool):
            b = other.expr if isinstance(other, TracedDim) else ("int", int(other))
            where = _describe(_user_frame(3))
            self.log.guards.append(ShapeGuard((rel, self.expr, b), bool(holds), where, self.log))
        return holds

    def __gt__(self, o):
        return self._compare(o, operator.gt, "gt")

    def __ge__(self, o):
        return self._compare(o, operator.ge, "ge")

    def __lt__(self, o):
        return self._compare(o, operator.lt, "lt")

    def __le__(self, o):
        return self._compare(o, operator.le, "le")

    def __eq__(self, o):
        return self._compare(o, operator.eq, "eq")

    def __ne__(self, o):
        return self._compare(o, operator.ne, "ne")


@contextlib.contextmanager
def recording() -> Iterator[GuardLog]:
    """While active, shapes of program values read by user code are :class:`TracedDim` lists."""
    global _PADDLE_DIR
    import paddle
    from paddle.pir import Value

    _PADDLE_DIR = os.path.dirname(paddle.__file__) + os.sep
    log = GuardLog()
    real = Value.shape

    def traced_shape(value):
        dims = real.fget(value)
        caller = sys._getframe(1)
        name = caller.f_code.co_filename
        if name.startswith(_PADDLE_DIR) and caller.f_code.co_name != "convert_shape":
            return dims  # Paddle's own checks
        try:
            vid = value.id
        except Exception:  # noqa: BLE001 - values without an id are not tracked
            return dims
        return [TracedDim(int(d), log.placeholder(vid, i), log) if int(d) >= 0 else d for i, d in enumerate(dims)]

    Value.shape = property(traced_shape)
    try:
        yield log
    finally:
        Value.shape = real
