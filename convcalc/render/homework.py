"""Homework results as text, JSON-ready dicts, gradebook rows and Gradescope results (all the strings live here).

``feedback`` decides what a student may see: ``full`` (expected values,
hints and derivations), ``hints`` (the hint naming the mistake, but no
expected value or derivation) or ``verdict`` (only right or wrong and the
points).  A problem in the student's own file (an answer that could not be
read) is always shown with its fix.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from convcalc.render.escape import visible

__all__ = [
    "FEEDBACK",
    "SCHEMA_VERSION",
    "format_value",
    "grade_text",
    "grade_json",
    "invalid_file_json",
    "class_summary_text",
    "class_json",
    "gradebook_header",
    "gradebook_row",
    "gradescope_json",
    "verify_text",
    "verify_json",
]

SCHEMA_VERSION = 2
"""Version of the ``check --json`` document (2: statuses incl. invalid, error codes, student_id, files)."""
FEEDBACK = ("full", "hints", "verdict")
MARK = {"correct": "✓", "wrong": "✗", "missing": "✗", "invalid": "✗"}


def format_value(value: Any) -> str:
    """Numbers with thousands separators, shapes as 6x30x30, pairs as [h, w]."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return f"{value.numerator:,}"
        if not value.denominator & (value.denominator - 1):  # a half pixel: 0.5, exact as a decimal
            return f"{float(value):g}"
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}" if not value.is_integer() else f"{int(value):,}"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return visible(value)


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


def _where(file: str, line: int | None, what: str = "") -> str:
    """A place in a named file, ``[answers.toml line 7]`` (named: it may be the question file)."""
    if not line:
        return ""
    name = visible(Path(file).name) if file else ""
    return f"  [{what}{name + ' ' if name else ''}line {line}]"


def _check(feedback: str) -> str:
    if feedback not in FEEDBACK:
        raise ValueError(f"unknown feedback {feedback!r}; choose one of {', '.join(FEEDBACK)}")
    return feedback


def _field_lines(f: Any, convention: str | None, show_derivation: bool, feedback: str = "full") -> list[str]:
    label = visible(_field_label(f.name, convention))
    full = feedback == "full"
    if f.status == "invalid":
        return [
            f"  {MARK['invalid']} {label:<20} invalid answer: {visible(f.invalid.message)}" + _where(f.file, f.line)
        ]
    expected = _shape_or_pair(f.name, f.expected)
    tol = f"  (tolerance {f.tolerance})" if f.tolerance != "exact" else ""
    if f.status == "correct":
        extra = f"  ({f.note})" if f.note else ""
        shown = expected if full else "right"
        return [f"  {MARK['correct']} {label:<20} {shown}{tol}{extra}"]
    if f.given is None:
        head = (f"expected {expected}, no answer" if full else "no answer") + _where(f.file, f.line, "question at ")
    else:
        given = f"you wrote {_shape_or_pair(f.name, f.given)}"
        head = (f"expected {expected}, {given}" if full else f"{given}: wrong") + tol + _where(f.file, f.line)
    lines = [f"  {MARK['wrong']} {label:<20} {head}"]
    if f.note and full:
        lines.append(f"      note: {visible(f.note)}")
    if f.hint and feedback in ("full", "hints"):
        lines.append(f"      hint: {f.hint}")
    if show_derivation and full and f.derivation:
        lines.append("      derivation:")
        lines.append(_indent(f.derivation, 8))
    return lines


