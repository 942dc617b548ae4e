"""``--format html``: one self-contained page (no network, no CDN).

The page holds the per-layer table with collapsible containers, bar charts of
FLOPs, parameters and output size per layer, the receptive-field growth,
the totals, notes and gaps.  Charts are inline SVG drawn by
:mod:`convcalc.render.html_charts` (a plotting library would need a CDN or
embed megabytes of script for a few bars).  No
script at all: each container is a ``<details open>`` whose ``<summary>`` is its
row, so it folds in the browser, in a Jupyter fragment (``Summary._repr_html_``),
in JupyterLab and in an untrusted notebook (whose sanitiser keeps ``details``
and ``summary``; without the styles it still folds, only unaligned).  Rows are
CSS-grid lines with column widths in ``ch`` taken from the content, so columns
line up across nesting levels.
"""

from __future__ import annotations

from convcalc.analysis.records import LayerRecord, Report
from convcalc.render.escape import html_text as _e
from convcalc.render.html_charts import CHART_STYLE, charts_html
from convcalc.render.report import (
    CONVENTION_HELP,
    field_text,
    group_flops_text,
    group_totals,
    incomplete_groups,
    quantity,
    row_notes,
    shape_text,
    totals_text,
    visible,
)

__all__ = ["report_html"]

BYTES_PER_VALUE = 4

STYLE = """
.convcalc { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 14px; color: #1d2330; }
.convcalc .layers { margin: 0.5em 0; font-size: 13px; width: max-content; }
.convcalc .layers .row { display: grid; grid-template-columns: var(--cols); column-gap: 1.5ch;
  border-bottom: 1px solid #e3e6ec; padding: 1px 4px; }
.convcalc .layers .row > span { white-space: nowrap; }
.convcalc .layers .row > span.num { text-align: right; font-variant-numeric: tabular-nums; }
.convcalc .layers .head { font-weight: 600; background: #f2f4f8; position: sticky; top: 0; }
.convcalc .layers details > summary { list-style: none; cursor: pointer; display: block; }
.convcalc .layers details > summary::-webkit-details-marker { display: none; }
.convcalc .layers details > summary .name::before { content: "\\25B8\\00a0"; }
.convcalc .layers details[open] > summary .name::before { content: "\\25BE\\00a0"; }
.convcalc .layers .container > span { font-weight: 600; }
.convcalc .layers .container > span.num { color: #6b7280; font-weight: 400; }
.convcalc .layers .functional .name { font-style: italic; color: #0e7490; }
.convcalc .layers .norule .name { color: #b91c1c; }
.convcalc .charts { display: flex; flex-wrap: wrap; gap: 24px; }
.convcalc .chart h3 { font-size: 14px; margin: 0.8em 0 0.3em; }
.convcalc svg text { font-size: 10px; fill: #374151; }
.convcalc pre.totals { background: #f8fafc; padding: 8px; border: 1px solid #e3e6ec; white-space: pre-wrap; }
""" + CHART_STYLE



def _cells(report: Report, rec: LayerRecord, groups: dict, incomplete: set, training) -> list[tuple[str, bool]]:
    """(text, numeric) of one row's cells after its name."""
    from convcalc.render import training_cost as T

    size, jump, start = field_text(rec)
    if rec.is_leaf:
        params = quantity(rec.params) if not rec.is_functional else "-"
        flops = quantity(rec.flops) + ("" if rec.has_rule else " (no rule)")
    else:
        g_params, g_flops = groups.get(rec.path, (0, 0))
        params, flops = quantity(g_params), group_flops_text(g_flops, rec.path, incomplete)
    cells = [(shape_text(rec.output_shape), False), (params, True), (flops, True), (size, True), (jump, True),
             (start, True)]
    return cells + [(c, True) for c in (T.columns(report, training, rec) if training else ())]


