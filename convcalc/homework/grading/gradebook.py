"""Class mode: grade every answer file in a folder, never stopping on a bad one.

Each file becomes an :class:`Entry` (its result, or the reason it could not
be graded, scored 0 and counted in the mean) with a student id (the file's
``student_id``, else its name).  The :class:`ClassSummary` counts, per question
field, how many students got it right.  The gradebook CSV is written to a
temporary file in the same folder and moved into place, so it is never left
half-written; ``excel=True`` starts it with a UTF-8 BOM so Excel reads 王芳.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

from convcalc.errors import ConvcalcError
from convcalc.files import write_atomic
from convcalc.homework.grading.grade import grade_file
from convcalc.homework.grading.results import GradeResult
from convcalc.homework.spec import HomeworkFile

__all__ = [
    "Entry",
    "ClassSummary",
    "find_submissions",
    "grade_folder",
    "gradebook_text",
    "write_gradebook",
]


@dataclass(frozen=True)
class Entry:
    """One submission: its grade, or why it could not be graded."""

    path: str
    result: GradeResult | None
    error: str = ""
    student_id: str = ""

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
) -> ClassSummary:
    """Grade each submission; a bad file gets an entry with the reason, never an exception."""
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
    for path in files:
        shown = str(path)
        try:
            result = grade_file(str(path), questions=questions, allow_code=allow_code, model_cache=cache)
            entries.append(Entry(shown, result, student_id=result.student_id or path.stem))
        except ConvcalcError as err:
            entries.append(Entry(shown, None, str(err), student_id=path.stem))
        except Exception as err:  # never stop the class run on one file
            entries.append(
                Entry(shown, None, f"could not be graded ({type(err).__name__}: {err})", student_id=path.stem)
            )
    summary = summarise(tuple(entries), questions)
    summary = replace(summary, skipped=tuple(str(p) for p in skipped))
    if gradebook is not None:
        write_gradebook(summary, Path(gradebook), excel=excel)
        summary = replace(summary, gradebook=str(gradebook))
    return summary


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
    from convcalc.render.homework import gradebook_header, gradebook_row

    buf = io.StringIO()
    writer = csv.writer(buf)
    columns = list(summary.columns)
    writer.writerow(gradebook_header(columns))
    for e in summary.entries:
        writer.writerow(gradebook_row(e, columns, summary.max_score))
    return buf.getvalue()


def write_gradebook(summary: ClassSummary, path: Path, *, excel: bool = False) -> None:
    """Write the gradebook atomically; ``excel`` adds the UTF-8 BOM Excel needs to read non-ASCII names."""
    text = gradebook_text(summary)
    write_atomic(path, ("\ufeff" + text) if excel else text)
