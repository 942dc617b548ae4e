"""The oracle for training cost: Paddle's own backward program, counted op by op.

The model is built as a static program in *training* mode
(``paddle.jit.to_static``), a scalar loss (the mean of every float output,
summed) is added and ``paddle.static.append_backward(loss)`` makes Paddle
build the grad ops (``conv2d_grad``, ``matmul_grad``, ``batch_norm_grad``,
``pool2d_grad``, ``relu_grad``, ``add_grad``, ...).  Each grad op is
attributed to the forward op it differentiates (the forward values it
reads) and so to the layer whose forward hook saw that op, and counted by
the same rules (:mod:`convcalc.rules.gradients`) from its own operand and result
shapes: a grad result that Paddle left absent is a gradient not computed.
The forward values a grad op reads (operands Paddle does not mark
"no need buffer", parameters and running statistics excluded) are the
activations saved for backward.

Independent of convcalc's analysis on purpose: nothing from
``convcalc.analysis`` is imported, and which gradients exist is Paddle's
decision, not convcalc's.
"""

from __future__ import annotations

import itertools
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sympy

from convcalc.formulas.flops import Convention
from convcalc.rules.gradients import GradContext, grad_costs
from convcalc.trace.build import is_opaque, plain
from convcalc.trace.inputs import ModelInput
from convcalc.trace.native_logs import quiet_native_logs
from convcalc.trace.op_names import op_key
from convcalc.trace.temporary import fast_op_creation, swapped_forwards

__all__ = ["OracleRow", "BackwardProgram", "backward_program"]

_RUNNING_STATS = ("mean_out", "variance_out")
_VIEWS = ("reshape", "flatten", "squeeze", "unsqueeze", "view_shape", "view_dtype", "view_slice")
"""Paddle's view ops: the result shares the operand's memory (eager Paddle 3.3.1: same ``data_ptr``, 0 bytes
allocated), so a saved value and a saved view of it are one buffer, counted once."""
_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "int32": 4, "uint8": 1,
                "bool": 1, "int8": 1, "int16": 2}


@dataclass
class OracleRow:
    """What Paddle's backward program does for one layer (or one functional op name under a parent)."""

    name: str
    backward_input: dict = field(default_factory=lambda: {"macs": 0, "flops": 0})
    backward_weight: dict = field(default_factory=lambda: {"macs": 0, "flops": 0})
    input_grad: bool = False
    weight_grad: bool = False
    saved: dict = field(default_factory=dict)  # value id -> bytes
    grad_ops: list = field(default_factory=list)

    @property
    def saved_bytes(self) -> int:
        return sum(self.saved.values())


@dataclass
class BackwardProgram:
    rows: dict[str, OracleRow]
    activations_bytes: int
    unattributed: tuple[str, ...] = ()  # grad ops no forward op of the model matched
    ops_without_rule: tuple[str, ...] = ()
    unknown_size: tuple[str, ...] = ()  # saved values of unknown size (e.g. a CPU reserve_space)
    grad_op_count: int = 0


def _dtype(value) -> str:
    return str(value.dtype).replace("paddle.", "")


def _shape(value) -> tuple:
    try:
        return tuple(int(d) for d in value.shape)
    except (ValueError, TypeError):
        return ()


def _present(value) -> bool:
    """A grad result Paddle built (an absent one is uninitialised or of null type)."""
    try:
        return bool(value.initialized())  # initialized() is a plain bool (never bool() a pir.Value itself)
    except (ValueError, RuntimeError):
        return False


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _build(model: Any, inputs: list[ModelInput]):
    """The training-mode static program of ``model`` and the layer calls (op ranges) its hooks saw."""
    import paddle
    from paddle.static import InputSpec

    from convcalc.rules.layers import find_rule

    def static_forward(layer):
        found = find_rule(layer)
        return found[1].static_forward if found else None

    paths = {id(layer): path for path, layer in model.named_sublayers(include_self=True)}
    stack: list[dict] = []
    calls: list[dict] = []
    order = itertools.count()
    handles = []

    def program_len() -> int:
        return len(paddle.static.default_main_program().global_block().ops)

    def pre(layer, args):
        stack.append({"layer": layer, "start": program_len(), "order": next(order)})

    def post(layer, args, output):
        entry = stack.pop()
        entry["end"] = program_len()
        calls.append(entry)

    was_training = model.training
    model.train()
    try:
        for _, layer in model.named_sublayers(include_self=True):
            handles.append(layer.register_forward_pre_hook(pre))
            handles.append(layer.register_forward_post_hook(post))
        with swapped_forwards(model, static_forward), fast_op_creation(), quiet_native_logs(), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BatchNorm's "When training, we now always track global mean ..."
            specs = [InputSpec(list(i.shape), i.dtype, name=i.name, stop_gradient=True) for i in inputs]
            static = paddle.jit.to_static(model, input_spec=specs, full_graph=True)
            concrete = static.forward.concrete_program
    finally:
        for h in handles:
            h.remove()
        if not was_training:
            model.eval()
    layers = [(paths.get(id(c["layer"]), ""), c["start"], c["end"], is_opaque(c["layer"]) or not c["layer"].sublayers())
              for c in calls]
    return concrete, layers


