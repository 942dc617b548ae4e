"""``--format html``: one self-contained page (no network, no CDN).

The page holds the per-layer table with collapsible containers, bar charts of
FLOPs, parameters and activation memory per layer, the receptive-field growth,
the totals, notes and gaps.  Charts are inline SVG drawn here (a plotting
library would need a CDN or embed megabytes of script for a few bars).  No
script at all: each container is a ``<details open>`` whose ``<summary>`` is its
row, so it folds in the browser, in a Jupyter fragment (``Summary._repr_html_``),
in JupyterLab and in an untrusted notebook (whose sanitiser keeps ``details``
and ``summary``; without the styles it still folds, only unaligned).  Rows are
CSS-grid lines with column widths in ``ch`` taken from the content, so columns
line up across nesting levels.
"""

from __future__ import annotations

import html
from math import prod

import sympy

from convcalc.analysis.records import LayerRecord, Report
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
"""



def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _cells(report: Report, rec: LayerRecord, groups: dict, incomplete: set, training) -> list[tuple[str, bool]]:
    """(text, numeric) of one row's cells after its name."""
    from convcalc.render import training_cost as T

    size, jump, start = field_text(rec)
    if rec.is_leaf:
        params = quantity(rec.params) if not rec.is_functional else "-"
        flops = quantity(rec.flops) + ("" if rec.has_rule else " (no rule)")
    else:
        g_params, g_flops = groups.get(rec.path, (sympy.Integer(0), sympy.Integer(0)))
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


def _bars(title: str, items: list[tuple[str, int]], unit: str = "") -> str:
    """A horizontal bar chart, one bar per layer, as inline SVG."""
    items = [(k, v) for k, v in items if v > 0]
    if not items:
        return f'<div class="chart"><h3>{_e(title)}</h3><p>nothing to draw</p></div>'
    top = max(v for _, v in items)
    label_w, bar_w, row_h = 190, 260, 13
    height = row_h * len(items) + 10
    rows = []
    for i, (label, value) in enumerate(items):
        y = 5 + i * row_h
        w = max(1.0, bar_w * value / top)
        short = label if len(label) <= 32 else "…" + label[-31:]
        shown = f"{value / 1024**2:,.2f} MB" if unit == "bytes" else f"{value:,}"
        rows.append(
            f'<text x="{label_w - 4}" y="{y + 9}" text-anchor="end">{_e(short)}</text>'
            f'<rect x="{label_w}" y="{y + 1}" width="{w:.1f}" height="{row_h - 3}" fill="#4f7cc9">'
            f"<title>{_e(label)}: {_e(shown)}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 9}">{_e(shown)}</text>'
        )
    width = label_w + bar_w + 90
    return (
        f'<div class="chart"><h3>{_e(title)}</h3>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}">{"".join(rows)}</svg></div>'
    )


def _rf_growth(report: Report) -> str:
    """Receptive-field size and jump along the layers (where a field is known and finite)."""
    points = []
    for rec in report.records:
        if not rec.is_leaf or rec.rf_h is None or rec.rf_h.whole:
            continue
        size, jump = sympy.sympify(rec.rf_h.size), sympy.sympify(rec.rf_h.jump)
        if size.is_Integer and jump.is_Integer:
            points.append((rec.path, int(size), int(jump)))
    title = "Receptive field growth (size and jump, input pixels, height axis)"
    if len(points) < 2:
        return f'<div class="chart"><h3>{_e(title)}</h3><p>no spatial receptive field to draw</p></div>'
    w, h, pad = 620, 240, 40
    top = max(p[1] for p in points)
    step = (w - 2 * pad) / (len(points) - 1)

    def xy(i: int, v: int) -> str:
        return f"{pad + i * step:.1f},{h - pad - (h - 2 * pad) * v / top:.1f}"

    size_line = " ".join(xy(i, p[1]) for i, p in enumerate(points))
    jump_line = " ".join(xy(i, p[2]) for i, p in enumerate(points))
    dots = "".join(
        f'<circle cx="{xy(i, p[1]).split(",")[0]}" cy="{xy(i, p[1]).split(",")[1]}" r="2.5" fill="#4f7cc9">'
        f"<title>{_e(p[0])}: size {p[1]}, jump {p[2]}</title></circle>"
        for i, p in enumerate(points)
    )
    axes = (
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#9ca3af"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#9ca3af"/>'
        f'<text x="{pad - 4}" y="{pad + 4}" text-anchor="end">{top}</text>'
        f'<text x="{pad - 4}" y="{h - pad}" text-anchor="end">0</text>'
        f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">layer (in order), {len(points)} with a finite field</text>'
        f'<text x="{w - pad}" y="{pad - 10}" text-anchor="end" fill="#4f7cc9">size</text>'
        f'<text x="{w - pad}" y="{pad + 2}" text-anchor="end" fill="#d97706">jump</text>'
    )
    return (
        f'<div class="chart"><h3>{_e(title)}</h3>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="{_e(title)}">'
        f'{axes}<polyline fill="none" stroke="#4f7cc9" stroke-width="1.5" points="{size_line}"/>'
        f'<polyline fill="none" stroke="#d97706" stroke-width="1.5" points="{jump_line}"/>{dots}</svg></div>'
    )


def _numeric(value) -> int | None:
    value = sympy.sympify(value)
    return int(value) if value.is_Integer else None


def _charts(report: Report) -> str:
    leaves = [r for r in report.records if r.is_leaf]
    flops = [(r.path, v) for r in leaves if (v := _numeric(r.flops)) is not None]
    params = [(r.path, v) for r in leaves if not r.is_functional and (v := _numeric(r.params)) is not None]
    memory = []
    for r in leaves:
        if r.is_functional or not r.output_shape:
            continue
        n = _numeric(prod(sympy.sympify(d) for d in r.output_shape))
        if n is not None:
            memory.append((r.path, n * BYTES_PER_VALUE))
    conv = report.convention.value
    return (
        '<div class="charts">'
        + _bars(f"FLOPs per layer ({conv})", flops)
        + _bars("Parameters per layer", params)
        + _bars("Activation memory per layer (float32 output)", memory, unit="bytes")
        + "</div>"
        + _rf_growth(report)
    )


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
