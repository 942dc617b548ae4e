"""Pictures of receptive fields (``convcalc rf``), drawn with matplotlib (the ``plot`` extra).

Three panels: the input with the theoretical fields of one unit (or of several
layers' units, nested); the effective field (the unit's input gradient averaged
over inputs, Luo et al. 2016) with its theoretical box and the square holding
95% of the gradient; and the field's size and jump along the main path.
Titles are short and wrapped, legends sit below the images, and the layout is
matplotlib's constrained one, so no text leaves the figure.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from convcalc.analysis.effective import MASS_SHARE, UnitBox, UnitField, field_layers, main_path
from convcalc.analysis.records import Report
from convcalc.errors import OutputError
from convcalc.files import atomic_path
from convcalc.render.training import check_plot_support

__all__ = ["check_plot_support", "draw_unit_field", "unit_field_figure", "box_label"]

ERF_BOX = "#22d3ee"
RADIUS_BOX = "#a3e635"


def _quiet_font_cache() -> None:
    """On a fresh home folder matplotlib builds its font cache and logs that at INFO, which Paddle's logging shows."""
    import logging

    logging.getLogger("matplotlib.font_manager").setLevel(logging.WARNING)


def _wrap(text: str, width: int = 52) -> str:
    return "\n".join("\n".join(textwrap.wrap(line, width, break_long_words=True, break_on_hyphens=False))
                     for line in text.split("\n"))


def _fit_titles(fig: Any) -> None:
    """Re-wrap each panel's title to the room it has (and the figure's title to the figure's width).

    A centred title wider than its panel runs into the next one or off the
    figure's edge (finding 4e); the layout engine never narrows a title, so each
    is wrapped, after a draw, to twice the distance from its panel's centre to
    the nearer of the midpoints with its neighbours (or the figure's edge).
    """
    for _ in range(3):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        panels = sorted((ax for ax in fig.axes if ax.get_title()), key=lambda ax: ax.get_position().x0)
        spans = [ax.get_window_extent(renderer) for ax in panels]
        items = []
        for k, (ax, span) in enumerate(zip(panels, spans)):
            left = (spans[k - 1].x1 + span.x0) / 2 if k else fig.bbox.x0 + 4
            right = (span.x1 + spans[k + 1].x0) / 2 if k + 1 < len(spans) else fig.bbox.x1 - 4
            centre = (span.x0 + span.x1) / 2
            items.append((ax.title, 2 * min(centre - left, right - centre)))
        if fig._suptitle is not None:
            items.append((fig._suptitle, fig.bbox.width))
        changed = False
        for title, room in items:
            width = title.get_window_extent(renderer).width
            if width <= room * 0.98:
                continue
            longest = max(len(line) for line in title.get_text().split("\n"))
            title.set_text(_wrap(title.get_text(), max(12, int(longest * room * 0.92 / width))))
            changed = True
        if not changed:
            return


def box_label(b: UnitBox, h: int, w: int) -> str:
    """``layer3.1.relu: 211x211, jump 16`` (+ ``(larger than the input)``)."""
    jump = b.jump[0] if b.jump[0] == b.jump[1] else f"{b.jump[0]}x{b.jump[1]}"
    beyond = " (larger than the input)" if b.larger_than(h, w) else ""
    return f"{b.layer}: {b.size[0]}x{b.size[1]}, jump {jump}{beyond}"


def _rectangle(ax: Any, b: UnitBox, colour: str, h: int, w: int, label: str, width: float = 1.6) -> None:
    """The box, cut at the frame when larger than the input (dashed there, so its edges stay in sight)."""
    from matplotlib.patches import Rectangle

    top, bottom, left, right = b.box
    beyond = b.larger_than(h, w)
    top, left = max(top, 0.0), max(left, 0.0)
    bottom, right = min(bottom, h - 1.0), min(right, w - 1.0)
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                           edgecolor=colour, linewidth=width, linestyle="--" if beyond else "-", label=label,
                           clip_on=False))


def _show_input(ax: Any, image: np.ndarray) -> None:
    shown = image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0]
    shown = np.clip((shown + 1.0) / 2.0, 0.0, 1.0)  # inputs are in [-1, 1]
    ax.imshow(shown, cmap=None if image.shape[0] == 3 else "gray", vmin=0, vmax=1)


def _frame(ax: Any, h: int, w: int) -> None:
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])


def _legend_below(ax: Any, **kwargs: Any) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.02), fontsize=8, frameon=False, borderaxespad=0.2,
              handlelength=1.6, **kwargs)