def _table(report: Report, depth: int | None, training=None) -> str:
    """The layer table: containers as nested ``<details open>`` (their row is the ``<summary>``), no script."""
    from convcalc.render import training_cost as T

    conv = report.convention.value
    groups = group_totals(report)
    incomplete = incomplete_groups(report)
    head = ["Layer (type)", "Output shape", "Params", f"FLOPs ({conv})", "RF", "Jump", "Start"]
    if training is not None:
        head += [f"{h} ({conv})" if h != "Saved" else h for h in T.HEADERS]
    rows = visible(report, depth)
    has_children = {r.parent for r in rows if r.path} | {r.parent for r in rows if r.is_functional}
    marks = row_notes(rows)
    lines = []
    for rec in rows:
        label = rec.path.rsplit(".", 1)[-1] if not rec.is_functional else rec.path.split(":", 1)[1]
        name = f"{label or report.model} ({rec.kind})" + (f" [{marks[rec.index]}]" if rec.index in marks else "")
        lines.append((rec, name, _cells(report, rec, groups, incomplete, training)))
    widths = [len(h) for h in head]
    for rec, name, cells in lines:
        widths[0] = max(widths[0], len(name) + 2 * max(rec.depth - 1, 0) + 2)
        for k, (text, _) in enumerate(cells, 1):
            widths[k] = max(widths[k], len(text))
    cols = " ".join(f"{w + 1}ch" for w in widths)
    out = [f'<div class="layers" role="table" style="--cols: {cols}">',
           '<div class="row head" role="row">' + "".join(
               f'<span role="columnheader"{" class=num" if k > 1 else ""}>{_e(h)}</span>'
               for k, h in enumerate(head)) + "</div>"]
    stack: list[str] = []  # the open <details>, by container path
    for rec, name, cells in lines:
        owner = rec.parent
        while stack and not (stack[-1] == "" or owner == stack[-1] or owner.startswith(stack[-1] + ".")):
            out.append("</details>")
            stack.pop()
        classes = ["row", "leaf" if rec.is_leaf else "container"]
        if rec.is_functional:
            classes.append("functional")
        if rec.is_leaf and not rec.has_rule:
            classes.append("norule")
        pad = 2 * max(rec.depth - 1, 0) + (2 if rec.is_leaf else 0)  # a leaf under its container's "▾ "
        indent = f' style="padding-left:{pad}ch"' if pad else ""
        row = (f'<div class="{" ".join(classes)}" role="row" data-path="{_e(rec.path)}">'
               f'<span class="name"{indent}>{_e(name)}</span>'
               + "".join(f'<span{" class=num" if num else ""}>{_e(text)}</span>' for text, num in cells) + "</div>")
        if not rec.is_leaf and rec.path in has_children:
            out.append(f'<details open data-path="{_e(rec.path)}"><summary>{row}</summary>')
            stack.append(rec.path)
        else:
            out.append(row)
    out += ["</details>"] * len(stack)
    out.append("</div>")
    return "\n".join(out)


def _charts(report: Report) -> str:
    return charts_html(report)  # the charts: convcalc.render.html_charts


def report_html(report: Report, depth: int | None = None, *, fragment: bool = False, training=None) -> str:
    """The report as HTML: a whole page, or (``fragment=True``) the table and totals for Jupyter."""
    conv = report.convention.value
    title = f"{report.model} — input {shape_text(report.input_shape)} — FLOPs convention {conv}"
    body = (
        f'<div class="convcalc"><style>{STYLE}</style>'
        f"<h2>{_e(title)}</h2>"
        f"<p>{_e(conv)}: {_e(CONVENTION_HELP.get(conv, ''))}</p>"
        + _table(report, depth, training)
        + f'<pre class="totals">{_e(totals_text(report, visible(report, depth), training=training).plain)}</pre>'
    )
    if fragment:
        return body + "</div>"
    body += _charts(report) + "</div>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(title)}</title></head><body>{body}</body></html>\n"
    )