def _rows_lines(f: Any, show_derivation: bool, feedback: str = "full", max_cells: int = 12) -> list[str]:
    right = sum(1 for c in f.cells if c.correct)
    mark = MARK["correct"] if f.status == "correct" else MARK["wrong"]
    lines = [f"  {mark} {'rows':<20} {right}/{len(f.cells)} cells right"]
    if f.note:
        lines.append(f"      note: {visible(f.note)}")
    if f.status == "invalid":
        lines.append(f"      invalid answer: {visible(f.invalid.message)}" + _where(f.file, f.line))
    carried = [c for c in f.cells if c.correct and c.note.startswith("carried forward")]
    if carried and feedback != "verdict":
        lines.append(f"    ✓ {len(carried)} cell(s) right given your own earlier values (carried forward)")
    wrong = [c for c in f.cells if c.status in ("wrong", "invalid")]
    for c in wrong[:max_cells]:
        for block in _field_lines(c, None, show_derivation, feedback):
            lines.extend("  " + line if line else line for line in block.splitlines())
    if len(wrong) > max_cells:
        lines.append(f"      ... and {len(wrong) - max_cells} more wrong cells (see --json)")
    missing = [c for c in f.cells if c.status == "missing"]
    if missing and feedback == "full":
        lines.append(f"    {MARK['wrong']} no answer for {len(missing)} cell(s), expected:")
        for c in missing[: max_cells * 3]:
            lines.append(f"        {visible(c.name):<28} {_shape_or_pair(c.name, c.expected)}")
        if len(missing) > max_cells * 3:
            lines.append(f"        ... and {len(missing) - max_cells * 3} more (see --json)")
    elif missing:
        lines.append(
            f"    {MARK['wrong']} no answer for {len(missing)} cell(s): " + ", ".join(visible(c.name) for c in missing)
        )
    return lines


def grade_text(result: Any, *, show_derivation: bool = True, feedback: str = "full") -> str:
    """A graded file for one student at the terminal."""
    _check(feedback)
    head = visible(result.title or "homework")
    who = f" (student: {visible(result.student)})" if result.student else ""
    who += f" [id {visible(result.student_id)}]" if result.student_id else ""
    out = [f"{head} - {visible(result.path)}{who}", ""]
    for item in result.invalid:
        out.append(f"{MARK['invalid']} invalid answer: {visible(item.message)}" + _where(result.path, item.line))
    if result.invalid:
        out.append("")
    for q in result.questions:
        title = visible(q.id) + (f": {visible(q.text)}" if q.text else "")
        out.append(f"{title}  [{_points(q.points)} / {_points(q.max_points)} points]")
        if q.error:
            out.append(f"  {MARK['wrong']} could not be graded: {visible(q.error)}")
        for f in q.fields:
            if f.name == "rows":
                out.extend(_rows_lines(f, show_derivation, feedback))
            else:
                out.extend(_field_lines(f, q.convention, show_derivation, feedback))
        if feedback == "full":
            out.extend(f"  note: {visible(note)}" for note in q.notes)
        out.append("")
    fields = [f for q in result.questions for f in q.fields if f.max_points]
    right = sum(1 for f in fields if f.correct)
    pct = 100 * result.score / result.max_score if result.max_score else 100.0
    invalid = len(result.invalid_answers)
    out.append(
        f"Score: {_points(round(result.score, 4))} / {_points(result.max_score)} ({pct:.0f}%),"
        f" {right} of {len(fields)} answers right"
        + (f"; {invalid} answer(s) could not be read (see above)" if invalid else "")
    )
    return visible("\n".join(out), multiline=True) + "\n"  # and anything a piece above let through


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Fraction):
        return float(value) if value.denominator != 1 else value.numerator
    return value


def _score(value: float) -> float:
    return round(float(value), 4)


def _invalid_json(item: Any, file: str) -> dict:
    return {
        "code": item.code,
        "field": item.field,
        "question": item.question,
        "message": item.message,
        "problem": item.problem,
        "fix": item.fix,
        "file": file,
        "line": item.line,
    }


def _field_json(f: Any, feedback: str = "full") -> dict:
    full = feedback == "full"
    out = {
        "field": f.name,
        "status": f.status,
        "correct": f.correct,
        "given": _jsonable(f.given),
        "points": _score(f.points),
        "max_points": _score(f.max_points),
        "tolerance": f.tolerance,
        "file": f.file,
        "line": f.line,
    }
    if full:
        out["expected"] = _jsonable(f.expected)
        out["note"] = f.note
        out["derivation"] = f.derivation if not f.correct else ""
    if feedback in ("full", "hints"):
        out["hint"] = f.hint
    if f.invalid is not None:
        out["error"] = _invalid_json(f.invalid, f.file)
    if f.cells:
        out["cells"] = [_field_json(c, feedback) for c in f.cells]
    return out


