"""What one training step costs: forward, input-gradient and weight-gradient FLOPs per row, and memory.

Built on :func:`convcalc.analysis.analyze`'s records and the one trace behind
them (no second trace).  Which gradients exist follows Paddle's rules, worked
out on the traced program's dataflow:

- a value needs a gradient when it depends on a trainable parameter
  (``not stop_gradient``); the model's inputs need none, so the first conv
  on the data gets no input gradient, and nothing before the first trainable
  parameter gets one;
- a frozen parameter gets no weight gradient;
- only ops on a path from a parameter to the model's outputs are differentiated.

Each differentiated op is counted by :mod:`convcalc.rules.gradients` (the formulas
of :mod:`convcalc.formulas.backward`), the gradient of an operand that depends
on the input going to ``backward_input`` and that of a parameter (or a value
made only from parameters, such as a reshaped bias) to ``backward_weight``.
In the ``paddle`` convention a row's gradients each cost its forward count
(:func:`~convcalc.formulas.backward.paddle_backward_flops`).

Memory (bytes; docs/formulas.md "Memory"): parameters (every used one, in
``dtype``), gradients (the trainable ones), optimizer state (sgd 0, momentum
1x, adam/adamw 2x the trainable values plus two scalars per trainable tensor;
fp32), fp32 master weights of the trainable parameters under
float16/bfloat16, and the activations saved for backward: exactly the forward
values the grad ops read (:data:`convcalc.rules.gradients.SAVED`), each buffer
once (a value read by two rows, or a view such as ``flatten`` of a saved
value, is one buffer).  ``peak`` is the step's peak from tensor liveness
(:func:`convcalc.analysis.memory.step_peak`): parameters, gradients, optimizer
state and master weights, plus the input batch, plus the most activations,
saved activations and activation gradients alive at once during the forward
or the backward.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from convcalc.analysis.engine import analyze, trace_for
from convcalc.analysis.memory import Liveness, row_at, step_peak
from convcalc.analysis.records import Report
from convcalc.errors import UnknownNameError
from convcalc.formulas.backward import elementwise_grad_flops, paddle_backward_flops
from convcalc.formulas.flops import Convention, as_convention
from convcalc.formulas.numbers import is_number
from convcalc.rules.gradients import NO_GRADIENT_OPS, SAVED, GradContext, grad_costs
from convcalc.trace.graph import Trace
from convcalc.trace.input_forms import model_inputs
from convcalc.trace.op_names import BOOKKEEPING_OPS, op_key

__all__ = ["TrainingCost", "TrainingRow", "TrainingTotals", "training_cost", "training_from_report",
           "OPTIMIZERS", "DTYPES"]

OPTIMIZERS: dict[str, int] = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
"""Optimizer state per trainable value (fp32 tensors of the parameter's shape)."""
OPTIMIZER_SCALARS: dict[str, int] = {"sgd": 0, "momentum": 0, "adam": 2, "adamw": 2}
"""Extra one-element state per trainable tensor (Adam's beta1**t and beta2**t)."""
DTYPES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2}
"""Bytes per value of the training dtype."""
_DROPOUT_KINDS = ("Dropout", "Dropout2D", "Dropout3D", "AlphaDropout")
_RESULT_BYTES = {("batch_norm", 3): 4, ("batch_norm", 4): 4, ("layer_norm", 1): 4, ("layer_norm", 2): 4,
                 ("instance_norm", 1): 4, ("instance_norm", 2): 4, ("group_norm", 1): 4, ("group_norm", 2): 4,
                 ("dropout", 1): 1}
"""Results of a fixed width whatever the training dtype: fp32 statistics, uint8 dropout masks."""
_MULTI_RESULT_OPS = ("split", "split_with_num", "unbind", "chunk", "unstack", "topk", "meshgrid")


