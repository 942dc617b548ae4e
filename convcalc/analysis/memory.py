"""Memory from tensor liveness on the traced graph: the inference peak and the peak of a training step.

One model, stated in docs/formulas.md ("Memory"), used by the report's totals
(:func:`inference_peak`) and by the training cost (:func:`step_peak`):

* a **buffer** is one allocation.  View ops (``reshape``, ``flatten``,
  ``squeeze``, ``unsqueeze``, ``view_*``) and in-place ops (a name ending in
  ``_``: result 0 reuses operand 0; ``batch_norm_``'s results 1 and 2 reuse the
  running mean and variance) write no new buffer: their results are *aliases*
  of the operand's buffer (measured in eager Paddle 3.3.1: ``flatten`` and
  ``reshape`` allocate 0 bytes and share ``data_ptr``);
* a buffer is **alive** from the op that writes it to the last op that reads it
  (both included).  The model's inputs are alive for the whole call (the caller
  holds them), its outputs to the end; a result nobody reads lives only during
  its op; and, as eager Python runs, a layer call's arguments stay referenced
  until that call returns (the caller's variable and the callee's parameter);
* the **inference peak** is the largest total of bytes alive during one op
  (inputs included, parameters not);
* the **step peak** (training) adds, in backward order after the forward,
  what the backward holds: activations saved for backward stay until the last
  grad op that reads them; the gradient of an activation exists from the
  first grad op of its readers until its producer's grad op has run (the
  output's gradient comes from the loss); a weight gradient is a new tensor
  during its grad op (then added into the kept ``p.grad``).

What no graph can see, and is therefore not counted: kernel workspaces (CPU
im2col, cuDNN), the loss's own tensors and the labels, and Python variables a
``forward`` keeps naming a tensor after its last use (they hold it longer).

Plain data in, plain ints out; never imports paddle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from convcalc.trace.graph import Trace
from convcalc.trace.op_names import BOOKKEEPING_OPS, op_key

__all__ = ["Buffer", "Liveness", "InferencePeak", "StepPeak", "bytes_per_value", "inference_peak", "step_peak",
           "VIEW_OPS"]

VIEW_OPS = frozenset({"reshape", "flatten", "squeeze", "unsqueeze", "view_shape", "view_dtype", "view_slice"})
"""Ops whose result shares its first operand's buffer in eager Paddle (measured: 0 bytes allocated)."""
INPLACE_RESULTS: dict[str, dict[int, int]] = {"batch_norm": {1: 1, 2: 2}}
"""In-place ops (name ends with ``_``): result index -> the operand whose buffer it reuses (default ``{0: 0}``)."""
MULTI_RESULT_OPS = frozenset({"split", "split_with_num", "unbind", "chunk", "unstack", "topk", "meshgrid"})
WORKSPACES = frozenset({("batch_norm", 5), ("sync_batch_norm", 5)})
"""Results that are a kernel's workspace (``reserve_space``, of unknown size ``-1`` in the program): not counted,
as no workspace is."""
"""Ops whose every unread result is a model output (not only the first)."""
_WIDTHS = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
           "int8": 1, "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16,
           "float8_e4m3fn": 1, "float8_e5m2": 1}
FLOATING = frozenset({"float64", "float32", "float16", "bfloat16"})


def bytes_per_value(dtype: str | None) -> int:
    """``"float32"`` -> 4, ``"int64"`` -> 8, ``paddle.float16`` -> 2; an unknown dtype counts as float32."""
    name = str(dtype or "float32").rsplit(".", 1)[-1].lower()
    return _WIDTHS.get(name, 4)


def _numel(shape) -> int:
    n = 1
    for d in shape:
        if int(d) <= 0:
            return 0  # an unknown (-1) or empty size never reaches a byte count
        n *= int(d)
    return n


@dataclass
class Buffer:
    """One allocation: the value that wrote it, its bytes, and the ops during which it is alive."""

    value: str
    nbytes: int
    born: int  # index of the op that writes it (-1: a model input, alive before the first op)
    dies: int  # index of the last op that needs it (inclusive); ``end`` = held to the end of the call
    kind: str = "activation"  # "input", "activation" or "output"


