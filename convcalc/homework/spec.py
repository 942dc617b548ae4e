"""What a homework file holds, as frozen dataclasses: layers, questions, answers, and the closed field lists.

The data model only: reading a file is ``convcalc.homework.answers.source`` (text,
TOML, line numbers) and ``convcalc.homework.answers.schema`` (validation into these
classes).  Imports nothing from the rest of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "LAYER_KINDS",
    "LAYER_FIELDS",
    "MODEL_FIELDS",
    "ROW_FIELDS",
    "ROW_LABELS",
    "FIELD_KINDS",
    "PER_AXIS",
    "CONVENTIONS",
    "MAX_ANSWER",
    "LayerSpec",
    "Tolerance",
    "InvalidAnswer",
    "RowAnswer",
    "Question",
    "HomeworkFile",
]

CONVENTIONS = ("paddle", "macs", "flops")

# Layer kinds and the configuration keys each accepts (besides ``kind``),
# the same names as ``convcalc explain``.
LAYER_KINDS: dict[str, tuple[str, ...]] = {
    "conv2d": ("out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias"),
    "pool2d": ("kernel", "stride", "padding", "mode", "ceil_mode"),
    "linear": ("out_features", "bias"),
    "batchnorm": (),
}
REQUIRED_LAYER_KEYS = {
    "conv2d": ("out_channels", "kernel"),
    "pool2d": ("kernel",),
    "linear": ("out_features",),
}

# Answer fields, in the order they are shown.
LAYER_FIELDS = (
    "output_shape",
    "output_height",
    "output_width",
    "params",
    "params_trainable",
    "flops",
    "rf",
    "rf_jump",
    "rf_start",
)
MODEL_FIELDS = ("output_shape", "params", "params_trainable", "flops", "rows")
ROW_FIELDS = ("output_shape", "params", "flops", "rf")
DEFAULT_ROW_FIELDS = ("output_shape", "params", "flops")

# What kind of value each answer field holds: one reader and one writer per kind
# (``answers.student.answer_value``, ``grading.answer_key``), so a key always reads back.
SHAPE, COUNT, SIZE, AXES, FIELD = "shape", "count", "size", "axes", "field"
FIELD_KINDS: dict[str, str] = {
    "output_shape": SHAPE,  # [6, 30, 30], "6x30x30", "6×30×30"
    "output_height": SIZE,
    "output_width": SIZE,
    "params": COUNT,
    "params_trainable": COUNT,
    "flops": COUNT,
    "rf": FIELD,  # per axis, or "whole"
    "rf_jump": AXES,  # per axis: a number, [h, w] or { h = .., w = .. }
    "rf_start": AXES,
}
PER_AXIS = tuple(name for name, kind in FIELD_KINDS.items() if kind in (AXES, FIELD))
# How the rows of a per-layer table are labelled: by layer path (conv1, layer1.0.conv1), by
# paddle.summary's row names (Conv2D-1, ReLU-1, ...), or either.
ROW_LABELS = ("either", "path", "summary")

HOMEWORK_KEYS = ("title", "student", "student_id", "convention", "tolerance")
QUESTION_KEYS = (
    "id",
    "text",
    "points",
    "partial",
    "input",
    "layer",
    "layers",
    "model",
    "convention",
    "ask",
    "row_fields",
    "row_labels",
    "carry_forward",
    "tolerance",
    "answer",
)

MAX_ANSWER = 10**15
"""Largest number accepted anywhere (a FLOPs answer for a large net is ~1e11)."""
MAX_DIM = 65536
MAX_CHANNELS = 1 << 20
MAX_KERNEL = 4096
MAX_POINTS = 10**6
MAX_FILE_BYTES = 2_000_000
MAX_QUESTIONS = 1000
MAX_ROWS = 10_000


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a layer question: its kind and configuration (as ``explain`` takes it)."""

    kind: str
    config: tuple[tuple[str, Any], ...] = ()

    def kwargs(self) -> dict[str, Any]:
        return dict(self.config)

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.config).get(key, default)