@dataclass(frozen=True)
class TrainingRow:
    """One report row's share of a training step (FLOPs in the cost's convention, bytes)."""

    index: int
    path: str
    kind: str
    forward: int
    backward_input: int
    backward_weight: int
    saved_bytes: int  # activations this row's backward reads (saved from the forward)
    params_bytes: int = 0
    grads_bytes: int = 0
    optimizer_bytes: int = 0
    master_bytes: int = 0
    is_leaf: bool = True
    depth: int = 0
    input_grad: bool = False  # an input gradient is computed here
    weight_grad: bool = False  # a weight gradient is computed here
    formula: str = ""
    saved: tuple[str, ...] = field(default=(), compare=False, repr=False)  # ids of the saved values

    @property
    def backward(self) -> int:
        return self.backward_input + self.backward_weight

    @property
    def step(self) -> int:
        return self.forward + self.backward


@dataclass(frozen=True)
class TrainingTotals:
    forward: int
    backward_input: int
    backward_weight: int
    step: int
    steps_per_epoch: int | None
    epoch: int | None
    params_bytes: int
    grads_bytes: int
    optimizer_bytes: int
    master_bytes: int
    activations_bytes: int  # saved for backward, each buffer once
    peak_bytes: int  # params + grads + optimizer + master + batch + in flight
    samples: int | None = None
    complete: bool = True  # every differentiated op had a backward rule
    batch_bytes: int = 0  # the model's inputs, held the whole step
    in_flight_bytes: int = 0  # activations, saved activations and activation gradients alive at the peak
    peak_at: str = ""  # the row at the peak ("" when unknown)
    peak_in_backward: bool = False  # the peak is reached during the backward of ``peak_at``

    @property
    def persistent_bytes(self) -> int:
        """What stays between steps: parameters, gradients, optimizer state, fp32 master weights."""
        return self.params_bytes + self.grads_bytes + self.optimizer_bytes + self.master_bytes


@dataclass(frozen=True)
class TrainingCost:
    model: str
    rows: tuple[TrainingRow, ...]
    totals: TrainingTotals
    convention: Convention
    optimizer: str
    dtype: str
    batch: int
    ops_without_rule: tuple[tuple[str, int], ...] = ()
    saved_values: tuple[tuple[str, int], ...] = ()  # (value id, bytes) of every activation saved for backward
    report: Report | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        t = self.totals
        return (f"<TrainingCost {self.model} batch {self.batch}: step {t.step:,} FLOPs ({self.convention.value}), "
                f"peak {t.peak_bytes:,} bytes ({self.optimizer}, {self.dtype})>")


def _check(name: str, value: str, allowed) -> str:
    value = str(value).lower()
    if value not in allowed:
        raise UnknownNameError(name, value, list(allowed))
    return value


def training_cost(
    model: Any,
    input_size: Any = None,
    *,
    input_spec: Any = None,
    input_data: Any = None,
    convention: str | Convention = "paddle",
    optimizer: str = "sgd",
    dtype: str = "float32",
    samples: int | None = None,
    name: str | None = None,
) -> TrainingCost:
    """The cost of one training step of ``model`` at the given input (same input forms as ``analyze``).

    >>> tc = training_cost(model, (64, 1, 28, 28), optimizer="adam", samples=1000)   # doctest: +SKIP
    >>> tc.totals.step, tc.totals.epoch, tc.totals.peak_bytes                          # doctest: +SKIP
    """
    conv = as_convention(convention)
    optimizer = _check("optimizer", optimizer, OPTIMIZERS)
    dtype = _check("dtype", dtype, DTYPES)
    samples = _check_samples(samples)
    name = name or type(model).__name__
    inputs, values = model_inputs(model, input_size, input_spec, input_data)
    trace = trace_for(model, inputs, name, values)
    report = analyze(model, convention=conv, name=name, trace=trace, input_size=[i.shape for i in inputs]
                     if len(inputs) > 1 else inputs[0].shape)
    return training_from_report(report, trace, model, optimizer=optimizer, dtype=dtype, samples=samples)


def _check_samples(samples) -> int | None:
    from convcalc.errors import InvalidParameterError

    if samples is None:
        return None
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InvalidParameterError(f"samples must be a whole number >= 1, got {samples!r}",
                                    "pass the number of training samples per epoch, e.g. 1000")
    return samples


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