class Liveness:
    """The buffers of one trace: aliases resolved, births, last uses.

    ``width`` (bytes per value) overrides the traced dtype of floating values
    (a training step in float16); integer values keep their own width.
    ``fixed`` maps ``(op kind, result index)`` to a width that holds whatever
    the training dtype (batch-norm statistics stay float32).
    """

    def __init__(self, trace: Trace, width: int | None = None, fixed: dict | None = None,
                 hold_call_inputs: bool = True):
        self.trace = trace
        self.end = len(trace.ops)
        self.width = width
        self.alias: dict[str, str] = {}
        self.producer: dict[str, Any] = {}
        self.params: set[str] = set()
        self.combined: dict[str, tuple[str, ...]] = {}
        self._fixed: dict[str, int] = {}
        for op in trace.ops:
            key = op_key(op.name)
            inplace = op.name.endswith("_") and not op.name.startswith("builtin")
            for i, v in enumerate(op.outputs):
                self.producer[v] = op
                if fixed and (key, i) in fixed:
                    self._fixed[v] = fixed[(key, i)]
            if op.name == "builtin.parameter":
                self.params.update(op.outputs)
            elif op.name == "builtin.combine":
                self.combined[op.outputs[0]] = op.inputs
            elif key in VIEW_OPS and op.inputs and op.inputs[0] and op.outputs:
                self.alias[op.outputs[0]] = op.inputs[0]
            elif inplace:
                for r, o in INPLACE_RESULTS.get(key, {0: 0}).items():
                    if r < len(op.outputs) and o < len(op.inputs) and op.inputs[o]:
                        self.alias[op.outputs[r]] = op.inputs[o]
        uses: dict[str, list[int]] = defaultdict(list)
        for op in trace.ops:
            if op.name in BOOKKEEPING_OPS:
                continue
            for u in self.operands(op):
                uses[self.root(u)].append(op.index)
        self.uses = uses
        inputs = set(trace.input_values)
        input_dtype = dict(zip(trace.input_values, trace.input_dtypes))
        self.buffers: dict[str, Buffer] = {}
        for op in trace.ops:
            if op.name in BOOKKEEPING_OPS and op.name != "pd_op.data":
                continue
            for i, v in enumerate(op.outputs):
                if self.root(v) != v or v in self.params:
                    continue  # an alias of an earlier buffer (or of a parameter)
                if v in inputs:
                    dtype = str(input_dtype.get(v, "float32"))
                    width = self.width if self.width is not None and dtype in FLOATING else bytes_per_value(dtype)
                    self.buffers[v] = Buffer(v, _numel(trace.shapes.get(v, ())) * width, -1, self.end, "input")
                    continue
                if op.name == "pd_op.data" or (op_key(op.name), i) in WORKSPACES:
                    continue
                last, kind = max(uses.get(v, [op.index])), "activation"
                if v not in uses and (i == 0 or op_key(op.name) in MULTI_RESULT_OPS):
                    last, kind = self.end, "output"  # held by the caller after the call
                self.buffers[v] = Buffer(v, self.value_bytes(v), op.index, last, kind)
        if hold_call_inputs:
            for call in trace.calls:
                for v in call.inputs:
                    b = self.buffers.get(self.root(v)) if v else None
                    if b is not None and b.dies < call.op_end - 1:
                        b.dies = call.op_end - 1

    def root(self, v: str) -> str:
        """The value whose buffer ``v`` is (itself, or what a view / in-place op wrote into)."""
        while v in self.alias:
            v = self.alias[v]
        return v

    def operands(self, op) -> list[str]:
        """An op's operands, list operands (``builtin.combine``) expanded; absent optional ones dropped."""
        return [u for v in op.inputs for u in self.combined.get(v, (v,)) if u]

    def value_bytes(self, v: str, shapes: dict | None = None) -> Any:
        """Bytes of value ``v`` (from ``shapes`` when given: a symbolic report's expressions)."""
        dtype = self.trace.dtypes.get(v, "float32")
        if v in self._fixed:
            width = self._fixed[v]
        elif self.width is not None and dtype in FLOATING:
            width = self.width
        else:
            width = bytes_per_value(dtype)
        if shapes is not None and v in shapes:
            n = 1
            for d in shapes[v]:
                if getattr(d, "is_number", True) and d <= 0 or getattr(d, "name", "") == "?":
                    return 0  # unknown (-1, records.UNKNOWN) or empty: as _numel
                n = n * d
            return n * width
        return _numel(self.trace.shapes.get(v, ())) * width

    @property
    def input_bytes(self) -> int:
        return sum(b.nbytes for b in self.buffers.values() if b.kind == "input")

    def profile(self) -> list[tuple[int, int]]:
        """``(op index, bytes alive during that op)`` for every op that computes (bookkeeping ops left out)."""
        births: dict[int, int] = defaultdict(int)
        deaths: dict[int, int] = defaultdict(int)
        for b in self.buffers.values():
            births[b.born] += b.nbytes
            deaths[b.dies] += b.nbytes
        alive, out = births.get(-1, 0), []
        for op in self.trace.ops:
            alive += births.get(op.index, 0)
            if op.name not in BOOKKEEPING_OPS:
                out.append((op.index, alive))
            alive -= deaths.get(op.index, 0)
        return out

    def alive_at(self, index: int) -> tuple[str, ...]:
        """The buffers alive during op ``index``."""
        return tuple(b.value for b in self.buffers.values() if b.born <= index <= b.dies)


@dataclass(frozen=True)
class InferencePeak:
    """The largest total of bytes alive at once in one forward pass (no gradients).

    ``bytes`` and ``input_bytes`` are ints, or sympy expressions when
    :func:`inference_peak` is given a symbolic report's shapes (the buffers
    alive at the traced size's peak, written in its symbols).
    """

    bytes: Any
    op: int  # index of the traced op during which it is reached (-1: no op computes)
    alive: tuple[str, ...]  # the buffers alive then (value ids)
    input_bytes: Any  # the model's inputs, part of ``bytes``


