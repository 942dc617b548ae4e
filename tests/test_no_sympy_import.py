"""A concrete report never imports sympy (issue 23): it is 0.3-0.5 s of every ``convcalc report``.

sympy is for symbolic output only.  Each check runs in a fresh interpreter (a ``-c`` script), so
modules other tests imported cannot hide an import; the symbolic command at the end is the control
(it must import sympy, so the check can tell).
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import contextlib, io, json, sys
from convcalc.cli import main
out = {{}}
for argv in {commands!r}:
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        rc = main(argv)
    out[" ".join(argv)] = [rc, "sympy" in sys.modules, len(buf.getvalue())]
print(json.dumps(out))
"""


def _run(commands: list[list[str]]) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(commands=commands)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


CONCRETE = [  # traced (--live, or an input the stored zoo reports do not cover) and stored
    ["report", "resnet18", "--format", "json", "--live"],
    ["report", "resnet18", "--live"],
    ["report", "book_resnet18", "--format", "csv", "--convention", "flops", "--live"],
    ["report", "resnet18", "--format", "json"],
    ["report", "book_paddle_lenet", "--format", "markdown", "--convention", "macs", "--input", "1x32x32"],
    ["report", "book_lenet", "--format", "html", "--training"],
    ["report", "shufflenet_v2_x0_25", "--format", "json", "--input", "2x3x97x131"],
]


def test_concrete_reports_do_not_import_sympy():
    out = _run(CONCRETE + [["report", "lenet", "--symbolic", "--format", "json"]])
    *concrete, symbolic = out.values()
    for argv, (rc, imported, size) in zip(CONCRETE, concrete):
        assert rc == 0 and size > 1000, argv
        assert not imported, f"{' '.join(argv)} imported sympy"
    assert symbolic[0] == 0 and symbolic[1], "the symbolic report must import sympy (the control)"


def test_json_report_in_a_fresh_process_does_not_import_sympy():
    """Exactly the command of the issue, alone in its process, traced."""
    out = _run([["report", "resnet18", "--format", "json", "--live"]])
    assert list(out.values()) == [[0, False, out["report resnet18 --format json --live"][2]]]
