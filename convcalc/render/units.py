"""Byte counts as text: binary units (1 KiB = 1024 B), scaled per value, one helper for every renderer.

>>> format_bytes(512), format_bytes(2048), format_bytes(3_211_264), format_bytes(-25_088, signed=True)
('512 B', '2.0 KiB', '3.06 MiB', '-24.5 KiB')
"""

from __future__ import annotations

__all__ = ["BYTE_UNITS", "byte_unit", "format_bytes"]

BYTE_UNITS = (("B", 1), ("KiB", 1024), ("MiB", 1024**2), ("GiB", 1024**3), ("TiB", 1024**4))


def byte_unit(n: float) -> tuple[str, int]:
    """The unit ``(name, bytes)`` a value of ``n`` bytes is shown in: the largest that keeps it >= 1."""
    size = abs(n)
    name, scale = BYTE_UNITS[0]
    for unit, value in BYTE_UNITS:
        if size >= value:
            name, scale = unit, value
    return name, scale


def format_bytes(n: object, signed: bool = False) -> str:
    """``512 B``, ``1.5 KiB``, ``3.06 MiB``, ``1.20 GiB``; a value that is not a number is shown as it is."""
    if isinstance(n, bool) or not isinstance(n, (int, float)):
        try:
            n = int(n)  # a sympy Integer
        except (TypeError, ValueError):
            return str(n)
    sign = "+" if signed and n > 0 else ""
    unit, scale = byte_unit(n)
    if scale == 1:
        return f"{sign}{int(n):,} B"
    digits = 1 if unit == "KiB" else 2
    if round(abs(n) / scale, digits) >= 1024 and unit != BYTE_UNITS[-1][0]:  # 1,048,575 B: 1.00 MiB, not 1,024.0 KiB
        unit, scale = BYTE_UNITS[[u for u, _ in BYTE_UNITS].index(unit) + 1]
        digits = 2
    return f"{sign}{n / scale:,.{digits}f} {unit}"
