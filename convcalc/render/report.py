"""Rendering of reports and comparisons: rich table, JSON, CSV, Markdown.

All number formatting for ``report``, ``compare`` and ``models`` lives here;
the records hold quantities (ints, or sympy expressions in a symbolic report)
and fields, never strings.  sympy is imported only to print an expression.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from convcalc.analysis.records import Condition, LayerRecord, Report
from convcalc.formulas.numbers import is_whole, text
from convcalc.formulas.receptive import Field
from convcalc.render import columns as C
from convcalc.render import escape as E
from convcalc.render.groups import group_totals, incomplete_groups
from convcalc.render.line_cells import OneLine
from convcalc.render.units import format_bytes

CONVENTION_HELP = {
    "paddle": "as paddle.flops counts (book eq. 5.21): conv with bias, linear without, BN 2/elem, ReLU/max-pool 0",
    "macs": "multiply-accumulates of the dot products: conv, linear, matmul/einsum, attention, RNN gates",
    "flops": "every arithmetic op once (docs/formulas.md): K mults + K-1 adds per dot product, + bias; "
             "pooling, norms, softmax, activations, adds",
}


# ---------------------------------------------------------------- quantities
def quantity(value: Any) -> str:
    """``12345`` -> ``'12,345'``; ``5/2``; expressions via sympy's printer."""
    if is_whole(value):
        return f"{int(value):,}"
    return text(value)


def json_quantity(value: Any) -> int | str:
    return int(value) if is_whole(value) else text(value)


def shape_text(shape) -> str:
    return "[" + ", ".join(quantity(d).replace(",", "") for d in shape) + "]"


def shapes_text(shapes, first=()) -> str:
    """Several shapes (a layer's outputs, a model's inputs): ``[1, 4, 6, 6] + [1, 4, 6, 6]``."""
    return " + ".join(shape_text(s) for s in shapes) if shapes else shape_text(first)


def _axis_value(f: Field | None, attr: str) -> str:
    if f is None:
        return "?"
    if f.whole:
        return "whole" if attr == "size" else "-"
    return quantity(getattr(f, attr)).replace(",", "")


def _per_axis(fields: list, attr: str) -> str:
    parts = [_axis_value(f, attr) for f in fields]
    if len(set(parts)) == 1:
        return parts[0]
    return ("x" if all(p[0].isdigit() for p in parts) else " x ").join(parts)


def field_text(rec: LayerRecord) -> tuple[str, str, str]:
    """(size, jump, start) columns, one value when every axis agrees, else per axis (``5x3``, ``whole x 5``).

    'whole' where a unit sees the whole input along every axis (after global pooling, flatten, a norm or a
    reduction over them), '?' where unknown, '' when the value does not depend on the input's positions.
    """
    if rec.rf is None:
        return ("?", "", "")
    fields = [a.field for a in rec.rf]
    if not fields:
        return ("", "", "")
    if all(f is not None and f.whole for f in fields):
        return ("whole", "", "")
    if all(f is None for f in fields):
        return ("?", "", "")
    return (_per_axis(fields, "size"), _per_axis(fields, "jump"), _per_axis(fields, "start"))


def rf_axes(report: Report) -> str:
    """The axis names (``HxW``) when some row shows its RF columns per axis, else ``""``."""
    for rec in report.records:
        if rec.rf and len(rec.rf) > 1 and any(len({_axis_value(a.field, attr) for a in rec.rf}) > 1
                                              for attr in ("size", "jump", "start")):
            return "x".join(a.axis for a in rec.rf)
    return ""


def field_json(f: Field | None) -> Any:
    if f is None:
        return None
    if f.whole:
        return "whole"
    out = {"size": json_quantity(f.size), "jump": json_quantity(f.jump), "start": json_quantity(f.start)}
    if f.phases is not None:  # after upsampling: size is the largest; each position's (first, last) offsets
        out["by_position"] = [None if b is None else [json_quantity(b[0]), json_quantity(b[1])] for b in f.phases]
    return out


def total_flops_text(report: Report) -> str:
    """The FLOP total; ``≥ N`` when some layer or op had no rule (its FLOPs are unknown)."""
    text = quantity(report.totals.flops)
    return text if report.gaps.flops_complete else f"≥ {text}"