class _Graph:
    """The traced program's gradient flow: which values need a gradient, which ops are differentiated."""

    def __init__(self, trace: Trace, trainable: dict[str, bool]):
        self.trace = trace
        ops = trace.ops
        self.producer: dict[str, Any] = {}
        consumers: dict[str, list] = defaultdict(list)
        self.needs: dict[str, bool] = {}
        self.data: dict[str, bool] = {v: True for v in trace.input_values}
        self.param_values: set[str] = set()
        for op in ops:
            for v in op.outputs:
                self.producer[v] = op
            for v in op.inputs:
                consumers[v].append(op)
            if op.name == "builtin.parameter":
                for v in op.outputs:
                    self.needs[v] = trainable.get(str(op.attrs.get("parameter_name")), False)
                    self.param_values.add(v)
                continue
            key = op_key(op.name)
            needs = key not in NO_GRADIENT_OPS and any(self.needs.get(v, False) for v in op.inputs)
            data = any(self.data.get(v, False) for v in op.inputs)
            for v in op.outputs:
                self.needs[v] = needs
                self.data[v] = data or self.data.get(v, False)
        # gradient flows back from the model's outputs: unconsumed results (the first, or all of a split)
        self.live: set[str] = set()
        for op in reversed(ops):
            if op.name in BOOKKEEPING_OPS and op.name not in ("builtin.combine", "builtin.split", "builtin.slice"):
                continue
            key = op_key(op.name)
            outs = [v for i, v in enumerate(op.outputs)
                    if v in self.live or (not consumers.get(v) and (i == 0 or key in _MULTI_RESULT_OPS))]
            if not outs or not any(self.needs.get(v) for v in outs):
                continue
            for v in op.inputs:
                if self.needs.get(v):
                    self.live.add(v)
            for v in outs:
                self.live.add(v)

    def differentiated(self, op) -> bool:
        return (op.name not in BOOKKEEPING_OPS and any(v in self.live for v in op.outputs)
                and any(v in self.live for v in op.inputs))


