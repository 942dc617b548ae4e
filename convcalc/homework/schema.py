"""The homework file format: TOML read with the stdlib, validated into frozen dataclasses.

Nothing in a file is executed: values are read as data and checked against a
closed list of fields.  Every mistake raises
:class:`~convcalc.errors.AnswerFileError` naming the file, the line (when it
can be found) and the field, with the fix.  See ``docs/homework.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from convcalc.errors import AnswerFileError

__all__ = [
    "LAYER_KINDS",
    "LAYER_FIELDS",
    "MODEL_FIELDS",
    "ROW_FIELDS",
    "CONVENTIONS",
    "MAX_ANSWER",
    "LayerSpec",
    "Tolerance",
    "RowAnswer",
    "Question",
    "HomeworkFile",
    "load_file",
    "parse_text",
]

CONVENTIONS = ("paddle", "macs", "flops")

# Layer kinds and the configuration keys each accepts (besides ``kind``),
# the same names as ``convcalc explain``.
LAYER_KINDS: dict[str, tuple[str, ...]] = {
    "conv2d": ("out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias"),
    "pool2d": ("kernel", "stride", "padding", "mode", "ceil_mode"),
    "linear": ("out_features", "bias"),
    "batchnorm": (),
}
REQUIRED_LAYER_KEYS = {
    "conv2d": ("out_channels", "kernel"),
    "pool2d": ("kernel",),
    "linear": ("out_features",),
}

# Answer fields, in the order they are shown.
LAYER_FIELDS = (
    "output_shape",
    "output_height",
    "output_width",
    "params",
    "params_trainable",
    "flops",
    "rf",
    "rf_jump",
    "rf_start",
)
MODEL_FIELDS = ("output_shape", "params", "params_trainable", "flops", "rows")
ROW_FIELDS = ("output_shape", "params", "flops", "rf")
DEFAULT_ROW_FIELDS = ("output_shape", "params", "flops")

HOMEWORK_KEYS = ("title", "student", "convention", "tolerance")
QUESTION_KEYS = (
    "id",
    "text",
    "points",
    "partial",
    "input",
    "layer",
    "layers",
    "model",
    "convention",
    "ask",
    "row_fields",
    "tolerance",
    "answer",
)

MAX_ANSWER = 10**15
"""Largest number accepted anywhere (a FLOPs answer for a large net is ~1e11)."""
MAX_DIM = 65536
MAX_CHANNELS = 1 << 20
MAX_KERNEL = 4096
MAX_POINTS = 10**6
MAX_FILE_BYTES = 2_000_000
MAX_QUESTIONS = 1000
MAX_ROWS = 10_000


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a layer question: its kind and configuration (as ``explain`` takes it)."""

    kind: str
    config: tuple[tuple[str, Any], ...] = ()

    def kwargs(self) -> dict[str, Any]:
        return dict(self.config)

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.config).get(key, default)


@dataclass(frozen=True)
class Tolerance:
    """How far an answer may be from the expected value: absolute or relative (a fraction)."""

    absolute: float = 0.0
    relative: float = 0.0

    def allows(self, got: float, expected: float) -> bool:
        diff = abs(got - expected)
        return diff <= self.absolute or diff <= self.relative * abs(expected)

    def describe(self) -> str:
        if self.relative:
            return f"±{self.relative * 100:g}%"
        if self.absolute:
            return f"±{self.absolute:g}"
        return "exact"

    def as_toml(self) -> Any:
        if self.relative:
            return f"{self.relative * 100:g}%"
        return int(self.absolute) if float(self.absolute).is_integer() else self.absolute


EXACT = Tolerance()


@dataclass(frozen=True)
class RowAnswer:
    """A student's row for one layer of a model question."""

    layer: str
    values: tuple[tuple[str, Any], ...]
    line: int | None = None

    def get(self, key: str) -> Any:
        return dict(self.values).get(key)


