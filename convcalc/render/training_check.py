"""The training table of ``convcalc validate``: convcalc's training cost beside Paddle's backward program."""

from __future__ import annotations

from typing import Any

from convcalc.checks.training_cost import TrainingCheck

__all__ = ["training_markdown", "training_dicts", "training_from_dicts", "training_renderable", "training_summary"]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def training_summary(checks) -> list[str]:
    if not checks:
        return []
    bad = sum(not c.ok for c in checks)
    rows = sum(c.rows_checked for c in checks)
    ops = sum(c.grad_ops for c in checks)
    return [f"- Training cost against Paddle's backward program: {len(checks)} model(s), {rows:,} layer rows, "
            f"{ops:,} grad ops: **{bad} models with differences**."]


def training_markdown(checks) -> list[str]:
    """The section of docs/validation.md (empty without a training run)."""
    if not checks:
        return []
    lines = [
        "", "## Training cost against Paddle's backward program", "",
        "For each model `convcalc.checks.backward_program` builds the training-mode static program, adds a scalar loss "
        "and lets `paddle.static.append_backward` build the grad ops; each grad op is attributed to the layer "
        "whose forward op it differentiates and counted by the same rules (`convcalc.rules.gradients`) from its own "
        "operand and result shapes (an absent grad result is a gradient not computed); the forward values the "
        "grad ops read (not marked *no need buffer*; parameters and running statistics excluded) are the "
        "activations saved for backward.  Beside it, `training_cost()` per layer (functional ops summed per "
        "`parent:op`): input- and weight-gradient MACs and FLOPs, which gradients exist, saved bytes, and the "
        "total of saved activations.  Batch 2, float32.",
        "",
        "| Model | Input | Layer rows | Grad ops | Step FLOPs (flops) | Saved activations (bytes) | Differences |"
        " Seconds |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in checks:
        if c.error:
            lines.append(f"| {c.model} | - | - | - | - | - | **failed** | - |")
            continue
        saved = f"{c.activations_ours:,}" if c.activations_ours == c.activations_paddle else \
            f"{c.activations_ours:,} vs {c.activations_paddle:,}"
        diffs = f"**{len(c.mismatches)}**" if c.mismatches else "0"
        lines.append(f"| {c.model} | {c.input} | {c.rows_checked} | {c.grad_ops} | {c.step_flops:,} | {saved} | "
                     f"{diffs} | {c.seconds:.1f} |")
    bad = [c for c in checks if c.mismatches or c.error]
    if bad:
        lines += ["", "### Training differences", ""]
        for c in bad:
            if c.error:
                lines.append(f"- {c.model}: the check failed: {_md(c.error)}")
            for m in c.mismatches:
                lines.append(f"- {c.model}: {_md(m)}")
    notes = [(c.model, n) for c in checks for n in c.notes]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {m}: {_md(n)}" for m, n in notes]
    return lines


def training_dicts(checks) -> list[dict[str, Any]]:
    return [{"model": c.model, "input": c.input, "rows": c.rows_checked, "grad_ops": c.grad_ops,
             "step_flops": c.step_flops, "backward_flops": c.backward_flops,
             "activations_convcalc": c.activations_ours, "activations_paddle": c.activations_paddle,
             "mismatches": list(c.mismatches), "notes": list(c.notes), "seconds": round(c.seconds, 1),
             "error": c.error, "ok": c.ok} for c in checks]


def training_from_dicts(data) -> tuple[TrainingCheck, ...]:
    return tuple(TrainingCheck(d["model"], d["input"], d["rows"], d["grad_ops"], d["step_flops"], d["backward_flops"],
                               d["activations_convcalc"], d["activations_paddle"], tuple(d["mismatches"]),
                               tuple(d["notes"]), d["seconds"], d["error"]) for d in data or ())


def training_renderable(checks):
    from rich.table import Table
    from rich.text import Text

    table = Table(title="training cost: convcalc vs Paddle's backward program", header_style="bold")
    for col in ("", "Model", "Input", "Rows", "Grad ops", "Saved bytes", "Differences", "Seconds"):
        table.add_column(col, justify="right" if col in ("Rows", "Grad ops", "Saved bytes", "Differences",
                                                         "Seconds") else "left")
    for c in checks:
        mark = Text("✓", style="green") if c.ok else Text("✗", style="bold red")
        if c.error:
            table.add_row(mark, c.model, "error: " + c.error, "", "", "", "", "")
            continue
        table.add_row(mark, c.model, c.input, str(c.rows_checked), str(c.grad_ops), f"{c.activations_ours:,}",
                      str(len(c.mismatches)), f"{c.seconds:.1f}")
    details = [f"{c.model}: {m}" for c in checks for m in c.mismatches]
    return [table] + ([Text("\n".join(details), style="bold red")] if details else [])