def gap_lines(report: Report) -> list[str]:
    """One line per kind of layer or op without a FLOP rule, with how often it ran; then the rows whose sizes
    cannot be known before the forward runs."""
    g = report.gaps
    if g.flops_complete:
        return []
    if not g.layers_without_rule and not g.ops_without_rule:
        return [_unknown_line(g.unknown_sizes)]
    lines = ["No FLOP rule (counted as 0 above, so the total is a lower bound; add one with "
             "convcalc.register_rule or convcalc.register_op):"]
    kinds: dict[str, list[str]] = {}
    by_path = {r.path: r.kind for r in report.records}
    for path in g.layers_without_rule:
        kinds.setdefault(by_path.get(path, "?"), []).append(path)
    for kind, paths in kinds.items():
        lines.append(f"  layer {kind} ×{len(paths)}: {', '.join(paths)}")
    for kind, count in g.ops_without_rule:
        lines.append(f"  op {kind} ×{count}")
    if g.unknown_sizes:
        lines.append(_unknown_line(g.unknown_sizes))
    return lines


def _unknown_line(paths: tuple[str, ...]) -> str:
    shown = ", ".join(paths[:8]) + (f", ... ({len(paths)} rows)" if len(paths) > 8 else "")
    return ("Sizes that depend on tensor values (shown ?; their counts are left out, so the total is a lower "
            f"bound): {shown}")


def condition_text(c: Condition) -> str:
    """``valid for W > 16``; ``valid only at H*W = 64 (traced at H = 8, W = 8)``."""
    import sympy

    rel = c.relation
    if isinstance(rel, sympy.Eq):
        shown = f"{sympy.sstr(rel.lhs)} = {sympy.sstr(rel.rhs)}"
    else:
        shown = sympy.sstr(rel).replace("==", "=")
    if c.kind == "divisible":
        return f"valid only where {c.where.split(' (')[0].replace('sizes simplified for ', '')}: {c.where}"
    if c.kind == "fixed":
        at = ", ".join(f"{s} = {v}" for s, v in c.at)
        return f"valid only at {shown}" + (f" (traced at {at})" if at and shown != at else "") + f": {c.where}"
    return f"valid for {shown}: {c.where}"


def condition_json(c: Condition) -> dict:
    import sympy

    return {"kind": c.kind, "relation": sympy.sstr(c.relation), "where": c.where,
            "at": {str(s): int(v) for s, v in c.at}, "text": condition_text(c)}


def memory_line(report: Report) -> str:
    """The inference memory of the report's totals, in one line (docs/formulas.md#memory)."""
    t = report.totals
    where = f" in {C.row_name(t.peak_at)}" if t.peak_at else ""
    return (f"Inference memory: activations at their peak {format_bytes(t.peak_activation_bytes)}{where} (the "
            f"input's {format_bytes(t.input_bytes)} included) + params {format_bytes(t.param_bytes)} = "
            f"{format_bytes(t.peak_activation_bytes + t.param_bytes)}")


# ---------------------------------------------------------------- groups
def group_flops_text(flops, path: str, incomplete: set[str]) -> str:
    """A container's FLOP subtotal, ``≥ N`` when a gap lies below it (see :func:`incomplete_groups`)."""
    return ("≥ " if path in incomplete else "") + quantity(flops)


def visible(report: Report, depth: int | None) -> list[LayerRecord]:
    if depth is None:
        return list(report.records)
    return [r for r in report.records if r.depth <= depth]


def row_notes(rows: list[LayerRecord]) -> dict[int, int]:
    """Record index -> the note number shown on its row ([1], [2], ...), for rows that carry notes."""
    numbered = [r.index for r in rows if r.notes]
    return {index: k for k, index in enumerate(numbered, 1)}


def row_notes_lines(rows: list[LayerRecord]) -> list[str]:
    """The notes of numbered rows, listed under the table: ``[1] conv: <note>``."""
    marks = row_notes(rows)
    return [f"[{marks[r.index]}] {r.path}: {'; '.join(r.notes)}" for r in rows if r.index in marks]


# ---------------------------------------------------------------- table
def report_renderables(report: Report, depth: int | None = None, training: Any = None, **table: Any) -> list:
    """The rich renderables of ``convcalc report``: the table, then totals and notes.

    With ``training`` (a :class:`~convcalc.analysis.training.TrainingCost`), the training columns and totals too;
    ``table``: the columns and rows ``convcalc.summary`` asks for (see :func:`layer_table`).
    """
    table_, rows = layer_table(report, depth, training=training, **table)
    return [table_, totals_text(report, rows, training)]


