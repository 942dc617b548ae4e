"""The teacher's helper: write the complete, correct answer file for a question file.

The key is the question file re-emitted as canonical TOML with every asked
field filled in from the formulas (layer questions) or the analysis engine
(model questions), so keys are never typed by hand.  Written atomically.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from convcalc.files import write_atomic
from convcalc.homework import compute
from convcalc.homework.answers.schema import load_file
from convcalc.homework.spec import DEFAULT_ROW_FIELDS, HomeworkFile, LayerSpec, Question

__all__ = ["answer_key_text", "write_answer_key", "toml_string"]


def toml_string(text: str) -> str:
    """A TOML basic string: quotes and backslashes escaped, and every control character (C0, DEL, C1),
    which TOML forbids raw (json.dumps leaves DEL and C1 raw), as ``\\uXXXX``."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml(value: Any) -> str:
    """A TOML value for the plain data of a homework file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        if value.denominator & (value.denominator - 1):  # not a power of two: no exact decimal
            raise ValueError(f"{value} has no exact decimal form")
        return repr(float(value))  # exact: 0.5, 1.25 (a half-pixel start)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() and name.isascii() else toml_string(name)


def _layer_table(spec: LayerSpec) -> dict:
    return {
        "kind": spec.kind,
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.config},
    }


def _answers(question: Question, base_dir: str, allow_code: bool, cache: dict) -> tuple[dict, list[dict] | None]:
    if question.is_model:
        from convcalc.homework.grading.models import expected_model_values

        expected = expected_model_values(question, base_dir, allow_code, cache)
        values = dict(expected.values)
        rows = None
        if "rows" in question.ask:
            rows = []
            for row in expected.rows:
                item = {"layer": row.summary_name if question.row_labels == "summary" else row.layer}
                for name in question.row_fields:
                    if row.values.get(name) is not None:
                        item[name] = row.values[name]
                rows.append(item)
    else:
        values = compute.expected_layer_values(question).values
        rows = None
    answer = {name: values[name] for name in question.ask if name != "rows" and values.get(name) is not None}
    return answer, rows


def _question_text(q: Question, answer: dict, rows: list[dict] | None, default_convention: str) -> list[str]:
    lines = ["[[question]]", f"id = {_toml(q.id)}"]
    if q.text:
        lines.append(f"text = {_toml(q.text)}")
    lines.append(f"points = {_toml(q.points)}")
    if not q.partial:
        lines.append("partial = false")
    if q.input_shape:
        lines.append(f'input = "{"x".join(str(v) for v in q.input_shape)}"')
    if q.model is not None:
        lines.append(f"model = {_toml(q.model)}")
    elif len(q.layers) == 1:
        lines.append(f"layer = {_toml(_layer_table(q.layers[0]))}")
    else:
        lines.append("layers = [")
        lines.extend(f"    {_toml(_layer_table(s))}," for s in q.layers)
        lines.append("]")
    if q.convention != default_convention:
        lines.append(f"convention = {_toml(q.convention)}")
    lines.append(f"ask = {_toml(list(q.ask))}")
    if q.row_fields != DEFAULT_ROW_FIELDS:
        lines.append(f"row_fields = {_toml(list(q.row_fields))}")
    if q.row_labels != "either":
        lines.append(f"row_labels = {_toml(q.row_labels)}")
    if q.carry_forward:
        lines.append("carry_forward = true")
    tolerance = {k: t.as_toml() for k, t in q.tolerance}
    if tolerance:
        lines.append(f"tolerance = {_toml(tolerance)}")
    lines.append("")
    lines.append("[question.answer]")
    lines.extend(f"{name} = {_toml(value)}" for name, value in answer.items())
    for row in rows or ():
        lines.append("")
        lines.append("[[question.answer.rows]]")
        lines.extend(f"{name} = {_toml(value)}" for name, value in row.items())
    lines.append("")
    return lines


def answer_key_text(hw: HomeworkFile, *, allow_code: bool = False, source: str = "") -> str:
    """The answer key of a parsed question file, as TOML text."""
    cache: dict = {}
    conventions = {q.convention for q in hw.questions}
    default = "paddle" if len(conventions) != 1 else next(iter(conventions))
    lines = [f"# Answer key for {source or hw.path}, written by `convcalc check --answer-key`.", ""]
    lines.append("[homework]")
    if hw.title:
        lines.append(f"title = {_toml(hw.title)}")
    lines.append(f"convention = {_toml(default)}")
    lines.append("")
    for q in hw.questions:
        answer, rows = _answers(q, hw.base_dir, allow_code, cache)
        lines.extend(_question_text(q, answer, rows, default))
    return "\n".join(lines)


def write_answer_key(questions_path: str | Path, key_path: str | Path, *, allow_code: bool = False) -> HomeworkFile:
    """Read a question file and write its complete answer key; returns the parsed questions."""
    hw = load_file(questions_path)
    text = answer_key_text(hw, allow_code=allow_code, source=str(questions_path))
    write_atomic(Path(key_path), text)
    return hw