def training_from_report(report: Report, trace: Trace, model: Any, *, optimizer: str = "sgd",
                         dtype: str = "float32", samples: int | None = None) -> TrainingCost:
    """The training cost from an analysis already made (``report``) and its ``trace``."""
    optimizer = _check("optimizer", optimizer, OPTIMIZERS)
    dtype = _check("dtype", dtype, DTYPES)
    samples = _check_samples(samples)
    conv = report.convention
    exact = conv if conv is not Convention.PADDLE else Convention.FLOPS
    trainable = {p.name: not p.stop_gradient for p in model.parameters()}
    graph = _Graph(trace, trainable)
    width = DTYPES[dtype]
    live = Liveness(trace, width=width, fixed=_RESULT_BYTES)
    combined = {v: op for op in trace.ops if op.name == "builtin.combine" for v in op.outputs}
    ops_by_index = {op.index: op for op in trace.ops}
    missing: dict[str, int] = defaultdict(int)
    saved_by_op: dict[int, list[str]] = defaultdict(list)
    masks: list[tuple[int, int, int]] = []  # dropout masks: (born, producer op, bytes)

    def value_bytes(v: str) -> int:
        root = live.root(v)  # a view of a saved value is the same buffer
        b = live.buffers.get(root)
        return b.nbytes if b is not None else live.value_bytes(root)

    accumulated = _accumulation(graph, trace, report, combined, exact)
    adopted = _parameter_ops(graph, trace, report)
    rows: list[TrainingRow] = []
    all_saved: dict[str, int] = {}
    for rec in report.records:
        dx, dw = accumulated.get(rec.index, (0, 0))
        saved: dict[str, int] = {}
        input_grad = weight_grad = False
        inside = {v for i in rec.ops for v in ops_by_index[i].outputs}
        for i in (*rec.ops, *adopted.get(rec.index, ())):
            op = ops_by_index[i]
            if not graph.differentiated(op):
                continue
            key = op_key(op.name)
            operands, groups = [], []
            for v in op.inputs:  # list operands arrive through builtin.combine (input or weight: the list's)
                parts = combined[v].inputs if v in combined else (v,)
                operands.extend(parts)
                groups.extend([v] * len(parts))
            needs = tuple(v in graph.live for v in operands)
            costs = grad_costs(GradContext(
                key=key, attrs=op.attrs,
                input_shapes=tuple(trace.shapes.get(v) if v else None for v in operands),
                output_shapes=tuple(trace.shapes.get(v, ()) for v in op.outputs),
                needs=needs, convention=exact, constants=tuple(trace.constants.get(v) for v in operands)))
            if costs is None:
                missing[key] += 1
                costs = (0,) * len(operands)
            for v, group, need, cost in zip(operands, groups, needs, costs):
                if not need:
                    continue
                if graph.data.get(group, False):
                    dx += cost
                    input_grad = input_grad or v not in inside
                else:
                    dw += cost
                    weight_grad = True
            reads_in, reads_out = SAVED.get(key, ((), ()))
            for j in reads_in:
                if j < len(operands) and operands[j] and graph.data.get(operands[j], False):
                    saved[live.root(operands[j])] = value_bytes(operands[j])
                    saved_by_op[op.index].append(operands[j])
            for j in reads_out:
                if j < len(op.outputs):
                    v = op.outputs[j]
                    saved[live.root(v)] = value_bytes(v)
                    saved_by_op[op.index].append(v)
        if rec.is_leaf and not rec.is_functional and rec.kind in _DROPOUT_KINDS and not rec.ops:
            # in eval mode (the trace) dropout is the identity; training runs it: dx = dy * mask / (1 - p)
            source, layer = _row_value(trace, rec)
            if source is not None and source in graph.live and float(getattr(layer, "p", 0.5) or 0) > 0:
                numel = _numel(rec.output_shape)
                dx += elementwise_grad_flops(numel, "dropout", exact)
                input_grad = True
                saved[f"{rec.path}:mask"] = numel  # uint8
                maker = graph.producer.get(source)
                at = maker.index if maker is not None else 0
                masks.append((at, at, numel))
        forward = int(rec.flops) if rec.is_leaf and is_number(rec.flops) else 0
        if conv is Convention.PADDLE:
            dx, dw = paddle_backward_flops(forward, input_grad, weight_grad)
        p_tr, p_all = int(rec.params_trainable), int(rec.params_trainable + rec.params_non_trainable)
        rows.append(TrainingRow(
            index=rec.index, path=rec.path, kind=rec.kind, forward=forward,
            backward_input=int(dx), backward_weight=int(dw),
            saved_bytes=sum(saved.values()),
            params_bytes=p_all * width, grads_bytes=p_tr * width,
            optimizer_bytes=_optimizer_bytes(optimizer, p_tr, _tensors_on_row(report, rec.path, rec)),
            master_bytes=p_tr * 4 if width != 4 else 0,
            is_leaf=rec.is_leaf, depth=rec.depth, input_grad=input_grad, weight_grad=weight_grad,
            formula=rec.formula, saved=tuple(saved),
        ))
        all_saved.update(saved)

    used = [p for p in report.parameters if p.read]
    p_tr = sum(p.numel for p in used if p.trainable)
    p_all = sum(p.numel for p in used)
    leaf = [r for r in rows if r.is_leaf]
    fwd = sum(r.forward for r in leaf)
    bx = sum(r.backward_input for r in rows)
    bw = sum(r.backward_weight for r in rows)
    batch = int(report.input_shape[0]) if report.input_shape else 1
    step = fwd + bx + bw
    steps = -(-samples // batch) if samples else None
    params_bytes, grads_bytes = p_all * width, p_tr * width
    optimizer_bytes = _optimizer_bytes(optimizer, p_tr, sum(1 for p in used if p.trainable))
    master_bytes = p_tr * 4 if width != 4 else 0
    activations = sum(all_saved.values())
    peak = step_peak(live, graph, saved_by_op, masks)
    totals = TrainingTotals(
        forward=fwd, backward_input=bx, backward_weight=bw, step=step,
        steps_per_epoch=steps, epoch=step * steps if steps else None,
        params_bytes=params_bytes, grads_bytes=grads_bytes, optimizer_bytes=optimizer_bytes,
        master_bytes=master_bytes, activations_bytes=activations,
        peak_bytes=params_bytes + grads_bytes + optimizer_bytes + master_bytes + peak.batch + peak.in_flight,
        samples=samples, complete=not missing, batch_bytes=peak.batch, in_flight_bytes=peak.in_flight,
        peak_at=row_at(report.records, peak.op), peak_in_backward=peak.backward,
    )
    return TrainingCost(model=report.model, rows=tuple(rows), totals=totals, convention=conv, optimizer=optimizer,
                        dtype=dtype, batch=batch, ops_without_rule=tuple(sorted(missing.items())),
                        saved_values=tuple(all_saved.items()), report=report)


def _accumulation(graph: _Graph, trace: Trace, report: Report, combined: dict, conv: Convention) -> dict:
    """Gradient accumulation: a value read by ``k`` differentiated ops sums ``k`` gradients (``(k-1)*numel`` adds).

    Counted on the row whose op produced the value (input part; a parameter read twice, e.g. tied weights:
    the weight part of the row of its first reader).  macs: none.
    """
    uses: dict[str, int] = defaultdict(int)
    first_reader: dict[str, int] = {}
    for op in trace.ops:
        if not graph.differentiated(op):
            continue
        for v in op.inputs:
            for u in (combined[v].inputs if v in combined else (v,)):
                if u in graph.live:
                    uses[u] += 1
                    first_reader.setdefault(u, op.index)
    row_of = {i: rec.index for rec in report.records for i in rec.ops}
    out: dict[int, tuple] = {}
    for v, k in uses.items():
        if k < 2 or conv is Convention.MACS:
            continue
        adds = (k - 1) * _numel(trace.shapes.get(v, ()))
        producer = graph.producer.get(v)
        weight = v in graph.param_values or not graph.data.get(v, False)
        row = None if weight or producer is None else row_of.get(producer.index)
        row = row_of.get(first_reader[v]) if row is None else row
        if row is None:
            continue
        dx, dw = out.get(row, (0, 0))
        out[row] = (dx, dw + adds) if weight else (dx + adds, dw)
    return out


def _parameter_ops(graph: _Graph, trace: Trace, report: Report) -> dict[int, list[int]]:
    """Differentiated ops on parameters alone outside every row (a class token's ``expand``): each counts on
    the row of the first op that reads its result (as a weight gradient)."""
    row_of = {i: rec.index for rec in report.records for i in rec.ops}
    readers: dict[str, list[int]] = defaultdict(list)
    for op in trace.ops:
        for v in op.inputs:
            readers[v].append(op.index)
    ops = {op.index: op for op in trace.ops}

    def reader_row(values, depth: int = 0):
        for v in values:
            for i in readers.get(v, ()):
                if i in row_of:
                    return row_of[i]
                if ops[i].name.startswith("builtin.") and depth < 4:  # through a list (concat's operands)
                    found = reader_row(ops[i].outputs, depth + 1)
                    if found is not None:
                        return found
        return None

    out: dict[int, list[int]] = defaultdict(list)
    for op in trace.ops:
        if op.index in row_of or not graph.differentiated(op) or op.name.startswith("builtin."):
            continue
        row = reader_row(op.outputs)
        if row is not None:
            out[row].append(op.index)
    return out


def _tensors_on_row(report: Report, path: str, rec) -> int:
    """Trainable parameter tensors shown on a row (Adam keeps two scalars per tensor)."""
    if not int(rec.params_trainable):
        return 0
    return sum(1 for p in report.parameters if p.read and p.trainable and p.row == path)


def _optimizer_bytes(optimizer: str, trainable_values: int, trainable_tensors: int) -> int:
    return 4 * (OPTIMIZERS[optimizer] * trainable_values + OPTIMIZER_SCALARS[optimizer] * trainable_tensors)


def _row_value(trace: Trace, rec) -> tuple[str | None, Any]:
    """The value a layer with no ops of its own passes through (its input is its output), and the layer.

    (A dropout of rate 0 builds no op in training either: Paddle returns its input.)
    """
    for call in trace.calls:
        if call.path == rec.path and call.inputs:
            return call.inputs[0], call.layer
    return None, None
