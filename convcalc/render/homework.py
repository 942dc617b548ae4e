"""Homework results as text, JSON-ready dicts and gradebook rows (all the strings live here)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

__all__ = [
    "format_value",
    "grade_text",
    "grade_json",
    "class_summary_text",
    "class_json",
    "gradebook_header",
    "gradebook_row",
    "verify_text",
    "verify_json",
]

MARK = {"correct": "✓", "wrong": "✗", "missing": "✗"}


def format_value(value: Any) -> str:
    """Numbers with thousands separators, shapes as 6x30x30, pairs as [h, w]."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Fraction):
        return str(value) if value.denominator != 1 else f"{value.numerator:,}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}" if not value.is_integer() else f"{int(value):,}"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def _field_label(name: str, convention: str | None) -> str:
    if name == "flops" and convention:
        return f"flops ({convention})"
    return name


def _shape_or_pair(name: str, value: Any) -> str:
    if isinstance(value, tuple) and not name.endswith("output_shape"):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return format_value(value)


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in text.splitlines())


def _points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _field_lines(f: Any, convention: str | None, show_derivation: bool) -> list[str]:
    label = _field_label(f.name, convention)
    expected = _shape_or_pair(f.name, f.expected)
    if f.status == "correct":
        extra = f"  ({f.note})" if f.note else ""
        tol = f"  (tolerance {f.tolerance})" if f.tolerance != "exact" else ""
        return [f"  {MARK['correct']} {label:<20} {expected}{tol}{extra}"]
    given = "no answer" if f.given is None else f"you wrote {_shape_or_pair(f.name, f.given)}"
    lines = [
        f"  {MARK['wrong']} {label:<20} expected {expected}, {given}"
        + (f"  (tolerance {f.tolerance})" if f.tolerance != "exact" else "")
    ]
    if f.line:
        lines[-1] += f"  [line {f.line}]"
    if f.note:
        lines.append(f"      note: {f.note}")
    if f.hint:
        lines.append(f"      hint: {f.hint}")
    if show_derivation and f.derivation:
        lines.append("      derivation:")
        lines.append(_indent(f.derivation, 8))
    return lines


def _rows_lines(f: Any, show_derivation: bool, max_cells: int = 12) -> list[str]:
    right = sum(1 for c in f.cells if c.correct)
    mark = MARK["correct"] if f.status == "correct" else MARK["wrong"]
    lines = [f"  {mark} {'rows':<20} {right}/{len(f.cells)} cells right"]
    if f.note:
        lines.append(f"      note: {f.note}")
    wrong = [c for c in f.cells if c.status == "wrong"]
    for c in wrong[:max_cells]:
        for block in _field_lines(c, None, show_derivation):
            lines.extend("  " + line if line else line for line in block.splitlines())
    if len(wrong) > max_cells:
        lines.append(f"      ... and {len(wrong) - max_cells} more wrong cells (see --json)")
    missing = [c for c in f.cells if c.status == "missing"]
    if missing:
        lines.append(f"    {MARK['wrong']} no answer for {len(missing)} cell(s), expected:")
        for c in missing[: max_cells * 3]:
            lines.append(f"        {c.name:<28} {_shape_or_pair(c.name, c.expected)}")
        if len(missing) > max_cells * 3:
            lines.append(f"        ... and {len(missing) - max_cells * 3} more (see --json)")
    return lines


def grade_text(result: Any, *, show_derivation: bool = True) -> str:
    """A graded file for one student at the terminal."""
    head = result.title or "homework"
    who = f" (student: {result.student})" if result.student else ""
    out = [f"{head} - {result.path}{who}", ""]
    for q in result.questions:
        title = f"{q.id}" + (f": {q.text}" if q.text else "")
        out.append(f"{title}  [{_points(q.points)} / {_points(q.max_points)} points]")
        if q.error:
            out.append(f"  {MARK['wrong']} could not be graded: {q.error}")
        for f in q.fields:
            if f.name == "rows":
                out.extend(_rows_lines(f, show_derivation))
            else:
                out.extend(_field_lines(f, q.convention, show_derivation))
        for note in q.notes:
            out.append(f"  note: {note}")
        out.append("")
    fields = [f for q in result.questions for f in q.fields]
    right = sum(1 for f in fields if f.correct)
    pct = 100 * result.score / result.max_score if result.max_score else 100.0
    out.append(
        f"Score: {_points(result.score)} / {_points(result.max_score)} ({pct:.0f}%),"
        f" {right} of {len(fields)} answers right"
    )
    return "\n".join(out) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Fraction):
        return float(value) if value.denominator != 1 else value.numerator
    return value


