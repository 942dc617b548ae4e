"""``convcalc profile`` as text: a rich table, Markdown, CSV and a JSON-ready dict.

Times in ms, FLOP/s with SI prefixes, bytes and bytes per second in binary units
(:func:`~convcalc.render.units.format_bytes`).  The header states everything a user
needs to rerun the measurement (device, dtype, threads, seed, repeats, ceilings and
where they came from, allocator, load); the totals say what the numbers mean.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict
from enum import Enum
from typing import Any

from convcalc.profiling.records import Bound, Profile, ProfileRow
from convcalc.render.escape import csv_cell, markup, visible
from convcalc.render.units import format_bytes

__all__ = [
    "profile_dict", "profile_csv", "profile_markdown", "profile_renderables", "header_lines", "totals_lines",
    "warning_lines", "HEADERS", "table_headers", "row_cells", "si", "ms",
]

EFFICIENCY_WARN = 1.2  # a row above this runs faster than the "ceilings": they were measured low
CLASS_SHORT = {Bound.COMPUTE: "compute", Bound.MEMORY: "memory", Bound.OVERHEAD: "overhead"}


def si(x: float | None, unit: str = "") -> str:
    """``3.4e10`` -> ``'34.0 G'`` + unit; ``None`` -> ``'?'``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "?"
    if x == 0:
        return f"0 {unit}".strip()
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}".strip()


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


def _rate(bytes_per_s: float) -> str:
    return format_bytes(bytes_per_s) + "/s"


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _load(values: tuple[float, ...]) -> str:
    return " ".join(f"{v:.2f}" for v in values) if values else "?"


def header_lines(p: Profile) -> list[str]:
    c = p.ceilings
    shapes = " + ".join("x".join(str(d) for d in s) for s in p.input_shapes)
    k = c.kernels
    env = ", ".join(f"{n}={v}" for n, v in p.malloc_env)
    return [
        f"{p.model}  input {shapes}  {p.dtype}  threads {p.threads}  seed {p.seed}  repeat {p.repeat} "
        f"(warmup {p.warmup})  allocator {p.allocator.value}" + (f" ({env})" if env else ""),
        f"device {c.device}, paddle {c.paddle}; ceilings {'cached' if c.source == 'cache' else 'measured'} "
        f"{c.measured_at} (a {k.get('matmul_n', '?')}x{k.get('matmul_n', '?')} matmul; in-place streams up to "
        f"{k.get('stream_mib', '?')} MiB operands)",
        f"peak {si(c.peak_flops, 'FLOP/s')}, DRAM {_rate(c.bandwidth)}, in cache up to {_rate(c.top_bandwidth)}, "
        f"ridge {c.ridge:.1f} FLOP/B; a layer call {c.call_floor * 1e6:.1f} us, "
        f"a page fault {c.fault_cost * 1e6:.2f} us",
        f"load average {_load(p.load_before)} before, {_load(p.load_after)} after; started {p.started}",
    ]


HEADERS = ("Layer", "Kind", "ms", "IQR ms", "Time", "FLOPs (flops)", "Bytes", "FLOP/B", "FLOP/s", "Bytes/s",
           "Bound ms", "Eff", "Class", "Faults", "Profiler ms", "Kernels ms")


def row_cells(r: ProfileRow, training: bool = False) -> list[str]:
    klass = CLASS_SHORT[r.bound_class] + (f": {r.reason.value}" if r.reason.value else "")
    cells = [
        visible(r.path), visible(r.kind), ms(r.median), ms(r.iqr), _pct(r.share),
        "unknown" if r.flops is None else f"{r.flops:,}",
        format_bytes(r.bytes), "?" if r.intensity is None else f"{r.intensity:.2f}", si(r.flops_per_s),
        _rate(r.bytes_per_s), ms(r.bound), f"{r.efficiency:.2f}", klass,
        "-" if r.faults is None else f"{r.faults:,.0f}", ms(r.profiler_scope), ms(r.profiler_kernel),
    ]
    return cells + ([ms(r.backward)] if training else [])


