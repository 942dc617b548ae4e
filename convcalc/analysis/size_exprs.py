"""Size expressions of stored zoo reports, evaluated as exact integer arithmetic without sympy or ``eval``.

A stored report that answers other input sizes (see :mod:`convcalc.analysis.stored`) holds its
size-dependent numbers as short Python expressions in the batch ``N``, the input's ``H`` and ``W``
and named floor/ceiling atoms (``f0 = (H - 1)//2``, each defined once, innermost first), and its
validity conditions as comparisons of such expressions.

The data ships with convcalc, but it is still data read by every ``convcalc report``: it is parsed
with :func:`ast.parse` and *interpreted* here node by node, never handed to ``eval``, ``exec`` or
``compile``.  Only these node types are accepted, anything else is :class:`BadExpression`:

- ``Expression``, ``Constant`` (an ``int``, or ``True``/``False``), ``Name`` (``N``, ``H``, ``W`` or an
  atom defined before it): numbers and the sizes themselves;
- ``BinOp`` with ``+ - * //`` and ``**`` (to a constant exponent 0..8), ``UnaryOp`` ``-`` and ``not``:
  exact integer arithmetic (floors are ``//``; a ceiling is written ``-((-a)//b)``);
- ``Call`` of ``max`` or ``min`` (sympy's Max/Min), ``Compare`` with ``== != < <= > >=`` and ``BoolOp``
  ``and``/``or``: the conditions.

Division is floor division of Python ints, so an expression gives exactly what sympy's ``floor``
gives; the generator checks every expression against sympy at several sizes before writing it.
"""

from __future__ import annotations

import ast
import operator

from convcalc.errors import ConvcalcError

__all__ = ["BadExpression", "Sizes"]

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
           ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}
_CALLS = {"max": max, "min": min}
SIZE_NAMES = ("N", "H", "W")


class BadExpression(ConvcalcError):
    """A stored expression outside the restricted grammar (a damaged or forged file)."""


def _bad(node: ast.AST, text: str) -> BadExpression:
    return BadExpression(f"a stored size expression uses {type(node).__name__}: {text[:80]!r}",
                         "regenerate: convcalc validate --write-zoo-data")


def _value(node: ast.AST, env: dict, text: str):
    """The value of one parsed node (only the accepted node types; see the module docstring)."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise BadExpression(f"a stored size expression names {node.id!r}, defined nowhere before it",
                                "regenerate: convcalc validate --write-zoo-data")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left, env, text), _value(node.right, env, text)
        if isinstance(node.op, ast.Pow) and not (isinstance(node.right, ast.Constant) and 0 <= right <= 8):
            raise _bad(node, text)
        if isinstance(node.op, ast.FloorDiv) and right == 0:
            raise BadExpression(f"a stored size expression divides by 0: {text[:80]!r}",
                                "trace it live: convcalc report MODEL --live")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        inner = _value(node.operand, env, text)
        return -inner if isinstance(node.op, ast.USub) else not inner
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS
            and node.args and not node.keywords):
        return _CALLS[node.func.id](_value(a, env, text) for a in node.args)
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _value(node.left, env, text)
        for op, comp in zip(node.ops, node.comparators):
            right = _value(comp, env, text)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp) and isinstance(node.op, (ast.And, ast.Or)):
        values = (_value(v, env, text) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    raise _bad(node, text)


def _parse(text: str) -> ast.AST:
    if not isinstance(text, str) or len(text) > 20_000:
        raise BadExpression("a stored size expression is not a short text", "regenerate: convcalc validate "
                            "--write-zoo-data")
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        raise BadExpression(f"a stored size expression does not parse: {text[:80]!r}",
                            "regenerate: convcalc validate --write-zoo-data") from None


class Sizes:
    """The atoms and expressions of one stored report, parsed once; :meth:`values` evaluates them at a size."""

    def __init__(self, atoms: list, exprs: list) -> None:
        self.atoms = [(str(name), _parse(text), text) for name, text in atoms]
        for name, _, _ in self.atoms:
            if not (name.startswith("f") and name[1:].isdigit()):
                raise BadExpression(f"a stored atom is named {name!r}", "regenerate: convcalc validate "
                                    "--write-zoo-data")
        self.exprs = [(_parse(text), text) for text in exprs]

    def env(self, n: int, h: int, w: int) -> dict:
        """The sizes and every atom's value at batch ``n`` and input ``h`` x ``w``."""
        env = {"N": n, "H": h, "W": w}
        for name, node, text in self.atoms:
            env[name] = _value(node, env, text)
        return env

    def values(self, env: dict) -> list:
        """Every expression's value (ints) in ``env``."""
        return [_value(node, env, text) for node, text in self.exprs]

    @staticmethod
    def holds(text: str, env: dict) -> bool:
        """Whether the stored condition ``text`` holds in ``env`` (it must give a bool)."""
        got = _value(_parse(text), env, text)
        if not isinstance(got, bool):
            raise BadExpression(f"a stored condition is not a comparison: {text[:80]!r}",
                                "regenerate: convcalc validate --write-zoo-data")
        return got
