"""``--format html``: one self-contained page (no network, no CDN).

The page holds the per-layer table with collapsible containers, bar charts of
FLOPs, parameters and activation memory per layer, the receptive-field growth,
the totals, notes and gaps.  Charts are inline SVG drawn here (a plotting
library would need a CDN or embed megabytes of script for a few bars); the
only script is the dozen lines that fold a container's rows.
"""

from __future__ import annotations

import html

import sympy

from convcalc.analysis.records import LayerRecord, Report
from convcalc.render.html_charts import CHART_STYLE, charts_html
from convcalc.render.report import (
    CONVENTION_HELP,
    field_text,
    group_flops_text,
    group_totals,
    incomplete_groups,
    quantity,
    shape_text,
    totals_text,
    visible,
)

__all__ = ["report_html"]

BYTES_PER_VALUE = 4

STYLE = """
.convcalc { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 14px; color: #1d2330; }
.convcalc table.layers { border-collapse: collapse; margin: 0.5em 0; }
.convcalc table.layers th, .convcalc table.layers td { padding: 2px 10px; border-bottom: 1px solid #e3e6ec; }
.convcalc table.layers th { background: #f2f4f8; text-align: left; position: sticky; top: 0; }
.convcalc td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.convcalc tr.container td { font-weight: 600; }
.convcalc tr.container td.num { color: #6b7280; font-weight: 400; }
.convcalc tr.functional td.name { font-style: italic; color: #0e7490; }
.convcalc tr.norule td.name { color: #b91c1c; }
.convcalc button.fold { border: none; background: none; cursor: pointer; width: 1.4em; padding: 0; font-size: 12px; }
.convcalc .charts { display: flex; flex-wrap: wrap; gap: 24px; }
.convcalc .chart h3 { font-size: 14px; margin: 0.8em 0 0.3em; }
.convcalc svg text { font-size: 10px; fill: #374151; }
.convcalc pre.totals { background: #f8fafc; padding: 8px; border: 1px solid #e3e6ec; white-space: pre-wrap; }
""" + CHART_STYLE

SCRIPT = """
function convcalcRefresh(tbody) {
  var folded = [];
  tbody.querySelectorAll('button.fold[aria-expanded="false"]').forEach(function (f) {
    folded.push(f.closest('tr').dataset.path);
  });
  tbody.querySelectorAll('tr[data-path]').forEach(function (r) {
    var own = r.dataset.owner, self = r.dataset.path;
    r.hidden = folded.some(function (p) {
      return self !== p && (p === '' || own === p || own.indexOf(p + '.') === 0);
    });
  });
}
document.querySelectorAll('.convcalc button.fold').forEach(function (b) {
  b.addEventListener('click', function () {
    var open = b.getAttribute('aria-expanded') === 'true';
    b.setAttribute('aria-expanded', open ? 'false' : 'true');
    b.textContent = open ? '\\u25B8' : '\\u25BE';
    convcalcRefresh(b.closest('tbody'));
  });
});
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _owner(rec: LayerRecord) -> str:
    """The path whose folding hides this row: the layer itself, or a functional op's parent."""
    return rec.parent if rec.is_functional else rec.path


def _table(report: Report, depth: int | None, training=None) -> str:
    from convcalc.render import training_cost as T

    conv = report.convention.value
    groups = group_totals(report)
    incomplete = incomplete_groups(report)
    head = ("Layer (type)", "Output shape", "Params", f"FLOPs ({conv})", "RF", "Jump", "Start")
    if training is not None:
        head += tuple(f"{h} ({conv})" if h != "Saved" else h for h in T.HEADERS)
    out = ['<table class="layers"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for rec in visible(report, depth):
        indent = "&nbsp;&nbsp;&nbsp;" * max(rec.depth - 1, 0)
        label = rec.path.rsplit(".", 1)[-1] if not rec.is_functional else rec.path.split(":", 1)[1]
        size, jump, start = field_text(rec)
        classes = []
        if rec.is_leaf:
            params = quantity(rec.params) if not rec.is_functional else "-"
            flops = quantity(rec.flops) + ("" if rec.has_rule else " (no rule)")
            fold = '<span style="display:inline-block;width:1.4em"></span>'
            if rec.is_functional:
                classes.append("functional")
            if not rec.has_rule:
                classes.append("norule")
        else:
            g_params, g_flops = groups.get(rec.path, (sympy.Integer(0), sympy.Integer(0)))
            params, flops = quantity(g_params), group_flops_text(g_flops, rec.path, incomplete)
            classes.append("container")
            fold = '<button class="fold" aria-expanded="true" title="fold / unfold">&#x25BE;</button>'
        name = f"{indent}{fold}{_e(label or report.model)} ({_e(rec.kind)})"
        out.append(
            f'<tr class="{" ".join(classes)}" data-path="{_e(rec.path)}" data-owner="{_e(_owner(rec))}">'
            f'<td class="name">{name}</td><td>{_e(shape_text(rec.output_shape))}</td>'
            f'<td class="num">{_e(params)}</td><td class="num">{_e(flops)}</td>'
            f'<td class="num">{_e(size)}</td><td class="num">{_e(jump)}</td><td class="num">{_e(start)}</td>'
            + "".join(f'<td class="num">{_e(c)}</td>' for c in (T.columns(report, training, rec) if training else ()))
            + "</tr>"
        )
    out.append("</tbody></table>")
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
        + f'<pre class="totals">{_e(totals_text(report, training=training).plain)}</pre>'
    )
    if fragment:
        return body + "</div>"
    body += _charts(report) + f"<script>{SCRIPT}</script></div>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(title)}</title></head><body>{body}</body></html>\n"
    )
