"""Checking one value of a homework file: numbers, shapes, tolerances, closed lists of keys.

Each check returns the clean value or raises the
:class:`~convcalc.errors.AnswerFileError` made by :meth:`Context.fail`, which
names the file, the line and the field, with the fix and a stable ``code``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from convcalc.homework.answers.source import HUGE, Context, dotted
from convcalc.homework.spec import CONVENTIONS, MAX_ANSWER, Tolerance

__all__ = [
    "check_keys",
    "as_table",
    "kind_of",
    "whole",
    "number",
    "string",
    "boolean",
    "shape",
    "pair",
    "per_axis",
    "AXIS_KEYS",
    "tolerances",
    "convention",
]


def check_keys(ctx: Context, path: tuple, table: Mapping, allowed: tuple[str, ...], what: str) -> None:
    for key in table:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            fix = (f"did you mean {close[0]!r}? " if close else "") + "allowed: " + ", ".join(allowed)
            raise ctx.fail(path + (key,), f"unknown field {key!r} in {what}", fix, "unknown_field")


def as_table(ctx: Context, path: tuple, value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ctx.fail(
            path,
            f"expected a table ({what}), got {kind_of(value)}",
            f"write it as [{dotted(path)}] or {{ ... }}",
        )
    return value


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        if value.startswith(HUGE):
            return f"a number of {value[len(HUGE) :]} digits"
        return f"the string {value[:40]!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}" if abs(value) < 1e20 else "a huge number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def whole(ctx: Context, path: tuple, value: Any, low: int, high: int, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and low <= value <= high:
            return int(value)
        raise ctx.fail(path, f"expected a whole number, got {kind_of(value)}", f"write e.g. {example}", "wrong_type")
    if value < low or value > high:
        shown = f"{value}" if abs(value) < 10**30 else "the number"
        raise ctx.fail(path, f"{shown} is out of range ({low} to {high})", f"write e.g. {example}", "out_of_range")
    return value


def number(ctx: Context, path: tuple, value: Any, example: str) -> int | float:
    """An answer number (int, or float such as 1.512e5), at most :data:`MAX_ANSWER` in size."""
    if isinstance(value, str) and value.startswith(HUGE):
        raise ctx.fail(
            path,
            f"the number is too large ({value[len(HUGE) :]} digits, more than {MAX_ANSWER:.0e})",
            f"write e.g. {example}",
            "too_large",
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.fail(path, f"expected a number, got {kind_of(value)}", f"write e.g. {example}", "wrong_type")
    if isinstance(value, float) and not math.isfinite(value):
        raise ctx.fail(path, f"{value} is not a finite number", f"write e.g. {example}", "not_finite")
    if abs(value) > MAX_ANSWER:
        raise ctx.fail(
            path, f"the number is too large (more than {MAX_ANSWER:.0e})", f"write e.g. {example}", "too_large"
        )
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def string(ctx: Context, path: tuple, value: Any, example: str, max_len: int = 500) -> str:
    if not isinstance(value, str):
        raise ctx.fail(path, f"expected a string, got {kind_of(value)}", f"write e.g. {example}", "wrong_type")
    if len(value) > max_len:
        raise ctx.fail(path, f"the string is longer than {max_len} characters", "shorten it")
    return value


def boolean(ctx: Context, path: tuple, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ctx.fail(path, f"expected true or false, got {kind_of(value)}", "write true or false", "wrong_type")
    return value


_SHAPE_SPLIT = re.compile(r"[xX×*,\s]+")
_SHAPE_TEXT = re.compile(r"[0-9]{1,29}(?:(?:\s*[xX×*,]\s*|\s+)[0-9]{1,29})*")


def shape(
    ctx: Context, path: tuple, value: Any, high: int, example: str, min_dims: int = 1, max_dims: int = 4
) -> tuple[int, ...]:
    """A shape as a list of whole numbers or a string: ``3x32x32``, ``3×32×32`` (the docs' ×), ``3 x 32 x 32``,
    ``"[1, 8, 13, 13]"`` (as paddle.summary prints it), full-width digits (``６ｘ３０``) after NFKC."""
    if isinstance(value, str):
        # NFKC turns full-width ６ｘ３０ into 6x30, but also a superscript 30² into 302: refuse those first
        # (category No), and then accept only [0-9] (str.isdigit is true for ², which int() refuses).
        text = unicodedata.normalize("NFKC", value).strip().strip("[]()")
        parts = [p for p in _SHAPE_SPLIT.split(text) if p]
        superscript = any(unicodedata.category(ch) == "No" for ch in value)
        if superscript or not _SHAPE_TEXT.fullmatch(text):
            raise ctx.fail(path, f"malformed shape {value[:40]!r}", f"write e.g. {example}", "malformed")
        value = [int(p) for p in parts]
    if not isinstance(value, list):
        raise ctx.fail(path, f"expected a shape, got {kind_of(value)}", f"write e.g. {example}", "wrong_type")
    if not (min_dims <= len(value) <= max_dims):
        raise ctx.fail(
            path,
            f"a shape has {min_dims} to {max_dims} dimensions, got {len(value)}",
            f"write e.g. {example}",
        )
    return tuple(whole(ctx, path, v, 1, high, example) for v in value)


def pair(ctx: Context, path: tuple, value: Any, low: int, high: int, example: str) -> int | tuple[int, int]:
    if isinstance(value, list):
        if len(value) != 2:
            raise ctx.fail(
                path,
                f"expected one number or [height, width], got a list of {len(value)}",
                f"write e.g. {example}",
            )
        return (
            whole(ctx, path, value[0], low, high, example),
            whole(ctx, path, value[1], low, high, example),
        )
    return whole(ctx, path, value, low, high, example)


AXIS_KEYS: dict[str, str] = {
    "l": "l",
    "length": "l",
    "d": "d",
    "depth": "d",
    "h": "h",
    "height": "h",
    "w": "w",
    "width": "w",
}
"""The names a per-axis table may use for each spatial axis (any case)."""
_AXIS_SETS = {("l",): ("l",), ("h", "w"): ("h", "w"), ("d", "h", "w"): ("d", "h", "w")}


def per_axis(ctx: Context, path: tuple, value: Any, example: str, read: Any) -> Any:
    """A value with one entry per spatial axis: a number (every axis the same), a list in axis order
    (``[h, w]``), or a table ``{ h = .., w = .. }`` (also ``height``/``width``, any case; ``l`` for 1-D,
    ``d, h, w`` for 3-D).  ``read(ctx, path, raw)`` reads one entry.  A list or table comes back as a
    tuple in axis order; whether it has as many entries as the question has axes is graded later."""
    name = dotted(path).rsplit(".", 1)[-1]
    fix = f"write e.g. {example}, {name} = [6, 7] (height, width) or {name} = {{ h = 6, w = 7 }}"
    if isinstance(value, list):
        if not 1 <= len(value) <= 3:
            raise ctx.fail(path, f"expected one value per axis, got a list of {len(value)}", fix, "malformed")
        return tuple(read(ctx, path, v) for v in value)
    if isinstance(value, Mapping):
        axes: dict[str, Any] = {}
        for key, raw in value.items():
            axis = AXIS_KEYS.get(str(key).strip().lower())
            if axis is None or axis in axes:
                raise ctx.fail(path, f"unknown axis {str(key)[:20]!r} in a per-axis table", fix, "malformed")
            axes[axis] = raw
        order = _AXIS_SETS.get(tuple(a for a in ("l", "d", "h", "w") if a in axes))
        if order is None:
            given = ", ".join(a for a in ("l", "d", "h", "w") if a in axes)
            raise ctx.fail(path, f"a per-axis table needs every axis (h and w), got only {given}", fix, "malformed")
        return tuple(read(ctx, path, axes[a]) for a in order)
    return read(ctx, path, value)


def tolerances(ctx: Context, path: tuple, value: Any, allowed: tuple[str, ...]) -> dict[str, Tolerance]:
    table = as_table(ctx, path, value, "tolerance per field")
    check_keys(ctx, path, table, tuple(a for a in allowed if a != "rows"), "tolerance")
    out: dict[str, Tolerance] = {}
    for key, raw in table.items():
        p = path + (key,)
        if isinstance(raw, str):
            m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*", raw)
            if not m or float(m.group(1)) > 100:
                raise ctx.fail(
                    p,
                    f"malformed tolerance {raw[:40]!r}",
                    'write a number (absolute, e.g. 10) or a percentage (e.g. "1%")',
                )
            out[key] = Tolerance(relative=float(m.group(1)) / 100)
        else:
            amount = number(ctx, p, raw, '10 or "1%"')
            if amount < 0:
                raise ctx.fail(p, "a tolerance cannot be negative", 'write e.g. 10 or "1%"')
            out[key] = Tolerance(absolute=float(amount))
    return out


def convention(ctx: Context, path: tuple, value: Any) -> str:
    text = string(ctx, path, value, '"paddle"').lower()
    if text not in CONVENTIONS:
        raise ctx.fail(path, f"unknown FLOPs convention {value!r}", "choose one of: " + ", ".join(CONVENTIONS))
    return text
