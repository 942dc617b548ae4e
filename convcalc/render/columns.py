"""The columns and rows of the per-layer table (``convcalc report``, ``convcalc.summary``): names and cells.

``convcalc report`` shows the default columns (:data:`DEFAULT_COLUMNS`) and
names rows ``name (Type)``, indented by depth.  ``convcalc.summary`` also takes
torchinfo's ``col_names`` (:class:`Column`) and ``row_settings``
(:class:`RowSetting`): then rows are named torchinfo's way (``Conv2D (conv1):
1-1`` with ``├─`` tree glyphs, ``+``/``|`` with ``ascii_only``), and
``verbose=2`` adds one row per parameter under its layer.  What the report
does not hold (kernel sizes, groups, Mult-Adds, parameter shapes) comes in a
:class:`RowDetails`, read from the model by :mod:`convcalc.summary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from convcalc.analysis.records import LayerRecord, Report
from convcalc.formulas.numbers import is_number

__all__ = ["Column", "RowSetting", "RowDetails", "DEFAULT_COLUMNS", "HEADERS", "LEFT", "row_name"]


class Column(StrEnum):
    """A column: torchinfo's ``col_names`` (same spelling) and convcalc's own."""

    INPUT_SIZE = "input_size"
    OUTPUT_SIZE = "output_size"
    NUM_PARAMS = "num_params"
    PARAMS_PERCENT = "params_percent"
    KERNEL_SIZE = "kernel_size"
    GROUPS = "groups"
    MULT_ADDS = "mult_adds"
    TRAINABLE = "trainable"
    FLOPS = "flops"
    RF = "rf"
    JUMP = "jump"
    START = "start"


class RowSetting(StrEnum):
    """torchinfo's ``row_settings`` (same spelling)."""

    DEPTH = "depth"
    VAR_NAMES = "var_names"
    ASCII_ONLY = "ascii_only"
    HIDE_RECURSIVE_LAYERS = "hide_recursive_layers"


DEFAULT_COLUMNS = (Column.OUTPUT_SIZE, Column.NUM_PARAMS, Column.FLOPS, Column.RF, Column.JUMP, Column.START)
"""``convcalc report``'s columns (and ``convcalc.summary``'s when ``col_names`` is not given)."""

HEADERS = {Column.INPUT_SIZE: "Input shape", Column.OUTPUT_SIZE: "Output shape", Column.NUM_PARAMS: "Params",
            Column.PARAMS_PERCENT: "Param %", Column.KERNEL_SIZE: "Kernel shape", Column.GROUPS: "Groups",
            Column.MULT_ADDS: "Mult-Adds", Column.TRAINABLE: "Trainable", Column.RF: "RF", Column.JUMP: "Jump",
            Column.START: "Start"}
LEFT = (Column.INPUT_SIZE, Column.OUTPUT_SIZE, Column.KERNEL_SIZE, Column.TRAINABLE)


@dataclass(frozen=True)
class RowDetails:
    """What a row shows beyond the report, by record index: read from the model's layers.

    ``kernel`` and ``groups`` are the layer's own attributes (``None``: it has
    none); ``macs`` is the same trace analysed in the ``macs`` convention (for
    Mult-Adds); ``parameters`` lists ``(name, shape, count)`` of each row's own
    parameters (``verbose=2``).
    """

    kernel: dict[int, Any] = field(default_factory=dict)
    groups: dict[int, Any] = field(default_factory=dict)
    macs: Report | None = None
    parameters: dict[int, tuple[tuple[str, tuple[int, ...], int], ...]] = field(default_factory=dict)


def row_name(path: str) -> str:
    """A row's path as text names it: a functional op of the model itself (``:relu``) is ``relu``."""
    return path[1:] if path.startswith(":") else path


def trainable_text(rec: LayerRecord) -> str:
    tr, fr = rec.params_trainable, rec.params_non_trainable
    if tr == 0 and fr == 0:
        return "-"
    return "True" if fr == 0 else ("False" if tr == 0 else "Partial")


def percent_text(value: Any, total: Any) -> str:
    if not (is_number(value) and is_number(total)) or total == 0 or value == 0:
        return "-"
    return f"{100 * float(value) / float(total):.2f}%"


def kernel_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def tree_prefix(depth: int, ascii_only: bool) -> str:
    """torchinfo's row prefix (formatting.py get_start_str)."""
    if depth <= 0:
        return ""
    if depth == 1:
        return "+ " if ascii_only else "├─"
    return ("|    " if ascii_only else "│    ") * (depth - 1) + ("+ " if ascii_only else "└─")
