"""Render a :class:`~convcalc.explain.layers.Derivation`: text, rich text and JSON.

Each step prints as the formula in symbols, the numbers substituted and the
result, e.g.::

    output_height  (book eq. 5.6)  conv_output_size
        M' = ⌊(M + 2·P − U)/S⌋ + 1      (unicode, or LaTeX with latex=True)
           = floor((32 + 0 + 0 - 3)/1) + 1
           = 30

``to_text`` returns a plain string, ``to_rich`` the same lines as a
``rich.text.Text`` with styles, and ``to_json_dict`` a JSON-ready dict.  The
small value helpers here (``equation``, ``value``, ``jsonable``) are shared
with ``convcalc.render.formulas``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sympy

if TYPE_CHECKING:  # pragma: no cover
    from rich.text import Text

    from convcalc.explain.layers import Derivation

__all__ = ["to_text", "to_rich", "to_json_dict", "equation", "unicode", "value", "jsonable", "LHS"]

LHS = {
    "output_height": "M'",
    "output_width": "N'",
    "output_shape": "shape",
    "padding_height": "(P_before, P_after)",
    "padding_width": "(P_before, P_after)",
    "params": "parameters",
    "params_trainable": "trainable",
    "params_running": "running",
    "flops_paddle": "FLOPs",
    "flops_macs": "MACs",
    "flops_flops": "FLOPs",
    **{f"backward_{p}_{c}": ("dx" if p == "input" else "dW") for p in ("input", "weight")
       for c in ("paddle", "macs", "flops")},
    "rf_size": "r",
    "rf_jump": "j",
    "rf_start": "start",
}
"""The left-hand side printed for each step's quantity."""

_TITLES = {
    "flops_paddle": "FLOPs, paddle convention (= paddle.flops)",
    "flops_macs": "FLOPs, macs convention (multiply-accumulates)",
    "flops_flops": "FLOPs, flops convention (every arithmetic op)",
    "rf_size": "receptive field size (from one input pixel)",
    "rf_jump": "receptive field jump",
    "rf_start": "receptive field start (centre of the first unit's field)",
    **{f"backward_{part}_{c}": f"{what}, {c} convention" + (" (the forward count, per gradient)" if c == "paddle"
                                                             else "")
       for part, what in (("input", "input gradient dx (training)"), ("weight", "weight gradients dW (training)"))
       for c in ("paddle", "macs", "flops")},
}


# ------------------------------------------------------------------ value helpers
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _unicode_printer():
    """A one-line unicode printer: ``⌊(M + 2·P − U)/S⌋ + 1``.

    Built on sympy's ``StrPrinter``; sympy's 2-D pretty printer is avoided on
    purpose: its ``_print_Mul`` imports ``sympy.physics.units`` (~0.4 s), which
    would double the cold start of ``convcalc formulas``.
    """
    global _PRINTER
    if _PRINTER is None:
        from sympy.printing.str import StrPrinter

        class _Unicode(StrPrinter):
            def _print_floor(self, expr):
                return "⌊" + self._print(expr.args[0]) + "⌋"

            def _print_ceiling(self, expr):
                return "⌈" + self._print(expr.args[0]) + "⌉"

            def _print_Pow(self, expr, rational=False):
                base, exp = expr.args
                if exp.is_Integer and exp > 1:
                    return self.parenthesize(base, 60) + str(exp).translate(_SUPERSCRIPTS)
                return super()._print_Pow(expr, rational)

        _PRINTER = _Unicode({"order": None})
    return _PRINTER


_PRINTER = None
_MINUS = re.compile(r"(^|[\s(\[,])-")


def unicode(expr: Any) -> str:
    """One-line unicode form of a sympy value (``·`` for products, ``−`` for minus)."""
    if isinstance(expr, (tuple, list)):
        expr = sympy.Tuple(*expr)
    text = _unicode_printer().doprint(expr)
    return _MINUS.sub("\\1−", text.replace("*", "·"))


def equation(lhs: str, expr: Any, *, latex: bool = False) -> str:
    """``lhs = expr`` in one-line unicode, or in LaTeX."""
    if isinstance(expr, (tuple, list)):
        expr = sympy.Tuple(*expr)
    if latex:
        return f"{_latex_name(lhs)} = {sympy.latex(expr)}"
    return f"{lhs} = {unicode(expr)}"


