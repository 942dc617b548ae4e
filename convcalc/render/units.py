"""Bytes as people read them: one function for every byte count convcalc prints.

Binary units, labelled as such (IEC): ``512 B``, ``1.5 KiB``, ``3.06 MiB``,
``1.20 GiB``; each value scaled on its own, so a 2,048-byte output reads
``2.0 KiB``, never ``0.00 MB``.  Rows, totals, ``diff``, HTML and Markdown all
call :func:`format_bytes`; JSON keeps exact integers (fields ending in ``_bytes``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["format_bytes", "format_bytes_delta", "UNITS"]

UNITS = (("B", 1), ("KiB", 1024), ("MiB", 1024**2), ("GiB", 1024**3), ("TiB", 1024**4))


def format_bytes(n: Any) -> str:
    """``512`` -> ``'512 B'``, ``1536`` -> ``'1.5 KiB'``, ``3211264`` -> ``'3.06 MiB'``; symbolic: ``'12*H*W B'``.

    >>> format_bytes(602112), format_bytes(2048), format_bytes(0), format_bytes(1288490189)
    ('588.0 KiB', '2.0 KiB', '0 B', '1.20 GiB')
    >>> format_bytes(1048575), format_bytes(1048524), format_bytes(2**30 - 1)
    ('1.00 MiB', '1,023.9 KiB', '1.00 GiB')
    """
    if not isinstance(n, (int, float)):
        import sympy

        value = sympy.sympify(n)
        if not value.is_number:
            return f"{sympy.sstr(value)} B"
        n = int(value) if value.is_Integer else float(value)
    sign, n = ("-" if n < 0 else ""), abs(n)
    if n < 1024:
        return f"{sign}{int(n):,} B" if float(n).is_integer() else f"{sign}{n:,.1f} B"
    for unit, size in UNITS[1:]:
        digits = 1 if unit == "KiB" else 2
        value = n / size
        if round(value, digits) < 1024 or unit == UNITS[-1][0]:  # 1,048,575 B is 1.00 MiB, not "1,024.0 KiB"
            return f"{sign}{value:,.{digits}f} {unit}"
    raise AssertionError("unreachable")


def format_bytes_delta(n: Any) -> str:
    """A signed difference: ``'+2.0 KiB'``, ``'-3.06 MiB'``, ``''`` for zero (as the other Δ columns)."""
    if n == 0:
        return ""
    text = format_bytes(n)
    return text if text.startswith("-") else "+" + text
