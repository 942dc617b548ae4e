"""The report table's column widths are given to rich, not measured by it: the table must look the same."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from convcalc.analysis.stored import load
from convcalc.render import report as R


def _text(table, width: int) -> str:
    console = Console(width=width, file=io.StringIO())
    console.print(table)
    return console.file.getvalue()


@pytest.mark.parametrize("name", ["googlenet", "shufflenet_v2_x0_5", "vit_b_16"])
@pytest.mark.parametrize("width", [200, 90])
def test_given_widths_render_as_measured_ones(name, width):
    report = load(name, "paddle").report(2)
    table, _ = R.layer_table(report, None, verbose=2)
    given = [c.width for c in table.columns]
    assert all(w is not None for w in given)  # every column got its width (else this test checks nothing)
    fixed = _text(table, width)
    for column in table.columns:
        column.width = None  # rich measures every cell, as it did before
    assert _text(table, width) == fixed
