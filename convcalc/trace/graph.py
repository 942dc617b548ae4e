"""A trace as plain data: the static program's ops, every value's shape, and each layer call's slice of ops.

Analysis reads only these dataclasses (and the layer handles kept for the rules), so its graph walkers can
be tested on tiny hand-built graphs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["OpNode", "LayerCall", "Trace"]


@dataclass(frozen=True)
class OpNode:
    """One op of the static program: name, value ids in and out, plain attributes."""

    index: int
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class LayerCall:
    """One call of one layer, in the order its forward finished (like ``paddle.summary``)."""

    index: int
    order: int
    path: str
    kind: str
    depth: int
    parent: str
    is_leaf: bool
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    op_start: int
    op_end: int
    summary_name: str
    in_summary: bool
    layer: Any = field(compare=False, repr=False)


@dataclass
class Trace:
    """Everything one forward pass revealed.

    ``input_shape``/``input_value`` are the first input's (most models have
    one); ``input_shapes``, ``input_values`` and ``input_dtypes`` hold every
    input, in ``forward``'s argument order.
    """

    input_shape: tuple[int, ...]
    input_value: str
    ops: list[OpNode]
    shapes: dict[str, tuple[int, ...]]
    constants: dict[str, Any]
    calls: list[LayerCall]
    never_called: list[str]
    input_shapes: tuple[tuple[int, ...], ...] = ()
    input_values: tuple[str, ...] = ()
    input_dtypes: tuple[str, ...] = ()
    dtypes: dict[str, str] = field(default_factory=dict)  # value id -> "float32", "int64", ... (memory widths)
    notes: tuple[str, ...] = ()
    guards: Any = None  # convcalc.trace.shape_guards.GuardLog: shape tests user code took while tracing
    # value id -> why its size (a -1 in ``shapes``) cannot be known before the forward runs (convcalc.trace.sizes)
    unknown_sizes: dict[str, str] = field(default_factory=dict)
    # op index of a ``pylayer`` op -> the ops of its forward (a PyLayer's own block), counted on its row
    inner_ops: dict[int, list[OpNode]] = field(default_factory=dict)
