"""Class mode: grade every answer file in a folder, never stopping on a bad one.

Each file becomes an :class:`Entry` (its result, or the reason it could not
be graded); the :class:`ClassSummary` counts, per question field, how many
students got it right.  The gradebook CSV is written to a temporary file in
the same folder and moved into place, so it is never left half-written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from convcalc.errors import ConvcalcError, OutputError
from convcalc.files import atomic_path
from convcalc.homework.grade import GradeResult, grade_file
from convcalc.homework.schema import HomeworkFile

__all__ = [
    "Entry",
    "ClassSummary",
    "find_submissions",
    "grade_folder",
    "write_gradebook",
    "atomic_write_text",
]


@dataclass(frozen=True)
class Entry:
    """One submission: its grade, or why it could not be graded."""

    path: str
    result: GradeResult | None
    error: str = ""


@dataclass(frozen=True)
class ClassSummary:
    """All submissions of a class and how many got each question field right."""

    entries: tuple[Entry, ...]
    columns: tuple[str, ...]
    counts: dict  # column -> (right, graded)
    graded: int
    invalid: int
    mean_score: float
    max_score: float
    gradebook: str | None = None

    @property
    def all_correct(self) -> bool:
        return self.invalid == 0 and all(e.result is not None and e.result.all_correct for e in self.entries)


def find_submissions(folder: Path, exclude: tuple[Path, ...] = ()) -> list[Path]:
    """Every ``*.toml`` under ``folder`` (sorted), except the files in ``exclude``."""
    skip = {p.resolve() for p in exclude}
    return sorted(p for p in folder.rglob("*.toml") if p.is_file() and p.resolve() not in skip)


def grade_folder(
    folder: str | Path,
    *,
    questions: HomeworkFile | None = None,
    allow_code: bool = False,
    gradebook: str | Path | None = None,
    exclude: tuple[Path, ...] = (),
) -> ClassSummary:
    """Grade each submission; a bad file gets an entry with the reason, never an exception."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConvcalcError(f"{folder}: not a folder", "give the folder holding the submissions")
    files = find_submissions(folder, exclude + ((Path(gradebook),) if gradebook else ()))
    if not files:
        raise ConvcalcError(
            f"{folder}: no .toml answer files found",
            "put one answer file per student in the folder",
        )
    cache: dict = {}
    entries = []
    for path in files:
        shown = str(path)
        try:
            result = grade_file(str(path), questions=questions, allow_code=allow_code, model_cache=cache)
            entries.append(Entry(shown, result))
        except ConvcalcError as err:
            entries.append(Entry(shown, None, str(err)))
        except Exception as err:  # never stop the class run on one file
            entries.append(Entry(shown, None, f"could not be graded ({type(err).__name__}: {err})"))
    summary = summarise(tuple(entries), questions)
    if gradebook is not None:
        write_gradebook(summary, Path(gradebook))
        summary = ClassSummary(**{**summary.__dict__, "gradebook": str(gradebook)})
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
                if col not in columns:
                    columns.append(col)
    counts = {c: [0, 0] for c in columns}
    graded = [e for e in entries if e.result is not None]
    for e in graded:
        for q in e.result.questions:
            for f in q.fields:
                col = f"{q.id}.{f.name}"
                counts[col][1] += 1
                counts[col][0] += int(f.correct)
    mean = sum(e.result.score for e in graded) / len(graded) if graded else 0.0
    max_score = max((e.result.max_score for e in graded), default=0.0)
    return ClassSummary(
        entries=entries,
        columns=tuple(columns),
        counts={c: tuple(v) for c, v in counts.items()},
        graded=len(graded),
        invalid=len(entries) - len(graded),
        mean_score=mean,
        max_score=max_score,
    )


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(
            f"cannot write {path}: the folder {folder} does not exist",
            "create it or choose another path",
        )
    try:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}", "choose a writable path") from None


def write_gradebook(summary: ClassSummary, path: Path) -> None:
    """The gradebook CSV: one row per file, a 1/0 column per question field."""
    import io

    from convcalc.render.homework import gradebook_header, gradebook_row

    buf = io.StringIO()
    writer = csv.writer(buf)
    columns = list(summary.columns)
    writer.writerow(gradebook_header(columns))
    for e in summary.entries:
        writer.writerow(gradebook_row(e, columns))
    atomic_write_text(path, buf.getvalue())