def _owner(index: int, layers, key: str) -> str:
    """The row name of forward op ``index``: its leaf layer's path, else ``parent:key``."""
    best, parent = None, ""
    for path, start, end, leaf in layers:
        if start <= index < end:
            if leaf and path:
                if best is None or (end - start) < best[1]:
                    best = (path, end - start)
            elif path and (not parent or path.startswith(parent + ".")):
                parent = path
    return best[0] if best else f"{parent}:{key}"


def backward_program(model: Any, inputs: list[ModelInput]) -> BackwardProgram:
    """Build Paddle's backward program of ``model`` at ``inputs`` and count it per layer (see the module doc)."""
    import paddle

    concrete, layers = _build(model, inputs)
    program = concrete.main_program
    n_forward = len(program.global_block().ops)
    outputs = [v for v in concrete.outputs if hasattr(v, "dtype") and "float" in _dtype(v)]
    paddle.enable_static()
    try:
        with paddle.static.program_guard(program), quiet_native_logs(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Paddle's own "Tensor do not have 'place'" while building the loss
            loss = paddle.add_n([paddle.mean(v) for v in outputs]) if len(outputs) > 1 else paddle.mean(outputs[0])
            paddle.static.append_backward(loss)
    finally:
        paddle.disable_static()
    ops = list(program.global_block().ops)
    first_grad = next((i for i, op in enumerate(ops) if op.name().endswith(("_grad", "_grad_"))), len(ops))
    forward, loss_ops, backward = ops[:n_forward], ops[n_forward:first_grad], ops[first_grad:]
    return _count(forward, backward, layers, loss_ops)


_BACKWARD_AS = {"scale": "scale", "split": "concat", "split_with_num": "concat"}
"""Forward ops whose backward Paddle builds from an ordinary op (scale's is a scale, split's a concat)."""
_NOT_GRADIENTS = ("pd_op.full", "pd_op.full_like", "pd_op.full_int_array", "pd_op.add_n")


def _count(forward, backward, layers, loss_ops) -> BackwardProgram:
    index_of = {}
    defined_by: dict = {}
    data: set = set()
    constants: dict = {}
    for i, op in enumerate(forward):
        index_of[op] = i
        name = op.name()
        ins = [o.source() for o in op.operands()]
        outs = list(op.results())
        if name == "pd_op.data":
            data.update(v.id for v in outs)
        elif any(v.initialized() and v.id in data for v in ins):
            data.update(v.id for v in outs)
        if name in ("pd_op.full_int_array", "pd_op.full"):
            constants[outs[0].id] = op.attrs().get("value")
        for v in outs:
            defined_by[v.id] = op
    forward_values = set(defined_by)
    for op in loss_ops:
        for v in op.results():
            defined_by[v.id] = op
    by_key: dict = defaultdict(list)
    for op in [*forward, *loss_ops]:
        by_key[op_key(op.name())].append(op)
    loss = set(loss_ops)
    matched: set = set()
    rows: dict[str, OracleRow] = {}
    unattributed, missing, unknown = [], [], []
    grad_ops = 0
    grad_owner: dict = {}  # backward op -> the row it counts for
    grad_of: dict = {}  # gradient value id -> the forward value id it is the gradient of

    def computed_by(value_id):
        """The op that computed a forward value (through builtin.split, to the op with the list result)."""
        op = defined_by.get(value_id)
        if op is not None and op.name() == "builtin.split":
            op = defined_by.get(op.operands()[0].source().id)
        return op

    for gop in backward:
        gname = gop.name()
        operands = [o.source() for o in gop.operands()]
        if gname == "builtin.split":  # a list gradient taken apart: each part is the gradient of one list element
            whole = computed_by(grad_of.get(operands[0].id)) if operands[0].initialized() else None
            if whole is not None and whole.name() == "builtin.combine":
                for r, o in zip(gop.results(), whole.operands()):
                    grad_of[r.id] = o.source().id
            continue
        if gname == "pd_op.add_n":  # gradient accumulation: the sum is the gradient of the same value
            parts = operands[0].get_defining_op()
            first = parts.operands()[0].source() if parts.name() == "builtin.combine" else operands[0]
            if first.id in grad_of:
                grad_of[gop.results()[0].id] = grad_of[first.id]
            continue
        if gname.startswith("builtin.") or gname in _NOT_GRADIENTS:
            continue
        is_grad = gname.endswith(("_grad", "_grad_"))
        key = op_key(gname)[: -len("_grad")] if is_grad else op_key(gname)
        fop = None
        if is_grad:
            read = [v for v in operands if v.initialized() and v.id in forward_values]
            if read:
                fop = _match(by_key.get(key, []), read, matched)
        if fop is None:  # by the gradient it reads: the backward of the op that computed that value
            expanded = []
            for v in operands:  # list operands (split's backward concatenates the parts' gradients)
                maker = v.get_defining_op() if v.initialized() else None
                expanded += ([o.source() for o in maker.operands()] if maker is not None
                             and maker.name() == "builtin.combine" else [v])
            for v in expanded:
                cand = computed_by(grad_of.get(v.id)) if v.initialized() else None
                if cand is None or cand in matched or not cand.name().startswith("pd_op."):
                    continue
                ckey = op_key(cand.name())
                if (is_grad and ckey == key) or (not is_grad and _BACKWARD_AS.get(ckey) == key):
                    fop = cand
                    break
        if fop is None:
            if is_grad:
                unattributed.append(gname)
            continue
        matched.add(fop)
        key = op_key(fop.name())
        f_operands = [o.source() for o in fop.operands()]
        if is_grad:
            g_out = dict(zip(gop.get_output_names(), gop.results()))
            result_for = {i: g_out.get(f"{n}_grad") for i, n in enumerate(fop.get_input_names())}
        else:  # an ordinary op: its result is the gradient of the forward op's data operand
            firsts = [i for i, v in enumerate(f_operands) if v.initialized() and v.id in data][:1]
            result_for = dict(zip(firsts, gop.results()))
        for i, r in result_for.items():
            if r is not None and _present(r) and f_operands[i].initialized():
                grad_of[r.id] = f_operands[i].id
        if fop in loss:
            continue  # the grad of the loss convcalc added (mean_grad): not the model's
        grad_ops += 1
        f_index = index_of[fop]
        owner = _owner(f_index, layers, key)
        if ":" in owner and not any(o.source().initialized() and o.source().id in data for o in fop.operands()):
            owner = _reader_owner(fop, forward, index_of, layers) or owner  # an op on parameters alone
        row = rows.setdefault(owner, OracleRow(owner))
        row.grad_ops.append(gname)
        grad_owner[gop] = row.name
        inside = {v.id for path, start, end, leaf in layers if start <= f_index < end and leaf
                  for op in forward[start:end] for v in op.results()}
        _count_one(gop, fop, key, result_for, is_grad, row, data, constants, inside, missing)
        for v in operands:
            if not v.initialized() or v.id not in forward_values or v.id not in data or gop.is_no_need_buffer(v):
                continue
            producer = defined_by[v.id]
            position = [r.id for r in producer.results()].index(v.id)
            # (only pd_op ops have output names; asking a builtin op crashes Paddle 3.3.1)
            names = producer.get_output_names() if producer.name().startswith("pd_op.") else [""] * (position + 1)
            if names[position] in _RUNNING_STATS:
                continue
            shape = _shape(v)
            if not shape or min(shape) < 0:
                unknown.append(f"{names[position]} of {producer.name()}")
                continue
            row.saved[_buffer(v, defined_by).id] = _numel(shape) * _DTYPE_BYTES.get(_dtype(v), 4)
    _accumulations(backward, grad_owner, rows, unattributed, grad_of,
                   lambda y: _value_reader_owner(y, defined_by, forward, index_of, layers))
    union: dict = {}
    for row in rows.values():
        union.update(row.saved)
    return BackwardProgram(rows, sum(union.values()), tuple(unattributed), tuple(sorted(set(missing))),
                           tuple(sorted(set(unknown))), grad_ops)


def _buffer(v, defined_by: dict):
    """The value whose memory ``v`` is: through view ops and in-place results 0 (``relu_``) to the writer."""
    while True:
        op = defined_by.get(v.id)
        if op is None or not op.name().startswith("pd_op.") or not op.num_operands():
            return v
        key, name = op_key(op.name()), op.name()
        in_place = name.endswith("_") and key != "batch_norm" and op.results()[0].id == v.id
        source = op.operands()[0].source()
        if not (key in _VIEWS or in_place) or not source.initialized() or source.id not in defined_by:
            return v
        v = source


def _reader_owner(fop, forward, index_of, layers) -> str | None:
    """The row of the first forward op that reads ``fop``'s result (a parameter-only op counts there)."""
    return _first_reader(({r.id for r in fop.results()}), forward[index_of[fop] + 1:], index_of, layers)


def _value_reader_owner(value_id, defined_by, forward, index_of, layers) -> str | None:
    """The row of the first forward op that reads a value (a parameter's gradient accumulation counts there)."""
    maker = defined_by.get(value_id)
    start = index_of[maker] + 1 if maker in index_of else 0
    return _first_reader({value_id}, forward[start:], index_of, layers)


def _first_reader(ids: set, ops, index_of, layers) -> str | None:
    for op in ops:
        if op.name().startswith("builtin."):
            if any(o.source().initialized() and o.source().id in ids for o in op.operands()):
                ids |= {r.id for r in op.results()}
            continue
        if any(o.source().initialized() and o.source().id in ids for o in op.operands()):
            return _owner(index_of[op], layers, op_key(op.name()))
    return None


def _accumulations(backward, grad_owner: dict, rows: dict, unattributed: list, grad_of: dict,
                   parameter_row) -> None:
    """Paddle's ``add_n`` of the gradients reaching one value: ``(k-1)*numel`` adds, on the row whose grad op
    reads the sum (the row that produced the value); a parameter's (tied, or a layer called twice): on the row
    of its first reader, as a weight gradient."""
    for op in backward:
        if op.name() != "pd_op.add_n":
            continue
        source = op.operands()[0].source()
        parts = source.get_defining_op().num_operands() if source.get_defining_op().name() == "builtin.combine" else 1
        result = op.results()[0]
        adds = (parts - 1) * _numel(_shape(result))
        reader = next((u for u in result.all_used_ops() if u in grad_owner), None)
        if reader is None:
            row = parameter_row(grad_of[result.id]) if result.id in grad_of else None
            if row is None or row not in rows:
                unattributed.append("add_n (gradient accumulation of a parameter)")
            else:
                rows[row].backward_weight["flops"] += adds
                rows[row].weight_grad = True
            continue
        rows[grad_owner[reader]].backward_input["flops"] += adds


def _match(candidates, read, matched):
    """The forward op of ``candidates`` (same kind) whose operands and results include every value the grad op reads."""
    ids = {v.id for v in read}
    best = None
    for op in reversed(candidates):  # the backward runs in reverse: the latest unmatched forward op first
        if op in matched:
            continue
        own = {o.source().id for o in op.operands() if o.source().initialized()} | {r.id for r in op.results()}
        if ids and ids <= own:
            return op
        if best is None and ids & own:
            best = op
    return best


def _count_one(gop, fop, key: str, result_for: dict, is_grad: bool, row: OracleRow, data: set, constants: dict,
               inside: set, missing: list) -> None:
    """Count one backward op by the forward op's rule, from its own operand and result shapes.

    ``result_for`` maps the forward op's operand positions to the backward op's results (their gradients).
    """
    g_in = dict(zip(gop.get_input_names(), (o.source() for o in gop.operands()))) if is_grad else {}
    f_operands = [o.source() for o in fop.operands()]
    shapes, needs, consts = [], [], []
    for i, fv in enumerate(f_operands):
        result = result_for.get(i)
        present = result is not None and _present(result)
        needs.append(present)
        shape = _shape(result) if present else ()
        shapes.append(shape or (_shape(fv) if fv.initialized() else None))
        consts.append(constants.get(fv.id) if fv.initialized() else None)
    out_grad = g_in.get("out_grad")
    f_outs = [_shape(r) for r in fop.results()]
    if out_grad is not None and out_grad.initialized():
        f_outs[0] = _shape(out_grad)
    source = gop if is_grad else fop
    attrs = {k: plain(v) for k, v in source.attrs().items() if k not in ("op_callstack", "struct_name")}
    for conv in (Convention.MACS, Convention.FLOPS):
        costs = grad_costs(GradContext(key, attrs, tuple(shapes), tuple(f_outs), tuple(needs), conv, tuple(consts)))
        if costs is None:
            missing.append(key)
            return
        for fv, need, cost in zip(f_operands, needs, costs):
            if not need or not fv.initialized():
                continue
            if fv.id in data:
                row.backward_input[conv.value] += int(sympy.sympify(cost))
                if conv is Convention.FLOPS and fv.id not in inside:
                    row.input_grad = True
            else:
                row.backward_weight[conv.value] += int(sympy.sympify(cost))
                row.weight_grad = True