def table_headers(p: Profile) -> list[str]:
    return list(HEADERS) + (["Backward ms"] if p.training else [])


def totals_lines(p: Profile) -> list[str]:
    ge = "" if p.flops_complete else ">= "
    by_index = {r.index: r for r in p.rows}
    lines = [
        f"measured forward {ms(p.measured)} ms (the rows' medians, {ms(p.outside)} ms of it outside every row); "
        f"un-hooked {ms(p.unhooked)} ms (IQR {ms(p.unhooked_iqr)}); hooked end-to-end {ms(p.hooked)} ms",
        f"measurement overhead {p.overhead_paired * 100:+.1f}% (hooked vs un-hooked end-to-end, paired); "
        f"sum of the rows vs un-hooked {p.overhead_sum * 100:+.1f}%",
        f"roofline prediction {ms(p.prediction)} ms; measured / predicted {p.ratio:.2f}x; "
        f"FLOPs {ge}{p.flops_total:,} (flops convention)"
        + ("" if p.flops_complete else f", unknown for {len(p.rows_without_rule)} row(s) without a rule: "
           + ", ".join(p.rows_without_rule[:5]) + (" ..." if len(p.rows_without_rule) > 5 else "")),
        f"rank correlation (Spearman) of per-row FLOPs and time: {p.flops_time_rank:.2f}",
        "classes: " + "; ".join(f"{b.value} {n} row{'' if n == 1 else 's'}, {_pct(t)} of time, {_pct(f)} of FLOPs"
                                for b, n, t, f in p.classes),
        "share of time vs share of FLOPs, most different: " + "; ".join(
            f"{by_index[i].path} ({by_index[i].kind}) {_pct(t)} vs {_pct(f)}" for i, t, f in p.misleading),
    ]
    if p.profiler_forward is not None:
        rank = "" if p.kernel_rank is None else f"; hooks vs kernels per layer: Spearman {p.kernel_rank:.2f}"
        lines.append(f"Paddle's profiler: forward {ms(p.profiler_forward)} ms ({p.profiler_overhead * 100:+.1f}% vs "
                     f"un-hooked), its kernels {ms(p.profiler_kernels)} ms{rank}")
    on_rows = sum(r.faults or 0 for r in p.rows)
    if p.faults_per_forward or on_rows:
        fault_time = p.faults_per_forward * p.ceilings.fault_cost
        lines.append(f"page faults per timed forward {p.faults_per_forward:,.0f} (~{ms(fault_time)} ms at this "
                     f"machine's fault cost), {on_rows:,.0f} on the rows: fresh outputs written for the first time "
                     "(allocator; see --allocator pinned)")
    if p.training is not None:
        t = p.training
        lines.append(f"training step: forward {ms(t.forward)} + backward {ms(t.backward)} + SGD {ms(t.optimizer)} "
                     f"ms (hooked); the step un-hooked {ms(t.step_unhooked)} ms; backward on the rows "
                     f"{ms(t.backward_on_rows)} ms, elsewhere {ms(t.backward_unclaimed)} ms; backward FLOPs "
                     f"{t.backward_flops:,}")
    return lines


def warning_lines(p: Profile, cores: int | None = None) -> list[str]:
    """What makes the numbers less trustworthy than they look."""
    out = []
    fast = [r for r in p.rows if r.efficiency > EFFICIENCY_WARN]
    moving = [r.path for r in fast if r.flops == 0]  # pure data movement faster than input + output
    computing = [r.path for r in fast if r.flops != 0]

    def some(paths: list[str]) -> str:
        return ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")

    if computing:
        out.append(f"{len(computing)} row(s) run faster than the ceilings allow (efficiency > {EFFICIENCY_WARN}: "
                   f"{some(computing)}): the ceilings were measured low (a busy machine); measure them again on a "
                   "quiet one (--remeasure)")
    if moving:
        out.append(f"{len(moving)} row(s) with no arithmetic take less than moving their inputs and outputs "
                   f"would ({some(moving)}): views or identities (reshape, transpose, dropout in eval) that move "
                   "no bytes; their class says nothing")
    if cores and p.load_before and max(p.load_before[0], (p.load_after or (0,))[0]) > cores:
        out.append(f"the machine was busy (load {_load(p.load_before)} on {cores} cores): other work slows some "
                   "repeats; compare the fastest repeats, or rerun when it is quiet")
    return out