@dataclass(frozen=True)
class Question:
    """One question: what is asked, the configuration, and the student's answer (if any)."""

    id: str
    number: int
    text: str = ""
    points: float = 1.0
    partial: bool = True
    input_shape: tuple[int, ...] = ()
    layers: tuple[LayerSpec, ...] = ()
    model: str | None = None
    convention: str = "paddle"
    ask: tuple[str, ...] = ()
    row_fields: tuple[str, ...] = DEFAULT_ROW_FIELDS
    tolerance: tuple[tuple[str, Tolerance], ...] = ()
    answer: tuple[tuple[str, Any], ...] = ()
    rows: tuple[RowAnswer, ...] | None = None
    line: int | None = None
    field_lines: tuple[tuple[str, int], ...] = ()

    @property
    def is_model(self) -> bool:
        return self.model is not None

    @property
    def has_config(self) -> bool:
        return bool(self.layers) or self.model is not None

    def tolerance_for(self, name: str) -> Tolerance:
        return dict(self.tolerance).get(name, EXACT)

    def answer_for(self, name: str) -> Any:
        if name == "rows":
            return self.rows
        return dict(self.answer).get(name)

    def line_of(self, name: str) -> int | None:
        return dict(self.field_lines).get(name, self.line)


@dataclass(frozen=True)
class HomeworkFile:
    """A parsed question or answer file."""

    path: str
    title: str = ""
    student: str = ""
    questions: tuple[Question, ...] = ()
    base_dir: str = "."

    def question(self, qid: str) -> Question | None:
        for q in self.questions:
            if q.id == qid:
                return q
        return None


# --------------------------------------------------------------------------- locating lines

_HEADER = re.compile(r"^\s*(\[\[|\[)\s*([^\[\]]+?)\s*(\]\]|\])\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.\s]+?)\s*=")