def _cells(report: Report, rec: LayerRecord, columns, details: C.RowDetails, groups: dict, macs_groups: dict,
           incomplete: set) -> list:
    """The cells of one row (text; a container's dimmed subtotals)."""
    from rich.text import Text

    size, jump, start = field_text(rec)
    leaf = rec.is_leaf
    g_params, g_flops = groups.get(rec.path, (0, 0))
    macs_rec = details.macs.records[rec.index] if details.macs is not None else None
    out = []
    for col in columns:
        dim = not leaf and col in (C.Column.NUM_PARAMS, C.Column.FLOPS, C.Column.PARAMS_PERCENT, C.Column.MULT_ADDS)
        if col is C.Column.INPUT_SIZE:
            text = shapes_text(rec.input_shapes)
        elif col is C.Column.OUTPUT_SIZE:
            text = shapes_text(rec.output_shapes, rec.output_shape)
        elif col is C.Column.NUM_PARAMS:
            text = (quantity(rec.params) if not rec.is_functional else "-") if leaf else quantity(g_params)
        elif col is C.Column.PARAMS_PERCENT:
            text = "-" if rec.is_functional else C.percent_text(rec.params if leaf else g_params, report.totals.params)
        elif col is C.Column.KERNEL_SIZE:
            text = C.kernel_text(details.kernel.get(rec.index))
        elif col is C.Column.GROUPS:
            text = C.kernel_text(details.groups.get(rec.index))
        elif col is C.Column.MULT_ADDS:
            if macs_rec is None:
                text = "?"
            elif leaf:
                text = quantity(macs_rec.flops)
            else:
                text = quantity(macs_groups.get(rec.path, (0, 0))[1])
        elif col is C.Column.TRAINABLE:
            text = C.trainable_text(rec) if leaf else "-"
        elif col is C.Column.FLOPS:
            if leaf:
                text = "?" if rec.size_unknown else quantity(rec.flops) + ("" if rec.has_rule else " (no rule)")
            else:
                text = group_flops_text(g_flops, rec.path, incomplete)
        else:
            text = {C.Column.RF: size, C.Column.JUMP: jump, C.Column.START: start}[col]
        out.append(Text(text, style="dim") if dim else Text(text))  # (Text: a cell is never read as markup)
    return out


