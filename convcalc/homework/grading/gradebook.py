"""Class mode: grade every answer file in a folder, never stopping on a bad one.

Each file becomes an :class:`Entry` (its result, or the reason it could not
be graded, scored 0 and counted in the mean) with a student id (the file's
``student_id``, else its name).  The :class:`ClassSummary` counts, per question
field, how many students got it right.  The gradebook CSV is written to a
temporary file in the same folder and moved into place, so it is never left
half-written; ``excel=True`` starts it with a UTF-8 BOM so Excel reads 王芳.

Class integrity (:func:`integrity`): two files with one student_id, two files with the same
content (byte for byte, or apart from the name and id lines), and, with ``id_pattern``, a file
whose name does not give the id it claims are flagged (:class:`Flag`), on every file
concerned; they are never merged: each file keeps its own row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, replace
from pathlib import Path

from convcalc.errors import ConvcalcError
from convcalc.files import write_atomic
from convcalc.homework.grading.grade import grade_file
from convcalc.homework.grading.results import GradeResult
from convcalc.homework.spec import HomeworkFile

__all__ = [
    "Flag",
    "integrity",
    "compile_id_pattern",
    "Entry",
    "ClassSummary",
    "find_submissions",
    "grade_folder",
    "gradebook_text",
    "write_gradebook",
]


@dataclass(frozen=True)
class Flag:
    """Something the teacher must look at in one file (data; the words are in ``render.homework``).

    ``code``: ``duplicate_id`` (``value`` is the id, ``others`` the other files with it),
    ``duplicate_content`` (byte-identical to ``others``), ``duplicate_answers`` (identical to
    ``others`` apart from the student/student_id lines), ``id_mismatch`` (the file's student_id
    ``value``, its name says ``expected``), ``name_pattern`` (the name does not match --id-pattern).
    """

    code: str
    others: tuple[str, ...] = ()
    value: str = ""
    expected: str = ""


FLAG_CODES = ("duplicate_id", "duplicate_content", "duplicate_answers", "id_mismatch", "name_pattern")


@dataclass(frozen=True)
class Entry:
    """One submission: its grade, or why it could not be graded."""

    path: str
    result: GradeResult | None
    error: str = ""
    student_id: str = ""
    flags: tuple[Flag, ...] = ()
    claimed_id: str = ""  # the file's own student_id ("" when it has none or could not be read)

    @property
    def score(self) -> float:
        return self.result.score if self.result is not None else 0.0


@dataclass(frozen=True)
class ClassSummary:
    """All submissions of a class and how many got each question field right."""

    entries: tuple[Entry, ...]
    columns: tuple[str, ...]
    counts: dict  # column -> (right, graded)
    graded: int
    invalid: int
    mean_score: float  # over every file; an invalid file counts as 0
    max_score: float
    gradebook: str | None = None
    skipped: tuple[str, ...] = ()  # files in the folder that are not .toml
    id_pattern: str = ""

    @property
    def flagged(self) -> tuple[Entry, ...]:
        """The files with an integrity flag (the teacher's attention: class mode exits 3)."""
        return tuple(e for e in self.entries if e.flags)

    @property
    def all_correct(self) -> bool:
        return self.invalid == 0 and all(e.result is not None and e.result.all_correct for e in self.entries)

    @property
    def has_invalid(self) -> bool:
        """Some file could not be graded, or has answers that could not be read."""
        return self.invalid > 0 or any(e.result is not None and e.result.has_invalid for e in self.entries)


def find_submissions(folder: Path, exclude: tuple[Path, ...] = ()) -> tuple[list[Path], list[Path]]:
    """Every ``*.toml`` (any case: ``Upper.TOML``) under ``folder``, sorted, and the other files skipped.

    Hidden files (``.name``) and the files in ``exclude`` are neither graded nor listed.
    """
    skip = {p.resolve() for p in exclude}
    found, skipped = [], []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.resolve() in skip or any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue
        (found if p.suffix.lower() == ".toml" else skipped).append(p)
    return found, skipped


def grade_folder(
    folder: str | Path,
    *,
    questions: HomeworkFile | None = None,
    allow_code: bool = False,
    gradebook: str | Path | None = None,
    exclude: tuple[Path, ...] = (),
    excel: bool = False,
    id_pattern: str | None = None,
) -> ClassSummary:
    """Grade each submission; a bad file gets an entry with the reason, never an exception.

    ``id_pattern``: a regular expression the file name (without ``.toml``) must match in full; its
    group ``id`` (or its first group, or the whole match) is the student's id.
    """
    pattern = compile_id_pattern(id_pattern) if id_pattern else None
    folder = Path(folder)
    if not folder.is_dir():
        raise ConvcalcError(f"{folder}: not a folder", "give the folder holding the submissions")
    files, skipped = find_submissions(folder, exclude + ((Path(gradebook),) if gradebook else ()))
    if not files:
        raise ConvcalcError(
            f"{folder}: no .toml answer files found"
            + (f" ({len(skipped)} other file(s) skipped, e.g. {skipped[0].name})" if skipped else ""),
            "put one answer file per student in the folder, named *.toml",
        )
    cache: dict = {}
    entries = []
    contents: dict[str, bytes] = {}
    for path in files:
        shown = str(path)
        try:
            contents[shown] = path.read_bytes()
        except OSError:
            contents[shown] = b""
        default_id = _name_id(pattern, path.stem)
        try:
            result = grade_file(str(path), questions=questions, allow_code=allow_code, model_cache=cache)
            entries.append(
                Entry(shown, result, student_id=result.student_id or default_id, claimed_id=result.student_id)
            )
        except ConvcalcError as err:
            entries.append(Entry(shown, None, str(err), student_id=default_id))
        except Exception as err:  # never stop the class run on one file
            entries.append(
                Entry(shown, None, f"could not be graded ({type(err).__name__}: {err})", student_id=default_id)
            )
    entries = integrity(entries, contents, pattern)
    summary = summarise(tuple(entries), questions)
    summary = replace(summary, skipped=tuple(str(p) for p in skipped), id_pattern=id_pattern or "")
    if gradebook is not None:
        write_gradebook(summary, Path(gradebook), excel=excel)
        summary = replace(summary, gradebook=str(gradebook))
    return summary


def compile_id_pattern(text: str) -> re.Pattern:
    try:
        pattern = re.compile(text)
    except re.error as err:
        raise ConvcalcError(
            f"--id-pattern {text!r} is not a regular expression ({err})",
            r"write e.g. --id-pattern '(?P<id>\d{7})_.*' for files named 2024001_wang.toml",
        ) from None
    if pattern.groups == 0:
        pattern = re.compile(f"(?P<id>{text})")
    return pattern


def _name_match(pattern: re.Pattern | None, stem: str) -> str | None:
    """The id the file name gives under ``pattern``; None when it does not match."""
    if pattern is None:
        return stem
    m = pattern.fullmatch(stem)
    if m is None:
        return None
    return m.group("id") if "id" in pattern.groupindex else m.group(1)


def _name_id(pattern: re.Pattern | None, stem: str) -> str:
    found = _name_match(pattern, stem)
    return stem if found is None else found


_ID_LINE = re.compile(rb"^[ \t]*(student|student_id)[ \t]*=.*$", re.MULTILINE)


def integrity(entries: list[Entry], contents: dict[str, bytes], pattern: re.Pattern | None) -> list[Entry]:
    """Every entry with its integrity flags (see :class:`Flag`); nothing merged, nothing dropped."""
    flags: dict[str, list[Flag]] = {e.path: [] for e in entries}

    def groups(key_of) -> list[list[Entry]]:
        found: dict = {}
        for e in entries:
            key = key_of(e)
            if key:
                found.setdefault(key, []).append(e)
        return [g for g in found.values() if len(g) > 1]

    for group in groups(lambda e: e.student_id.strip().casefold()):
        for e in group:
            flags[e.path].append(Flag("duplicate_id", tuple(o.path for o in group if o is not e), e.student_id))
    same_bytes = groups(lambda e: hashlib.sha256(contents.get(e.path, b"")).hexdigest() if contents.get(e.path) else "")
    identical = {e.path for g in same_bytes for e in g}
    for group in same_bytes:
        for e in group:
            flags[e.path].append(Flag("duplicate_content", tuple(o.path for o in group if o is not e)))

    def answers_key(e: Entry) -> str:
        data = contents.get(e.path, b"")
        return hashlib.sha256(_ID_LINE.sub(b"", data)).hexdigest() if data else ""

    for group in groups(answers_key):
        if all(e.path in identical for e in group):
            continue
        for e in group:
            others = tuple(o.path for o in group if o is not e and contents[o.path] != contents[e.path])
            if others:
                flags[e.path].append(Flag("duplicate_answers", others))
    if pattern is not None:
        for e in entries:
            from_name = _name_match(pattern, Path(e.path).stem)
            if from_name is None:
                flags[e.path].append(Flag("name_pattern", value=Path(e.path).stem))
            elif e.claimed_id and e.claimed_id.strip() != from_name.strip():
                flags[e.path].append(Flag("id_mismatch", value=e.claimed_id, expected=from_name))
    return [replace(e, flags=tuple(flags[e.path])) for e in entries]


def summarise(entries: tuple[Entry, ...], questions: HomeworkFile | None = None) -> ClassSummary:
    columns: list[str] = []
    if questions is not None:
        columns = [f"{q.id}.{name}" for q in questions.questions for name in q.ask]
    for e in entries:
        if e.result is None:
            continue
        for q in e.result.questions:
            for f in q.fields:
                col = f"{q.id}.{f.name}"
                if f.max_points and col not in columns:
                    columns.append(col)
    counts = {c: [0, 0] for c in columns}
    graded = [e for e in entries if e.result is not None]
    for e in graded:
        for q in e.result.questions:
            for f in q.fields:
                col = f"{q.id}.{f.name}"
                if col in counts:
                    counts[col][1] += 1
                    counts[col][0] += int(f.correct)
    mean = sum(e.score for e in entries) / len(entries) if entries else 0.0
    max_score = max((e.result.max_score for e in graded), default=0.0)
    if questions is not None:
        max_score = sum(q.points for q in questions.questions)
    return ClassSummary(
        entries=entries,
        columns=tuple(columns),
        counts={c: tuple(v) for c, v in counts.items()},
        graded=len(graded),
        invalid=len(entries) - len(graded),
        mean_score=mean,
        max_score=max_score,
    )


def gradebook_text(summary: ClassSummary) -> str:
    """The gradebook CSV: one row per file, the fraction earned per question field."""
    from convcalc.render.escape import csv_cell
    from convcalc.render.homework import gradebook_header, gradebook_row

    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL)  # a cell holding ";=1+1" is never split by a ";" spreadsheet
    columns = list(summary.columns)
    writer.writerow([csv_cell(c) for c in gradebook_header(columns)])
    for e in summary.entries:
        writer.writerow([csv_cell(c) for c in gradebook_row(e, columns, summary.max_score)])
    return buf.getvalue()


def write_gradebook(summary: ClassSummary, path: Path, *, excel: bool = False) -> None:
    """Write the gradebook atomically; ``excel`` adds the UTF-8 BOM Excel needs to read non-ASCII names."""
    text = gradebook_text(summary)
    write_atomic(path, ("\ufeff" + text) if excel else text)