def profile_renderables(p: Profile, cores: int | None = None) -> list[Any]:
    """Rich renderables: the header, the table, the totals, warnings and notes."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False, header_style="bold", pad_edge=False)
    for i, h in enumerate(table_headers(p)):
        table.add_column(h, justify="left" if i in (0, 1, 12) else "right", no_wrap=i == 0)
    for r in p.rows:
        path, kind, *cells = row_cells(r, p.training is not None)
        table.add_row(markup(path), markup(kind), *cells,  # (a str cell is read as rich markup)
                      style="italic" if r.is_functional else ("red" if r.flops is None else None))
    tail = totals_lines(p) + [f"warning: {w}" for w in warning_lines(p, cores)] + [f"note: {n}" for n in p.notes]
    # (the model's name, paths and notes are the model author's text)
    return [Text(visible("\n".join(header_lines(p)), multiline=True)), table,
            Text(visible("\n".join(tail), multiline=True))]


def profile_markdown(p: Profile, cores: int | None = None) -> str:
    head = table_headers(p)
    out = [f"## {visible(p.model)}", "", *[f"- {visible(x)}" for x in header_lines(p)], "",
           "| " + " | ".join(head) + " |", "|" + "|".join("---" if i in (0, 1, 12) else "---:"
                                                          for i in range(len(head))) + "|"]
    for r in p.rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in row_cells(r, p.training is not None)) + " |")
    out += ["", *[f"- {x}" for x in totals_lines(p)], *[f"- warning: {visible(w)}" for w in warning_lines(p, cores)],
            *[f"- note: {visible(n)}" for n in p.notes]]
    return "\n".join(out) + "\n"


CSV_FIELDS = ("index", "path", "kind", "is_functional", "call", "median", "iqr", "best", "share", "flops", "bytes",
              "intensity", "flops_per_s", "bytes_per_s", "t_compute", "t_memory", "bound", "efficiency",
              "bound_class", "reason", "source", "faults", "profiler_scope", "profiler_kernel", "backward",
              "backward_flops")


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    return value.value if isinstance(value, Enum) else value


def profile_csv(p: Profile) -> str:
    """One line per row, plain numbers (seconds, bytes, FLOPs; empty = unknown), the header line first."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in p.rows:
        w.writerow([csv_cell(r.path) if f == "path" else csv_cell(r.kind) if f == "kind" else _plain(getattr(r, f))
                    for f in CSV_FIELDS])
    return buf.getvalue()


def _finite(value: Any) -> Any:
    """JSON has no nan/inf: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def profile_dict(p: Profile) -> dict:
    """The profile as JSON-ready data: seconds, bytes, FLOPs as numbers; ``complete`` false when FLOPs are a bound."""
    d = asdict(p)
    for row, r in zip(d["rows"], p.rows):
        row.pop("times")
        row.update(times=list(r.times), intensity=r.intensity, flops_per_s=r.flops_per_s, bytes_per_s=r.bytes_per_s)
    d["ceilings"].update(ridge=p.ceilings.ridge, top_bandwidth=p.ceilings.top_bandwidth)
    d["classes"] = [{"class": b.value, "rows": n, "time_share": t, "flops_share": f} for b, n, t, f in p.classes]
    d["misleading"] = [{"index": i, "time_share": t, "flops_share": f} for i, t, f in p.misleading]
    d.update(ratio=p.ratio, profiler_overhead=p.profiler_overhead, complete=p.flops_complete, units={
        "time": "s", "bytes": "B", "flops": "FLOP (flops convention)", "bandwidth": "B/s"})
    return _finite(d)