def _growth(ax: Any, report: Report, chosen: str) -> None:
    """Size and jump (log scale) along the main path; the chosen layer marked."""
    points = main_path([r for r in field_layers(report) if r.is_leaf])
    layers = [rec for rec, _ in points]
    xs = list(range(len(layers)))
    ax.plot(xs, [int(r.rf_h.size) for r in layers], marker="o", markersize=3, label="size (height)")
    ax.plot(xs, [float(r.rf_h.jump) for r in layers], marker="s", markersize=3, drawstyle="steps-post",
            label="jump (height)")
    if any(r.rf_h.size != r.rf_w.size for r in layers):
        ax.plot(xs, [int(r.rf_w.size) for r in layers], marker="o", markersize=3, linestyle="--",
                label="size (width)")
    at = [i for i, r in enumerate(layers) if r.path == chosen]
    if at:
        ax.axvline(at[-1], color="#e11d48", linewidth=1, linestyle=":", label=_wrap(chosen, 30))
    ax.set_yscale("log", base=2)
    ax.set_xlabel("layer, in order (main path)")
    ax.set_ylabel("input pixels")
    side = sum(len(s) for _, s in points)
    ax.set_title("receptive field per layer" + (f" ({side} side-branch rows left out)" if side else ""), fontsize=10)
    ax.legend(fontsize=8, loc="best")
    step = max(1, len(layers) // 12)
    ax.set_xticks(xs[::step])
    short = [r.path if len(r.path) <= 24 else "…" + r.path[-23:] for r in layers]
    ax.set_xticklabels(short[::step], rotation=60, ha="right", fontsize=7)


def draw_unit_field(uf: UnitField, image: np.ndarray, report: Report, path: str | os.PathLike,
                    weights: str = "weights as built", boxes: tuple[UnitBox, ...] = (), seed: int | None = None,
                    source: str = "") -> Path:
    """Write the three-panel picture to ``path`` (.png, .svg or .pdf) and return it.

    ``boxes`` are the theoretical fields drawn on the input (default: ``uf``'s
    own); ``uf`` is the unit whose effective field is shown.
    """
    target = check_plot_support(path)
    _quiet_font_cache()
    import matplotlib.pyplot as plt

    fig = unit_field_figure(uf, image, report, weights=weights, boxes=boxes, seed=seed, source=source)
    try:
        with atomic_path(target, suffix=target.suffix or ".png") as tmp:
            fig.savefig(tmp, dpi=110, format=target.suffix[1:].lower() or "png")
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot write {target}: {exc}", "choose another path") from None
    finally:
        plt.close(fig)
    return target


def unit_field_figure(uf: UnitField, image: np.ndarray, report: Report, weights: str = "weights as built",
                      boxes: tuple[UnitBox, ...] = (), seed: int | None = None, source: str = "") -> Any:
    """The matplotlib figure :func:`draw_unit_field` writes (the caller closes it)."""
    _quiet_font_cache()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = image.shape[1:]
    boxes = tuple(boxes) or (uf,)
    fig, (ax_img, ax_erf, ax_grow) = plt.subplots(1, 3, figsize=(16, 6.2), layout="constrained",
                                                  gridspec_kw={"width_ratios": (1, 1.12, 1.25)})
    _show_input(ax_img, image)
    colours = plt.cm.plasma(np.linspace(0.08, 0.85, len(boxes))) if len(boxes) > 1 else ["#e11d48"]
    for b, colour in zip(boxes, colours):
        _rectangle(ax_img, b, colour, h, w, _wrap(box_label(b, h, w), 48))
    ax_img.plot([uf.centre[1]], [uf.centre[0]], marker="+", color="#e11d48", markersize=10, linestyle="none")
    _frame(ax_img, h, w)
    what = "theoretical fields" if len(boxes) > 1 else "theoretical field"
    ax_img.set_title(f"{what} on the {source or 'input'}", fontsize=10)
    _legend_below(ax_img)

    erf = uf.gradient / uf.gradient.max() if uf.gradient.max() > 0 else uf.gradient
    im = ax_erf.imshow(erf, cmap="magma", vmin=0, vmax=1)
    _rectangle(ax_erf, uf, ERF_BOX, h, w, f"theoretical field {uf.size[0]}x{uf.size[1]}")
    side = 2 * uf.radius + 1
    square = UnitBox(uf.layer, uf.unit, (int(side), int(side)), uf.jump, uf.centre,
                     (uf.centre[0] - uf.radius, uf.centre[0] + uf.radius,
                      uf.centre[1] - uf.radius, uf.centre[1] + uf.radius))
    _rectangle(ax_erf, square, RADIUS_BOX, h, w, f"{MASS_SHARE:.0%} of the gradient: {side:g}x{side:g} "
               f"(r = {uf.radius:g} px)", width=1.3)
    _frame(ax_erf, h, w)
    inputs = f"{uf.samples} random inputs" + (f", seed {seed}" if seed is not None else "") if uf.samples > 1 \
        else "one input"
    ax_erf.set_title(f"effective field of {uf.layer} unit {uf.unit[0]},{uf.unit[1]}\n"
                     f"mean |d unit / d input| over {inputs}, {weights}", fontsize=10)
    fig.colorbar(im, ax=ax_erf, fraction=0.046, pad=0.02)
    ax_erf.plot([], [], " ", label=f"outside the theoretical field: {uf.outside:.1%}")
    _legend_below(ax_erf)

    _growth(ax_grow, report, uf.layer)
    fig.suptitle(f"{report.model}: receptive fields (input {h}x{w})", fontsize=12)
    _fit_titles(fig)
    return fig
