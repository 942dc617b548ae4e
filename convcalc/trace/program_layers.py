"""The layers of an exported program: recovered from its name scopes (PIR) or from the parameters each op
reads (``.pdmodel``), each leaf given a stand-in instance of its ``paddle.nn`` class for the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from convcalc.errors import ModelLoadError
from convcalc.trace.build import plain, value_id
from convcalc.trace.graph import LayerCall, OpNode
from convcalc.trace.op_names import BOOKKEEPING_OPS, op_key
from convcalc.trace.program_files import ProgramParameter

__all__ = ["SINK_OPS", "ProgramLayer", "LayerGroup", "read_layers", "stand_in"]

# Ops that are neither computation nor dataflow of the model: dropped from the trace.
SINK_OPS = frozenset({"pd_op.fetch", "pd_op.feed_with_place"})


class ProgramLayer:
    """A layer of a program whose class has no stand-in: no rule, parameters still counted."""

    def __init__(self, kind: str, params: dict[str, ProgramParameter]) -> None:
        self.kind = kind
        self._parameters = params
        self._sub_layers: dict = {}
        self.training = False

    def sublayers(self) -> list:
        return []


@dataclass
class LayerGroup:
    """One layer call (or container) of a program: a scope path and the op range it covers."""

    path: str
    kind: str
    is_leaf: bool
    op_start: int
    op_end: int
    order: int
    layer: Any = None

    def call(self, index: int, ops: list[OpNode], shapes: dict) -> LayerCall:
        inside = ops[self.op_start : self.op_end]
        made = {v for op in inside for v in op.outputs}
        producers = {v: op for op in ops for v in op.outputs}
        inputs: list[str] = []
        for op in inside:
            for v in op.inputs:
                src = producers.get(v)
                if v in made or v in inputs or src is None:
                    continue
                if src.name not in BOOKKEEPING_OPS or src.name == "pd_op.data":  # activations, not weights
                    inputs.append(v)
        used_outside = {v for op in ops[: self.op_start] + ops[self.op_end :] for v in op.inputs}
        outputs = [v for op in inside for v in op.outputs if v in used_outside and shapes.get(v)]
        if not outputs and inside:
            outputs = [inside[-1].outputs[0]] if inside[-1].outputs else []
        depth = 0 if not self.path else self.path.count(".") + 1
        parent = self.path.rsplit(".", 1)[0] if "." in self.path else ""
        return LayerCall(
            index=index,
            order=self.order,
            path=self.path,
            kind=self.kind,
            depth=depth,
            parent=parent,
            is_leaf=self.is_leaf,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            op_start=self.op_start,
            op_end=self.op_end,
            summary_name="",
            in_summary=False,
            layer=self.layer,
        )


def _op_nodes(ops_raw: list) -> tuple[list[OpNode], dict, dict, str, list[tuple[str, ...]], tuple[str, ...]]:
    """OpNodes (fetch ops dropped, ``feed`` read as ``data``), shapes, constants, input value, scopes, outputs."""
    ops: list[OpNode] = []
    fetched: list[str] = []
    shapes: dict[str, tuple[int, ...]] = {}
    constants: dict[str, Any] = {}
    scopes: list[tuple[str, ...]] = []
    input_value = ""
    for op in ops_raw:
        name = op.name()
        if name in SINK_OPS:
            if name == "pd_op.fetch":
                fetched.extend(value_id(o.source()) for o in op.operands())
            continue
        if name == "pd_op.feed":
            name = "pd_op.data"
        raw_attrs = op.attrs()
        attrs = {k: plain(v) for k, v in raw_attrs.items() if k not in ("op_callstack", "struct_name")}
        outs = []
        for r in op.results():
            outs.append(r.id)
            try:
                shapes[r.id] = tuple(int(d) for d in r.shape)
            except Exception:  # noqa: BLE001 - non-tensor results (lists)
                shapes[r.id] = ()
        if name == "pd_op.data" and not input_value:
            input_value = outs[0]
        if name in ("pd_op.full_int_array", "pd_op.full") and outs:
            constants[outs[0]] = attrs.get("value")
        ins = tuple(value_id(o.source()) for o in op.operands())
        ops.append(OpNode(len(ops), name, ins, tuple(outs), attrs))
        scope = str(raw_attrs.get("struct_name", "") or "")
        scopes.append(tuple(s for s in scope.split("/") if s))
    return ops, shapes, constants, input_value, scopes, tuple(fetched)


def _kind(segment: str) -> str:
    """``'Conv2D_3'`` -> ``'Conv2D'``: the class name of a scope segment."""
    return re.sub(r"_\d+$", "", segment)


def _is_glue(op: OpNode) -> bool:
    return op.name in BOOKKEEPING_OPS


def _scoped_runs(ops: list[OpNode], scopes: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], int, int]]:
    """Maximal runs of consecutive ops in one innermost scope: ``(scope, start, end)``."""
    named = {s for s in scopes if s}
    leaves = {s for s in named if not any(len(o) > len(s) and o[: len(s)] == s for o in named)}
    runs: list[tuple[tuple[str, ...], int, int]] = []
    for i, scope in enumerate(scopes):
        if scope in leaves:
            if runs and runs[-1][0] == scope and all(_is_glue(ops[j]) and not scopes[j] for j in range(runs[-1][2], i)):
                runs[-1] = (scope, runs[-1][1], i + 1)
            else:
                runs.append((scope, i, i + 1))
    return runs


# Parameter-name prefixes of a .pdmodel's layers, by the op that does the work.
_OP_KINDS = {
    "conv2d": "Conv2D",
    "depthwise_conv2d": "Conv2D",
    "conv2d_transpose": "Conv2DTranspose",
    "batch_norm": "BatchNorm2D",
    "matmul": "Linear",
}


def _parameter_runs(ops: list[OpNode], param_of: dict) -> list[tuple[tuple[str, ...], int, int]]:
    """Layers of a scope-less program: the ops reading one parameter prefix, plus pooling ops.

    A value computed only from parameters and constants (a reshaped bias)
    belongs to that parameter's prefix, and so does the op that reads it.
    """

    owner: dict[str, str] = {v: p.name.split(".")[0] for v, p in param_of.items()}
    constant = {v for op in ops if _is_glue(op) and op.name != "pd_op.data" for v in op.outputs}
    runs: list[tuple[tuple[str, ...], int, int]] = []
    counts: dict[str, int] = {}
    for i, op in enumerate(ops):
        if op.name == "builtin.parameter":
            continue
        prefixes = {owner[v] for v in op.inputs if v in owner}
        if len(prefixes) == 1:
            prefix = prefixes.pop()
            if all(v in owner or v in constant or v == "" for v in op.inputs):
                for v in op.outputs:
                    owner[v] = prefix
            if runs and runs[-1][0] == (prefix,) and all(_is_glue(ops[j]) for j in range(runs[-1][2], i)):
                runs[-1] = ((prefix,), runs[-1][1], i + 1)
            else:
                runs.append(((prefix,), i, i + 1))
        elif op_key(op.name) == "pool2d":
            n = counts.get("pool2d", 0)
            counts["pool2d"] = n + 1
            runs.append(((f"pool2d_{n}",), i, i + 1))
    return runs


def _groups(runs: list[tuple[tuple[str, ...], int, int]], scoped: bool, scopes: list) -> list[LayerGroup]:
    """Leaf groups for the runs plus one container group per scope prefix (pre-order numbered).

    A container spans every op in its scope, its own ops (a residual ``add``) included.
    """
    spans: dict[tuple[str, ...], list[int]] = {}
    leaves = {scope for scope, _, _ in runs}

    def extend(prefix: tuple[str, ...], start: int, end: int) -> None:
        lo, hi = spans.get(prefix, [start, end])
        spans[prefix] = [min(lo, start), max(hi, end)]

    for scope, start, end in runs:
        for n in range(1, len(scope)):
            extend(scope[:n], start, end)
    for i, scope in enumerate(scopes if scoped else []):
        if scope and scope not in leaves:
            for n in range(1, len(scope) + 1):
                extend(scope[:n], i, i + 1)
    items: list[tuple[int, int, tuple[str, ...], bool]] = []
    for prefix, (lo, _) in spans.items():
        items.append((lo, len(prefix), prefix, False))
    for scope, start, _ in runs:
        items.append((start, len(scope), scope, True))
    items.sort(key=lambda t: (t[0], t[1]))
    ends = {prefix: hi for prefix, (_, hi) in spans.items()}
    groups = []
    for order, (start, _, scope, leaf) in enumerate(items):
        end = next(e for s, b, e in runs if s == scope and b == start) if leaf else ends[scope]
        kind = _kind(scope[-1]) if scoped else _run_kind(scope[-1])
        groups.append(LayerGroup(".".join(scope), kind, leaf, start, end, order))
    return groups


def _run_kind(prefix: str) -> str:
    """A .pdmodel layer's class from its parameter prefix (``conv2d_3`` -> ``Conv2D``)."""
    base = re.sub(r"_\d+$", "", prefix)
    if base == "pool2d":
        return "Pool2D"
    if base.startswith("batch_norm"):
        return "BatchNorm2D"
    return {"conv2d": "Conv2D", "conv2d_transpose": "Conv2DTranspose", "linear": "Linear"}.get(base, base)


