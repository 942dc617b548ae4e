"""The per-layer table of a model question: rows matched by label, graded cell by cell.

Rows are labelled by layer path (``conv1``, ``layer1.0.conv1``) or by
``paddle.summary``'s row names (``Conv2D-1``, ``ReLU-1``, ...), as the question's
``row_labels`` says (``either`` by default).  paddle.summary numbers layers
across the whole process (the book's LeNet table reads Conv2D-22, Conv2D-23,
...), so a summary name is matched by its class and its order among that
class's rows, not by its number.

Each cell earns its share; with ``carry_forward = true`` a cell that is right
*given the student's own previous output shape* earns it too, so one
propagated mistake does not lose every later cell.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from convcalc.homework import compute
from convcalc.homework.grading import misconceptions
from convcalc.homework.grading.marking import axes_problem, mark_invalid, per_axis_hint
from convcalc.homework.grading.match import values_match
from convcalc.homework.grading.results import CORRECT, MISSING, WRONG, FieldResult
from convcalc.homework.spec import Question, RowAnswer, Tolerance

__all__ = ["grade_rows", "match_rows"]

_SUMMARY_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)-(\d+)\s*$")
_CONV_KINDS = ("Conv2D", "VectorizedConv2D")


def match_rows(question: Question, expected: Any) -> tuple[dict[str, RowAnswer], list[str]]:
    """The student's rows keyed by layer path, and the labels that name no layer."""
    by_path: dict[str, RowAnswer] = {}
    unknown: list[str] = []
    summary: dict[str, list[tuple[int, RowAnswer]]] = {}
    for row in question.rows or ():
        if question.row_labels != "summary" and expected.row(row.layer) is not None:
            by_path[row.layer] = row
            continue
        m = _SUMMARY_NAME.match(row.layer)
        if question.row_labels != "path" and m:
            summary.setdefault(m.group(1), []).append((int(m.group(2)), row))
        else:
            unknown.append(row.layer)
    for class_name, labelled in summary.items():
        layers = [r for r in expected.rows if r.summary_name.rsplit("-", 1)[0] == class_name]
        labelled.sort(key=lambda item: item[0])
        for i, (_, row) in enumerate(labelled):
            if i < len(layers) and layers[i].layer not in by_path:
                by_path[layers[i].layer] = row
            else:
                unknown.append(row.layer)
    return by_path, unknown


def _shape_text(shape: tuple) -> str:
    return "x".join(str(v) for v in shape)


def _row_question(question: Question, row: Any, input_shape: tuple) -> Question:
    return Question(
        id=row.layer,
        number=0,
        input_shape=tuple(input_shape),
        layers=(row.spec,),
        convention=question.convention,
        tolerance=question.tolerance,
    )


