"""Run a Paddle model once and record its layers *and* its dataflow.

Execution order is not dataflow: in a ResBlock the 1x1 shortcut reads the
block's input, and the residual add and ``F.relu`` are not layers at all.  So
the trace builds Paddle's own static program (``paddle.jit.to_static``, PIR),
whose ops carry real operands, attributes and shapes, while forward pre/post
hooks on every layer record which contiguous run of ops each layer call
produced and which values it read and wrote.

The result is plain data (:class:`Trace`): analysis never touches paddle
objects except the layer handles kept for the rules, so the graph walkers can
be tested on tiny hand-built graphs.

Layers whose rule provides a ``static_forward`` (the book's loop ``Conv2D``
would unroll into thousands of slicing ops) are swapped for that equivalent
while the program is built, so they appear as one opaque ``conv2d``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from convcalc.errors import ConvcalcError, ModelLoadError, RefusedInputError, ShapeError
from convcalc.trace.branches import Decisions, replaying
from convcalc.trace.eager import eager_check
from convcalc.trace.failures import (
    check_fits,
    check_nonempty,
    describe_failure,
    disagrees,
    first_disagreement,
    first_empty_layer,
    forward_error,
    refuse_empty,
    static_eager_error,
)
from convcalc.trace.graph import LayerCall, OpNode, Trace
from convcalc.trace.input_choice import probe_eagerly, trace_readings
from convcalc.trace.inputs import arguments, as_inputs, bind_names, in_forward_order, input_hint, rank_hint
from convcalc.trace.native_logs import quiet_native_logs
from convcalc.trace.op_names import BOOKKEEPING_OPS, op_key
from convcalc.trace.shape_guards import recording as recording_guards
from convcalc.trace.size_folding import folded_sizes
from convcalc.trace.sizes import drop_workspaces, run_for_sizes, size_dependence, static_shapes
from convcalc.trace.stand_ins import (
    conv_stand_in,
    expected_calls,
    stand_in_outputs,
    value_free,
    watching_value_reads,
)
from convcalc.trace.temporary import eval_mode, fast_op_creation, swapped_forwards
from convcalc.trace.to_static import plain_forwards, self_named_forward, transformed_forwards
from convcalc.trace.weights import give_memory, lazy_parameters

__all__ = ["trace_model", "summary_key", "is_opaque", "plain", "value_id"]


def plain(value: Any) -> Any:
    """PIR attribute values as plain Python (lists, ints, floats, str, bool)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def _values(obj: Any) -> Iterator[Any]:
    """PIR values inside a hook's inputs/outputs (tensors, lists, tuples, dicts)."""
    if hasattr(obj, "get_defining_op") and hasattr(obj, "id"):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _values(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _values(o)


def value_id(value: Any) -> str:
    """A value's stable id; ``""`` for an absent optional operand (keeps positions)."""
    try:
        return value.id
    except (ValueError, AttributeError):
        return ""


def summary_key(layer: Any) -> str:
    """The row key ``paddle.summary`` prints for a layer, e.g. ``Conv2D-3``."""
    class_name = type(layer).__name__
    try:
        idx = int(layer._full_name.split("_")[-1])
    except (ValueError, AttributeError):
        return class_name
    return f"{class_name}-{idx + 1}"


def is_opaque(layer: Any) -> bool:
    """Layers that run as one fused op whatever their sublayers (``nn.LSTM``/``GRU``/``SimpleRNN``): one leaf row.

    Their cells are built as sublayers but never called; the layer itself
    holds the parameters and runs Paddle's ``rnn`` op.
    """
    from paddle.nn.layer.rnn import RNNBase

    return isinstance(layer, RNNBase)


def _in_summary(layer: Any, model: Any) -> bool:
    """Whether ``paddle.summary`` hooks this layer (its own selection rule, RNNs included)."""
    import paddle.nn as nn

    if getattr(layer, "could_use_cudnn", False):  # nn.LSTM/GRU/SimpleRNN are LayerLists, hooked all the same
        return True
    return (layer is not model or not model.sublayers()) and not isinstance(layer, (nn.Sequential, nn.LayerList))


def trace_model(
    model: Any,
    inputs: Any,
    static_forward: Callable[[Any], Callable | None] = lambda layer: None,
    name: str = "model",
    values: list[Any] | None = None,
    eager: bool = True,
) -> Trace:
    """Trace ``model`` on ``inputs`` (:class:`~convcalc.trace.inputs.ModelInput` values, or one float32 shape).

    The model runs in eval mode; its mode, forward methods and hooks are
    restored afterwards.  Paddle's static program gives the dataflow; then,
    once its shapes are known to be non-empty, Paddle's *eager* forward runs
    once (no grad) on ``values`` (default: ones, or zeros for integer
    inputs), because only the eager kernels check everything (conv input
    channels against the filter's): what it refuses is refused here
    (:class:`~convcalc.errors.RefusedInputError`, Paddle's reason and the
    layer).  A forward that raises becomes a
    :class:`~convcalc.errors.ModelLoadError` naming the layer it got to (or a
    :class:`~convcalc.errors.ShapeError` when the input is too small).
    ``eager=False``: the caller has run :func:`eager_check` at this input
    already (only a forward that branches on tensor values runs it again).

    Paddle, not a guess, decides what an input means: an input whose rank is
    not the one the model's first layer takes goes to Paddle's eager forward
    first (the first layer's rank is only a hint in the error when Paddle
    refuses); an input that can be read two ways (:func:`~convcalc.trace.inputs.readings`)
    is read the other way only when Paddle refuses the first, and the report's
    notes say which reading was taken.
    """
    bound = bind_names(model, as_inputs(inputs), name)
    hint = input_hint(model)

    def one(reading, probed: bool, first: bool) -> Trace:
        return _trace_reading(model, reading, hint, static_forward, name, values, (eager or not first) and not probed)

    return trace_readings(model, bound, hint, one, static_forward, name, values)


def _trace_reading(model, bound, hint, static_forward, name, values, eager) -> Trace:
    """:func:`trace_model` for one reading of the input."""
    if eager and rank_hint(bound, hint, name) is not None:  # Paddle judges first, eagerly (see probe_eagerly)
        give_memory(model, values=True)  # (a model built under paddle.LazyGuard: weights.py)
        probe_eagerly(model, bound, hint, static_forward, name, values)
        eager = False
    inputs = in_forward_order(model, bound, bound)  # dict forms name their arguments in any order
    if values is not None:
        values = in_forward_order(model, bound, list(values))
    paths = {id(layer): path for path, layer in model.named_sublayers(include_self=True)}

    # A Paddle layer (or one with an opaque rule) analysed on its own is one leaf row, not its functional ops.
    root_leaf = not model.sublayers() and (type(model).__module__.startswith("paddle.")
                                           or (static_forward is not None and static_forward(model) is not None))
    probe = Decisions(probe=True)
    try:
        built = _built(model, inputs, static_forward, name, paths, probe, root_leaf)
    except ConvcalcError:
        if not lazy_parameters(model):
            raise
        give_memory(model, values=True)  # built under paddle.LazyGuard: fail as the normal build does (weights.py)
        probe = Decisions(probe=True)
        built = _built(model, inputs, static_forward, name, paths, probe, root_leaf)
    graph = (built.ops, built.shapes, built.dtypes, built.regions, built.inner, BOOKKEEPING_OPS, op_key)
    free = value_free(*graph)
    # (else: free of what the stand-ins change, with the parameters' values given: stand_ins.value_free)
    read_weights = not free and not probe.asked and value_free(*graph, stand_in_outputs(built.finished))
    free = free or read_weights
    decisions = Decisions()
    eager_paths: list[str] = []
    eager_shapes: list[tuple[str, tuple]] = []
    if eager or probe.asked:
        check_fits(built.shapes, built.dtypes, inputs, name)  # (else the OOM killer may end the process)
        # Where no refusal can depend on values, convolutions are checked at their smallest size (stand_ins).
        light = None if probe.asked or not free else conv_stand_in(expected_calls(built.finished, built.shapes))
        give_memory(model, values=light is None or read_weights)  # values where the check may read them
        with watching_value_reads() if light is not None else contextlib.nullcontext([]) as reads:
            eager_paths = eager_check(model, inputs, static_forward, name, values, decisions, stand_in=light,
                                      shapes=eager_shapes)
        if light is not None and reads:  # read values (a truth value on sizes is not listed): the real ones
            give_memory(model, values=True)
            decisions = Decisions()
            eager_shapes.clear()
            eager_paths = eager_check(model, inputs, static_forward, name, values, decisions, shapes=eager_shapes)
    notes: tuple[str, ...] = ()
    if probe.asked:  # (truth values asked only by eager-only code, e.g. inside Paddle's layers, change nothing)
        cannot = ModelLoadError(
            f"the forward of {name} branches on (or reads) tensor values (first in {decisions.first_layer or name}) "
            "in a way convcalc cannot follow in one static program",
            "make the branch depend on a Python value (a constructor argument or flag), "
            "or analyse each branch as its own model",
        )
        if probe.asked != decisions.values:  # the eager forward went another way than the probe
            try:
                built = _built(model, inputs, static_forward, name, paths, decisions, root_leaf)
            except ConvcalcError:
                raise cannot from None
            if decisions.used != len(decisions.values):
                raise cannot
        # (the root's own hooks do not run inside to_static: compare the sublayers' calls)
        if [c.path for c in built.calls if c.path] != [p for p in eager_paths if p]:
            raise cannot
        given = "the given input_data" if values is not None else "an input of ones"
        notes = (
            f"{name}'s forward branches on tensor values (first in {decisions.first_layer or name}): "
            f"analysed along the path Paddle's eager forward took on {given}; another input may take "
            "another path",
        )
    if built.patched and disagrees(built.calls, built.shapes, eager_shapes):
        # paddle.shape answered as a list changed what the forward did (list, not tensor, semantics): build
        # as Paddle would, and read the sizes it leaves open from a run of the program.
        built = _built(model, inputs, static_forward, name, paths, decisions if probe.asked else Decisions(),
                       root_leaf, shape_lists=False)
    ops, shapes, calls = built.ops, built.shapes, built.calls
    unknown = _resolve_sizes(built, model, inputs, values)
    if unknown is not None:  # sizes read from a run: check them as the static ones were
        check_nonempty(ops, shapes, calls, inputs, name)
    # The eager forward is the truth for shapes: a program that disagrees is counted by no one.
    found = first_disagreement(calls, shapes, eager_shapes, built.outputs)
    if found is not None:
        raise static_eager_error(found, name)
    constants, input_values, dtypes = built.constants, built.input_values, built.dtypes
    guards = built.guards
    called = {id(c.layer) for c in calls}
    inside = tuple(c.path + "." for c in calls if c.is_leaf and c.path and c.layer.sublayers())
    never = [
        p
        for p, layer in model.named_sublayers()
        if id(layer) not in called and not any(id(s) in called for s in layer.sublayers())
        and not p.startswith(inside)
    ]
    return Trace(
        tuple(inputs[0].shape), input_values[0], ops, shapes, constants, calls, never,
        input_shapes=tuple(i.shape for i in inputs),
        input_values=input_values,
        input_dtypes=tuple(i.dtype for i in inputs),
        dtypes=dtypes,
        notes=notes,
        guards=guards,
        unknown_sizes=unknown or {},
        inner_ops=built.inner,
    )


@dataclass
class _Built:
    """One static build, read: the program, the hooks' calls and the plain-data graph."""

    program: Any
    finished: list
    guards: Any
    patched: int
    ops: list
    shapes: dict
    constants: dict
    input_values: tuple
    dtypes: dict
    calls: list
    inner: dict
    outputs: tuple  # the program's outputs (the model's return values), as value ids
    regions: set  # the indices of the ops that hold blocks (a pylayer's forward, control flow)


def _built(model, inputs, static_forward, name, paths, decisions: Decisions, root_leaf: bool,
           shape_lists: bool = True) -> _Built:
    """Build and read the program; sizes read with ``paddle.shape`` stay concrete (:func:`static_shapes`) unless
    that stops the build (tensor arithmetic on them): then it is built as Paddle would, with their ``-1``."""
    decisions.restart()
    try:
        program, finished, guards, patched, outputs = _build(model, inputs, static_forward, name, paths,
                                                             decisions, shape_lists)
    except ConvcalcError as err:
        if not (shape_lists and getattr(err, "shape_lists_used", 0)):
            raise
        decisions.restart()
        program, finished, guards, patched, outputs = _build(model, inputs, static_forward, name, paths, decisions,
                                                             False)
    ops, shapes, constants, input_values, dtypes, inner, regions = _read_program(program, inputs)
    calls = _calls(finished, paths, model, ops, input_values, root_leaf)
    refuse_empty(finished, paths, inputs, name)
    check_nonempty(ops, shapes, calls, inputs, name)
    return _Built(program, finished, guards, patched, ops, shapes, constants, input_values, dtypes, calls, inner,
                  outputs, regions)


def _resolve_sizes(built: _Built, model, inputs, values) -> dict[str, str] | None:
    """Sizes the program leaves at ``-1``: from one run of it where they follow from shapes, else unknown.

    Returns ``{value id: why its size is unknown}`` (None when nothing was left open; ``built.shapes`` is
    updated in place with the sizes the run gave).
    """
    read = {v for op in built.ops for v in op.inputs} | {v for c in built.calls for v in c.outputs}
    drop_workspaces(built.ops, built.shapes, read)
    deterministic, unknown = size_dependence(built.ops, built.shapes, built.dtypes, built.input_values)
    if not deterministic and not unknown:
        return None
    if deterministic:
        give_memory(model, values=True)  # (a model built under paddle.LazyGuard: weights.py)
        try:
            with quiet_native_logs():
                built.shapes.update(run_for_sizes(built.program, model, inputs, values, deterministic))
        except Exception as exc:  # noqa: BLE001 - Paddle could not run its own program: the sizes stay unknown
            why = f"Paddle's static program leaves it open and running the program failed ({describe_failure(exc)})"
            unknown.update({v: why for v in deterministic})
    return unknown


def _build(model, inputs, static_forward, name, paths, decisions: Decisions, shape_lists: bool = True):
    """Paddle's static program of ``model``, the layer calls its hooks saw (in finishing order), the shape
    guards, and how often ``paddle.shape`` was answered with a list (:func:`convcalc.trace.sizes.static_shapes`).

    With ``decisions``, tensor-valued ``if``/``while`` follow them (see :mod:`convcalc.trace.branches`).
    The forwards run as written (:func:`~convcalc.trace.to_static.plain_forwards`); when that build
    fails for any reason but Paddle refusing the input (or after a truth value was asked), the program
    is built once more with dy2static's source transformation, as Paddle normally builds it.
    """
    try:
        return _build_once(model, inputs, static_forward, name, paths, decisions, shape_lists, plain=True)
    except _Transform:
        decisions.restart()
        return _build_once(model, inputs, static_forward, name, paths, decisions, shape_lists, plain=False)


class _Transform(Exception):
    """The plain build could not do what dy2static's rewrite would have: build again with it."""


def _build_once(model, inputs, static_forward, name, paths, decisions: Decisions, shape_lists: bool, plain: bool):
    import paddle
    from paddle.pir import Value
    from paddle.static import InputSpec

    stack: list[dict] = []
    finished: list[dict] = []
    pre_order = itertools.count()
    handles = []

    raw_shape = Value.shape.fget  # (read before recording_guards wraps it)

    def last_op() -> int | None:
        """The id of the program's last op so far (a layer call's ops follow it; ``Block.num_ops`` walks the
        whole block, a quadratic cost over a build): turned into positions once the program is built."""
        block = paddle.static.default_main_program().global_block()
        return None if block.empty() else block.back().id()

    def pre_hook(layer, args):
        values = list(_values(args))
        stack.append(
            {
                "layer": layer,
                "start": last_op(),
                "order": next(pre_order),
                "inputs": tuple(v.id for v in values),
                # Paddle's own shape (plain ints): the shape guards must not log the formulas' own comparisons
                "in_shape": tuple(int(d) for d in raw_shape(values[0])) if values else (),
            }
        )

    def post_hook(layer, args, output):
        entry = stack.pop()
        entry["end"] = last_op()
        entry["outputs"] = tuple(v.id for v in _values(output))
        finished.append(entry)

    had_forward = "forward" in model.__dict__
    old_forward = model.__dict__.get("forward")
    with eval_mode(model):
        try:
            for _, layer in model.named_sublayers(include_self=True):
                handles.append(layer.register_forward_pre_hook(pre_hook))
                handles.append(layer.register_forward_post_hook(post_hook))
            with swapped_forwards(model, static_forward), fast_op_creation(), replaying(decisions), \
                    quiet_native_logs(), recording_guards() as guards, static_shapes(shape_lists) as patched, \
                    folded_sizes(raw_shape), \
                    (plain_forwards(decisions, raw_shape) if plain else transformed_forwards()), \
                    self_named_forward(model):
                specs = [InputSpec(list(i.shape), i.dtype, name=i.spec_name) for i in inputs]
                try:
                    static = paddle.jit.to_static(model, input_spec=arguments(inputs, specs), full_graph=True)
                    concrete = static.forward.concrete_program
                    program = concrete.main_program
                    outputs = tuple(v.id for v in _values(concrete.outputs))
                except Exception as exc:  # noqa: BLE001 - any failure of user code is reported
                    error = (first_empty_layer(finished, paths, inputs[0].shape, name)
                             or forward_error(exc, stack, paths, inputs, name))
                    if plain and (decisions.asked or not isinstance(error, (RefusedInputError, ShapeError))):
                        raise _Transform from None
                    error.shape_lists_used = patched.used  # (the build is tried again without them)
                    raise error from None
            _op_positions(program, finished)
        finally:
            for h in handles:
                h.remove()
            if had_forward:
                model.forward = old_forward
            elif "forward" in model.__dict__:
                del model.__dict__["forward"]
    return program, finished, guards, patched.used, outputs


def _op_positions(program, finished: list[dict]) -> None:
    """Each layer call's ``start``/``end`` (the ids of the last op before and at its end) as op positions.

    An op that was moved into a sub-block after it was built (a ``PyLayer``'s forward goes into its
    ``pylayer`` op) counts as the op that holds it: a layer called inside a PyLayer's forward covers
    the ``pylayer`` op.
    """
    where: dict[int, tuple[int, int]] = {}

    def inside(op, at: int) -> None:
        for block in op.blocks():
            for sub in block.ops:
                where.setdefault(sub.id(), (at, at + 1))
                inside(sub, at)

    for i, op in enumerate(program.global_block().ops):
        where[op.id()] = (i + 1, i + 1)
        if op.num_regions():
            inside(op, i)
    for entry in finished:
        for key, side in (("start", 0), ("end", 1)):
            op_id = entry[key]
            if op_id is not None and op_id not in where:  # an op erased after it was built
                raise ModelLoadError(f"an op built by {type(entry['layer']).__name__} is no longer in the program, so "
                                     "its layer's ops cannot be told apart", "report this model to convcalc")
            entry[key] = 0 if op_id is None else where[op_id][side]


_SCALARS = (bool, int, float, str, type(None))


def _read_program(program, inputs):
    """The program's ops as plain data, every value's shape, constants, each input's value id, dtypes, the
    ops inside each ``pylayer`` op (a PyLayer's forward: ``{op index: [OpNode, ...]}``), and the indices of
    the ops that hold blocks.

    A ``builtin.parameter`` op's attributes are its ``parameter_name`` only (its flags -- trainable,
    persistable, ... -- are the parameter object's, read from it; converting them was half of reading
    a DenseNet's program)."""
    ops: list[OpNode] = []
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, str] = {}
    constants: dict[str, Any] = {}
    data_values: dict[str, str] = {}
    inner: dict[int, list[OpNode]] = {}
    dtype_names: dict = {}  # DataType.FLOAT32 -> "float32" (Paddle's str() of a dtype is slow: once per kind)

    def node(i: int, op) -> OpNode:
        name_ = op.name()
        if name_ == "builtin.parameter":
            attrs = {"parameter_name": op.str_attr("parameter_name")}
        else:
            attrs = {k: v if v.__class__ in _SCALARS else plain(v) for k, v in op.attrs().items()
                     if k != "op_callstack" and k != "struct_name"}
        outs = []
        for r in op.results():
            vid = r.id
            outs.append(vid)
            try:
                shapes[vid] = tuple(map(int, r.shape))
                dtype = r.dtype
                name = dtype_names.get(dtype)
                if name is None:
                    name = dtype_names[dtype] = str(dtype).rsplit(".", 1)[-1].lower()
                dtypes[vid] = name
            except Exception:  # noqa: BLE001 - non-tensor results (e.g. lists)
                shapes[vid] = ()
        ins = tuple(value_id(o.source()) for o in op.operands())
        if name_ == "pd_op.data" and outs:
            data_values.setdefault(str(attrs.get("name", "")), outs[0])
        if name_ in ("pd_op.full_int_array", "pd_op.full") and outs:
            constants[outs[0]] = attrs.get("value")
        return OpNode(i, name_, ins, tuple(outs), attrs)

    regions: set[int] = set()
    for i, op in enumerate(program.global_block().ops):
        ops.append(node(i, op))
        if op.num_regions():
            regions.add(i)
            if op.name() == "pd_op.pylayer":
                forward = next(iter(op.blocks()), None)
                if forward is not None:
                    inner[i] = [node(i, sub) for sub in forward.ops if sub.name() != "cf.yield"]
    return ops, shapes, constants, tuple(data_values.get(i.spec_name, "") for i in inputs), dtypes, inner, regions