def _latex_name(lhs: str) -> str:
    if len(lhs) == 1 or lhs in ("M'", "N'"):
        return lhs
    return r"\text{" + lhs.replace("_", r"\_") + "}"


def value(result: Any, *, latex: bool = False) -> str:
    """A result for people: integers with thousands separators, expressions in one-line unicode."""
    if isinstance(result, (tuple, list)):
        inner = ", ".join(value(r, latex=latex) for r in result)
        return f"({inner},)" if len(result) == 1 else f"({inner})"
    if isinstance(result, str):
        return result
    e = sympy.sympify(result)
    if latex:
        return sympy.latex(e)
    if e.is_Integer:
        return f"{int(e):,}"
    return unicode(e)


def jsonable(result: Any) -> Any:
    """Integers stay integers, tuples become lists, other expressions become strings."""
    if isinstance(result, (tuple, list, sympy.Tuple)):
        return [jsonable(r) for r in result]
    if result is None or isinstance(result, (bool, int, str)):
        return result
    if isinstance(result, sympy.Basic) and result.is_Integer:
        return int(result)
    return str(result)


# ------------------------------------------------------------------ derivation
def _config_text(derivation: Derivation) -> str:
    shape = "x".join(str(v) for v in derivation.input_shape)
    opts = ", ".join(
        f"{k}={v!r}" if isinstance(v, str) else f"{k}={value(v)}" for k, v in derivation.config.items()
    )
    head = f"{derivation.kind} on input {shape}"
    return f"{head}: {opts}" if opts else head


def _blocks(derivation: Derivation, latex: bool) -> list[tuple[str, list[str]]]:
    """(heading, body lines) per step."""
    blocks = []
    for step in derivation.steps:
        lhs = LHS.get(step.quantity, step.quantity)
        eq = f"book eq. {step.equation}" if step.equation else "not in the book"
        fn = f", {step.formula}" if step.formula else ""
        title = _TITLES.get(step.quantity, step.quantity.replace("_", " "))
        heading = f"{title}  ({eq}{fn})"
        sym_lines = equation(lhs, step.symbolic, latex=latex).split("\n")
        # align the "= numbers" / "= result" lines under the first "="
        eq_col = max((line.find(" = ") for line in sym_lines), default=-1)
        indent = " " * (eq_col + 1 if eq_col >= 0 else 0)
        result = value(step.result, latex=latex)
        body = sym_lines + [f"{indent}= {step.substituted}"]
        if result.replace(" ", "") != step.substituted.replace(" ", ""):  # nothing left to evaluate
            body.append(f"{indent}= {result}")
        blocks.append((heading, body))
    return blocks


def to_text(derivation: Derivation, *, latex: bool = False) -> str:
    """The derivation as plain text (pretty unicode formulas, or LaTeX)."""
    out = [_config_text(derivation), ""]
    for heading, body in _blocks(derivation, latex):
        out.append(heading)
        out.extend("    " + line for line in body)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def to_rich(derivation: Derivation, *, latex: bool = False) -> Text:
    """The same lines as :func:`to_text`, styled for a terminal."""
    from rich.text import Text

    text = Text()
    text.append(_config_text(derivation) + "\n\n", style="bold")
    for heading, body in _blocks(derivation, latex):
        text.append(heading + "\n", style="bold cyan")
        for i, line in enumerate(body):
            style = "green bold" if i == len(body) - 1 else ("dim" if i == len(body) - 2 else "")
            text.append("    " + line + "\n", style=style)
        text.append("\n")
    return text


def to_json_dict(derivation: Derivation) -> dict:
    """A JSON-ready dict: kind, config, input shape and every step (symbolic as text and LaTeX)."""
    return {
        "kind": derivation.kind,
        "config": {k: jsonable(v) for k, v in derivation.config.items()},
        "input_shape": jsonable(derivation.input_shape),
        "steps": [
            {
                "quantity": s.quantity,
                "equation": s.equation,
                "formula": s.formula,
                "symbolic": str(s.symbolic),
                "latex": sympy.latex(s.symbolic),
                "substituted": s.substituted,
                "result": jsonable(s.result),
            }
            for s in derivation.steps
        ],
    }