def grade_json(result: Any, feedback: str = "full") -> dict:
    """A graded file for autograders."""
    _check(feedback)
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "invalid_answers" if result.has_invalid else "graded",
        "path": result.path,
        "title": result.title,
        "student": result.student,
        "student_id": result.student_id,
        "score": _score(result.score),
        "max_score": _score(result.max_score),
        "all_correct": result.all_correct,
        "feedback": feedback,
        "errors": [_invalid_json(i, result.path) for i in result.invalid_answers],
        "questions": [
            {
                "id": q.id,
                "text": q.text,
                "kind": q.kind,
                "convention": q.convention,
                "points": _score(q.points),
                "max_points": _score(q.max_points),
                "correct": q.correct,
                "error": q.error,
                "notes": list(q.notes) if feedback == "full" else [],
                "fields": [_field_json(f, feedback) for f in q.fields],
            }
            for q in result.questions
        ],
    }


def invalid_file_json(path: str, error: Any, code: str = "invalid_file") -> dict:
    """The JSON for a file that could not be graded at all (``check --json`` still prints JSON)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "invalid_file",
        "path": path,
        "score": 0.0,
        "max_score": None,
        "all_correct": False,
        "errors": [
            {
                "code": code,
                "message": str(error),
                "problem": getattr(error, "problem", str(error)),
                "fix": getattr(error, "fix", "") or "",
                "file": path,
            }
        ],
        "questions": [],
    }


# --------------------------------------------------------------------------- Gradescope


def gradescope_json(result: Any, feedback: str = "hints", error: Any = None, max_score: float | None = None) -> dict:
    """Gradescope's autograder ``results.json``: score, max_score and one test per question.

    With ``error`` (a file that could not be read at all) the score is 0, the
    output says why, and ``max_score`` is the questions' total when known
    (``--questions``).  Outputs are plain text (``output_format``), student text escaped.
    """
    _check(feedback)
    if result is None:
        out: dict[str, Any] = {"score": 0.0}
        if max_score is not None:
            out["max_score"] = _score(max_score)
        out.update(
            output=f"Your answer file could not be graded: {visible(error)}",
            output_format="text",
            visibility="visible",
            stdout_visibility="hidden",
            tests=[],
        )
        return out
    tests = []
    for q in result.questions:
        lines = []
        if q.error:
            lines.append(f"could not be graded: {visible(q.error)}")
        for f in q.fields:
            block = (
                _rows_lines(f, False, feedback) if f.name == "rows" else _field_lines(f, q.convention, False, feedback)
            )
            lines.extend(line.strip() for line in block)
        tests.append(
            {
                "name": visible(q.id) + (f": {visible(q.text)}" if q.text else ""),
                "score": _score(q.points),
                "max_score": _score(q.max_points),
                "output": visible("\n".join(lines), multiline=True),
                "output_format": "text",
                "visibility": "visible",
            }
        )
    extra = [f"invalid answer: {visible(i.message)}" + _where(result.path, i.line) for i in result.invalid]
    return {
        "score": _score(result.score),
        "max_score": _score(result.max_score),
        "output": "\n".join(extra),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


# --------------------------------------------------------------------------- class mode


def gradebook_header(columns: list[str]) -> list[str]:
    return ["student_id", "file", "student", "status", "score", "max_score", "percent"] + columns + ["reason", "flags"]


def flag_text(flag: Any, folder_of: str = "") -> str:
    """One integrity flag in words (file names shown by their name only)."""
    others = ", ".join(Path(o).name for o in flag.others)
    if flag.code == "duplicate_id":
        return f"student_id {flag.value} also in {others}"
    if flag.code == "duplicate_content":
        return f"same file as {others}"
    if flag.code == "duplicate_answers":
        return f"same answers and layout as {others}, apart from the name/id"
    if flag.code == "id_mismatch":
        return f"student_id {flag.value}, file name says {flag.expected}"
    if flag.code == "name_pattern":
        return "file name does not match --id-pattern"
    return flag.code


def _fraction(f: Any) -> str:
    """A field's share earned, 0 to 1 (a table with 26 of 27 cells right: 0.963)."""
    if not f.max_points:
        return "1" if f.correct else "0"
    value = f.points / f.max_points
    return "1" if value == 1 else ("0" if value == 0 else f"{value:.3f}")