def inference_peak(trace: Trace, shapes: dict | None = None) -> InferencePeak:
    """The inference peak of ``trace`` (see the module docstring); ``shapes``: symbolic sizes to write it in."""
    live = Liveness(trace)
    profile = live.profile()
    if profile:
        op, peak = max(profile, key=lambda p: p[1])  # the first op that reaches the maximum
        alive = live.alive_at(op)
    else:
        op, peak, alive = -1, live.input_bytes, tuple(v for v, b in live.buffers.items() if b.kind == "input")
    inputs = live.input_bytes
    if shapes is not None:
        peak = sum((live.value_bytes(v, shapes) for v in alive), 0)
        inputs = sum((live.value_bytes(v, shapes) for v, b in live.buffers.items() if b.kind == "input"), 0)
    return InferencePeak(peak, op, alive, inputs)


@dataclass(frozen=True)
class StepPeak:
    """The most a training step holds beyond parameters, gradients and optimizer state."""

    in_flight: int  # activations, saved activations and gradients alive at the worst moment
    batch: int  # the model's inputs (held by the caller the whole step)
    op: int  # the forward op at that moment (its grad op when ``backward``)
    backward: bool
    forward_peak: int  # the largest in-flight total during the forward alone
    saved: int  # activations saved for backward, each buffer once (views of it are the same buffer)


def step_peak(live: Liveness, graph: Any, saved_by_op: dict[int, Iterable[str]],
              extra_saved: Iterable[tuple[int, int, int]] = ()) -> StepPeak:
    """The peak of one training step over the forward and the backward (see the module docstring).

    ``graph`` tells which values need a gradient and which ops are differentiated
    (:class:`convcalc.analysis.training._Graph`: ``needs``, ``data``, ``live``,
    ``differentiated``); ``saved_by_op`` names, per differentiated op, the forward
    values its grad op reads (:data:`convcalc.rules.gradients.SAVED`).
    ``extra_saved``: ``(forward op, producer's op, bytes)`` of saved values the
    eval-mode trace does not hold (a dropout's mask), alive from the first op
    to the second one's grad op.
    """
    trace, end = live.trace, live.end
    diff = [op for op in trace.ops if graph.differentiated(op)]
    btime = {op.index: end + n for n, op in enumerate(reversed(diff))}  # backward runs in reverse
    released: dict[str, int] = {}
    for op in diff:
        for v in saved_by_op.get(op.index, ()):
            r = live.root(v)
            if r in live.buffers and r not in live.params:
                released[r] = max(released.get(r, 0), btime[op.index])
    events: dict[float, int] = defaultdict(int)

    def alive(start: int, stop: int, nbytes: int) -> None:
        events[start] += nbytes
        events[stop + 0.5] -= nbytes  # released after the op (or grad op) at ``stop``

    for r, b in live.buffers.items():
        if b.kind == "input":
            continue  # the batch, counted apart
        stop = b.born if b.kind == "output" else b.dies
        stop = max(stop, released.get(r, -1))
        if b.kind == "output" and r not in released:
            stop = end  # the loss reads it at the end of the forward
        alive(b.born, stop, b.nbytes)
    for born, producer, nbytes in extra_saved:
        alive(born, btime.get(producer, end), nbytes)
    readers: dict[str, list[int]] = defaultdict(list)
    for op in diff:
        for u in live.operands(op):
            if u in graph.live and graph.data.get(u, False):
                readers[live.root(u)].append(btime[op.index])
    outputs = {b.value for b in live.buffers.values() if b.kind == "output"}
    for v in set(readers) | outputs:
        if v in live.params or not graph.needs.get(v, False) or not graph.data.get(v, False):
            continue
        born = min(readers[v]) if readers.get(v) else end  # an output's gradient comes from the loss
        producer = live.producer.get(v)
        stop = btime.get(producer.index, born) if producer is not None else born
        alive(born, max(stop, born), live.value_bytes(v))
    for op in diff:  # a weight gradient: a new tensor during its grad op, then added into p.grad
        for u in live.operands(op):
            if u in live.params and graph.needs.get(u, False):
                alive(btime[op.index], btime[op.index], live.value_bytes(u))
    now, best, best_t, forward_best = 0, 0, -1, 0
    for t in sorted(events):
        now += events[t]
        if t == int(t):
            if now > best:
                best, best_t = now, int(t)
            if t < end:
                forward_best = max(forward_best, now)
    backward = best_t >= end
    op = diff[len(diff) - 1 - (best_t - end)].index if backward else best_t
    saved = sum(live.buffers[r].nbytes for r in released)
    return StepPeak(best, live.input_bytes, op, backward, forward_best, saved)


def row_at(records: Iterable[Any], op: int, fallback: Callable[[], str] = lambda: "") -> str:
    """The path of the report row whose ops include ``op`` (a functional op's own row first)."""
    for rec in records:
        if op in rec.ops:
            return rec.path
    return fallback()
