"""Table cells of one line, rendered as rich renders a ``Text`` in a column of its width, minus the wrapping.

rich renders each table cell through ``Text.__rich_console__``: it splits the text into lines, wraps
them, justifies them (a copy of the text per step) and joins them again, so the table of a report of a
few hundred rows took as long as the analysis behind it (mobilenet_v2: 58 ms for 233 lines; 46 ms with
these cells, the rest is rich's table layout). A report's cells are one line that fits its column
(:func:`convcalc.render.report._fix_widths` gives each column its widest line), so all that work ends in
the same padded line every time. :class:`OneLine` pads it as ``Text.wrap`` would (left: spaces after,
right: spaces before, the spans moved with the text), puts the text's own style under it as
``Text.join`` does, and lets ``Text.render`` cut the segments: the same segments, so the same bytes.
Anything else (a line wider than its column, as on a narrow terminal; centred or wrapping columns;
tabs, newlines, trailing spaces) is rendered by the ``Text`` itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OneLine"]


class OneLine:
    """A one-line ``rich.text.Text`` as a table cell (see the module docstring)."""

    __slots__ = ("text",)

    def __init__(self, text: Any) -> None:
        self.text = text

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.cells import cell_len
        from rich.text import Span, Text

        text = self.text
        plain = text.plain
        width = options.max_width
        justify = text.justify or options.justify
        if (justify not in ("left", "right") or not options.no_wrap or text.overflow or text.no_wrap is False
                or "\n" in plain or "\t" in plain or plain != plain.rstrip() or cell_len(plain) > width):
            yield from text.__rich_console__(console, options)
            return
        pad = width - cell_len(plain)
        shift = pad if justify == "right" else 0
        padded = " " * pad + plain if shift else plain + " " * pad
        spans = [Span(0, len(padded), text.style)] if text.style else []
        spans += [Span(s.start + shift, s.end + shift, s.style) for s in text.spans]
        yield from Text(padded, spans=spans).render(console, end=text.end)

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        return self.text.__rich_measure__(console, options)