def layer_table(report: Report, depth: int | None = None, *, columns=C.DEFAULT_COLUMNS, row_settings=None,
                details: C.RowDetails | None = None, verbose: int = 1, training: Any = None):
    """The rich table of the visible rows (``depth``), the columns asked for, then the training columns.

    ``row_settings`` ``None``: convcalc's rows (``conv1 (Conv2D)``, indented);
    a set of :class:`RowSetting`: torchinfo's.  Returns ``(table, rows shown)``.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from convcalc.render import training_cost as T

    details = details or C.RowDetails()
    columns = tuple(C.Column(c) for c in columns)
    settings = None if row_settings is None else {C.RowSetting(s) for s in row_settings}
    conv = report.convention.value
    shown_input = shapes_text(report.input_shapes, report.input_shape)
    title = f"{E.markup(report.model)}  input {shown_input}  FLOPs convention: {conv}"
    if report.symbols:
        title += "  (symbolic)"
    caption = f"{conv}: {CONVENTION_HELP[conv]}"
    axes = rf_axes(report)
    if axes and any(c in columns for c in (C.Column.RF, C.Column.JUMP, C.Column.START)):
        caption += f"; RF/Jump/Start per axis ({axes}) where the axes differ"
    ascii_only = settings is not None and C.RowSetting.ASCII_ONLY in settings
    table = Table(title=title, caption=caption, header_style="bold", **({"box": box.ASCII} if ascii_only else {}))
    if settings is None:
        head = "Layer (type)"
    else:
        head = "Layer (type" + (" (var_name)" if C.RowSetting.VAR_NAMES in settings else "") + (
            ":depth-idx" if C.RowSetting.DEPTH in settings else "") + ")"
    table.add_column(head, no_wrap=True)
    for col in columns:
        header = f"FLOPs ({conv})" if col is C.Column.FLOPS else C.HEADERS[col]
        wrap = col in (C.Column.OUTPUT_SIZE, C.Column.INPUT_SIZE, C.Column.FLOPS) and bool(report.symbols)
        table.add_column(header, justify="left" if col in C.LEFT else "right", no_wrap=not wrap)
    for h in T.HEADERS if training else ():
        table.add_column(f"{h} ({conv})" if h != "Saved" else h, justify="right", no_wrap=True)
    groups = group_totals(report)
    macs_groups = group_totals(details.macs) if details.macs is not None and C.Column.MULT_ADDS in columns else {}
    incomplete = incomplete_groups(report)
    rows = visible(report, depth)
    if settings is not None and C.RowSetting.HIDE_RECURSIVE_LAYERS in settings:
        seen: set[str] = set()
        kept = []
        for rec in rows:
            if rec.is_functional or rec.path not in seen:
                kept.append(rec)
            seen.add(rec.path)
        rows = kept
    marks = row_notes(rows)
    depth_index: dict[int, int] = {}
    for rec in rows:
        label = rec.path.rsplit(".", 1)[-1] if not rec.is_functional else rec.path.split(":", 1)[1]
        if settings is None:
            name = Text(E.visible(f"{'  ' * max(rec.depth - 1, 0)}{label or report.model} ({rec.kind})"))
        else:
            depth_index[rec.depth] = depth_index.get(rec.depth, 0) + 1
            text = rec.kind
            if C.RowSetting.VAR_NAMES in settings:
                text += f" ({label or report.model})"
            if C.RowSetting.DEPTH in settings and rec.depth > 0:
                text += f": {rec.depth}-{depth_index[rec.depth]}"
            name = Text(C.tree_prefix(rec.depth, ascii_only) + E.visible(text))
        if rec.index in marks:
            name.append(f" [{marks[rec.index]}]")
        cells = _cells(report, rec, columns, details, groups, macs_groups, incomplete)
        extra = T.columns(report, training, rec) if training else ()
        if rec.is_leaf:
            if rec.is_functional:
                name.stylize("italic cyan")
            if not rec.has_rule:
                name.stylize("red")
            table.add_row(*map(OneLine, (name, *cells)), *extra)
        else:
            name.stylize("bold")
            table.add_row(*map(OneLine, (name, *cells, *(Text(c, style="dim") for c in extra))))
        if verbose >= 2:
            params = details.parameters.get(rec.index, ())
            for k, (pname, shape, count) in enumerate(params):
                glyph = ("+ " if ascii_only else "└─")
                last = k == len(params) - 1
                mark = ("+ " if ascii_only else "└─") if last else ("+ " if ascii_only else "├─")
                prefix = ("|    " if ascii_only else "│    ") * max(rec.depth, 0) + glyph
                cell = {C.Column.NUM_PARAMS: f"{mark}{count:,}",
                        C.Column.KERNEL_SIZE: C.kernel_text(list(shape))}
                shown = f"{prefix}{pname}"
                if C.Column.KERNEL_SIZE not in columns:
                    shown += f" {C.kernel_text(list(shape))}"
                table.add_row(Text(E.visible(shown), style="dim"), *(cell.get(c, "") for c in columns),
                              *([""] * len(extra)))
    if not report.symbols:
        _fix_widths(table)
    return table, rows


def _fix_widths(table) -> None:
    """Give each column of one-line cells its width, so rich need not measure every cell to find it.

    rich measures each cell of a flexible column (a render per cell) before it renders them all; for a report of
    a few hundred rows that measuring is a quarter of the layout.  The widest line of a column is its width
    either way (no cell wraps), so the table looks the same.  Columns that may wrap (symbolic) stay flexible.
    """
    from rich.cells import cell_len
    from rich.text import Text

    for column in table.columns:
        if not column.no_wrap:
            continue
        texts = [c.text if isinstance(c, OneLine) else c for c in (column.header, *column.cells)]
        if not all(isinstance(t, Text | str) for t in texts):
            continue
        column.width = max(cell_len(line) for t in texts
                           for line in (t.plain if isinstance(t, Text) else t).split("\n"))


def totals_text(report: Report, rows: list[LayerRecord] | None = None, training: Any = None):
    """Totals, memory, the report's notes and gaps; with ``rows``, the notes of the numbered rows first."""
    from rich.text import Text

    from convcalc.render.training_cost import training_lines

    t = report.totals
    lines = row_notes_lines(rows or [])
    lines += [
        f"Total params: {quantity(t.params)}  (trainable {quantity(t.params_trainable)}, "
        f"non-trainable {quantity(t.params_non_trainable)})",
    ]
    if t.params_unused:
        lines.append(
            f"Params in the model: {t.params_in_model:,}  ({t.params_unused:,} not used by the forward pass at this "
            "input, not counted above: see the note)"
        )
    lines.append(f"Total FLOPs ({report.convention.value}): {total_flops_text(report)}")
    for c in report.conditions:
        lines.append(f"Condition: {condition_text(c)}")
    lines.append(memory_line(report))
    if training is not None:
        lines.extend(training_lines(training))
    for note in report.notes:
        lines.append(f"Note: {note}")
    numbered = {r.index for r in rows or []}
    for rec in report.records:  # the notes of rows the table does not show (the depth limit hides them)
        if rec.index not in numbered:
            for note in rec.notes:
                lines.append(f"Note ({rec.path or report.model}): {note}")
    g = report.gaps
    lines.extend(gap_lines(report))
    if g.layers_never_called:
        lines.append(f"Never called: {', '.join(g.layers_never_called)}")
    if g.ops_without_rf_rule:
        lines.append(f"Receptive field unknown after ops: {', '.join(g.ops_without_rf_rule)}")
    if any(a.field is not None and a.field.phases is not None for r in report.records for a in r.rf or ()):
        lines.append("Receptive fields after upsampling differ by position: RF is the largest, Jump the mean "
                     "(fractional), Start the first unit's centre (docs/formulas.md)")
    for m in g.misaligned_merges:
        lines.append(f"Misaligned branches: {m}")
    if report.source:
        lines.append(f"From {report.source}")
    return Text(E.visible("\n".join(lines), multiline=True))  # (names and notes are the model author's text)