def gradebook_row(entry: Any, columns: list[str], max_score: float = 0.0) -> list[str]:
    """One CSV row: the fraction earned per question field; an invalid file scores 0 with its reason."""
    flags = "; ".join(flag_text(f) for f in entry.flags)
    if entry.result is None:
        return (
            [entry.student_id, entry.path, "", "invalid", "0", _points(max_score), "0.0"]
            + ["0"] * len(columns)
            + [entry.error, flags]
        )
    r = entry.result
    marks = {f"{q.id}.{f.name}": _fraction(f) for q in r.questions for f in q.fields if f.max_points}
    pct = 100 * r.score / r.max_score if r.max_score else 100.0
    reasons = [f"{q.id}: {q.error}" for q in r.questions if q.error]
    reasons += [f"line {i.line}: {i.message}" if i.line else i.message for i in r.invalid_answers]
    return (
        [
            entry.student_id,
            entry.path,
            r.student,
            "invalid answers" if r.has_invalid else "graded",
            _points(round(r.score, 4)),
            _points(r.max_score),
            f"{pct:.1f}",
        ]
        + [marks.get(c, "") for c in columns]
        + ["; ".join(reasons), flags]
    )


def class_summary_text(summary: Any) -> str:
    """How many students got each field right, in question order."""
    out = [
        f"Graded {summary.graded} of {len(summary.entries)} file(s)"
        + (f"; {summary.invalid} invalid (scored 0):" if summary.invalid else "")
    ]
    for e in summary.entries:
        if e.result is None:
            out.append(f"  {MARK['wrong']} {visible(e.path)}: {visible(e.error)}")
    partly = [e for e in summary.entries if e.result is not None and e.result.has_invalid]
    if partly:
        out.append(f"{len(partly)} file(s) with answers that could not be read (those answers scored 0):")
        for e in partly:
            first = e.result.invalid_answers[0]
            out.append(f"  {MARK['invalid']} {visible(e.path)}: {visible(first.message)}" + _where(e.path, first.line))
    out.extend(_integrity_lines(summary))
    if summary.skipped:
        out.append(f"Skipped {len(summary.skipped)} file(s) that are not .toml:")
        out.extend(f"  - {visible(p)}" for p in summary.skipped)
    if summary.graded:
        out.append("")
        width = max([len(c) for c in summary.columns] + [14])
        out.append(f"  {'question.field':<{width}}  right")
        for column in summary.columns:
            right, total = summary.counts[column]
            pct = 100 * right / total if total else 0.0
            bar = "#" * round(pct / 10)
            out.append(f"  {visible(column):<{width}}  {right:>3}/{total:<3} {pct:5.0f}%  {bar}")
    out.append("")
    out.append(
        f"Mean score: {summary.mean_score:.2f} / {_points(summary.max_score)}"
        + (" (invalid files count as 0)" if summary.invalid else "")
    )
    if summary.gradebook:
        out.append(f"Gradebook written to {visible(summary.gradebook)}")
    return visible("\n".join(out), multiline=True) + "\n"


