"""User-facing text cites the book ("book eq. 5.21"), never "seed 5.21" (issue 14)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from convcalc.cli import main

ROOT = Path(__file__).resolve().parents[1]
SEED_CITATION = re.compile(r"\bseed(?:'s)? (?:eqs?\. )?\d+\.\d+")


def _out(*argv: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(list(argv)) == 0
    return buf.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ("formulas",),
        ("formulas", "conv_flops"),
        ("explain", "conv2d", "--input", "3x32x32", "--out-channels", "6", "--kernel", "3"),
        ("report", "book_lenet", "--format", "markdown"),
    ],
)
def test_commands_cite_the_book(argv):
    text = _out(*argv)
    assert not SEED_CITATION.search(text), SEED_CITATION.search(text).group(0)
    assert "book eq" in text or "book §" in text or argv[0] == "report"


def test_report_footer_cites_the_book():
    assert "book eq. 5.21" in _out("report", "book_lenet")


def test_docs_cite_the_book():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found = SEED_CITATION.search(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name}: {found.group(0)}"