# ---------------------------------------------------------------- machine formats
def record_dict(rec: LayerRecord) -> dict:
    return {
        "index": rec.index,
        "path": rec.path,
        "type": rec.kind,
        "depth": rec.depth,
        "parent": rec.parent,
        "leaf": rec.is_leaf,
        "functional": rec.is_functional,
        "summary_name": rec.summary_name or None,
        "input_shapes": [[json_quantity(d) for d in s] for s in rec.input_shapes],
        "output_shape": [json_quantity(d) for d in rec.output_shape],
        "output_shapes": [[json_quantity(d) for d in s] for s in (rec.output_shapes or (rec.output_shape,))],
        "params": json_quantity(rec.params),
        "params_trainable": json_quantity(rec.params_trainable),
        "params_non_trainable": json_quantity(rec.params_non_trainable),
        "flops": json_quantity(rec.flops),
        "formula": rec.formula,
        "config": rec.config,
        "has_rule": rec.has_rule,
        "size_unknown": rec.size_unknown,
        "receptive_field": None if rec.rf is None else {a.axis.lower(): field_json(a.field) for a in rec.rf},
        "notes": list(rec.notes),
    }


def report_dict(report: Report, training: Any = None) -> dict:
    """The report as JSON-ready data; with ``training``, each layer's ``training`` fields and the step's totals."""
    out = _report_dict(report)
    if training is not None:
        from convcalc.render import training_cost as T

        for layer, rec in zip(out["layers"], report.records):
            layer["training"] = T.row_dict(training, rec)
        out["training"] = T.totals_dict(training)
    return out


def _report_dict(report: Report) -> dict:
    t = report.totals
    return {
        "model": report.model,
        "input_shape": [json_quantity(d) for d in report.input_shape],
        "input_shapes": [[json_quantity(d) for d in s] for s in (report.input_shapes or (report.input_shape,))],
        "input_dtypes": list(report.input_dtypes or ("float32",) * max(1, len(report.input_shapes))),
        "convention": report.convention.value,
        "symbolic": bool(report.symbols),
        "symbols": [str(s) for s in report.symbols],
        "conditions": [condition_json(c) for c in report.conditions],
        "layers": [record_dict(r) for r in report.records],
        "totals": {
            "params": json_quantity(t.params),
            "params_trainable": json_quantity(t.params_trainable),
            "params_non_trainable": json_quantity(t.params_non_trainable),
            "params_in_model": t.params_in_model,
            "params_unused": t.params_unused,
            "flops": json_quantity(t.flops),
            "input_bytes": json_quantity(t.input_bytes),
            "peak_activation_bytes": json_quantity(t.peak_activation_bytes),
            "peak_at": t.peak_at or None,
            "param_bytes": json_quantity(t.param_bytes),
        },
        "complete": report.gaps.flops_complete,
        "gaps": {
            "layers_without_rule": list(report.gaps.layers_without_rule),
            "ops_without_rule": [{"op": k, "count": n} for k, n in report.gaps.ops_without_rule],
            "layers_never_called": list(report.gaps.layers_never_called),
            "ops_without_rf_rule": list(report.gaps.ops_without_rf_rule),
            "misaligned_merges": list(report.gaps.misaligned_merges),
            "unknown_sizes": list(report.gaps.unknown_sizes),
        },
        "notes": list(report.notes),
        "source": "stored" if report.source else "traced",
    }


