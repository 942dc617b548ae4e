"""The charts of the ``--format html`` page, as inline SVG (no script, no CDN).

Bar charts of FLOPs, parameters and output size per layer, each with a scale
axis in its unit (bytes in B/KiB/MiB/GiB, scaled to the largest bar; counts in
K/M/G) above the bars, every value written beside its bar and the rows left out
said below; and the receptive field along the main path: field size on the left
axis, jump as a step line on its own right axis, gridlines, x ticks at the first
row of each top-level block, the legend above the plot (outside the data), and
side branches (a 1x1 downsample beside a block) drawn as a hollow point where
they join, explained in its tooltip instead of as a dip in the line.
"""

from __future__ import annotations

from math import ceil, floor, log10

from convcalc.analysis.effective import main_path
from convcalc.analysis.records import LayerRecord, Report
from convcalc.formulas.numbers import is_number, is_whole, product
from convcalc.render.escape import html_text as _e
from convcalc.render.units import UNITS, format_bytes

__all__ = ["charts_html", "CHART_STYLE", "nice_ticks"]

BYTES_PER_VALUE = 4  # float32, as the report's memory figures
SIZE_COLOUR, JUMP_COLOUR, WIDTH_COLOUR, BAR_COLOUR = "#2563eb", "#d97706", "#7c3aed", "#4f7cc9"

CHART_STYLE = """
.convcalc .chart p.caption { font-size: 12px; color: #4b5563; margin: 0.2em 0 0.6em; max-width: 720px; }
.convcalc svg text.axis { font-size: 11px; fill: #111827; font-weight: 600; }
"""