@dataclass(frozen=True)
class Tolerance:
    """How far an answer may be from the expected value: absolute or relative (a fraction)."""

    absolute: float = 0.0
    relative: float = 0.0

    def allows(self, got: float, expected: float) -> bool:
        diff = abs(got - expected)
        return diff <= self.absolute or diff <= self.relative * abs(expected)

    def describe(self) -> str:
        if self.relative:
            return f"±{self.relative * 100:g}%"
        if self.absolute:
            return f"±{self.absolute:g}"
        return "exact"

    def as_toml(self) -> Any:
        if self.relative:
            return f"{self.relative * 100:g}%"
        return int(self.absolute) if float(self.absolute).is_integer() else self.absolute


EXACT = Tolerance()


@dataclass(frozen=True)
class InvalidAnswer:
    """An answer that could not be read (a wrong type, a misspelt field, an unknown question id...).

    Only that answer is lost: the rest of the file is graded.  ``target`` is the
    answer field it was meant for (``params`` for a misspelt ``paramz``), empty
    when there is none; ``code`` is a stable name for autograders.
    """

    field: str
    problem: str
    fix: str
    code: str = "invalid_value"
    line: int | None = None
    target: str = ""
    question: str = ""

    @property
    def message(self) -> str:
        return f"{self.problem}; {self.fix}" if self.fix else self.problem


@dataclass(frozen=True)
class RowAnswer:
    """A student's row for one layer of a model question."""

    layer: str
    values: tuple[tuple[str, Any], ...]
    line: int | None = None

    def get(self, key: str) -> Any:
        return dict(self.values).get(key)


@dataclass(frozen=True)
class Question:
    """One question: what is asked, the configuration, and the student's answer (if any)."""

    id: str
    number: int
    text: str = ""
    points: float = 1.0
    partial: bool = True
    input_shape: tuple[int, ...] = ()
    layers: tuple[LayerSpec, ...] = ()
    model: str | None = None
    convention: str = "paddle"
    ask: tuple[str, ...] = ()
    row_fields: tuple[str, ...] = DEFAULT_ROW_FIELDS
    row_labels: str = "either"
    carry_forward: bool = False
    tolerance: tuple[tuple[str, Tolerance], ...] = ()
    answer: tuple[tuple[str, Any], ...] = ()
    rows: tuple[RowAnswer, ...] | None = None
    invalid: tuple[InvalidAnswer, ...] = ()
    line: int | None = None
    field_lines: tuple[tuple[str, int], ...] = ()
    answer_path: str = ""  # the file holding the answers (``line`` and ``field_lines`` are in it)
    source: str = ""  # the file holding the question itself (the teacher's with --questions)
    source_line: int | None = None

    @property
    def is_model(self) -> bool:
        return self.model is not None

    @property
    def has_config(self) -> bool:
        return bool(self.layers) or self.model is not None

    def tolerance_for(self, name: str) -> Tolerance:
        return dict(self.tolerance).get(name, EXACT)

    def answer_for(self, name: str) -> Any:
        if name == "rows":
            return self.rows
        return dict(self.answer).get(name)

    def line_of(self, name: str) -> int | None:
        """The line of the answer ``name`` in :attr:`answer_path` (None when not answered)."""
        return dict(self.field_lines).get(name)

    def invalid_for(self, name: str) -> InvalidAnswer | None:
        for item in self.invalid:
            if item.target == name:
                return item
        return None


@dataclass(frozen=True)
class HomeworkFile:
    """A parsed question or answer file."""

    path: str
    title: str = ""
    student: str = ""
    questions: tuple[Question, ...] = ()
    base_dir: str = "."
    student_id: str = ""
    invalid: tuple[InvalidAnswer, ...] = ()  # answers to questions the file does not have

    def question(self, qid: str) -> Question | None:
        for q in self.questions:
            if q.id == qid:
                return q
        return None
