"""Render the formula catalogue (:mod:`convcalc.formulas.catalog`): text, rich text, JSON."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import sympy

from convcalc.render.derivation import equation

if TYPE_CHECKING:  # pragma: no cover
    from rich.text import Text

    from convcalc.formulas.catalog import FormulaInfo

__all__ = ["to_text", "to_rich", "to_json_list", "entry_json"]

_GROUP_TITLES = {
    "shapes": "Output sizes",
    "params": "Parameters",
    "flops": "FLOPs (conventions: paddle = paddle.flops and the book; macs; flops = every op)",
    "backward": "Backward: one training step's gradients (paddle = forward per gradient; macs; flops = every op)",
    "receptive": "Receptive field (one axis, in input pixels)",
}


def _lines(entries: Iterable[FormulaInfo], latex: bool) -> list[tuple[str, str]]:
    """(line, style) pairs shared by the text and rich renderers."""
    out: list[tuple[str, str]] = []
    group = None
    for e in entries:
        if e.group != group:
            group = e.group
            if out:
                out.append(("", ""))
            out.append((f"== {_GROUP_TITLES.get(group, group)} ==", "bold magenta"))
            out.append(("", ""))
        seed = f"book eq. {e.equations}" if e.equations else "not in the book"
        out.append((f"{e.name}  ({seed})", "bold cyan"))
        out.append((f"    {e.description}", ""))
        out.append((f"    symbols: {e.legend}", "dim"))
        for form in e.forms:
            label = f"[{form.label}] " if form.label else ""
            rendered = equation(form.lhs, form.expr, latex=latex).split("\n")
            if label and len(rendered) == 1:
                out.append((f"    {label}{rendered[0]}", ""))
                continue
            if label:
                out.append((f"    {label}", "italic"))
            out.extend((f"      {line}", "") for line in rendered)
        out.append(("", ""))
    while out and not out[-1][0]:
        out.pop()
    return out


def to_text(entries: Iterable[FormulaInfo], *, latex: bool = False) -> str:
    """The catalogue (or one entry) as plain text: pretty unicode or LaTeX."""
    return "\n".join(line for line, _ in _lines(entries, latex)) + "\n"


def to_rich(entries: Iterable[FormulaInfo], *, latex: bool = False) -> Text:
    """The same lines as :func:`to_text`, styled for a terminal."""
    from rich.text import Text

    text = Text()
    for line, style in _lines(entries, latex):
        text.append(line + "\n", style=style)
    return text


def entry_json(e: FormulaInfo) -> dict:
    """One entry as a JSON-ready dict (each form as text and LaTeX)."""
    return {
        "name": e.name,
        "group": e.group,
        "equations": e.equations,
        "description": e.description,
        "symbols": e.legend,
        "forms": [
            {
                "condition": f.label,
                "lhs": f.lhs,
                "expr": str(f.expr),
                "latex": sympy.latex(f.expr),
            }
            for f in e.forms
        ],
    }


def to_json_list(entries: Iterable[FormulaInfo]) -> list[dict]:
    """The catalogue as a JSON-ready list."""
    return [entry_json(e) for e in entries]
