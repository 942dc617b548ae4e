"""Text of ``convcalc report --training``: the training columns, group subtotals, totals and JSON fields.

The report renderers (:mod:`convcalc.render.report`, :mod:`convcalc.render.html`)
call these when given a :class:`~convcalc.analysis.training.TrainingCost`.
"""

from __future__ import annotations

from typing import Any

from convcalc.analysis.records import LayerRecord, Report
from convcalc.render.columns import row_name
from convcalc.render.units import format_bytes

__all__ = ["HEADERS", "CSV_HEADERS", "columns", "training_lines", "row_dict", "totals_dict"]

HEADERS = ("Bwd dx", "Bwd dW", "Saved")  # the forward is the report's own FLOPs column
CSV_HEADERS = ["forward", "backward_input", "backward_weight", "saved_bytes"]


def _by_index(tc) -> dict[int, Any]:
    return {r.index: r for r in tc.rows}


def _subtree(report: Report, tc, path: str) -> tuple[int, int, int, int]:
    """Forward, dx, dW and saved bytes summed over a container's subtree (a value read twice counted once)."""
    rows = _by_index(tc)
    f = dx = dw = 0
    saved: dict[str, int] = {}
    sizes = dict(tc.saved_values)
    for rec in report.records:
        owner = rec.parent if rec.is_functional else rec.path
        if not rec.is_leaf or not (path == "" or owner == path or owner.startswith(path + ".")):
            continue
        r = rows.get(rec.index)
        if r is None:
            continue
        f, dx, dw = f + r.forward, dx + r.backward_input, dw + r.backward_weight
        saved.update({v: sizes.get(v, 0) for v in r.saved})
    return f, dx, dw, sum(saved.values())


def columns(report: Report, tc, rec: LayerRecord, raw: bool = False) -> tuple:
    """The training cells of one row: input-gradient and weight-gradient FLOPs and saved bytes.

    ``raw``: plain integers, the forward first (CSV); otherwise text.  A container shows its subtree's sums.
    """
    if rec.is_leaf:
        r = _by_index(tc).get(rec.index)
        values = (r.forward, r.backward_input, r.backward_weight, r.saved_bytes) if r else (0, 0, 0, 0)
    else:
        values = _subtree(report, tc, rec.path)
    if raw:
        return values
    _, dx, dw, saved = values
    return (f"{dx:,}", f"{dw:,}", format_bytes(saved) if saved else "-")


def training_lines(tc) -> list[str]:
    """The totals of a training step and its memory, under the table."""
    t = tc.totals
    conv = tc.convention.value
    unit = "MACs" if conv == "macs" else "FLOPs"
    lines = [
        f"Training step ({conv}, batch {tc.batch}): forward {t.forward:,} + input gradients {t.backward_input:,} "
        f"+ weight gradients {t.backward_weight:,} = {t.step:,} {unit}"
        + ("" if t.complete else " (a lower bound: ops without a backward rule)"),
    ]
    if t.samples:
        last = t.samples - (t.steps_per_epoch - 1) * tc.batch
        partial = f", the last one of {last} counted as a full batch" if last != tc.batch else ""
        lines.append(f"Per epoch ({t.samples:,} samples = {t.steps_per_epoch:,} steps of batch {tc.batch}{partial}): "
                     f"{t.epoch:,} {unit}")
    master = f", fp32 master weights {format_bytes(t.master_bytes)}" if t.master_bytes else ""
    where = ""
    if t.peak_at:
        where = f" (in the {'backward' if t.peak_in_backward else 'forward'} of {row_name(t.peak_at)})"
    lines.append(
        f"Training memory ({tc.optimizer}, {tc.dtype}): params {format_bytes(t.params_bytes)}, grads "
        f"{format_bytes(t.grads_bytes)}, optimizer state {format_bytes(t.optimizer_bytes)}{master}, activations "
        f"saved for backward {format_bytes(t.activations_bytes)}"
    )
    lines.append(
        f"Training step peak: {format_bytes(t.peak_bytes)} = params, grads and optimizer state "
        f"{format_bytes(t.persistent_bytes)} + input batch {format_bytes(t.batch_bytes)} + activations and "
        f"gradients in flight {format_bytes(t.in_flight_bytes)}{where}"
    )
    if tc.ops_without_rule:
        lines.append("No backward rule: " + ", ".join(f"{k} x{n}" for k, n in tc.ops_without_rule))
    return lines


def row_dict(tc, rec: LayerRecord) -> dict | None:
    r = _by_index(tc).get(rec.index)
    if r is None:
        return None
    return {"forward": r.forward, "backward_input": r.backward_input, "backward_weight": r.backward_weight,
            "input_grad": r.input_grad, "weight_grad": r.weight_grad, "saved_bytes": r.saved_bytes,
            "params_bytes": r.params_bytes, "grads_bytes": r.grads_bytes, "optimizer_bytes": r.optimizer_bytes,
            "master_bytes": r.master_bytes}


def totals_dict(tc) -> dict:
    t = tc.totals
    return {
        "convention": tc.convention.value, "optimizer": tc.optimizer, "dtype": tc.dtype, "batch": tc.batch,
        "forward": t.forward, "backward_input": t.backward_input, "backward_weight": t.backward_weight,
        "step": t.step, "samples": t.samples, "steps_per_epoch": t.steps_per_epoch, "epoch": t.epoch,
        "params_bytes": t.params_bytes, "grads_bytes": t.grads_bytes, "optimizer_bytes": t.optimizer_bytes,
        "master_bytes": t.master_bytes, "activations_bytes": t.activations_bytes,
        "persistent_bytes": t.persistent_bytes, "batch_bytes": t.batch_bytes, "in_flight_bytes": t.in_flight_bytes,
        "peak_bytes": t.peak_bytes, "peak_at": t.peak_at or None, "peak_in_backward": t.peak_in_backward,
        "complete": t.complete,
        "ops_without_rule": [{"op": k, "count": n} for k, n in tc.ops_without_rule],
    }