# Classes whose rules read nothing but shapes: a bare instance is enough.
_SHAPE_ONLY = (
    "ReLU", "ReLU6", "LeakyReLU", "Hardswish", "Hardsigmoid", "Sigmoid", "Swish", "Silu", "GELU", "Tanh",
    "ELU", "SELU", "Softplus", "Mish", "Hardtanh", "Softmax", "LogSoftmax", "Dropout", "Dropout2D", "Flatten",
    "Identity", "Unflatten", "AdaptiveAvgPool2D", "AdaptiveMaxPool2D",
)


def _first(ops: Iterable[OpNode], keys: tuple[str, ...]) -> OpNode | None:

    return next((op for op in ops if op_key(op.name) in keys), None)


def stand_in(kind: str, ops: list[OpNode], shapes: dict, constants: dict, param_of: dict) -> Any:
    """An instance of ``paddle.nn.<kind>`` carrying what the rules read, built from ``ops``; else a ProgramLayer."""
    import paddle.nn as nn

    used = [param_of[v] for op in ops for v in op.inputs if v in param_of]
    named = {p.name: p for p in used}
    generic = ProgramLayer(kind, dict(named))
    attrs: dict[str, Any] = {}
    params: dict[str, ProgramParameter | None] = {}

    def param(op: OpNode | None, position: int) -> ProgramParameter | None:
        if op is None or len(op.inputs) <= position:
            return None
        return param_of.get(op.inputs[position])

    def others(*taken: ProgramParameter | None) -> list[ProgramParameter]:
        return [p for p in named.values() if p not in taken]

    if kind == "Pool2D":  # a .pdmodel pooling op: which paddle.nn class it came from
        op = _first(ops, ("pool2d",))
        if op is None:
            return generic
        adaptive, pooling = op.attrs.get("adaptive"), op.attrs.get("pooling_type")
        kind = ("Adaptive" if adaptive else "") + ("MaxPool2D" if pooling == "max" else "AvgPool2D")
    cls = getattr(nn, kind, None)
    if kind in ("Conv2D", "Conv2DTranspose"):
        op = _first(ops, ("conv2d", "depthwise_conv2d", "conv2d_transpose"))
        weight = param(op, 1)
        if op is None or weight is None:
            return generic
        rest = others(weight)
        in_shape, out_shape = shapes.get(op.inputs[0], ()), shapes.get(op.outputs[0], ())
        params = {"weight": weight, "bias": rest[0] if rest else None}
        attrs = {"_in_channels": in_shape[1], "_out_channels": out_shape[1],
                 "_groups": int(op.attrs.get("groups", 1) or 1)}
    elif kind == "Linear":
        op = _first(ops, ("matmul",))
        weight = param(op, 1)
        if weight is None:
            return generic
        rest = others(weight)
        params = {"weight": weight, "bias": rest[0] if rest else None}
    elif kind.startswith("BatchNorm") or kind == "SyncBatchNorm":
        op = _first(ops, ("batch_norm", "sync_batch_norm"))
        if op is None or op.inputs is None:
            return generic
        # running statistics are never trained (a .pdmodel does not say so; a PIR program does)
        stats = {k: param(op, i) for k, i in (("_mean", 1), ("_variance", 2))}
        stats = {k: p and replace(p, trainable=False, stop_gradient=True) for k, p in stats.items()}
        params = {**stats, "weight": param(op, 3), "bias": param(op, 4)}
        attrs = {"_act": None}
    elif kind in ("MaxPool2D", "AvgPool2D"):
        op = _first(ops, ("pool2d",))
        if op is None or len(op.inputs) < 2 or constants.get(op.inputs[1]) is None:
            return generic
        attrs = {"ksize": tuple(constants[op.inputs[1]])}
    elif kind in ("AdaptiveAvgPool2D", "AdaptiveMaxPool2D") or kind in _SHAPE_ONLY:
        pass
    else:
        return generic
    if cls is None or named.keys() - {p.name for p in params.values() if p is not None}:
        return generic  # parameters the stand-in would not account for
    layer = cls.__new__(cls)
    # Fill __dict__ directly: Layer.__setattr__ would want a constructed Layer.
    layer.__dict__.update(
        {"_parameters": {k: v for k, v in params.items() if v is not None}, "_sub_layers": {}, "_buffers": {},
         "training": False, "_full_name": kind.lower(), **params, **attrs}
    )
    return layer


