"""Regenerate docs/validation.md: the same as ``convcalc validate --output docs/validation.md``.

Run from the repository root::

    python benchmarks/validate.py              # full run, writes docs/validation.md (its header has the time)
    python benchmarks/validate.py --fast       # CI subset, prints the summary table

Any other arguments are those of ``convcalc validate`` (see ``convcalc validate --help``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from convcalc.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        args = ["--output", str(Path(__file__).resolve().parents[1] / "docs" / "validation.md")]
    raise SystemExit(main(["validate", *args]))
