"""Pictures of receptive fields (``convcalc rf``), drawn with matplotlib (the ``plot`` extra).

Three panels: the input with the theoretical field of one unit; the effective
field (the unit's input gradient, Luo et al. 2016) with the same box; and the
field's size and jump layer by layer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from convcalc.analysis.effective import UnitField, field_layers
from convcalc.analysis.records import Report
from convcalc.errors import OutputError
from convcalc.files import atomic_path
from convcalc.render.training import check_plot_support

__all__ = ["check_plot_support", "draw_unit_field"]


def _box(ax: Any, uf: UnitField, colour: str) -> None:
    from matplotlib.patches import Rectangle

    top, bottom, left, right = uf.box
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                           fill=False, edgecolor=colour, linewidth=1.6))
    ax.plot([uf.centre[1]], [uf.centre[0]], marker="+", color=colour, markersize=9)


def draw_unit_field(uf: UnitField, image: np.ndarray, report: Report, path: str | os.PathLike,
                    weights: str = "as built") -> Path:
    """Write the three-panel picture to ``path`` (.png, .svg or .pdf) and return it."""
    target = check_plot_support(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0]
    lo, hi = float(shown.min()), float(shown.max())
    shown = (shown - lo) / (hi - lo) if hi > lo else np.zeros_like(shown)
    h, w = image.shape[1:]
    fig, (ax_img, ax_erf, ax_grow) = plt.subplots(1, 3, figsize=(15, 4.8))
    ax_img.imshow(shown, cmap=None if image.shape[0] == 3 else "gray", vmin=0, vmax=1)
    _box(ax_img, uf, "#e11d48")
    top, bottom, left, right = uf.box
    beyond = " (larger than the input)" if top < 0 or left < 0 or bottom > h - 1 or right > w - 1 else ""
    ax_img.set_title(f"theoretical field {uf.size[0]}x{uf.size[1]}, jump {uf.jump[0]}{beyond}")
    erf = uf.gradient / uf.gradient.max() if uf.gradient.max() > 0 else uf.gradient
    im = ax_erf.imshow(erf, cmap="magma", vmin=0, vmax=1)
    _box(ax_erf, uf, "#22d3ee")
    ax_erf.set_title(f"effective field |d unit / d input| ({weights})\n"
                     f"outside the theoretical box: {uf.outside:.1%} of the gradient")
    fig.colorbar(im, ax=ax_erf, fraction=0.046, pad=0.04)
    for ax in (ax_img, ax_erf):
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])

    layers = [r for r in field_layers(report) if r.is_leaf]
    xs = list(range(len(layers)))
    ax_grow.plot(xs, [int(r.rf_h.size) for r in layers], marker="o", markersize=3, label="size (height)")
    ax_grow.plot(xs, [float(r.rf_h.jump) for r in layers], marker="s", markersize=3, label="jump (height)")
    if any(r.rf_h.size != r.rf_w.size for r in layers):
        ax_grow.plot(xs, [int(r.rf_w.size) for r in layers], marker="o", markersize=3, linestyle="--",
                     label="size (width)")
    chosen = [i for i, r in enumerate(layers) if r.path == uf.layer or r.path.startswith(uf.layer + ".")]
    if chosen:
        ax_grow.axvline(chosen[-1], color="#e11d48", linewidth=1, linestyle=":", label=uf.layer)
    ax_grow.set_yscale("log", base=2)
    ax_grow.set_xlabel("layer (in order)")
    ax_grow.set_ylabel("input pixels")
    ax_grow.set_title("receptive field per layer")
    ax_grow.legend(fontsize=8)
    step = max(1, len(layers) // 12)
    ax_grow.set_xticks(xs[::step])
    ax_grow.set_xticklabels([r.path for r in layers][::step], rotation=60, ha="right", fontsize=7)
    fig.suptitle(f"{report.model}: unit {uf.unit[0]},{uf.unit[1]} of {uf.layer}")
    fig.tight_layout()
    try:
        with atomic_path(target, suffix=target.suffix or ".png") as tmp:
            fig.savefig(tmp, dpi=110, format=target.suffix[1:].lower() or "png")
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot write {target}: {exc}", "choose another path") from None
    finally:
        plt.close(fig)
    return target