def _row_hint(question: Question, row: Any, name: str, given: Any, want: Any, cells: dict, cache: dict) -> str:
    """The catalogue's hint when the layer's configuration is known, else the few that need none."""
    if row.spec is not None:
        q = _row_question(question, row, row.input_shape)
        try:
            result = compute.compute_stack(q, explained=False)
        except Exception:  # a layer the formulas cannot redo (an unusual input): no hint from them
            result = None
        if result is not None and values_match(name, result.values.get(name), want, Tolerance(), True)[0]:
            return misconceptions.hint_for(q, name, given, result.values, cells, result.batched, cache)
    if not isinstance(given, (int, float)) or not isinstance(want, int):
        return ""
    tol = question.tolerance_for(name)
    if name == "params" and row.out_channels and values_match(name, given, want - row.out_channels, tol)[0]:
        if row.kind in _CONV_KINDS:
            return misconceptions.HINTS["conv_no_bias"]
        if row.kind == "Linear":
            return misconceptions.HINTS["linear_no_bias"]
    if name == "params" and "BatchNorm" in row.kind and values_match(name, given, want // 2, tol)[0]:
        return misconceptions.HINTS["bn_trainable"]
    return ""


def _row_derivation(row: Any, name: str, convention: str) -> str:
    shapes = f"{_shape_text(row.input_shape)} -> {_shape_text(row.values['output_shape'])}"
    head = f"{row.layer} ({row.kind}) on {shapes}"
    if row.spec is not None and len(row.input_shape) >= 2:
        from convcalc.homework.grading.derive import QUANTITIES
        from convcalc.render.derivation import to_text

        try:
            dims = row.input_shape[1:]
            derivation = compute.explain(row.spec, dims)
            wanted = (f"flops_{convention}",) if name == "flops" else QUANTITIES.get(name, ())
            steps = tuple(s for s in derivation.steps if s.quantity in wanted)
            text = to_text(replace(derivation, steps=steps)).rstrip()
            batch = row.input_shape[0]
            if name == "flops" and batch != 1:
                text += f"\n    x batch {batch} = {row.values['flops']:,}"
            return head + "\n" + text
        except Exception:  # fall back to the rule's formula name
            pass
    return f"{head}: {row.formula} = {row.values.get(name)}"


def _axes(row: Any) -> int:
    """The spatial axes of a row's input (B x C x spatial...): 1, 2 or 3."""
    return max(1, min(3, len(row.input_shape) - 2))


def _numel(shape: tuple) -> int:
    out = 1
    for v in shape:
        out *= v
    return out


def _feeds(previous: Any, row: Any) -> bool:
    """Whether ``row`` reads ``previous``'s output (directly or flattened): a chain carry-forward can follow."""
    out = tuple(previous.values["output_shape"])
    ins = tuple(row.input_shape)
    return ins == out or (len(ins) == 2 and ins[0] == out[0] and _numel(ins) == _numel(out))


def _with_batch(given: Any, want: tuple) -> tuple | None:
    if given is None:
        return None
    given = tuple(given)
    return (want[0], *given) if len(given) == len(want) - 1 else given


def _carried(question: Question, row: Any, input_shape: tuple) -> dict | None:
    """The row's values recomputed from the student's own (wrong) input shape.

    A layer convcalc has no configuration for is carried only when it just moves the shape along:
    one that keeps it (an activation, dropout) keeps the student's; a flatten flattens it.
    """
    if row.spec is None:
        return _carried_shape(row, tuple(input_shape))
    try:
        res = compute.layer_result(row.spec, input_shape, question.convention)
    except Exception:  # the student's shape does not fit this layer: nothing to carry
        return None
    return {"output_shape": res.output_shape, "params": res.params, "flops": res.flops}


def _carried_shape(row: Any, input_shape: tuple) -> dict | None:
    ins, out = tuple(row.input_shape), tuple(row.values["output_shape"])
    if not ins or not input_shape:
        return None
    if ins == out:  # keeps its input's shape: the student's own shape goes through unchanged
        carried = input_shape
    elif len(out) == 2 and len(ins) > 2 and out[0] == ins[0] and _numel(out) == _numel(ins):  # a flatten
        carried = (input_shape[0], _numel(input_shape[1:]))
    else:
        return None
    flops = row.values.get("flops")
    if flops and flops % _numel(ins) == 0:  # elementwise: so many operations per value
        flops = flops // _numel(ins) * _numel(carried)
    elif flops:
        flops = None
    return {"output_shape": carried, "params": row.values.get("params"), "flops": flops}


def grade_rows(question: Question, expected: Any, share: float, cache: dict) -> FieldResult:
    """Grade the per-layer table cell by cell; the field's points are the share of right cells."""
    given_rows, unknown = match_rows(question, expected)
    cells = []
    carried_in: tuple | None = None  # the student's own output of the previous row, when it differs
    previous = None
    for row in expected.rows:
        student = given_rows.get(row.layer)
        answers = {name: student.get(name) for name in question.row_fields} if student else {}
        carried = None
        if question.carry_forward and carried_in is not None and previous is not None and _feeds(previous, row):
            carried = _carried(question, row, carried_in)
        for name in question.row_fields:
            want = row.values.get(name)
            given = answers.get(name)
            tol = question.tolerance_for(name)
            label = f"{row.layer}.{name}"
            line = student.line if student else None
            invalid = question.invalid_for(f"{student.layer}.{name}") if student else None
            if given is None and invalid is not None:
                cells.append(mark_invalid(question, label, want, 1, invalid))
                continue
            bad = axes_problem(label, given, _axes(row), line, question.id)
            if bad is not None:
                cells.append(mark_invalid(question, label, want, 1, bad))
                continue
            ok, note = values_match(name, given, want, tol)
            if not ok and carried is not None and carried.get(name) is not None:
                ok = values_match(name, given, carried[name], tol)[0]
                if ok:
                    note = f"carried forward from the previous row's output {_shape_text(carried_in)}"
            if ok:
                cells.append(
                    FieldResult(
                        label,
                        CORRECT,
                        want,
                        given,
                        1,
                        1,
                        tol.describe(),
                        note=note,
                        line=line,
                        file=question.answer_path,
                    )
                )
                continue
            cells.append(
                FieldResult(
                    label,
                    MISSING if given is None else WRONG,
                    want,
                    given,
                    0,
                    1,
                    tol.describe(),
                    hint=""
                    if given is None
                    else per_axis_hint(name, given, want, _axes(row))
                    or _row_hint(question, row, name, given, want, answers, cache),
                    derivation=_row_derivation(row, name, question.convention),
                    line=line if student else question.source_line,
                    file=question.answer_path if student else question.source,
                )
            )
        # What the next row is computed from, as the student had it.
        want_shape = tuple(row.values["output_shape"])
        own = _with_batch(answers.get("output_shape"), want_shape)
        if own is None:
            own = carried.get("output_shape") if carried else None
        carried_in = tuple(own) if own is not None and tuple(own) != want_shape else None
        previous = row
    note = ""
    if unknown:
        labels = ", ".join(r.layer for r in expected.rows)
        if question.row_labels != "path":
            labels += " (or paddle.summary's names: " + ", ".join(r.summary_name for r in expected.rows) + ")"
        note = "rows for layers the model does not have: " + ", ".join(unknown) + "; the layers: " + labels
    right = sum(1 for c in cells if c.correct)
    total = len(cells)
    all_right = right == total and not unknown
    status = CORRECT if all_right else (MISSING if question.rows is None else WRONG)
    points = share * right / total if total else 0.0
    if unknown:
        points = min(points, share * right / (total + len(unknown)))
    return FieldResult(
        "rows",
        status,
        f"{total} cells",
        f"{right}/{total} right",
        points,
        share,
        note=note,
        line=question.line_of("rows"),
        file=question.answer_path,
        cells=tuple(cells),
    )