def _field_json(f: Any) -> dict:
    out = {
        "field": f.name,
        "status": f.status,
        "correct": f.correct,
        "expected": _jsonable(f.expected),
        "given": _jsonable(f.given),
        "points": f.points,
        "max_points": f.max_points,
        "tolerance": f.tolerance,
        "hint": f.hint,
        "note": f.note,
        "line": f.line,
        "derivation": f.derivation if not f.correct else "",
    }
    if f.cells:
        out["cells"] = [_field_json(c) for c in f.cells]
    return out


def grade_json(result: Any) -> dict:
    """A graded file for autograders."""
    return {
        "path": result.path,
        "title": result.title,
        "student": result.student,
        "score": result.score,
        "max_score": result.max_score,
        "all_correct": result.all_correct,
        "questions": [
            {
                "id": q.id,
                "text": q.text,
                "kind": q.kind,
                "convention": q.convention,
                "points": q.points,
                "max_points": q.max_points,
                "correct": q.correct,
                "error": q.error,
                "notes": list(q.notes),
                "fields": [_field_json(f) for f in q.fields],
            }
            for q in result.questions
        ],
    }


# --------------------------------------------------------------------------- class mode


def gradebook_header(columns: list[str]) -> list[str]:
    return ["file", "student", "status", "score", "max_score", "percent"] + columns + ["reason"]


def gradebook_row(entry: Any, columns: list[str]) -> list[str]:
    """One CSV row: 1/0 per question field, empty when the file could not be graded."""
    if entry.result is None:
        return [entry.path, "", "invalid", "", "", ""] + [""] * len(columns) + [entry.error]
    r = entry.result
    marks = {f"{q.id}.{f.name}": ("1" if f.correct else "0") for q in r.questions for f in q.fields}
    pct = 100 * r.score / r.max_score if r.max_score else 100.0
    reasons = "; ".join(f"{q.id}: {q.error}" for q in r.questions if q.error)
    return (
        [
            entry.path,
            r.student,
            "graded",
            _points(round(r.score, 4)),
            _points(r.max_score),
            f"{pct:.1f}",
        ]
        + [marks.get(c, "") for c in columns]
        + [reasons]
    )


def class_summary_text(summary: Any) -> str:
    """How many students got each field right, in question order."""
    out = [
        f"Graded {summary.graded} of {len(summary.entries)} file(s)"
        + (f"; {summary.invalid} invalid:" if summary.invalid else "")
    ]
    for e in summary.entries:
        if e.result is None:
            out.append(f"  {MARK['wrong']} {e.path}: {e.error}")
    if summary.graded:
        out.append("")
        width = max([len(c) for c in summary.columns] + [14])
        out.append(f"  {'question.field':<{width}}  right")
        for column in summary.columns:
            right, total = summary.counts[column]
            pct = 100 * right / total if total else 0.0
            bar = "#" * round(pct / 10)
            out.append(f"  {column:<{width}}  {right:>3}/{total:<3} {pct:5.0f}%  {bar}")
        out.append("")
        out.append(f"Mean score: {summary.mean_score:.2f} / {_points(summary.max_score)}")
    if summary.gradebook:
        out.append(f"Gradebook written to {summary.gradebook}")
    return "\n".join(out) + "\n"


def class_json(summary: Any) -> dict:
    return {
        "files": len(summary.entries),
        "graded": summary.graded,
        "invalid": summary.invalid,
        "mean_score": summary.mean_score,
        "max_score": summary.max_score,
        "gradebook": summary.gradebook,
        "fields": [
            {"field": c, "right": summary.counts[c][0], "graded": summary.counts[c][1]} for c in summary.columns
        ],
        "students": [
            {"path": e.path, "error": e.error, "result": grade_json(e.result) if e.result else None}
            for e in summary.entries
        ],
    }


# --------------------------------------------------------------------------- verify-op


def verify_text(result: Any) -> str:
    """A verify-op result: the pass count or the first failing configuration."""
    target = f"{result.target} as {result.kind}" + (f" ({result.mode})" if result.mode else "")
    if result.passed:
        lines = [f"{MARK['correct']} {target}: matches {result.reference} on all {result.tried} configurations"]
        lines.extend(f"  note: {n}" for n in result.notes)
        return "\n".join(lines) + "\n"
    lines = [f"{MARK['wrong']} {target}: {result.failure}"]
    if result.config:
        lines.append(f"  configuration {result.config_index} of {result.total}: {result.config}")
    if result.expected_shape is not None:
        lines.append(f"  output shape: got {result.got_shape}, expected {result.expected_shape}")
    if result.max_diff is not None:
        lines.append(f"  max |diff| = {result.max_diff:.6g} (tolerance {result.tolerance:g})")
    if result.hint:
        lines.append(f"  hint: {result.hint}")
    if result.detail:
        lines.append(_indent(result.detail, 2))
    if result.tried:
        lines.append(f"  {result.tried} configuration(s) passed before this one")
    lines.extend(f"  note: {n}" for n in result.notes)
    return "\n".join(lines) + "\n"


def verify_json(result: Any) -> dict:
    from dataclasses import asdict

    return asdict(result)
