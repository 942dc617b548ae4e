"""``convcalc.summary``: the notebook API (torchinfo-style).

>>> import convcalc                                       # doctest: +SKIP
>>> convcalc.summary(model, input_size=(1, 3, 224, 224))  # doctest: +SKIP

returns a :class:`Summary` that prints as the rich table (``print(s)``,
``rich.print(s)``), renders as an HTML table in Jupyter (``_repr_html_``), and
converts with ``to_dict()``, ``to_markdown()``, ``to_csv()`` and ``to_html()``
(a whole self-contained page).  The numbers are ``s.report``
(:class:`convcalc.analysis.records.Report`); this module only wraps the renderers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from convcalc.analysis.records import Report

__all__ = ["Summary", "summary"]


@dataclass(frozen=True)
class Summary:
    """A report and how deep to show it; every view is made by ``convcalc.render``."""

    report: Report
    depth: int | None = None

    def __rich_console__(self, console, options):
        from convcalc.render.report import report_renderables

        yield from report_renderables(self.report, self.depth)

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(record=True, width=160, file=io.StringIO(), color_system=None, force_jupyter=False)
        console.print(self)
        return console.export_text()

    def __repr__(self) -> str:
        return repr(self.report)

    def _repr_html_(self) -> str:
        from convcalc.render.html import report_html

        return report_html(self.report, self.depth, fragment=True)

    def to_dict(self) -> dict:
        from convcalc.render.report import report_dict

        return report_dict(self.report)

    def to_markdown(self) -> str:
        from convcalc.render.report import report_markdown

        return report_markdown(self.report, self.depth)

    def to_csv(self) -> str:
        from convcalc.render.report import report_csv

        return report_csv(self.report, self.depth)

    def to_html(self) -> str:
        from convcalc.render.html import report_html

        return report_html(self.report, self.depth)


def summary(
    model: Any,
    input_size: Any = None,
    *,
    input_spec: Any = None,
    input_data: Any = None,
    convention: str = "paddle",
    depth: int | None = None,
    name: str | None = None,
) -> Summary:
    """Analyse ``model`` and return a :class:`Summary` (see the module docstring).

    ``input_size``, ``input_spec`` and ``input_data`` are what
    :func:`convcalc.analyze` takes (a shape with or without batch, InputSpecs,
    example tensors; one, a list or a dict).  Paddle's own C++ log lines are
    kept out of the notebook.
    """
    from convcalc.analysis import analyze
    from convcalc.trace.native_logs import quiet_native_logs

    kwargs: dict[str, Any] = {}
    if input_spec is not None:
        kwargs["input_spec"] = input_spec
    if input_data is not None:
        kwargs["input_data"] = input_data
    with quiet_native_logs():
        report = analyze(model, input_size, convention=convention, name=name, **kwargs)
    return Summary(report, depth)