def _split_key(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def _locate(text: str) -> dict[tuple, int]:
    """Best-effort map from a key path (with array indices) to its 1-based line number."""
    lines: dict[tuple, int] = {}
    counters: dict[tuple, int] = {}
    current: tuple = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            names = _split_key(header.group(2))
            # Rebuild the path with the indices of enclosing arrays of tables.
            path: tuple = ()
            for i, name in enumerate(names):
                path = path + (name,)
                if i < len(names) - 1 and path in counters:
                    path = path + (counters[path],)
            if header.group(1) == "[[":
                counters[path] = counters.get(path, -1) + 1
                path = path + (counters[path],)
            current = path
            lines.setdefault(current, number)
            continue
        key = _KEY.match(raw)
        if key and not raw.lstrip().startswith("#"):
            lines.setdefault(current + _split_key(key.group(1)), number)
    return lines


class _Context:
    """Carries the file name and the line map so every error can name its line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = _locate(text)

    def line(self, path: tuple) -> int | None:
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def fail(self, path: tuple, problem: str, fix: str) -> AnswerFileError:
        line = self.line(path)
        where = f"{self.path}" + (f" line {line}" if line else "")
        return AnswerFileError(f"{where}: field '{_dotted(path)}': {problem}", fix)


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


# --------------------------------------------------------------------------- value checks


def _check_keys(ctx: _Context, path: tuple, table: Mapping, allowed: tuple[str, ...], what: str) -> None:
    for key in table:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            fix = (f"did you mean {close[0]!r}? " if close else "") + "allowed: " + ", ".join(allowed)
            raise ctx.fail(path + (key,), f"unknown field {key!r} in {what}", fix)


def _table(ctx: _Context, path: tuple, value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ctx.fail(
            path,
            f"expected a table ({what}), got {_kind(value)}",
            f"write it as [{_dotted(path)}] or {{ ... }}",
        )
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}" if abs(value) < 1e20 else "a huge number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def _int(ctx: _Context, path: tuple, value: Any, low: int, high: int, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and low <= value <= high:
            return int(value)
        raise ctx.fail(path, f"expected a whole number, got {_kind(value)}", f"write e.g. {example}")
    if value < low or value > high:
        raise ctx.fail(path, f"{value} is out of range ({low} to {high})", f"write e.g. {example}")
    return value


def _number(ctx: _Context, path: tuple, value: Any, example: str) -> int | float:
    """A non-negative answer number (int, or float such as 1.512e5)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.fail(path, f"expected a number, got {_kind(value)}", f"write e.g. {example}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ctx.fail(path, f"{value} is not a finite number", f"write e.g. {example}")
    if abs(value) > MAX_ANSWER:
        raise ctx.fail(path, f"the number is too large (more than {MAX_ANSWER:.0e})", f"write e.g. {example}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _str(ctx: _Context, path: tuple, value: Any, example: str, max_len: int = 500) -> str:
    if not isinstance(value, str):
        raise ctx.fail(path, f"expected a string, got {_kind(value)}", f"write e.g. {example}")
    if len(value) > max_len:
        raise ctx.fail(path, f"the string is longer than {max_len} characters", "shorten it")
    return value


def _bool(ctx: _Context, path: tuple, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ctx.fail(path, f"expected true or false, got {_kind(value)}", "write true or false")
    return value


def _shape(ctx: _Context, path: tuple, value: Any, high: int, example: str, min_dims: int = 1) -> tuple[int, ...]:
    """A shape as a list of whole numbers or a string like ``3x32x32``."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[xX*,\s]+", value.strip().strip("[]()")) if p]
        if not parts or not all(p.isdigit() for p in parts):
            raise ctx.fail(path, f"malformed shape {value[:40]!r}", f"write e.g. {example}")
        value = [int(p) for p in parts]
    if not isinstance(value, list):
        raise ctx.fail(path, f"expected a shape, got {_kind(value)}", f"write e.g. {example}")
    if not (min_dims <= len(value) <= 4):
        raise ctx.fail(
            path,
            f"a shape has {min_dims} to 4 dimensions, got {len(value)}",
            f"write e.g. {example}",
        )
    return tuple(_int(ctx, path, v, 1, high, example) for v in value)


def _pair(ctx: _Context, path: tuple, value: Any, low: int, high: int, example: str) -> int | tuple[int, int]:
    if isinstance(value, list):
        if len(value) != 2:
            raise ctx.fail(
                path,
                f"expected one number or [height, width], got a list of {len(value)}",
                f"write e.g. {example}",
            )
        return (
            _int(ctx, path, value[0], low, high, example),
            _int(ctx, path, value[1], low, high, example),
        )
    return _int(ctx, path, value, low, high, example)


def _tolerance(ctx: _Context, path: tuple, value: Any, allowed: tuple[str, ...]) -> dict[str, Tolerance]:
    table = _table(ctx, path, value, "tolerance per field")
    _check_keys(ctx, path, table, tuple(a for a in allowed if a != "rows"), "tolerance")
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
            number = _number(ctx, p, raw, '10 or "1%"')
            if number < 0:
                raise ctx.fail(p, "a tolerance cannot be negative", 'write e.g. 10 or "1%"')
            out[key] = Tolerance(absolute=float(number))
    return out


def _convention(ctx: _Context, path: tuple, value: Any) -> str:
    text = _str(ctx, path, value, '"paddle"').lower()
    if text not in CONVENTIONS:
        raise ctx.fail(path, f"unknown FLOPs convention {value!r}", "choose one of: " + ", ".join(CONVENTIONS))
    return text


# --------------------------------------------------------------------------- layers


def _layer(ctx: _Context, path: tuple, value: Any) -> LayerSpec:
    table = _table(ctx, path, value, "a layer")
    if "kind" not in table:
        raise ctx.fail(path, "the layer has no 'kind'", "add kind = one of " + ", ".join(LAYER_KINDS))
    kind = _str(ctx, path + ("kind",), table["kind"], '"conv2d"').lower()
    if kind not in LAYER_KINDS:
        import difflib

        close = difflib.get_close_matches(kind, LAYER_KINDS, n=1, cutoff=0.5)
        fix = (f"did you mean {close[0]!r}? " if close else "") + "layer kinds: " + ", ".join(LAYER_KINDS)
        raise ctx.fail(path + ("kind",), f"unknown layer kind {kind!r}", fix)
    allowed = ("kind",) + LAYER_KINDS[kind]
    _check_keys(ctx, path, table, allowed, f"a {kind} layer")
    for key in REQUIRED_LAYER_KEYS.get(kind, ()):
        if key not in table:
            raise ctx.fail(
                path + (key,),
                f"a {kind} layer needs {key!r}",
                f"add {key} = ... (see docs/homework.md)",
            )
    config: list[tuple[str, Any]] = []
    for key in LAYER_KINDS[kind]:
        if key not in table:
            continue
        raw, p = table[key], path + (key,)
        if key in ("out_channels", "out_features"):
            val: Any = _int(ctx, p, raw, 1, MAX_CHANNELS, f"{key} = 6")
        elif key == "kernel":
            val = _pair(ctx, p, raw, 1, MAX_KERNEL, "kernel = 3 or kernel = [3, 5]")
        elif key == "stride":
            val = _pair(ctx, p, raw, 1, MAX_KERNEL, "stride = 2")
        elif key == "dilation":
            val = _pair(ctx, p, raw, 1, MAX_KERNEL, "dilation = 2")
        elif key == "groups":
            val = _int(ctx, p, raw, 1, MAX_CHANNELS, "groups = 1")
        elif key == "padding":
            if isinstance(raw, str):
                if raw.upper() not in ("SAME", "VALID"):
                    raise ctx.fail(
                        p,
                        f"unknown padding {raw[:40]!r}",
                        'write a number, [height, width], "SAME" or "VALID"',
                    )
                val = raw.upper()
            elif isinstance(raw, list):
                if len(raw) != 4:
                    raise ctx.fail(
                        p,
                        f"padding as a list needs 4 numbers [top, bottom, left, right], got {len(raw)}",
                        "write padding = 1 or padding = [0, 1, 0, 1]",
                    )
                val = tuple(_int(ctx, p, v, 0, MAX_KERNEL, "padding = [0, 1, 0, 1]") for v in raw)
            else:
                val = _int(ctx, p, raw, 0, MAX_KERNEL, "padding = 1")
        elif key == "mode":
            val = _str(ctx, p, raw, '"max"').lower()
            if val not in ("max", "avg"):
                raise ctx.fail(p, f"unknown pooling mode {raw!r}", 'write mode = "max" or mode = "avg"')
        else:  # bias, ceil_mode
            val = _bool(ctx, p, raw)
        config.append((key, val))
    return LayerSpec(kind=kind, config=tuple(config))


# --------------------------------------------------------------------------- answers


def _answer_value(ctx: _Context, path: tuple, name: str, raw: Any) -> Any:
    if name == "output_shape":
        return _shape(ctx, path, raw, MAX_ANSWER, "output_shape = [6, 30, 30]")
    if name in ("output_height", "output_width", "rf_jump"):
        return _number(ctx, path, raw, f"{name} = 30")
    if name == "rf":
        if isinstance(raw, str) and raw.strip().lower() in ("whole", "all", "whole input"):
            return "whole"
        if isinstance(raw, list):
            if len(raw) != 2:
                raise ctx.fail(
                    path,
                    f"expected one number or [height, width], got a list of {len(raw)}",
                    "write e.g. rf = 5",
                )
            return (_number(ctx, path, raw[0], "rf = 5"), _number(ctx, path, raw[1], "rf = 5"))
        return _number(ctx, path, raw, 'rf = 5 (or rf = [5, 7], or "whole")')
    if name == "rf_start":
        if isinstance(raw, list):
            if len(raw) != 2:
                raise ctx.fail(path, "expected one number or [height, width]", "write e.g. rf_start = 0.5")
            return (
                _number(ctx, path, raw[0], "rf_start = 0.5"),
                _number(ctx, path, raw[1], "rf_start = 0.5"),
            )
        return _number(ctx, path, raw, "rf_start = 0.5")
    value = _number(ctx, path, raw, f"{name} = 168")
    if value < 0:
        raise ctx.fail(path, f"{name} cannot be negative", f"write e.g. {name} = 168")
    return value


def _rows(ctx: _Context, path: tuple, raw: Any) -> tuple[RowAnswer, ...]:
    if not isinstance(raw, list):
        raise ctx.fail(
            path,
            f"expected rows as [[question.answer.rows]] tables, got {_kind(raw)}",
            'write [[question.answer.rows]] with layer = "conv1", ...',
        )
    if len(raw) > MAX_ROWS:
        raise ctx.fail(path, f"more than {MAX_ROWS} rows", "one row per layer")
    rows = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        p = path + (i,)
        table = _table(ctx, p, item, "a row")
        _check_keys(ctx, p, table, ("layer",) + ROW_FIELDS, "a row")
        if "layer" not in table:
            raise ctx.fail(
                p,
                "the row has no 'layer'",
                'add layer = "conv1" (the layer path shown by the answer key)',
            )
        layer = _str(ctx, p + ("layer",), table["layer"], '"conv1"', 200)
        if layer in seen:
            raise ctx.fail(p + ("layer",), f"layer {layer!r} has two rows", "keep one row per layer")
        seen.add(layer)
        values = tuple(
            (name, _answer_value(ctx, p + (name,), name, table[name])) for name in ROW_FIELDS if name in table
        )
        rows.append(RowAnswer(layer=layer, values=values, line=ctx.line(p)))
    return tuple(rows)


# --------------------------------------------------------------------------- questions


def _question(ctx: _Context, index: int, raw: Any, defaults: dict[str, Any], require_config: bool) -> Question:
    path: tuple = ("question", index)
    table = _table(ctx, path, raw, "a question")
    _check_keys(ctx, path, table, QUESTION_KEYS, "a question")
    if not require_config:  # a student's file graded against the teacher's: only ids and answers
        table = {k: v for k, v in table.items() if k in ("id", "answer")}
    number = index + 1
    qid = _str(ctx, path + ("id",), table["id"], 'id = "q1"', 100) if "id" in table else f"q{number}"
    if not qid.strip():
        raise ctx.fail(path + ("id",), "the id is empty", 'write e.g. id = "q1"')
    text = _str(ctx, path + ("text",), table.get("text", ""), 'text = "..."', 5000)
    points = _number(ctx, path + ("points",), table.get("points", 1), "points = 2")
    if points < 0 or points > MAX_POINTS:
        raise ctx.fail(
            path + ("points",),
            f"points must be between 0 and {MAX_POINTS}",
            "write e.g. points = 2",
        )
    partial = _bool(ctx, path + ("partial",), table.get("partial", True))

    sources = [k for k in ("layer", "layers", "model") if k in table]
    if len(sources) > 1:
        raise ctx.fail(
            path + (sources[1],),
            f"a question has one of layer, layers or model, got {', '.join(sources)}",
            "keep exactly one",
        )
    if not sources and require_config:
        raise ctx.fail(
            path,
            f"question {qid!r} has no layer, layers or model",
            'add layer = { kind = "conv2d", ... } or model = "book_lenet"',
        )

    layers: tuple[LayerSpec, ...] = ()
    model: str | None = None
    if "layer" in table:
        layers = (_layer(ctx, path + ("layer",), table["layer"]),)
    elif "layers" in table:
        raw_layers = table["layers"]
        if not isinstance(raw_layers, list) or not raw_layers:
            raise ctx.fail(
                path + ("layers",),
                "expected a non-empty list of layers",
                'write layers = [{ kind = "conv2d", ... }, ...]',
            )
        if len(raw_layers) > 200:
            raise ctx.fail(
                path + ("layers",),
                "more than 200 layers",
                "use a model question for whole networks",
            )
        layers = tuple(_layer(ctx, path + ("layers", i), item) for i, item in enumerate(raw_layers))
    elif "model" in table:
        model = _str(ctx, path + ("model",), table["model"], 'model = "book_lenet"', 500).strip()
        if not model:
            raise ctx.fail(path + ("model",), "the model name is empty", 'write e.g. model = "book_lenet"')
        _check_model_name(ctx, path + ("model",), model)

    input_shape: tuple[int, ...] = ()
    if "input" in table:
        high = MAX_DIM if model is None else 4096
        input_shape = _shape(ctx, path + ("input",), table["input"], high, 'input = "3x32x32"')
        if model is not None and len(input_shape) == 4 and input_shape[0] > 64:
            raise ctx.fail(
                path + ("input",),
                "a model question's batch is at most 64",
                'write e.g. input = "1x1x32x32"',
            )
    elif layers:
        raise ctx.fail(
            path + ("input",),
            f"question {qid!r} has no input shape",
            'add input = "3x32x32" (C x H x W)',
        )

    allowed = MODEL_FIELDS if model is not None else LAYER_FIELDS
    if not layers and model is None:  # answers-only (a student file graded against --questions)
        allowed = tuple(dict.fromkeys(LAYER_FIELDS + MODEL_FIELDS))
    convention = (
        _convention(ctx, path + ("convention",), table["convention"])
        if "convention" in table
        else defaults["convention"]
    )

    ask: tuple[str, ...] = ()
    if "ask" in table:
        raw_ask = table["ask"]
        if isinstance(raw_ask, str):
            raw_ask = [raw_ask]
        if not isinstance(raw_ask, list) or not raw_ask:
            raise ctx.fail(
                path + ("ask",),
                "expected a non-empty list of fields",
                'write e.g. ask = ["params", "flops"]',
            )
        names = []
        for item in raw_ask:
            name = _str(ctx, path + ("ask",), item, '"params"', 40)
            if name not in allowed:
                raise ctx.fail(path + ("ask",), f"unknown field {name!r}", "allowed: " + ", ".join(allowed))
            if name not in names:
                names.append(name)
        ask = tuple(names)

    row_fields = DEFAULT_ROW_FIELDS
    if "row_fields" in table:
        raw_rf = table["row_fields"]
        if not isinstance(raw_rf, list) or not raw_rf:
            raise ctx.fail(
                path + ("row_fields",),
                "expected a non-empty list",
                'write e.g. row_fields = ["output_shape", "params"]',
            )
        for item in raw_rf:
            name = _str(ctx, path + ("row_fields",), item, '"params"', 40)
            if name not in ROW_FIELDS:
                raise ctx.fail(
                    path + ("row_fields",),
                    f"unknown row field {name!r}",
                    "allowed: " + ", ".join(ROW_FIELDS),
                )
        row_fields = tuple(dict.fromkeys(raw_rf))

    tolerance = dict(defaults["tolerance"])
    if "tolerance" in table:
        tolerance.update(_tolerance(ctx, path + ("tolerance",), table["tolerance"], allowed))

    answer: list[tuple[str, Any]] = []
    rows: tuple[RowAnswer, ...] | None = None
    if "answer" in table:
        ans = _table(ctx, path + ("answer",), table["answer"], "the answer")
        _check_keys(ctx, path + ("answer",), ans, allowed, "an answer")
        for name in allowed:
            if name not in ans:
                continue
            if name == "rows":
                rows = _rows(ctx, path + ("answer", "rows"), ans["rows"])
            else:
                answer.append((name, _answer_value(ctx, path + ("answer", name), name, ans[name])))

    if not ask:
        ask = tuple(name for name in allowed if name in dict(answer) or (name == "rows" and rows is not None))
    if not ask and require_config:
        raise ctx.fail(
            path + ("ask",),
            f"question {qid!r} asks nothing",
            'add ask = ["params", "flops"] or an [question.answer] table',
        )

    if layers and input_shape:
        _check_stack(ctx, path, qid, layers, input_shape, convention, ask)
    field_lines = []
    for name in allowed:
        line = ctx.lines.get(path + ("answer", name))
        if line:
            field_lines.append((name, line))
    return Question(
        id=qid,
        number=number,
        text=text,
        points=float(points),
        partial=partial,
        input_shape=input_shape,
        layers=layers,
        model=model,
        convention=convention,
        ask=ask,
        row_fields=row_fields,
        tolerance=tuple(sorted(tolerance.items())),
        answer=tuple(answer),
        rows=rows,
        line=ctx.line(path),
        field_lines=tuple(field_lines),
    )


def _looks_like_file(spec: str) -> bool:
    return ":" in spec or spec.endswith(".py") or "/" in spec or "\\" in spec


def _check_model_name(ctx: _Context, path: tuple, spec: str) -> None:
    """A zoo name must exist (a file.py:Name is checked, and trusted or not, when graded)."""
    if _looks_like_file(spec):
        return
    from convcalc.models import zoo

    if spec not in zoo.ZOO:
        import difflib

        close = difflib.get_close_matches(spec, list(zoo.ZOO), n=3, cutoff=0.5)
        fix = ("did you mean " + " or ".join(repr(c) for c in close) + "? ") if close else ""
        raise ctx.fail(path, f"unknown zoo model {spec!r}", fix + "see `convcalc models`")


def _check_stack(
    ctx: _Context, path: tuple, qid: str, layers: tuple, shape: tuple, convention: str, ask: tuple
) -> None:
    """Run the stack through the formulas now, so an impossible layer is a file error."""
    from convcalc.errors import ConvcalcError
    from convcalc.homework.compute import compute_stack

    probe = Question(id=qid, number=0, input_shape=shape, layers=layers, convention=convention)
    try:
        values = compute_stack(probe).values
    except ConvcalcError as err:
        raise ctx.fail(path + ("layers" if len(layers) > 1 else "layer",), str(err), "fix the layer") from None
    except ValueError as err:
        raise ctx.fail(path, f"the layers do not fit the input: {err}", "check the input shape") from None
    for name in ask:
        if values.get(name) is None:
            raise ctx.fail(
                path + ("ask",),
                f"{name!r} is not defined for these layers (after a linear layer every unit sees"
                " the whole input and the output has no height or width)",
                "ask for other fields",
            )


def parse_text(text: str, path: str = "<answers>", *, require_config: bool = True) -> HomeworkFile:
    """Parse and validate the text of a homework file.

    With ``require_config=False`` a question may carry only an id and its
    answer (a student file graded against the teacher's ``--questions`` file).
    """
    ctx = _Context(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise AnswerFileError(
            f"{path}: not valid TOML: {err}", "fix the syntax at that line (see docs/homework.md)"
        ) from None
    except RecursionError:
        raise AnswerFileError(
            f"{path}: not valid TOML: nested too deeply", "use the format of docs/homework.md"
        ) from None
    if not data:
        raise AnswerFileError(f"{path}: the file is empty", "add [[question]] tables (see docs/homework.md)")
    _check_keys(ctx, (), data, ("homework", "question"), "the file")
    meta = _table(ctx, ("homework",), data.get("homework", {}), "file settings")
    _check_keys(ctx, ("homework",), meta, HOMEWORK_KEYS, "[homework]")
    defaults: dict[str, Any] = {
        "convention": _convention(ctx, ("homework", "convention"), meta["convention"])
        if "convention" in meta
        else "paddle",
        "tolerance": _tolerance(
            ctx,
            ("homework", "tolerance"),
            meta["tolerance"],
            tuple(dict.fromkeys(LAYER_FIELDS + MODEL_FIELDS)),
        )
        if "tolerance" in meta
        else {},
    }
    title = _str(ctx, ("homework", "title"), meta.get("title", ""), 'title = "Chapter 5"')
    student = _str(ctx, ("homework", "student"), meta.get("student", ""), 'student = "Li Lei"')
    raw_questions = data.get("question")
    if raw_questions is None:
        raise AnswerFileError(f"{path}: no questions", "add [[question]] tables (see docs/homework.md)")
    if not isinstance(raw_questions, list):
        raise ctx.fail(
            ("question",),
            "expected [[question]] tables (an array of tables)",
            "write each question under its own [[question]] header",
        )
    if len(raw_questions) > MAX_QUESTIONS:
        raise ctx.fail(("question",), f"more than {MAX_QUESTIONS} questions", "split the file")
    questions = tuple(_question(ctx, i, raw, defaults, require_config) for i, raw in enumerate(raw_questions))
    seen: dict[str, int] = {}
    for q in questions:
        if q.id in seen:
            raise ctx.fail(
                ("question", q.number - 1, "id"),
                f"the id {q.id!r} is used twice (questions {seen[q.id]} and {q.number})",
                "give every question its own id",
            )
        seen[q.id] = q.number
    base_dir = str(Path(path).resolve().parent) if path and not path.startswith("<") else "."
    return HomeworkFile(path=path, title=title, student=student, questions=questions, base_dir=base_dir)


def load_file(path: str | Path, *, require_config: bool = True) -> HomeworkFile:
    """Read and validate a homework file; never executes anything in it."""
    p = Path(path)
    try:
        if p.is_dir():
            raise AnswerFileError(f"{p}: is a folder", "give a .toml file (or a folder of them in class mode)")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise AnswerFileError(
                f"{p}: the file is {size} bytes, more than {MAX_FILE_BYTES}",
                "an answer file is a small TOML text file",
            )
        data = p.read_bytes()
    except FileNotFoundError:
        raise AnswerFileError(f"{p}: no such file", "check the path") from None
    except OSError as err:
        raise AnswerFileError(f"{p}: cannot be read ({err.strerror})", "check the path and its permissions") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise AnswerFileError(
            f"{p}: a binary file, not TOML text (NUL byte at offset {nul})",
            "give the .toml answer file",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise AnswerFileError(
            f"{p} line {line}: not UTF-8 text (bad byte at offset {err.start})",
            "save the file as UTF-8 TOML",
        ) from None
    return parse_text(text, str(p), require_config=require_config)
