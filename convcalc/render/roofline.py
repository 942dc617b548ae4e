"""``convcalc profile --format html``: a log-log roofline, the bandwidth curve, the totals and the table.

One self-contained page: inline SVG drawn here, no script, no network.  Each row with
FLOPs > 0 is a circle at (FLOP per byte, achieved FLOP/s), its area by share of time,
its colour by class, with a ``<title>`` (the browser's own hover text).  The roofs: the
DRAM bandwidth (solid) and the best in-cache bandwidth (dashed), each up to the matmul
peak.  Rows with 0 or unknown FLOPs cannot sit on a log axis: they are listed under it.
"""

from __future__ import annotations

import html
import math

from convcalc.profiling.records import Bound, Profile
from convcalc.render.profile import header_lines, ms, row_cells, si, table_headers, totals_lines, warning_lines
from convcalc.render.units import format_bytes

__all__ = ["roofline_svg", "bandwidth_svg", "profile_html", "COLOURS", "on_chart"]

COLOURS = {Bound.COMPUTE: "#2563eb", Bound.MEMORY: "#d97706", Bound.OVERHEAD: "#6b7280"}

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 14px; color: #1d2330; }
pre { background: #f8fafc; padding: 8px; border: 1px solid #e3e6ec; white-space: pre-wrap; }
table { border-collapse: collapse; font-size: 12px; }
th, td { padding: 2px 6px; border-bottom: 1px solid #e5e7eb; text-align: right; white-space: nowrap; }
th { background: #f2f4f8; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
tr.functional td:first-child { font-style: italic; color: #0e7490; }
tr.norule td:first-child { color: #b91c1c; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
svg text { font-size: 11px; fill: #374151; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def on_chart(p: Profile) -> list:
    """The rows the roofline can place: known, positive FLOPs and a measured time."""
    return [r for r in p.rows if r.flops and r.bytes and r.median > 0]


class _Axes:
    """Log-log axes mapping data to pixels; the bounds and the ticks are powers of ``xbase`` and ``ybase``."""

    def __init__(self, xs, ys, width, height, margins=(86, 20, 20, 50), xbase=10, ybase=10):
        self.left, self.right, self.top, self.bottom = margins
        self.width, self.height = width, height
        self.xbase, self.ybase = xbase, ybase
        self.x0 = xbase ** math.floor(math.log(min(xs) / 2, xbase))
        self.x1 = xbase ** math.ceil(math.log(max(xs) * 2, xbase))
        self.y0 = ybase ** math.floor(math.log(min(ys) / 2, ybase))
        self.y1 = ybase ** math.ceil(math.log(max(ys) * 2, ybase))

    def x(self, v: float) -> float:
        span = math.log10(self.x1) - math.log10(self.x0)
        return self.left + (math.log10(v) - math.log10(self.x0)) / span * (self.width - self.left - self.right)

    def y(self, v: float) -> float:
        span = math.log10(self.y1) - math.log10(self.y0)
        return self.height - self.bottom - (math.log10(v) - math.log10(self.y0)) / span * (
            self.height - self.top - self.bottom)

    @staticmethod
    def _ticks(lo: float, hi: float, base: int) -> list[float]:
        return [float(base) ** k for k in range(round(math.log(lo, base)), round(math.log(hi, base)) + 1)]

    def frame(self, xlabel: str, ylabel: str, xfmt, yfmt) -> list[str]:
        w, h = self.width, self.height
        out = [f'<rect x="{self.left}" y="{self.top}" width="{w - self.left - self.right}" '
               f'height="{h - self.top - self.bottom}" fill="#fbfbfd" stroke="#d1d5db"/>']
        for v in self._ticks(self.x0, self.x1, self.xbase):
            out.append(f'<line x1="{self.x(v):.1f}" x2="{self.x(v):.1f}" y1="{self.top}" y2="{h - self.bottom}" '
                       f'stroke="#eee"/><text x="{self.x(v):.1f}" y="{h - self.bottom + 14}" '
                       f'text-anchor="middle">{_e(xfmt(v))}</text>')
        for v in self._ticks(self.y0, self.y1, self.ybase):
            out.append(f'<line x1="{self.left}" x2="{w - self.right}" y1="{self.y(v):.1f}" y2="{self.y(v):.1f}" '
                       f'stroke="#eee"/><text x="{self.left - 4}" y="{self.y(v) + 4:.1f}" '
                       f'text-anchor="end">{_e(yfmt(v))}</text>')
        out.append(f'<text x="{(self.left + w - self.right) / 2}" y="{h - 12}" text-anchor="middle">'
                   f'{_e(xlabel)}</text>')
        out.append(f'<text transform="translate(14,{(self.top + h - self.bottom) / 2}) rotate(-90)" '
                   f'text-anchor="middle">{_e(ylabel)}</text>')
        return out


def _tip(r) -> str:
    return (f"{r.path} ({r.kind}): {ms(r.median)} ms, {r.share * 100:.1f}% of time; {si(r.flops, 'FLOP')}, "
            f"{format_bytes(r.bytes)}, {r.intensity:.2f} FLOP/B, {si(r.flops_per_s, 'FLOP/s')}; bound "
            f"{ms(r.bound)} ms, efficiency {r.efficiency:.2f}, {r.bound_class.value}"
            + (f" ({r.reason.value})" if r.reason.value else ""))


def roofline_svg(p: Profile, width: int = 760, height: int = 460) -> str:
    """The log-log roofline (x: FLOP per byte, y: achieved FLOP/s): one circle per row with FLOPs, two roofs."""
    c = p.ceilings
    pts = on_chart(p)
    xs = [r.intensity for r in pts] + [c.ridge, c.peak_flops / c.top_bandwidth]
    ys = [r.flops_per_s for r in pts] + [c.peak_flops]
    ax = _Axes(xs, ys, width, height)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'class="roofline" aria-label="roofline of {_e(p.model)}">']
    out += ax.frame("arithmetic intensity (FLOP per byte moved, log)", "achieved FLOP/s (log)", si,
                    lambda v: si(v, "FLOP/s"))
    for bw, dash, label in ((c.bandwidth, "", "DRAM"), (c.top_bandwidth, ' stroke-dasharray="5,4"', "in cache")):
        ridge = c.peak_flops / bw
        start_y = max(ax.y0, ax.x0 * bw)
        start_x = start_y / bw
        out.append(f'<polyline class="roof" fill="none" stroke="#111827" stroke-width="1.6"{dash} points="'
                   f'{ax.x(start_x):.1f},{ax.y(start_y):.1f} {ax.x(ridge):.1f},{ax.y(c.peak_flops):.1f} '
                   f'{ax.x(ax.x1):.1f},{ax.y(c.peak_flops):.1f}"><title>{label} roof: min(peak '
                   f'{_e(si(c.peak_flops, "FLOP/s"))}, intensity x {_e(format_bytes(bw))}/s)</title></polyline>')
    out.append(f'<text x="{width - ax.right - 4}" y="{ax.y(c.peak_flops) - 5:.1f}" text-anchor="end">peak '
               f'{_e(si(c.peak_flops, "FLOP/s"))} (matmul)</text>')
    for r in sorted(pts, key=lambda r: -r.share):  # small circles on top of large ones
        out.append(f'<circle class="row" cx="{ax.x(r.intensity):.1f}" cy="{ax.y(r.flops_per_s):.1f}" '
                   f'r="{3 + 12 * math.sqrt(r.share):.1f}" fill="{COLOURS[r.bound_class]}" fill-opacity="0.55" '
                   f'stroke="#111827" stroke-width="0.5"><title>{_e(_tip(r))}</title></circle>')
    for i, (b, colour) in enumerate(COLOURS.items()):
        y = ax.top + 12 + 14 * i
        out.append(f'<circle class="legend" cx="{ax.left + 10}" cy="{y}" r="5" fill="{colour}" fill-opacity="0.55"/>'
                   f'<text x="{ax.left + 19}" y="{y + 4}">{b.value}</text>')
    out.append("</svg>")
    return "".join(out)


def bandwidth_svg(p: Profile, width: int = 440, height: int = 300) -> str:
    """The streaming bandwidth by working-set size the memory roof uses (log-log)."""
    curve = sorted(p.ceilings.curve)
    ax = _Axes([x for x, _ in curve], [y for _, y in curve], width, height, margins=(96, 34, 24, 50), xbase=16,
               ybase=4)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           'class="bandwidth" aria-label="streaming bandwidth by working set">']
    out += ax.frame("working set (log)", "bandwidth (log)", format_bytes, lambda v: format_bytes(v) + "/s")
    out.append(f'<text x="{ax.left}" y="14">the memory roof: in-place x += y by working set</text>')
    pts = " ".join(f"{ax.x(x):.1f},{ax.y(y):.1f}" for x, y in curve)
    out.append(f'<polyline fill="none" stroke="#2563eb" stroke-width="1.6" points="{pts}"/>')
    for x, y in curve:
        out.append(f'<circle cx="{ax.x(x):.1f}" cy="{ax.y(y):.1f}" r="3" fill="#2563eb"><title>'
                   f'{_e(format_bytes(x))}: {_e(format_bytes(y))}/s</title></circle>')
    out.append("</svg>")
    return "".join(out)


def _table(p: Profile) -> str:
    heads = table_headers(p)
    text_cols = (0, 1, 12)
    cells = "".join(f'<th{" class=text" if i in text_cols else ""}>{_e(h)}</th>' for i, h in enumerate(heads))
    out = [f"<table><thead><tr>{cells}</tr></thead><tbody>"]
    for r in p.rows:
        cls = "functional" if r.is_functional else ("norule" if r.flops is None else "")
        out.append(f'<tr class="{cls}" data-path="{_e(r.path)}">' + "".join(
            f'<td{" class=text" if i in text_cols else ""}>{_e(c)}</td>'
            for i, c in enumerate(row_cells(r, p.training is not None))) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def profile_html(p: Profile, cores: int | None = None) -> str:
    """The whole page: header, roofline and bandwidth charts, rows off the chart, totals, the table."""
    off = [r.path for r in p.rows if r not in on_chart(p)]
    tail = totals_lines(p) + [f"warning: {w}" for w in warning_lines(p, cores)] + [f"note: {n}" for n in p.notes]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>convcalc profile: {_e(p.model)}</title><style>{STYLE}</style></head><body>"
        f"<h2>convcalc profile: {_e(p.model)}</h2><pre>{_e(chr(10).join(header_lines(p)))}</pre>"
        f'<div class="charts">{roofline_svg(p)}{bandwidth_svg(p)}</div>'
        f"<p>Not on the roofline (0 or unknown FLOPs): {_e(', '.join(off)) or 'none'}</p>"
        f'<pre class="totals">{_e(chr(10).join(tail))}</pre>{_table(p)}</body></html>\n'
    )
