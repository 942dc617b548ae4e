"""Parsing of shape arguments such as ``--input 3x32x32`` or ``3xHxW``."""

from __future__ import annotations

import re

from convcalc.errors import InputSpecError

_DIM = re.compile(r"^(?:[1-9][0-9]*|[A-Za-z][A-Za-z0-9_]*)$")


def parse_shape(text: str, *, allow_symbols: bool = False, min_dims: int = 1, max_dims: int = 4) -> tuple:
    """``"3x32x32"`` -> ``(3, 32, 32)``; with ``allow_symbols``, ``"3xHxW"`` -> ``(3, H, W)``.

    Accepts ``x``, ``X``, ``*``, ``,`` or spaces between dimensions.  Symbols
    come back as positive integer sympy symbols.  Raises
    :class:`~convcalc.errors.InputSpecError` with the fix on anything else.
    """
    raw = str(text).strip().strip("[]()")
    parts = [p for p in re.split(r"[xX*,\s]+", raw) if p]
    example = "3xHxW" if allow_symbols else "3x32x32"
    if not parts or not all(_DIM.match(p) for p in parts):
        raise InputSpecError(
            f"malformed shape {text!r}",
            f"write positive whole numbers joined by 'x', e.g. {example}",
        )
    if not (min_dims <= len(parts) <= max_dims):
        raise InputSpecError(
            f"shape {text!r} has {len(parts)} dimension(s), expected "
            + (f"{min_dims}" if min_dims == max_dims else f"{min_dims} to {max_dims}"),
            f"write it like {example}",
        )
    dims: list = []
    for p in parts:
        if p.isdigit():
            dims.append(int(p))
        elif allow_symbols:
            import sympy

            dims.append(sympy.Symbol(p, positive=True, integer=True))
        else:
            raise InputSpecError(
                f"shape {text!r} contains the symbol {p!r}",
                "use numbers here (symbols need --symbolic or explain)",
            )
    return tuple(dims)
