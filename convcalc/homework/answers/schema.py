"""The homework file format: TOML read with the stdlib, validated into the frozen dataclasses of ``spec``.

Nothing in a file is executed: values are read as data and checked against a
closed list of fields.  A mistake in the file's structure or a question's
configuration raises :class:`~convcalc.errors.AnswerFileError` naming the
file, the line and the field, with the fix.  A mistake in one *answer* only
invalidates that answer (``Question.invalid``).  See ``docs/homework.md``.

The flow: ``source`` (text, TOML, lines) -> ``values``/``layers``/``answers``
(checks) -> this module (questions and files) -> ``compute`` -> ``grade``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from convcalc.errors import AnswerFileError, ConvcalcError
from convcalc.homework.answers.layers import layer_spec
from convcalc.homework.answers.source import Context, parse_toml, read_text
from convcalc.homework.answers.student import Answers, parse_answers, unknown_key
from convcalc.homework.answers.values import as_table, boolean, check_keys, number, shape, string, tolerances
from convcalc.homework.answers.values import convention as read_convention
from convcalc.homework.compute import compute_stack
from convcalc.homework.spec import (
    DEFAULT_ROW_FIELDS,
    HOMEWORK_KEYS,
    LAYER_FIELDS,
    MAX_DIM,
    MAX_POINTS,
    MAX_QUESTIONS,
    MODEL_FIELDS,
    QUESTION_KEYS,
    ROW_FIELDS,
    ROW_LABELS,
    HomeworkFile,
    InvalidAnswer,
    LayerSpec,
    Question,
)

__all__ = ["HomeworkFile", "Question", "load_file", "merge_answers", "parse_text"]


def _question(ctx: Context, index: int, raw: Any, defaults: dict[str, Any], require_config: bool) -> Question:
    path: tuple = ("question", index)
    table = as_table(ctx, path, raw, "a question")
    stray: list[InvalidAnswer] = []
    if require_config:
        check_keys(ctx, path, table, QUESTION_KEYS, "a question")
    else:  # a student's file graded against the teacher's: only ids and answers count
        stray = [unknown_key(ctx, path, k, QUESTION_KEYS, "a question") for k in table if k not in QUESTION_KEYS]
        table = {k: v for k, v in table.items() if k in ("id", "answer")}
    qnum = index + 1
    qid = string(ctx, path + ("id",), table["id"], 'id = "q1"', 100) if "id" in table else f"q{qnum}"
    if not qid.strip():
        raise ctx.fail(path + ("id",), "the id is empty", 'write e.g. id = "q1"')
    text = string(ctx, path + ("text",), table.get("text", ""), 'text = "..."', 5000)
    points = number(ctx, path + ("points",), table.get("points", 1), "points = 2")
    if points < 0 or points > MAX_POINTS:
        raise ctx.fail(
            path + ("points",),
            f"points must be between 0 and {MAX_POINTS}",
            "write e.g. points = 2",
        )
    partial = boolean(ctx, path + ("partial",), table.get("partial", True))

    sources = [k for k in ("layer", "layers", "model") if k in table]
    if len(sources) > 1:
        raise ctx.fail(
            path + (sources[1],),
            f"a question has one of layer, layers or model, got {', '.join(sources)}",
            "keep exactly one",
        )
    if not sources and require_config:
        raise ctx.fail(
            path,
            f"question {qid!r} has no layer, layers or model",
            'add layer = { kind = "conv2d", ... } or model = "book_lenet"',
        )

    layers: tuple[LayerSpec, ...] = ()
    model: str | None = None
    if "layer" in table:
        layers = (layer_spec(ctx, path + ("layer",), table["layer"]),)
    elif "layers" in table:
        raw_layers = table["layers"]
        if not isinstance(raw_layers, list) or not raw_layers:
            raise ctx.fail(
                path + ("layers",),
                "expected a non-empty list of layers",
                'write layers = [{ kind = "conv2d", ... }, ...]',
            )
        if len(raw_layers) > 200:
            raise ctx.fail(
                path + ("layers",),
                "more than 200 layers",
                "use a model question for whole networks",
            )
        layers = tuple(layer_spec(ctx, path + ("layers", i), item) for i, item in enumerate(raw_layers))
    elif "model" in table:
        model = string(ctx, path + ("model",), table["model"], 'model = "book_lenet"', 500).strip()
        if not model:
            raise ctx.fail(path + ("model",), "the model name is empty", 'write e.g. model = "book_lenet"')
        _check_model_name(ctx, path + ("model",), model)

    input_shape: tuple[int, ...] = ()
    if "input" in table:
        high = MAX_DIM if model is None else 4096
        # A model question may take a 3-D input (B x C x D x H x W, for Conv3D models); a layer stack is 2-D.
        dims = 4 if model is None else 5
        input_shape = shape(ctx, path + ("input",), table["input"], high, 'input = "3x32x32"', max_dims=dims)
        if model is not None and len(input_shape) >= 4 and input_shape[0] > 64:
            raise ctx.fail(
                path + ("input",),
                "a model question's batch is at most 64",
                'write e.g. input = "1x1x32x32"',
            )
    elif layers:
        raise ctx.fail(
            path + ("input",),
            f"question {qid!r} has no input shape",
            'add input = "3x32x32" (C x H x W)',
        )

    allowed = MODEL_FIELDS if model is not None else LAYER_FIELDS
    if not layers and model is None:  # answers-only (a student file graded against --questions)
        allowed = tuple(dict.fromkeys(LAYER_FIELDS + MODEL_FIELDS))
    convention = (
        read_convention(ctx, path + ("convention",), table["convention"])
        if "convention" in table
        else defaults["convention"]
    )

    ask: tuple[str, ...] = ()
    if "ask" in table:
        raw_ask = table["ask"]
        if isinstance(raw_ask, str):
            raw_ask = [raw_ask]
        if not isinstance(raw_ask, list) or not raw_ask:
            raise ctx.fail(
                path + ("ask",),
                "expected a non-empty list of fields",
                'write e.g. ask = ["params", "flops"]',
            )
        names = []
        for item in raw_ask:
            name = string(ctx, path + ("ask",), item, '"params"', 40)
            if name not in allowed:
                raise ctx.fail(path + ("ask",), f"unknown field {name!r}", "allowed: " + ", ".join(allowed))
            if name not in names:
                names.append(name)
        ask = tuple(names)

    row_labels = "either"
    if "row_labels" in table:
        row_labels = string(ctx, path + ("row_labels",), table["row_labels"], 'row_labels = "summary"', 20).lower()
        if row_labels not in ROW_LABELS:
            raise ctx.fail(
                path + ("row_labels",),
                f"unknown row labels {row_labels!r}",
                "choose one of: " + ", ".join(ROW_LABELS) + " (layer paths, paddle.summary names, or either)",
            )
    carry_forward = boolean(ctx, path + ("carry_forward",), table.get("carry_forward", False))

    row_fields = DEFAULT_ROW_FIELDS
    if "row_fields" in table:
        raw_rf = table["row_fields"]
        if not isinstance(raw_rf, list) or not raw_rf:
            raise ctx.fail(
                path + ("row_fields",),
                "expected a non-empty list",
                'write e.g. row_fields = ["output_shape", "params"]',
            )
        for item in raw_rf:
            name = string(ctx, path + ("row_fields",), item, '"params"', 40)
            if name not in ROW_FIELDS:
                raise ctx.fail(
                    path + ("row_fields",),
                    f"unknown row field {name!r}",
                    "allowed: " + ", ".join(ROW_FIELDS),
                )
        row_fields = tuple(dict.fromkeys(raw_rf))

    tolerance = dict(defaults["tolerance"])
    if "tolerance" in table:
        tolerance.update(tolerances(ctx, path + ("tolerance",), table["tolerance"], allowed))

    given = Answers()
    if "answer" in table:
        given = parse_answers(ctx, path + ("answer",), table["answer"], allowed)
    answer, rows = list(given.values), given.rows
    invalid = tuple(replace(i, question=qid) for i in (*stray, *given.invalid))

    if not ask:  # the fields answered, including those whose value could not be read
        meant = {name for name, _ in answer} | {i.target for i in invalid}
        ask = tuple(name for name in allowed if name in meant or (name == "rows" and rows is not None))
    if not ask and require_config:
        raise ctx.fail(
            path + ("ask",),
            f"question {qid!r} asks nothing",
            'add ask = ["params", "flops"] or an [question.answer] table',
        )

    if layers and input_shape:
        _check_stack(ctx, path, qid, layers, input_shape, convention, ask)
    field_lines = []
    for name in allowed:
        line = ctx.lines.get(path + ("answer", name))
        if line:
            field_lines.append((name, line))
    return Question(
        id=qid,
        number=qnum,
        text=text,
        points=float(points),
        partial=partial,
        input_shape=input_shape,
        layers=layers,
        model=model,
        convention=convention,
        ask=ask,
        row_fields=row_fields,
        tolerance=tuple(sorted(tolerance.items())),
        answer=tuple(answer),
        rows=rows,
        invalid=invalid,
        row_labels=row_labels,
        carry_forward=carry_forward,
        line=ctx.line(path),
        field_lines=tuple(field_lines),
        answer_path=ctx.path,
        source=ctx.path,
        source_line=ctx.line(path),
    )


def _looks_like_file(spec: str) -> bool:
    return ":" in spec or spec.endswith(".py") or "/" in spec or "\\" in spec


def _check_model_name(ctx: Context, path: tuple, spec: str) -> None:
    """A zoo name must exist (a file.py:Name is checked, and trusted or not, when graded)."""
    if _looks_like_file(spec):
        return
    from convcalc.models import zoo

    if spec not in zoo.ZOO:
        import difflib

        close = difflib.get_close_matches(spec, list(zoo.ZOO), n=3, cutoff=0.5)
        fix = ("did you mean " + " or ".join(repr(c) for c in close) + "? ") if close else ""
        raise ctx.fail(path, f"unknown zoo model {spec!r}", fix + "see `convcalc models`")


def _check_stack(ctx: Context, path: tuple, qid: str, layers: tuple, shape: tuple, convention: str, ask: tuple) -> None:
    """Run the stack through the formulas now, so an impossible layer is a file error."""
    probe = Question(id=qid, number=0, input_shape=shape, layers=layers, convention=convention)
    try:
        values = compute_stack(probe, explained=False).values
    except ConvcalcError as err:
        raise ctx.fail(path + ("layers" if len(layers) > 1 else "layer",), str(err), "fix the layer") from None
    except ValueError as err:
        raise ctx.fail(path, f"the layers do not fit the input: {err}", "check the input shape") from None
    for name in ask:
        if values.get(name) is None:
            raise ctx.fail(
                path + ("ask",),
                f"{name!r} is not defined for these layers (after a linear layer every unit sees"
                " the whole input and the output has no height or width)",
                "ask for other fields",
            )


def parse_text(text: str, path: str = "<answers>", *, require_config: bool = True) -> HomeworkFile:
    """Parse and validate the text of a homework file.

    With ``require_config=False`` a question may carry only an id and its
    answer (a student file graded against the teacher's ``--questions`` file).
    """
    ctx = Context(path, text)
    data = parse_toml(text, path)
    if not data:
        raise AnswerFileError(f"{path}: the file is empty", "add [[question]] tables (see docs/homework.md)")
    check_keys(ctx, (), data, ("homework", "question"), "the file")
    meta = as_table(ctx, ("homework",), data.get("homework", {}), "file settings")
    stray: tuple[InvalidAnswer, ...] = ()
    if require_config:
        check_keys(ctx, ("homework",), meta, HOMEWORK_KEYS, "[homework]")
    else:  # a student's misspelt setting costs nothing but is shown; the teacher's settings apply
        stray = tuple(
            unknown_key(ctx, ("homework",), k, HOMEWORK_KEYS, "[homework]") for k in meta if k not in HOMEWORK_KEYS
        )
        meta = {k: v for k, v in meta.items() if k in ("title", "student", "student_id")}
    defaults: dict[str, Any] = {
        "convention": read_convention(ctx, ("homework", "convention"), meta["convention"])
        if "convention" in meta
        else "paddle",
        "tolerance": tolerances(
            ctx,
            ("homework", "tolerance"),
            meta["tolerance"],
            tuple(dict.fromkeys(LAYER_FIELDS + MODEL_FIELDS)),
        )
        if "tolerance" in meta
        else {},
    }
    title = string(ctx, ("homework", "title"), meta.get("title", ""), 'title = "Chapter 5"')
    student = string(ctx, ("homework", "student"), meta.get("student", ""), 'student = "Li Lei"')
    student_id = string(ctx, ("homework", "student_id"), meta.get("student_id", ""), 'student_id = "2024001"', 100)
    raw_questions = data.get("question")
    if raw_questions is None:
        raise AnswerFileError(f"{path}: no questions", "add [[question]] tables (see docs/homework.md)")
    if not isinstance(raw_questions, list):
        raise ctx.fail(
            ("question",),
            "expected [[question]] tables (an array of tables)",
            "write each question under its own [[question]] header",
        )
    if len(raw_questions) > MAX_QUESTIONS:
        raise ctx.fail(("question",), f"more than {MAX_QUESTIONS} questions", "split the file")
    questions = tuple(_question(ctx, i, raw, defaults, require_config) for i, raw in enumerate(raw_questions))
    seen: dict[str, int] = {}
    for q in questions:
        if q.id in seen:
            raise ctx.fail(
                ("question", q.number - 1, "id"),
                f"the id {q.id!r} is used twice (questions {seen[q.id]} and {q.number})",
                "give every question its own id",
            )
        seen[q.id] = q.number
    base_dir = str(Path(path).resolve().parent) if path and not path.startswith("<") else "."
    return HomeworkFile(
        path=path,
        title=title,
        student=student,
        questions=questions,
        base_dir=base_dir,
        student_id=student_id,
        invalid=stray,
    )


def load_file(path: str | Path, *, require_config: bool = True) -> HomeworkFile:
    """Read and validate a homework file; never executes anything in it."""
    return parse_text(read_text(path), str(Path(path)), require_config=require_config)


def merge_answers(questions: HomeworkFile, answers: HomeworkFile) -> HomeworkFile:
    """The teacher's questions with a student's answers, matched by question id.

    Questions the student left out are graded as unanswered; an answer to an id
    the teacher did not ask is an invalid answer of the file (shown with the
    ids that exist), and the rest is graded.
    """
    known = {q.id for q in questions.questions}
    stray = tuple(
        InvalidAnswer(
            field=f"question {q.id!r}",
            problem=f"question id {q.id!r} is not in {questions.path}",
            fix="use the ids of the question file: " + ", ".join(sorted(known)),
            code="unknown_question",
            line=q.line,
            question=q.id,
        )
        for q in answers.questions
        if q.id not in known
    )
    merged = []
    for q in questions.questions:
        student = answers.question(q.id)
        mine = dict(answer=(), rows=None, invalid=(), field_lines=(), line=None, answer_path=answers.path)
        if student is not None:
            mine.update(
                answer=student.answer,
                rows=student.rows,
                invalid=student.invalid,
                field_lines=student.field_lines,
                line=student.line,
            )
        merged.append(replace(q, **mine))
    return replace(
        questions,
        path=answers.path,
        student=answers.student or questions.student,
        student_id=answers.student_id,
        questions=tuple(merged),
        invalid=answers.invalid + stray,
    )
