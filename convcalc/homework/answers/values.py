"""Checking one value of a homework file: numbers, shapes, tolerances, closed lists of keys.

Each check returns the clean value or raises the
:class:`~convcalc.errors.AnswerFileError` made by :meth:`Context.fail`, which
names the file, the line and the field, with the fix and a stable ``code``.
"""

from __future__ import annotations

import math
import re
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


def shape(ctx: Context, path: tuple, value: Any, high: int, example: str, min_dims: int = 1) -> tuple[int, ...]:
    """A shape as a list of whole numbers or a string like ``3x32x32``."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[xX*,\s]+", value.strip().strip("[]()")) if p]
        if not parts or not all(p.isdigit() and len(p) < 30 for p in parts):
            raise ctx.fail(path, f"malformed shape {value[:40]!r}", f"write e.g. {example}", "malformed")
        value = [int(p) for p in parts]
    if not isinstance(value, list):
        raise ctx.fail(path, f"expected a shape, got {kind_of(value)}", f"write e.g. {example}", "wrong_type")
    if not (min_dims <= len(value) <= 4):
        raise ctx.fail(
            path,
            f"a shape has {min_dims} to 4 dimensions, got {len(value)}",
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