CSV_COLUMNS = ["index", "path", "type", "depth", "functional", "output_shape", "params",
               "params_trainable", "params_non_trainable", "flops", "rf_size", "rf_jump", "rf_start", "formula"]


def report_csv(report: Report, depth: int | None = None, training: Any = None) -> str:
    from convcalc.render import training_cost as T

    extra = T.CSV_HEADERS if training else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + extra)
    for rec in visible(report, depth):
        if not rec.is_leaf:
            continue
        size, jump, start = field_text(rec)
        writer.writerow([
            rec.index, E.csv_cell(rec.path), E.csv_cell(rec.kind), rec.depth, int(rec.is_functional),
            "x".join(str(json_quantity(d)) for d in rec.output_shape), json_quantity(rec.params),
            json_quantity(rec.params_trainable), json_quantity(rec.params_non_trainable),
            json_quantity(rec.flops), size, jump, start, rec.formula,
            *(T.columns(report, training, rec, raw=True) if training else ()),
        ])
    t = report.totals
    flops = json_quantity(t.flops)
    writer.writerow(["", "TOTAL", "", "", "", "", json_quantity(t.params), json_quantity(t.params_trainable),
                     json_quantity(t.params_non_trainable), flops if report.gaps.flops_complete else f"≥{flops}",
                     "", "", "", "",
                     *((training.totals.forward, training.totals.backward_input, training.totals.backward_weight,
                        training.totals.activations_bytes) if training else ())])
    for line in gap_lines(report):
        if line.startswith("  "):
            writer.writerow(["", "NO RULE", E.csv_cell(line.strip()), "", "", "", "", "", "", "", "", "", "",
                             "FLOPs unknown", *([""] * len(extra))])
    for path in report.gaps.unknown_sizes:
        writer.writerow(["", "SIZE UNKNOWN", E.csv_cell(path), "", "", "", "", "", "", "", "", "", "", "FLOPs unknown",
                         *([""] * len(extra))])
    return buf.getvalue()


def report_markdown(report: Report, depth: int | None = None, training: Any = None) -> str:
    from convcalc.render import training_cost as T

    conv = report.convention.value
    heads = [f"{h} ({conv})" if h != "Saved" else h for h in T.HEADERS] if training else []
    axes = rf_axes(report)
    lines = [
        f"### {E.visible(report.model)} — input {shapes_text(report.input_shapes, report.input_shape)} "
        f"— FLOPs convention `{conv}`",
        "",
        *([f"RF / Jump / Start per axis ({axes}) where the axes differ.", ""] if axes else []),
        f"| Layer (type) | Output shape | Params | FLOPs ({conv}) | RF | Jump | Start |"
        + "".join(f" {h} |" for h in heads),
        "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(heads),
    ]
    groups = group_totals(report)
    incomplete = incomplete_groups(report)
    rows = visible(report, depth)
    marks = row_notes(rows)
    for rec in rows:
        size, jump, start = field_text(rec)
        indent = "&nbsp;&nbsp;" * max(rec.depth - 1, 0)
        if rec.is_leaf:
            params = quantity(rec.params) if not rec.is_functional else "-"
            flops = quantity(rec.flops)
            label = f"{indent}{E.visible(rec.path)} ({E.visible(rec.kind)})"
        else:
            gp, gf = groups.get(rec.path, (0, 0))
            params, flops = f"*{quantity(gp)}*", f"*{group_flops_text(gf, rec.path, incomplete)}*"
            label = f"{indent}**{E.visible(rec.path or report.model)}** ({E.visible(rec.kind)})"
        out = shapes_text(rec.output_shapes, rec.output_shape)
        if rec.index in marks:
            label += f" [{marks[rec.index]}]"
        cells = "".join(f" {c} |" for c in (T.columns(report, training, rec) if training else ()))
        lines.append(f"| {label} | {out} | {params} | {flops} | {size} | {jump} | {start} |{cells}")
    lines += ["", totals_text(report, rows, training).plain.replace("\n", "  \n"), ""]
    return "\n".join(lines)


