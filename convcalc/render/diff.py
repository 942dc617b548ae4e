"""Rendering of ``convcalc diff``: a rich table of aligned layers, and JSON (bytes in binary units)."""

from __future__ import annotations

from typing import Any

from convcalc.analysis.diff import FLAT, ReportDiff, RowDiff
from convcalc.render.units import format_bytes, format_bytes_delta

STATUS_MARK = {"same": "", "changed": "~", "inserted": "+", "removed": "-", "moved": ">"}
STATUS_STYLE = {"same": "dim", "changed": "yellow", "inserted": "green", "removed": "red", "moved": "cyan"}


def _count(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else str(value)


def _delta(value: int) -> str:
    return "" if value == 0 else f"{value:+,}"


def _shape(shape) -> str:
    return "" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def _pair(a: str, b: str) -> str:
    if a == b:
        return a
    if not a:
        return b
    if not b:
        return a
    return f"{a} → {b}"


def _rf(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        h, w = value
        return str(h) if h == w else f"{h}x{w}"
    return str(value)


def _bytes(nbytes: Any) -> str:
    return format_bytes(nbytes) if isinstance(nbytes, (int, float)) else _count(nbytes)


def diff_renderables(d: ReportDiff, all_rows: bool = False) -> list:
    """The rich table (changed rows, or every row with ``all_rows``) and the totals."""
    from rich.table import Table
    from rich.text import Text

    title = f"{d.label_a} → {d.label_b}"
    if d.convention_a != d.convention_b:
        title += f"  (FLOPs conventions differ: {d.convention_a} vs {d.convention_b})"
    else:
        title += f"  FLOPs convention: {d.convention_a}"
    table = Table(title=title, header_style="bold")
    for col in ("", "Layer", "Type", "Output shape", "Params", "Δ params", "FLOPs", "Δ FLOPs", "Δ output", "RF"):
        table.add_column(col, justify="right" if col.startswith(("Δ", "Params", "FLOPs", "RF")) else "left")
    shown = d.rows if all_rows else d.notable
    for r in shown:
        style = STATUS_STYLE[r.status]
        table.add_row(
            Text(STATUS_MARK[r.status], style=style),
            Text(r.path, style=style if r.status != "same" else ""),
            _pair(r.kind_a or "", r.kind_b or ""),
            _pair(_shape(r.shape_a), _shape(r.shape_b)),
            _pair(_count(r.params_a), _count(r.params_b)),
            _delta(r.params_delta),
            _pair(_count(r.flops_a), _count(r.flops_b)),
            _delta(r.flops_delta),
            format_bytes_delta(r.memory_delta),
            _pair(_rf(r.rf_a), _rf(r.rf_b)),
        )
    lines = [counts_line(d, all_rows)]
    names = {"params": "Total params", "params_trainable": "Trainable params", "flops": "Total FLOPs",
             "peak_activation_bytes": "Peak activations (inference)", "param_bytes": "Param memory"}
    for key, (a, b) in d.totals.items():
        fmt = _bytes if key.endswith("bytes") else _count
        delta = ""
        if isinstance(a, int) and isinstance(b, int):
            delta = f"  ({b - a:+,}" + (f", {b / a:.2f}x)" if a else ")")
            if key.endswith("bytes"):
                delta = f"  ({format_bytes_delta(b - a) or '0 B'})"
        lines.append(f"{names[key]}: {fmt(a)} → {fmt(b)}{delta}")
    if not table.row_count:
        return [Text(f"{title}\n" + "\n".join(lines))]
    return [table, Text("\n".join(lines))]


def counts_line(d: ReportDiff, all_rows: bool = False) -> str:
    """``9 layers aligned by structure: 8 same, 0 changed, 1 inserted (+), 0 removed (-), 0 moved (>)``."""
    c = d.counts
    how = "layer sequence (almost no path in common)" if d.aligned_by == FLAT else "structure"
    renamed = sum(1 for r in d.rows if r.status == "same" and r.renamed) if d.aligned_by != FLAT else 0
    same = f"{c['same']} same" + (f" ({renamed} renamed)" if renamed else "")
    hidden = c["same"] - renamed
    return (f"{len(d.rows)} layers aligned by {how}: {same}, {c['changed']} changed, {c['inserted']} inserted (+), "
            f"{c['removed']} removed (-), {c['moved']} moved (>)"
            + ("" if all_rows or not hidden else "; --all shows the unchanged ones too"))


def _row_dict(r: RowDiff) -> dict:
    return {
        "path": r.path,
        "path_a": r.path_a,
        "path_b": r.path_b,
        "status": r.status,
        "type": {"a": r.kind_a, "b": r.kind_b},
        "config": {"a": r.config_a, "b": r.config_b},
        "output_shape": {"a": list(r.shape_a) if r.shape_a is not None else None,
                         "b": list(r.shape_b) if r.shape_b is not None else None},
        "params": {"a": r.params_a, "b": r.params_b, "delta": r.params_delta},
        "flops": {"a": r.flops_a, "b": r.flops_b, "delta": r.flops_delta},
        "memory_bytes": {"a": r.memory_a, "b": r.memory_b, "delta": r.memory_delta},
        "receptive_field": {"a": list(r.rf_a) if isinstance(r.rf_a, tuple) else r.rf_a,
                            "b": list(r.rf_b) if isinstance(r.rf_b, tuple) else r.rf_b},
    }


def diff_dict(d: ReportDiff) -> dict:
    totals = {}
    for key, (a, b) in d.totals.items():
        entry = {"a": a, "b": b}
        if isinstance(a, int) and isinstance(b, int):
            entry["delta"] = b - a
        totals[key] = entry
    return {
        "a": d.label_a,
        "b": d.label_b,
        "convention": {"a": d.convention_a, "b": d.convention_b},
        "aligned_by": d.aligned_by,
        "counts": d.counts,
        "totals": totals,
        "layers": [_row_dict(r) for r in d.rows],
    }