def _integrity_lines(summary: Any) -> list[str]:
    """Each integrity finding once (a group of files named together), for the teacher to look at."""
    flagged = [e for e in summary.entries if e.flags]
    if not flagged:
        return []
    out = [
        f"Integrity: {len(flagged)} file(s) to look at"
        " (each graded on its own, nothing merged; flags in the gradebook):"
    ]
    seen: set = set()
    for e in flagged:
        for f in e.flags:
            if f.code in ("duplicate_id", "duplicate_content", "duplicate_answers"):
                group = tuple(sorted((e.path, *f.others)))
                if (f.code, group) in seen:
                    continue
                seen.add((f.code, group))
                names = ", ".join(visible(Path(p).name) for p in group)
                what = {
                    "duplicate_id": f"student_id {visible(f.value)} in {len(group)} files",
                    "duplicate_content": "the same file content",
                    "duplicate_answers": "the same answers and layout apart from the name/id",
                }[f.code]
                out.append(f"  ! {what}: {names}")
            else:
                out.append(f"  ! {visible(Path(e.path).name)}: {visible(flag_text(f))}")
    return out


def class_json(summary: Any, feedback: str = "full") -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "files": len(summary.entries),
        "graded": summary.graded,
        "invalid": summary.invalid,
        "with_invalid_answers": sum(1 for e in summary.entries if e.result is not None and e.result.has_invalid),
        "flagged": len(summary.flagged),
        "skipped": list(summary.skipped),
        "mean_score": _score(summary.mean_score),
        "max_score": _score(summary.max_score),
        "gradebook": summary.gradebook,
        "fields": [
            {"field": c, "right": summary.counts[c][0], "graded": summary.counts[c][1]} for c in summary.columns
        ],
        "flags": _class_flags(summary),
        "students": [
            {
                "path": e.path,
                "student_id": e.student_id,
                "flags": [_flag_json(f) for f in e.flags],
                "error": e.error,
                "score": _score(e.result.score) if e.result else 0.0,
                "result": grade_json(e.result, feedback) if e.result else None,
            }
            for e in summary.entries
        ],
    }


def _class_flags(summary: Any) -> list[dict]:
    """Each integrity finding once: its code and every file concerned."""
    found: dict = {}
    for e in summary.entries:
        for f in e.flags:
            files = tuple(sorted((e.path, *f.others)))
            found.setdefault((f.code, files), {"code": f.code, "files": list(files)})
    return list(found.values())


def _flag_json(f: Any) -> dict:
    return {"code": f.code, "others": list(f.others), "value": f.value, "expected": f.expected, "message": flag_text(f)}


# --------------------------------------------------------------------------- verify-op


def verify_text(result: Any) -> str:
    """A verify-op result: the pass count or the first failing configuration.

    The failure, the detail (lines of the student's file, what their code printed) and the notes
    may carry the student's text: control characters are shown escaped, and the detail is quoted
    (``| ``) so nothing in it can pass for a line of the verdict."""
    target = visible(f"{result.target} as {result.kind}" + (f" ({result.mode})" if result.mode else ""))
    if result.passed:
        lines = [f"{MARK['correct']} {target}: matches {result.reference} on all {result.tried} configurations"]
        lines.extend(f"  note: {visible(n)}" for n in result.notes)
        return "\n".join(lines) + "\n"
    lines = [f"{MARK['wrong']} {target}: {visible(result.failure)}"]
    if result.config:
        lines.append(f"  configuration {result.config_index} of {result.total}: {result.config}")
    if result.expected_shape is not None:
        lines.append(f"  output shape: got {result.got_shape}, expected {result.expected_shape}")
    if result.max_diff is not None:
        lines.append(f"  max |diff| = {result.max_diff:.6g} (tolerance {result.tolerance:g})")
    if result.hint:
        lines.append(f"  hint: {visible(result.hint)}")
    if result.detail:
        lines.extend(f"  | {line}" for line in visible(result.detail, multiline=True).splitlines())
    if result.tried:
        lines.append(f"  {result.tried} configuration(s) passed before this one")
    lines.extend(f"  note: {visible(n)}" for n in result.notes)
    return "\n".join(lines) + "\n"


def verify_json(result: Any) -> dict:
    from dataclasses import asdict

    return asdict(result)
