"""A homework file's text: reading it safely, parsing the TOML, and finding the line of every key.

Every later error names the file, the line and the field through
:class:`Context`.  A number too long for Python's int parser (thousands of
digits) is not a crash: it is read as a marker that the value checks report
as "too large" for that answer only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tomllib

from convcalc.errors import AnswerFileError
from convcalc.homework.spec import InvalidAnswer

__all__ = ["Context", "HUGE", "dotted", "locate", "parse_toml", "read_text", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 2_000_000
HUGE = "\ue000huge-number:"
"""Prefix of the marker that stands for an integer literal too long to parse (followed by its digit count)."""

_LONG_INT = re.compile(r"([=\[,]\s*)([+-]?[0-9][0-9_]{200,})(?=\s*(?:[\],}#]|$))", re.MULTILINE)

_HEADER = re.compile(r"^\s*(\[\[|\[)\s*([^\[\]]+?)\s*(\]\]|\])\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.\s]+?)\s*=")


def _split_key(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def locate(text: str) -> dict[tuple, int]:
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


class Context:
    """Carries the file name and the line map so every error can name its line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = locate(text)

    def line(self, path: tuple) -> int | None:
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def fail(self, path: tuple, problem: str, fix: str, code: str = "invalid_value") -> AnswerFileError:
        """The error for the value at ``path``; ``err.invalid`` keeps it as data (see :class:`InvalidAnswer`)."""
        line = self.line(path)
        where = f"{self.path}" + (f" line {line}" if line else "")
        err = AnswerFileError(f"{where}: field '{dotted(path)}': {problem}", fix)
        err.invalid = InvalidAnswer(field=dotted(path), problem=problem, fix=fix, code=code, line=line)  # type: ignore[attr-defined]
        return err


def dotted(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _mark_huge(text: str) -> str:
    """Replace integer literals of hundreds of digits by a marker string (same line numbers)."""

    def repl(m: re.Match) -> str:
        digits = sum(ch.isdigit() for ch in m.group(2))
        return f'{m.group(1)}"{HUGE}{digits}"'

    return _LONG_INT.sub(repl, text)


def parse_toml(text: str, path: str) -> dict[str, Any]:
    """``tomllib.loads`` with one-line errors; huge integer literals become :data:`HUGE` markers."""
    try:
        try:
            return tomllib.loads(text)
        except ValueError as err:
            if isinstance(err, tomllib.TOMLDecodeError) or "digits" not in str(err):
                raise
            return tomllib.loads(_mark_huge(text))
    except tomllib.TOMLDecodeError as err:
        raise AnswerFileError(
            f"{path}: not valid TOML: {err}", "fix the syntax at that line (see docs/homework.md)"
        ) from None
    except ValueError as err:  # a huge number the marker did not catch (e.g. inside an inline table)
        raise AnswerFileError(f"{path}: a number is too long to read ({err})", "write numbers below 10^15") from None
    except RecursionError:
        raise AnswerFileError(
            f"{path}: not valid TOML: nested too deeply", "use the format of docs/homework.md"
        ) from None


def read_text(path: str | Path) -> str:
    """The text of a homework file: a small UTF-8 file, never a folder or binary data."""
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
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise AnswerFileError(
            f"{p} line {line}: not UTF-8 text (bad byte at offset {err.start})",
            "save the file as UTF-8 TOML",
        ) from None
