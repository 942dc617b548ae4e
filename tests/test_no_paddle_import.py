"""``convcalc.formulas``, ``convcalc formulas`` and ``convcalc explain`` never import paddle.

Each check runs in a fresh interpreter (a ``-c`` script), so modules other
tests imported cannot hide or fake an import.
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import contextlib, io, json, sys
rc = None
{body}
print(json.dumps({{"rc": rc, "paddle": sorted(m for m in sys.modules if m == "paddle" or m.startswith("paddle."))}}))
"""


def _run(body: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(body=body)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli(argv: list[str]) -> str:
    return (
        "from convcalc.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main({argv!r})\n"
    )


COMMANDS = [
    ["formulas"],
    ["formulas", "conv_output_size", "--latex"],
    ["formulas", "--json"],
    ["explain", "conv2d", "--input", "3x32x32", "--out-channels", "6", "--kernel", "3"],
    ["explain", "conv2d", "--input", "3xHxW", "--out-channels", "6", "--kernel", "3", "--padding", "same"],
    ["explain", "pool2d", "--input", "6x28x28", "--kernel", "2", "--json"],
    ["explain", "linear", "--in-features", "120", "--out-features", "84"],
    ["explain", "batchnorm", "--input", "64x16x16"],
]


def test_import_formulas_does_not_import_paddle():
    out = _run("import convcalc.formulas\nfrom convcalc.formulas import catalog\ncatalog.catalog()")
    assert out["paddle"] == []


def test_formulas_and_explain_commands_do_not_import_paddle():
    # one interpreter runs every command (each costs a sympy import when cold);
    # the return codes prove they all ran to the end
    body = (
        "from convcalc.cli import main\n"
        "rcs = []\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    for argv in {COMMANDS!r}:\n"
        "        rcs.append(main(argv))\n"
        "rc = rcs\n"
        "assert 'convcalc.explain.layers' in sys.modules and 'convcalc.formulas.catalog' in sys.modules\n"
    )
    out = _run(body)
    assert out["rc"] == [0] * len(COMMANDS)
    assert out["paddle"] == []