def nice_ticks(top: float, n: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top`` (steps 1, 2, 2.5 or 5 times a power of ten), about ``n`` steps.

    >>> nice_ticks(435), nice_ticks(32), nice_ticks(0.7)
    ([0, 100, 200, 300, 400, 500], [0, 10, 20, 30, 40], [0, 0.2, 0.4, 0.6, 0.8])
    """
    if top <= 0:
        return [0]
    magnitude = 10 ** floor(log10(top / n))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if top / (m * magnitude) <= n + 0.5)
    count = ceil(top / step - 1e-9)
    return [_round(k * step) for k in range(count + 1)]


def _round(value: float) -> float:
    value = round(value, 10)
    return int(value) if value == int(value) else value


def _si(value: float) -> str:
    """``0``, ``500``, ``50K``, ``1.5M``, ``2G``: a tick label for a count."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{_round(value / scale):g}{unit}"
    return f"{_round(value):g}"


def _byte_unit(n: float) -> tuple[str, int]:
    """The unit ``(name, bytes)`` of an axis whose largest value is ``n`` bytes: the largest that keeps it >= 1."""
    return [(name, size) for name, size in UNITS if n >= size or size == 1][-1]


def _numeric(value) -> int | None:
    return int(value) if is_whole(value) else None


def _short(label: str, room: int = 32) -> str:
    return label if len(label) <= room else "…" + label[-(room - 1):]


def bars(title: str, items: list[tuple[str, int]], axis: str, unit: str = "count", note: str = "") -> str:
    """A horizontal bar chart, one bar per layer, with a scale axis above the bars.

    ``unit`` is ``"bytes"`` (values and ticks in B/KiB/MiB/GiB) or ``"count"``;
    rows with 0 are left out and counted in the caption.
    """
    shown = [(k, v) for k, v in items if v > 0]
    zero = len(items) - len(shown)
    caption = []
    if zero:
        caption.append(f"{zero} layer{'s' if zero > 1 else ''} with 0 not shown.")
    if note:
        caption.append(note)
    caption_html = f'<p class="caption">{_e(" ".join(caption))}</p>' if caption else ""
    if not shown:
        return f'<div class="chart"><h3>{_e(title)}</h3><p>nothing to draw</p>{caption_html}</div>'
    top = max(v for _, v in shown)
    if unit == "bytes":
        name, scale = _byte_unit(top)
        axis_text = f"{axis} ({name})"

        def text(v):
            return format_bytes(v)

        def tick(v):
            return f"{v:g}"
    else:
        scale, axis_text = 1, axis

        def text(v):
            return f"{v:,}"

        tick = _si
    ticks = nice_ticks(top / scale)
    span = ticks[-1] * scale
    label_w, bar_w, value_w, row_h, head = 200, 300, 110, 13, 34
    height = head + row_h * len(shown) + 6
    parts = [f'<text class="axis" x="{label_w + bar_w / 2}" y="11" text-anchor="middle">{_e(axis_text)}</text>']
    for t in ticks:
        x = label_w + bar_w * t * scale / span
        parts.append(f'<line x1="{x:.1f}" y1="{head - 6}" x2="{x:.1f}" y2="{height - 4}" stroke="#e5e7eb"/>'
                     f'<text class="tick" x="{x:.1f}" y="{head - 9}" text-anchor="middle">{_e(tick(t))}</text>')
    for i, (label, value) in enumerate(shown):
        y = head + i * row_h
        w = max(0.6, bar_w * value / span)
        parts.append(
            f'<text x="{label_w - 4}" y="{y + 9}" text-anchor="end">{_e(_short(label))}</text>'
            f'<rect x="{label_w}" y="{y + 1}" width="{w:.1f}" height="{row_h - 3}" fill="{BAR_COLOUR}">'
            f"<title>{_e(label)}: {_e(text(value))}</title></rect>"
            f'<text class="value" x="{label_w + w + 4:.1f}" y="{y + 9}">{_e(text(value))}</text>'
        )
    return (
        f'<div class="chart"><h3>{_e(title)}</h3>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + value_w}" height="{height}" '
        f'role="img" aria-label="{_e(title)}">{"".join(parts)}</svg>{caption_html}</div>'
    )


# ------------------------------------------------------------------ receptive field
def _finite(rec: LayerRecord, axis: str):
    f = rec.rf_axis(axis)
    if f is None or f.whole:
        return None
    if not (is_whole(f.size) and is_number(f.jump)):
        return None
    return f


def _chart_axes(report: Report) -> tuple[str, ...]:
    """The spatial axes drawn: height (and width when it differs anywhere), or the length of a 1-D model."""
    leaves = [r for r in report.records if r.is_leaf]
    if any(_finite(r, "H") for r in leaves):
        differs = any(_finite(r, "H") and _finite(r, "W") and r.rf_h.size != r.rf_w.size for r in leaves)
        return ("H", "W") if differs else ("H",)
    if any(_finite(r, "L") for r in leaves):
        return ("L",)
    return ()


def _head(path: str) -> str:
    return path.split(":", 1)[0].split(".", 1)[0] or path


def rf_chart(report: Report) -> str:
    """Field size (left axis) and jump (right axis, a step line) along the main path."""
    title = "Receptive field along the main path"
    axes = _chart_axes(report)
    if not axes:
        return f'<div class="chart"><h3>{_e(title)}</h3><p>no spatial receptive field to draw</p></div>'
    main = axes[0]
    names = {"H": "height", "W": "width", "L": "length"}
    leaves = [r for r in report.records if r.is_leaf]
    finite = [r for r in leaves if all(_finite(r, a) for a in axes)]
    points = main_path(finite, size=lambda r: tuple(int(r.rf_axis(a).size) for a in axes))
    title += f" ({' and '.join(names[a] for a in axes)})"
    if len(points) < 2:
        return f'<div class="chart"><h3>{_e(title)}</h3><p>no spatial receptive field to draw</p></div>'
    recs = [r for r, _ in points]
    sizes = {a: [int(r.rf_axis(a).size) for r in recs] for a in axes}
    jumps = [float(r.rf_axis(main).jump) for r in recs]
    s_ticks = nice_ticks(max(max(v) for v in sizes.values()))
    j_ticks = nice_ticks(max(jumps))
    w, h = 720, 306
    left, right, top, bottom = 56, 56, 46, 72
    plot_w, plot_h = w - left - right, h - top - bottom

    def x(i: int) -> float:
        return left + plot_w * i / (len(recs) - 1)

    def y_size(v: float) -> float:
        return top + plot_h * (1 - v / s_ticks[-1])

    def y_jump(v: float) -> float:
        return top + plot_h * (1 - v / j_ticks[-1])

    parts = [f'<rect class="plot" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
             'stroke="#d1d5db"/>']
    for t in s_ticks:  # left axis and gridlines
        parts.append(f'<line x1="{left}" y1="{y_size(t):.1f}" x2="{left + plot_w}" y2="{y_size(t):.1f}" '
                     f'stroke="#eef0f3"/><text class="tick" x="{left - 5}" y="{y_size(t) + 3:.1f}" '
                     f'text-anchor="end" fill="{SIZE_COLOUR}">{t:g}</text>')
    for t in j_ticks:  # right axis
        parts.append(f'<line x1="{left + plot_w}" y1="{y_jump(t):.1f}" x2="{left + plot_w + 4}" y2="{y_jump(t):.1f}" '
                     f'stroke="{JUMP_COLOUR}"/><text class="tick" x="{left + plot_w + 7}" y="{y_jump(t) + 3:.1f}" '
                     f'fill="{JUMP_COLOUR}">{t:g}</text>')
    middle = top + plot_h / 2
    parts.append(
        f'<text class="axis" transform="translate(14,{middle}) rotate(-90)" text-anchor="middle" '
        f'fill="{SIZE_COLOUR}">field size (input pixels)</text>'
        f'<text class="axis" transform="translate({w - 12},{middle}) rotate(90)" text-anchor="middle" '
        f'fill="{JUMP_COLOUR}">jump (input pixels)</text>'
        f'<text class="axis" x="{left + plot_w / 2}" y="{h - 8}" text-anchor="middle">'
        f"layers in order along the main path ({len(recs)}; first row of each block labelled)</text>"
    )
    last_x = -1e9
    for i, rec in enumerate(recs):  # x ticks: the first point of each top-level block, thinned when crowded
        if i and _head(rec.path) == _head(recs[i - 1].path):
            continue
        if x(i) - last_x < 16:
            continue
        last_x = x(i)
        parts.append(f'<line x1="{x(i):.1f}" y1="{top + plot_h}" x2="{x(i):.1f}" y2="{top + plot_h + 4}" '
                     f'stroke="#9ca3af"/><text class="xtick" text-anchor="end" '
                     f'transform="translate({x(i) + 3:.1f},{top + plot_h + 9}) rotate(-45)">'
                     f"{_e(_short(_head(rec.path), 14))}</text>")
    jump_line = []
    for i, j in enumerate(jumps):  # a step: the jump changes at the row that changes it
        if i:
            jump_line.append(f"{x(i):.1f},{y_jump(jumps[i - 1]):.1f}")
        jump_line.append(f"{x(i):.1f},{y_jump(j):.1f}")
    parts.append(f'<polyline class="jump" fill="none" stroke="{JUMP_COLOUR}" stroke-width="1.5" '
                 f'stroke-dasharray="5 2" points="{" ".join(jump_line)}"/>')
    for axis, colour in zip(axes, (SIZE_COLOUR, WIDTH_COLOUR)):
        line = " ".join(f"{x(i):.1f},{y_size(v):.1f}" for i, v in enumerate(sizes[axis]))
        dash = ' stroke-dasharray="2 2"' if axis == "W" else ""
        parts.append(f'<polyline class="size size-{axis}" fill="none" stroke="{colour}" stroke-width="1.7"{dash} '
                     f'points="{line}"/>')
    for i, (rec, side) in enumerate(points):
        f = rec.rf_axis(main)
        tip = f"{rec.path} ({rec.kind}): size {f.size}, jump {f.jump}, start {f.start}"
        if len(axes) > 1:
            tip += f"; width {rec.rf_axis('W').size}"
        if side:
            tip += "; a side branch joins here: " + ", ".join(
                f"{s.path} ({s.kind}, size {s.rf_axis(main).size}, jump {s.rf_axis(main).jump})" for s in side)
        parts.append(f'<circle class="{"joined" if side else "point"}" cx="{x(i):.1f}" '
                     f'cy="{y_size(sizes[main][i]):.1f}" r="{3.4 if side else 2.4}" '
                     f'fill="{"#ffffff" if side else SIZE_COLOUR}" stroke="{SIZE_COLOUR}" stroke-width="1.4">'
                     f"<title>{_e(tip)}</title></circle>")
    legend = [
        f'<line x1="0" y1="0" x2="20" y2="0" stroke="{SIZE_COLOUR}" stroke-width="2"/>'
        f'<text x="25" y="3">field size ({names[main]})</text>',
        f'<line x1="135" y1="0" x2="155" y2="0" stroke="{JUMP_COLOUR}" stroke-width="2" stroke-dasharray="5 2"/>'
        f'<text x="160" y="3">jump (right axis)</text>',
        f'<circle cx="268" cy="0" r="3.4" fill="#ffffff" stroke="{SIZE_COLOUR}" stroke-width="1.4"/>'
        f'<text x="276" y="3">a side branch joins (hover for it)</text>',
    ]
    if len(axes) > 1:
        legend.append(f'<line x1="450" y1="0" x2="470" y2="0" stroke="{WIDTH_COLOUR}" stroke-width="2" '
                      'stroke-dasharray="2 2"/><text x="475" y="3">field size (width)</text>')
    parts.append(f'<g class="legend" transform="translate({left},{top - 22})">{"".join(legend)}</g>')
    side_rows = sum(len(s) for _, s in points)
    trailing = len(finite) - len(recs) - side_rows
    left_out = len(leaves) - len(finite)
    caption = (f"{len(recs)} rows on the main path; {side_rows + trailing} on side branches (a field smaller "
               "than one before it), named in the tooltip of the hollow point where they join")
    if left_out:
        caption += (f"; {left_out} rows without a finite field (after global pooling or flatten, or symbolic) "
                    "not drawn")
    return (
        f'<div class="chart"><h3>{_e(title)}</h3>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="{_e(title)}">'
        f'{"".join(parts)}</svg><p class="caption">{_e(caption)}.</p></div>'
    )


def charts_html(report: Report) -> str:
    """Every chart of the page: three bar charts, then the receptive field."""
    leaves = [r for r in report.records if r.is_leaf]
    flops = [(r.path, v) for r in leaves if (v := _numeric(r.flops)) is not None]
    params = [(r.path, v) for r in leaves if not r.is_functional and (v := _numeric(r.params)) is not None]
    memory = []
    for r in leaves:
        if r.is_functional or not r.output_shape:
            continue
        n = _numeric(product(r.output_shape))
        if n is not None:
            memory.append((r.path, n * BYTES_PER_VALUE))
    conv = report.convention.value
    return (
        '<div class="charts">'
        + bars(f"FLOPs per layer ({conv})", flops, f"FLOPs ({conv} convention)")
        + bars("Parameters per layer", params, "parameters")
        + bars("Output size per layer (float32)", memory, "bytes of the layer's output", unit="bytes",
               note="Each row's output, counted once; not the memory alive at once.")
        + "</div>"
        + rf_chart(report)
    )
