"""A student's answers: the ``[question.answer]`` table and its per-layer rows.

An answer that cannot be read (a wrong type, a misspelt field, a number too
large) does not invalidate the file: it becomes an
:class:`~convcalc.homework.spec.InvalidAnswer` that names the line, the field
and the fix, and every other answer is graded.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from convcalc.errors import AnswerFileError
from convcalc.homework.answers.source import Context
from convcalc.homework.answers.values import kind_of, number, per_axis, shape, string
from convcalc.homework.spec import (
    AXES,
    COUNT,
    FIELD,
    FIELD_KINDS,
    MAX_ANSWER,
    MAX_ROWS,
    ROW_FIELDS,
    SHAPE,
    SIZE,
    InvalidAnswer,
    RowAnswer,
)

__all__ = ["Answers", "answer_value", "parse_answers", "unknown_key"]


WHOLE_WORDS = ("whole", "all", "whole input")


def _count(ctx: Context, path: tuple, raw: Any, name: str, example: str) -> Any:
    value = number(ctx, path, raw, example)
    if value < 0:
        raise ctx.fail(path, f"{name} cannot be negative", f"write e.g. {example}", "negative")
    return value


def _rf_size(ctx: Context, path: tuple, raw: Any) -> Any:
    if isinstance(raw, str) and raw.strip().lower() in WHOLE_WORDS:
        return "whole"
    return number(ctx, path, raw, 'rf = 5 (or rf = [5, 7], or "whole")')


def answer_value(ctx: Context, path: tuple, name: str, raw: Any) -> Any:
    """One answer read by the kind of its field (``spec.FIELD_KINDS``): the one grammar of every answer."""
    kind = FIELD_KINDS.get(name, COUNT)
    if kind == SHAPE:
        return shape(ctx, path, raw, MAX_ANSWER, "output_shape = [6, 30, 30]", max_dims=5)
    if kind == FIELD:
        if isinstance(raw, str) and raw.strip().lower() in WHOLE_WORDS:
            return "whole"
        return per_axis(ctx, path, raw, "rf = 5", _rf_size)
    if kind == AXES:
        example = f"{name} = 2"
        return per_axis(ctx, path, raw, example, lambda c, p, v: number(c, p, v, example))
    if kind == SIZE:
        return _count(ctx, path, raw, name, f"{name} = 30")
    return _count(ctx, path, raw, name, f"{name} = 168")


@dataclass(frozen=True)
class Answers:
    """What a ``[question.answer]`` table gave: the readable values, the rows, and the invalid answers."""

    values: tuple[tuple[str, Any], ...] = ()
    rows: tuple[RowAnswer, ...] | None = None
    invalid: tuple[InvalidAnswer, ...] = ()


def _invalid(err: AnswerFileError, target: str) -> InvalidAnswer:
    return replace(err.invalid, target=target)  # type: ignore[attr-defined]


def _malformed(ctx: Context, path: tuple, target: str, err: Exception) -> InvalidAnswer:
    fail = ctx.fail(
        path, f"could not be read ({type(err).__name__})", "write it as docs/homework.md shows", "malformed"
    )
    return _invalid(fail, target)


def unknown_key(ctx: Context, path: tuple, key: str, allowed: tuple[str, ...], what: str) -> InvalidAnswer:
    """A misspelt or unknown field, with the closest allowed name as its ``target``."""
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    fix = (f"did you mean {close[0]!r}? " if close else "") + "allowed: " + ", ".join(allowed)
    err = ctx.fail(path + (key,), f"unknown field {key!r} in {what}", fix, "unknown_field")
    return _invalid(err, close[0] if close else "")


def parse_answers(ctx: Context, path: tuple, raw: Any, allowed: tuple[str, ...]) -> Answers:
    """Read an answer table; every problem is kept as an invalid answer, never raised."""
    if not isinstance(raw, Mapping):
        err = ctx.fail(
            path, f"expected the answers as a table, got {kind_of(raw)}", "write [question.answer]", "wrong_type"
        )
        return Answers(invalid=(_invalid(err, ""),))
    values: list[tuple[str, Any]] = []
    invalid: list[InvalidAnswer] = []
    rows: tuple[RowAnswer, ...] | None = None
    for key in raw:
        if key not in allowed:
            invalid.append(unknown_key(ctx, path, key, allowed, "an answer"))
    for name in allowed:
        if name not in raw:
            continue
        if name == "rows":
            rows, bad = _rows(ctx, path + ("rows",), raw["rows"])
            invalid.extend(bad)
            continue
        try:
            values.append((name, answer_value(ctx, path + (name,), name, raw[name])))
        except AnswerFileError as err:
            invalid.append(_invalid(err, name))
        except Exception as err:  # never a traceback for one answer (docs/homework.md)
            invalid.append(_malformed(ctx, path + (name,), name, err))
    # A misspelt name whose intended field was also given correctly is only a stray: no target.
    given = {name for name, _ in values} | ({"rows"} if rows is not None else set())
    invalid = [replace(i, target="") if i.code == "unknown_field" and i.target in given else i for i in invalid]
    return Answers(tuple(values), rows, tuple(invalid))


def _rows(ctx: Context, path: tuple, raw: Any) -> tuple[tuple[RowAnswer, ...] | None, list[InvalidAnswer]]:
    """The per-layer rows; a bad row or cell is an invalid answer, the other rows are kept."""
    if not isinstance(raw, list):
        err = ctx.fail(
            path,
            f"expected rows as [[question.answer.rows]] tables, got {kind_of(raw)}",
            'write [[question.answer.rows]] with layer = "conv1", ...',
            "wrong_type",
        )
        return None, [_invalid(err, "rows")]
    if len(raw) > MAX_ROWS:
        err = ctx.fail(path, f"more than {MAX_ROWS} rows", "one row per layer", "out_of_range")
        return None, [_invalid(err, "rows")]
    rows: list[RowAnswer] = []
    invalid: list[InvalidAnswer] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        p = path + (i,)
        try:
            if not isinstance(item, Mapping):
                raise ctx.fail(p, f"expected a row (a table), got {kind_of(item)}", "write [[question.answer.rows]]")
            if "layer" not in item:
                raise ctx.fail(
                    p,
                    "the row has no 'layer'",
                    'add layer = "conv1" (the layer names shown by the question)',
                    "malformed",
                )
            layer = string(ctx, p + ("layer",), item["layer"], '"conv1"', 200)
            if layer in seen:
                raise ctx.fail(p + ("layer",), f"layer {layer!r} has two rows", "keep one row per layer", "duplicate")
        except AnswerFileError as err:
            invalid.append(_invalid(err, ""))
            continue
        seen.add(layer)
        cells = []
        for key in item:
            if key != "layer" and key not in ROW_FIELDS:
                bad = unknown_key(ctx, p, key, ROW_FIELDS, "a row")
                invalid.append(replace(bad, target=f"{layer}.{bad.target}" if bad.target else ""))
        for name in ROW_FIELDS:
            if name not in item:
                continue
            try:
                cells.append((name, answer_value(ctx, p + (name,), name, item[name])))
            except AnswerFileError as err:
                invalid.append(_invalid(err, f"{layer}.{name}"))
            except Exception as err:  # never a traceback for one cell
                invalid.append(_malformed(ctx, p + (name,), f"{layer}.{name}", err))
        rows.append(RowAnswer(layer=layer, values=tuple(cells), line=ctx.line(p)))
    return tuple(rows), invalid
