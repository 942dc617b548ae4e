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


def _bytes(renderable, width: int, color: bool) -> str:
    console = Console(width=width, file=io.StringIO(), force_terminal=color,
                      color_system="truecolor" if color else None)
    console.print(renderable)
    return console.file.getvalue()


def _as_text(table):
    """The same table with rich's own ``Text`` in every cell (what rich renders without OneLine)."""
    from convcalc.render.line_cells import OneLine

    wrapped = 0
    for column in table.columns:
        wrapped += sum(isinstance(c, OneLine) for c in column._cells)
        column._cells = [c.text if isinstance(c, OneLine) else c for c in column._cells]
    assert wrapped  # (else the comparison checks nothing)
    return table


@pytest.mark.parametrize("name", ["googlenet", "shufflenet_v2_x0_5", "vit_b_16"])
@pytest.mark.parametrize(("width", "color"), [(200, True), (200, False), (90, True), (50, False)])
@pytest.mark.parametrize("verbose", [1, 2])
def test_one_line_cells_render_the_bytes_text_cells_do(name, width, color, verbose):
    """Padded as Text.wrap pads, styled as Text.join styles: the same bytes, ANSI styles included; on a narrow
    console (cells cut with an ellipsis) the cell falls back to the Text itself."""
    report = load(name, "paddle").report(2)
    ours, _ = R.layer_table(report, None, verbose=verbose)
    theirs, _ = R.layer_table(report, None, verbose=verbose)
    assert _bytes(ours, width, color) == _bytes(_as_text(theirs), width, color)


@pytest.mark.parametrize("justify", ["left", "right"])
@pytest.mark.parametrize("width", [30, 12, 6])
def test_a_one_line_cell_is_its_text_in_any_column(justify, width):
    """Styles on the whole text and on part of it, an appended mark, a base style: each the same as the Text."""
    from rich.table import Table
    from rich.text import Text

    from convcalc.render.line_cells import OneLine

    def cells():
        name = Text("  conv1 (Conv2D)")
        name.append(" [1]")
        name.stylize("italic cyan")
        name.stylize("red")
        part = Text("1,234 (no rule)", style="dim")
        part.stylize("bold", 0, 5)
        return [name, part, Text("whole", style="dim"), Text("")]

    def table(wrap):
        t = Table()
        t.add_column("a", justify=justify, no_wrap=True, width=width)
        for cell in cells():
            t.add_row(OneLine(cell) if wrap else cell)
        return t

    for color in (True, False):
        assert _bytes(table(True), 60, color) == _bytes(table(False), 60, color)