def _calls(finished, paths, model, ops: list[OpNode], input_values: tuple[str, ...],
           root_leaf: bool = False) -> list[LayerCall]:
    """The layer calls the hooks saw; with ``root_leaf`` (a Paddle layer analysed on its own) the root is one
    leaf call covering every op.

    The root's own hooks do not run inside ``to_static``: without this, ``analyze(nn.Conv2D(3, 8, 3), ...)``
    would show the conv as functional ops with no parameters on their rows.  A user's own layer without
    sublayers keeps its functional rows (each op counted by its rule).
    """
    calls = []
    for n, entry in enumerate(finished):
        layer = entry["layer"]
        path = paths.get(id(layer), type(layer).__name__)
        parent = path.rsplit(".", 1)[0] if "." in path else ("" if path else "")
        calls.append(
            LayerCall(
                index=n,
                order=entry["order"],
                path=path,
                kind=type(layer).__name__,
                depth=0 if not path else path.count(".") + 1,
                parent=parent if path else "",
                is_leaf=is_opaque(layer) or next(iter(layer.children()), None) is None,  # (sublayers() lists all)
                inputs=entry["inputs"],
                outputs=entry["outputs"],
                op_start=entry["start"],
                op_end=entry["end"],
                summary_name=summary_key(layer),
                in_summary=_in_summary(layer, model),
                layer=layer,
            )
        )
    if root_leaf and not any(c.layer is model for c in calls):
        out = next((op.outputs[0] for op in reversed(ops) if op.outputs and op.name not in BOOKKEEPING_OPS), "")
        calls.append(LayerCall(
            index=len(calls), order=-1, path="", kind=type(model).__name__, depth=0, parent="", is_leaf=True,
            inputs=tuple(input_values), outputs=(out,) if out else (), op_start=0, op_end=len(ops),
            summary_name=summary_key(model), in_summary=True, layer=model,
        ))
    return calls