def read_layers(path: str, ops_raw: list, params: list[ProgramParameter]) -> tuple:
    """A loaded program's ops as plain data and its layer groups (leaves with their stand-ins).

    Returns ``(ops, shapes, constants, input_value, groups, scoped, fetched)``.
    """
    ops, shapes, constants, input_value, scopes, fetched = _op_nodes(ops_raw)
    if not input_value:
        raise ModelLoadError(f"{path!r} has no input (no data/feed op)", "export the model with an input_spec")
    by_name = {p.name: p for p in params}
    param_of = {
        op.outputs[0]: by_name[op.attrs["parameter_name"]] for op in ops if op.name == "builtin.parameter"
    }
    scoped = any(scopes)
    runs = _scoped_runs(ops, scopes) if scoped else _parameter_runs(ops, param_of)
    groups = _groups(runs, scoped, scopes)
    for g in groups:
        if g.is_leaf:
            g.layer = stand_in(g.kind, ops[g.op_start : g.op_end], shapes, constants, param_of)
            if not isinstance(g.layer, ProgramLayer):
                g.kind = type(g.layer).__name__  # a .pdmodel's pool2d op: MaxPool2D, AvgPool2D, ...
        else:
            g.layer = ProgramLayer(g.kind, {})
    return ops, shapes, constants, input_value, groups, scoped, fetched
