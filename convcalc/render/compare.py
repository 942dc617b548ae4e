"""Rendering of ``convcalc compare`` (convcalc beside paddle.summary / paddle.flops) and ``convcalc models``."""

from __future__ import annotations

from convcalc.render.escape import markup, visible


def comparison_renderables(cmp) -> list:
    from rich.table import Table
    from rich.text import Text

    title = f"{markup(cmp.model)}  input {list(cmp.input_shape)}: convcalc vs paddle.summary / paddle.flops"
    table = Table(title=title, header_style="bold")
    for col in ("", "Layer", "Input (ours | paddle)", "Output (ours | paddle)", "Params (ours | paddle)",
                "FLOPs (ours | paddle)"):
        table.add_column(col, justify="right" if "Params" in col or "FLOPs" in col else "left")
    for row in cmp.rows:
        if row.ok and not row.exact:
            mark = Text("≈", style="bold yellow")  # a known Paddle difference, explained below
        else:
            mark = Text("✓", style="green") if row.ok else Text("✗", style="bold red")
        inp = row.ours_input if row.ours_input == row.paddle_input else f"{row.ours_input} | {row.paddle_input}"
        out = row.ours_output if row.ours_output == row.paddle_output else f"{row.ours_output} | {row.paddle_output}"
        params = f"{row.ours_params:,}" if row.ours_params == row.paddle_params else (
            f"{row.ours_params:,} | {row.paddle_params:,}")
        if row.ours_flops is None:
            flops = ""
        elif row.ours_flops == row.paddle_flops:
            flops = f"{row.ours_flops:,}"
        else:
            flops = f"{row.ours_flops:,} | {row.paddle_flops:,}"
        table.add_row(mark, markup(f"{row.key} {row.path}"), inp, out, params, flops)
    explained = {k.where for k in cmp.known}

    def mark_total(ours, theirs, where) -> str:
        return "  ✓" if ours == theirs else ("  ≈ known Paddle difference" if where in explained else "  ✗")

    lines = [
        f"Total params: ours {cmp.ours_params:,}, paddle.summary {cmp.paddle_params:,}"
        + mark_total(cmp.ours_params, cmp.paddle_params, "total params"),
        f"Trainable params: ours {cmp.ours_trainable:,}, paddle.summary {cmp.paddle_trainable:,}"
        + mark_total(cmp.ours_trainable, cmp.paddle_trainable, "trainable params"),
        f"Total FLOPs: ours {cmp.ours_flops:,}, not compared: {cmp.flops_not_compared}"
        if cmp.flops_not_compared else
        f"Total FLOPs: ours {cmp.ours_flops:,}, paddle.flops {cmp.paddle_flops:,}"
        + ("  ✓" if cmp.ours_flops == cmp.paddle_flops else "  ✗"),
    ]
    if cmp.missing_in_ours:
        lines.append(f"Rows of paddle.summary with no match: {', '.join(cmp.missing_in_ours)}")
    if cmp.known:
        lines.append("Known Paddle differences (paddle.summary is wrong here; not counted as differences):")
        lines += [f"  ≈ {k.where}: ours {k.ours:,}, paddle.summary {k.paddle:,}: {k.reason}" for k in cmp.known]
    items = [table]
    if cmp.layer_flops:
        per_layer = Table(title="Conv and linear layers: 2 x convcalc's multiply-adds vs paddle.utils.flops of the op",
                          header_style="bold")
        for col in ("", "Layer", "Type", "Op", "2 x MACs (ours)", "paddle.utils.flops"):
            per_layer.add_column(col, justify="right" if col[:1] in "2p" else "left")
        for r in cmp.layer_flops:
            ok = r.ours == r.paddle
            per_layer.add_row(Text("✓", style="green") if ok else Text("✗", style="bold red"), markup(r.path),
                              markup(r.kind),
                              r.op.replace("pd_op.", ""), f"{r.ours:,}", f"{r.paddle:,}")
        items.append(per_layer)
        same = sum(r.ours == r.paddle for r in cmp.layer_flops)
        lines.append(f"Conv/linear layers: {same} of {len(cmp.layer_flops)} equal to paddle.utils.flops")
    lines.append(
        f"{len(cmp.rows)} rows compared, {cmp.mismatches} difference(s)"
        if cmp.mismatches else f"{len(cmp.rows)} rows compared: all equal"
        + (f" apart from {len(cmp.known)} known Paddle difference(s)" if cmp.known else "")
    )
    return [*items, Text(visible("\n".join(lines), multiline=True))]  # (paths are the model author's text)


def comparison_dict(cmp) -> dict:
    return {
        "model": cmp.model,
        "input_shape": list(cmp.input_shape),
        "ok": cmp.ok,
        "mismatches": cmp.mismatches,
        "totals": {
            "params": {"ours": cmp.ours_params, "paddle_summary": cmp.paddle_params},
            "trainable_params": {"ours": cmp.ours_trainable, "paddle_summary": cmp.paddle_trainable},
            "flops": {"ours": cmp.ours_flops, "paddle_flops": None if cmp.flops_not_compared else cmp.paddle_flops,
                      **({"not_compared": cmp.flops_not_compared} if cmp.flops_not_compared else {})},
        },
        "missing_in_ours": list(cmp.missing_in_ours),
        "known_paddle_differences": [
            {"where": k.where, "ours": k.ours, "paddle_summary": k.paddle, "reason": k.reason} for k in cmp.known
        ],
        "rows": [
            {
                "key": r.key, "path": r.path, "ok": r.ok, "known_paddle_difference": r.known or None,
                "input": {"ours": r.ours_input, "paddle": r.paddle_input},
                "output": {"ours": r.ours_output, "paddle": r.paddle_output},
                "params": {"ours": r.ours_params, "paddle": r.paddle_params},
                "flops": {"ours": r.ours_flops, "paddle": r.paddle_flops},
            }
            for r in cmp.rows
        ],
        **({"layer_flops": [
            {"path": r.path, "type": r.kind, "op": r.op, "ours_2x_macs": r.ours, "paddle_utils_flops": r.paddle,
             "ok": r.ours == r.paddle} for r in cmp.layer_flops]} if cmp.layer_flops else {}),
    }


def models_renderable(entries):
    from rich.table import Table

    table = Table(title="convcalc model zoo", header_style="bold")
    table.add_column("Name", no_wrap=True)
    table.add_column("Default input")
    table.add_column("Source")
    table.add_column("Description")
    for e in entries:
        table.add_row(e.name, "x".join(str(d) for d in e.default_input), e.source, e.description)
    return table
