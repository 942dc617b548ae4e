"""Exported inference programs (``paddle.jit.save`` output) as a :class:`~convcalc.trace.build.Trace`.

Paddle users ship models as inference programs - ``<prefix>.json`` (PIR, the
Paddle 3 default) or ``<prefix>.pdmodel`` (the older ProgramDesc) next to
``<prefix>.pdiparams`` - often without the Python class that made them.  This
module loads such a pair with Paddle's own ``paddle.static.load_inference_model``
and builds the same plain data a traced model yields (ops, shapes, constants,
layer calls), so :func:`convcalc.analysis.analyze` applies its rules unchanged.

Layers
    A PIR program keeps each op's *name scope* (``struct_name``, e.g.
    ``/Sequential/InvertedResidual_1/Sequential/Conv2D/``): the classes of the
    layers that were being called, with ``_N`` telling repeated siblings
    apart.  The innermost scopes are the leaf layers, their prefixes the
    containers; ops under a container but no leaf (a residual ``add``) are
    functional rows, as in a traced model.  Paths join the scope names with
    dots (``Sequential.InvertedResidual_1.Sequential.Conv2D``) - the program
    does not keep attribute names such as ``features.1``.  A ``.pdmodel`` keeps
    no scopes, so there the layers are recovered from the parameters: the ops
    that read ``conv2d_3.w_0`` and ``conv2d_3.b_0`` (or values computed from
    them only) are the layer ``conv2d_3``; pooling ops become pooling layers.

Rules
    A leaf whose class is one of ``paddle.nn``'s known layers gets a stand-in
    instance of that class carrying what the rules read (``weight``, ``bias``,
    ``_groups``, ``ksize``, ...), taken from its ops and parameters; any
    other class (a user's own layer) gets a plain :class:`ProgramLayer`, which
    has no rule and so is reported as a gap, its parameters still counted.

Parameters and shapes
    Parameter names, shapes and trainability are the program's
    ``builtin.parameter`` ops; each is checked against the tensor read from
    ``.pdiparams``, so a pair from different exports is refused.  Shapes are
    the program's own; a dynamic batch (``-1``) takes the batch of ``--input``
    (default 1).  Programs with a dynamic height or width are refused (their
    shapes are not in the program).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from math import prod
from pathlib import Path
from typing import Any

from convcalc.errors import InputSpecError, ModelLoadError
from convcalc.trace.op_names import BOOKKEEPING_OPS
from convcalc.trace.build import LayerCall, OpNode, Trace, _plain, _value_id

__all__ = ["PROGRAM_SUFFIXES", "is_program_path", "ProgramParameter", "ProgramLayer", "ProgramModel", "load_program"]

PROGRAM_SUFFIXES = (".json", ".pdmodel")
PARAMS_SUFFIX = ".pdiparams"

# Ops that are neither computation nor dataflow of the model: dropped from the trace.
_SINK_OPS = frozenset({"pd_op.fetch", "pd_op.feed_with_place"})


def is_program_path(spec: str) -> bool:
    """Whether ``spec`` names an exported program (``.json`` / ``.pdmodel``), existing or not."""
    return str(spec).strip().lower().endswith(PROGRAM_SUFFIXES)


@dataclass(frozen=True)
class ProgramParameter:
    """One parameter of a program: what ``layer_params`` and the rules read from a ``paddle`` parameter."""

    name: str
    shape: tuple[int, ...]
    trainable: bool
    stop_gradient: bool


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
class ProgramModel:
    """An exported program, standing where analysis expects a ``paddle.nn.Layer``.

    ``data_shape`` is the program's input shape (``-1`` where dynamic);
    :meth:`convcalc_trace` gives the trace at a concrete input shape.
    """

    path: str
    ops: list[OpNode]
    raw_shapes: dict[str, tuple[int, ...]]
    constants: dict[str, Any]
    input_value: str
    data_shape: tuple[int, ...]
    groups: list[_Group] = field(repr=False)
    params: list[ProgramParameter] = field(repr=False)
    scoped: bool = True
    training: bool = False
    output_values: tuple[str, ...] = ()  # what the program's fetch ops read: the model's outputs

    def parameters(self) -> list[ProgramParameter]:
        return list(self.params)

    @property
    def _parameters(self) -> dict:
        return {}  # the program itself holds none directly: each belongs to the layer group that reads it

    def named_sublayers(self, include_self: bool = False) -> list[tuple[str, Any]]:
        """The layer groups that carry parameters, as ``paddle.nn.Layer.named_sublayers`` lists sublayers."""
        found = [(g.path, g.layer) for g in self.groups if g.path and g.layer is not None]
        return ([("", self)] if include_self else []) + found

    def named_parameters(self) -> list[tuple[str, ProgramParameter]]:
        """``(holder path.name, parameter)``; a parameter no group holds is named by its own program name."""
        out, seen = [], set()
        for path, layer in self.named_sublayers():
            for key, param in getattr(layer, "_parameters", {}).items():
                if param is not None and param.name not in seen:  # stand-ins hold copies: one per program name
                    seen.add(param.name)
                    out.append((f"{path}.{key}", param))
        out.extend((p.name, p) for p in self.params if p.name not in seen)
        return out

    def eval(self) -> ProgramModel:
        return self

    @property
    def default_input(self) -> tuple[int, ...] | None:
        """``(C, H, W)`` when every dimension after the batch is fixed; ``(N, C, H, W)`` when the batch is too."""
        dims = self.data_shape[1:]
        if not dims or any(d <= 0 for d in dims):
            return None
        return tuple(self.data_shape) if self.data_shape[0] > 0 else tuple(dims)

    def output_shapes(self, batch: int) -> list[tuple[int, ...]]:
        """The shapes of the program's outputs (what its fetch ops read), a dynamic batch set to ``batch``."""
        return [tuple(batch if d == -1 else d for d in self.raw_shapes.get(v, ())) for v in self.output_values]

    def effective_field(self, path: str, unit: tuple[int, int], image: Any) -> Any:
        """``|d out[0, :, i, j].sum() / d input|`` of layer ``path``'s output, summed over input channels.

        The program is loaded again (as :func:`load_program` does), the sum of
        the unit's channels is appended to it, and Paddle's static
        ``gradients`` builds its backward ops down to the input - the same
        gradient :func:`convcalc.analysis.effective.effective_field` takes of a
        Python model.  Ops are matched to this model's by their position.
        """
        import numpy as np
        import paddle

        group = next(g for g in self.groups if g.path == path and g.is_leaf)
        value = group.call(0, self.ops, self.raw_shapes).outputs[0]
        op_index, result = next((op.index, op.outputs.index(value)) for op in self.ops if value in op.outputs)
        program_file, _ = _files(self.path)
        from convcalc.trace.native_logs import quiet_native_logs

        was_dynamic = paddle.in_dynamic_mode()
        paddle.enable_static()
        try:
            scope = paddle.static.Scope()
            exe = paddle.static.Executor(paddle.CPUPlace())
            with paddle.static.scope_guard(scope), quiet_native_logs():
                program, feeds, _ = _load(program_file, exe)
                block = program.global_block()
                for op in [op for op in block.ops if op.name() == "pd_op.fetch"]:
                    block.remove_op(op)  # the program's own outputs: not needed, and they clash with ours
                ops_raw = [op for op in block.ops if op.name() not in _SINK_OPS]
                target = ops_raw[op_index].results()[result]
                data = next(op for op in ops_raw if op.name() in ("pd_op.data", "pd_op.feed")).results()[0]
                data.stop_gradient = False
                i, j = unit
                with paddle.static.program_guard(program):
                    (grad,) = paddle.static.gradients([paddle.sum(target[0, :, i, j])], [data])
                batch = max(self.data_shape[0], 1)
                x = np.repeat(np.asarray(image, "float32")[None], batch, axis=0)
                (out,) = exe.run(program, feed={feeds[0]: x}, fetch_list=[grad])
        finally:
            if was_dynamic:
                paddle.disable_static()
        return np.abs(np.asarray(out)[0]).sum(axis=0)

    def convcalc_trace(self, input_shape: tuple[int, ...]) -> Trace:
        """The trace of this program at ``input_shape`` (N, C, H, W): its shapes with the batch filled in."""
        shape = tuple(int(d) for d in input_shape)
        fixed = self.data_shape
        where = f"{self.path} was exported for inputs {list(fixed)}"
        if any(d < 0 for d in fixed[1:]):
            raise InputSpecError(
                f"{where}, with a dynamic size: convcalc reads shapes from the program and cannot re-infer them",
                "export it with a fixed input size, e.g. InputSpec([None, 3, 224, 224]), and report that",
            )
        if len(shape) != len(fixed) or shape[1:] != fixed[1:] or (fixed[0] > 0 and shape[0] != fixed[0]):
            raise InputSpecError(
                f"{where}; --input {'x'.join(map(str, shape))} does not fit",
                "--input can only set the dimensions that are -1 in the program (here the batch)",
            )
        batch = shape[0]
        shapes = {v: tuple(batch if d == -1 else d for d in s) for v, s in self.raw_shapes.items()}
        calls = [g.call(i, self.ops, shapes) for i, g in enumerate(self.groups)]
        return Trace(shape, self.input_value, list(self.ops), shapes, dict(self.constants), calls, [],
                     input_shapes=(shape,), input_values=(self.input_value,), input_dtypes=("float32",))


# ------------------------------------------------------------------ loading


def _one_line(exc: BaseException) -> str:
    """Paddle's reason in one line; a parameter file of the wrong size is named as such."""
    text = " ".join(str(exc).split())
    if any(w in text for w in ("load_combine", "partial data", "EOF", "eof", "tensor desc")):
        return "the parameter file holds a different amount of data than the program's parameters need"
    text = re.sub(r"\s*\(at /paddle/.*?\)", "", text)
    text = re.sub(r"\s*\[Hint:.*", "", text)
    return (text or type(exc).__name__)[:240]


def _files(path: str) -> tuple[Path, Path]:
    program = Path(path).expanduser()
    if not program.exists():
        raise ModelLoadError(
            f"program file {path!r} does not exist",
            "check the path; paddle.jit.save writes <prefix>.json (or .pdmodel) and <prefix>.pdiparams",
        )
    if program.is_dir():
        raise ModelLoadError(f"{path!r} is a directory", "give the .json or .pdmodel file inside it")
    params = program.with_suffix(PARAMS_SUFFIX)
    if not params.exists():
        raise ModelLoadError(
            f"{path!r} has no parameter file {params.name!r} beside it",
            "keep the .pdiparams that paddle.jit.save wrote with the same prefix next to the program",
        )
    return program, params


# VarType sizes in bytes (framework.proto): BOOL INT16 INT32 INT64 FP16 FP32 FP64 ... UINT8 INT8 BF16
_DTYPE_BYTES = {0: 1, 1: 2, 2: 4, 3: 8, 4: 2, 5: 4, 6: 8, 20: 1, 21: 1, 22: 2}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _stored_tensor_dims(path: Path) -> list[tuple[int, ...]] | None:
    """The dims of every tensor in a ``save_combine`` file, or ``None`` if it is not exactly such tensors.

    Paddle's own loader reads a truncated file without complaint (the last
    tensor then holds garbage), so the file is walked here: per tensor a
    version, the LoD, a second version, a ``TensorDesc`` (data type, dims) and
    ``numel * dtype size`` bytes of data, ending exactly at the end of the file.
    """
    import struct

    data = path.read_bytes()
    pos, found = 0, []
    try:
        while pos < len(data):
            pos += 4  # version
            (lod_levels,) = struct.unpack_from("<Q", data, pos)
            pos += 8
            for _ in range(lod_levels):
                (size,) = struct.unpack_from("<Q", data, pos)
                pos += 8 + size
            pos += 4  # tensor version
            (desc_size,) = struct.unpack_from("<i", data, pos)
            pos += 4
            desc, pos = data[pos : pos + desc_size], pos + desc_size
            dtype, dims, i = 5, [], 0
            while i < len(desc):
                tag, i = _varint(desc, i)
                if tag == 0x08:  # data_type
                    dtype, i = _varint(desc, i)
                elif tag == 0x10:  # one dim
                    d, i = _varint(desc, i)
                    dims.append(d if d < 1 << 63 else d - (1 << 64))
                elif tag == 0x12:  # packed dims
                    n, i = _varint(desc, i)
                    end = i + n
                    while i < end:
                        d, i = _varint(desc, i)
                        dims.append(d if d < 1 << 63 else d - (1 << 64))
                else:
                    return None
            pos += prod(dims) * _DTYPE_BYTES.get(dtype, 4)
            found.append(tuple(dims))
    except (struct.error, IndexError):
        return None
    return found if pos == len(data) else None


def load_program(path: str) -> ProgramModel:
    """Load ``<prefix>.json`` / ``<prefix>.pdmodel`` with its ``<prefix>.pdiparams``, without the model's class.

    Raises :class:`~convcalc.errors.ModelLoadError` (one line) for a missing,
    damaged or mismatched pair of files.
    """
    program_file, params_file = _files(path)
    import numpy as np
    import paddle

    was_dynamic = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        scope = paddle.static.Scope()
        exe = paddle.static.Executor(paddle.CPUPlace())
        try:
            with paddle.static.scope_guard(scope):
                program, _, _ = _load(program_file, exe)
        except Exception as exc:  # noqa: BLE001 - Paddle raises RuntimeError/ValueError/... for bad files
            raise ModelLoadError(
                f"Paddle cannot load {path!r} with {params_file.name!r}: {_one_line(exc)}",
                "give an unmodified <prefix>.json/.pdmodel + <prefix>.pdiparams pair from one paddle.jit.save",
            ) from None
        ops_raw = list(program.global_block().ops)
        params = _parameters(ops_raw)
        stored = _stored_tensor_dims(params_file)
        if stored is None or sorted(stored) != sorted(p.shape for p in params):
            raise ModelLoadError(
                f"{params_file.name!r} does not hold exactly the {len(params)} parameter tensors of "
                f"{program_file.name!r} (damaged, or from another export)",
                "use the .pdiparams written by the same paddle.jit.save as the program",
            )
        for p in params:
            var = scope.find_var(p.name)
            stored = tuple(np.asarray(var.get_tensor()).shape) if var is not None else None
            if stored != p.shape:
                got = "missing" if stored is None else f"shape {list(stored)}"
                raise ModelLoadError(
                    f"{params_file.name!r} does not match {program_file.name!r}: parameter {p.name} is {got} "
                    f"there but {list(p.shape)} in the program",
                    "use the .pdiparams written by the same paddle.jit.save as the program",
                )
        return _build(str(path), ops_raw, params)
    finally:
        if was_dynamic:
            paddle.disable_static()


def _load(program_file: Path, exe: Any) -> tuple[Any, list[str], list]:
    """``paddle.static.load_inference_model`` of a ``.json``, or of a ``.pdmodel`` translated to PIR."""
    import paddle

    prefix = str(program_file.with_suffix(""))
    if program_file.suffix.lower() == ".json":
        return paddle.static.load_inference_model(prefix, exe)
    with paddle.pir_utils.OldIrGuard():
        legacy, feeds, fetches = paddle.static.load_inference_model(prefix, exe)
        return paddle.pir.translate_to_pir(legacy.desc), feeds, fetches


def _parameters(ops_raw: list) -> list[ProgramParameter]:
    out = []
    for op in ops_raw:
        if op.name() != "builtin.parameter":
            continue
        attrs = op.attrs()
        result = op.results()[0]

        def flag(key: str, default: bool, attrs=attrs) -> bool:
            v = attrs.get(key, default)
            return bool(v[0] if isinstance(v, list) and v else v)

        out.append(
            ProgramParameter(
                name=str(attrs["parameter_name"]),
                shape=tuple(int(d) for d in result.shape),
                trainable=flag("trainable", True),
                stop_gradient=flag("stop_gradient", False),
            )
        )
    return out


# --------------------------------------------------------- ops and groups


@dataclass
class _Group:
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
        if name in _SINK_OPS:
            if name == "pd_op.fetch":
                fetched.extend(_value_id(o.source()) for o in op.operands())
            continue
        if name == "pd_op.feed":
            name = "pd_op.data"
        raw_attrs = op.attrs()
        attrs = {k: _plain(v) for k, v in raw_attrs.items() if k not in ("op_callstack", "struct_name")}
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
        ins = tuple(_value_id(o.source()) for o in op.operands())
        ops.append(OpNode(len(ops), name, ins, tuple(outs), attrs))
        scope = str(raw_attrs.get("struct_name", "") or "")
        scopes.append(tuple(s for s in scope.split("/") if s))
    return ops, shapes, constants, input_value, scopes, tuple(fetched)


def _kind(segment: str) -> str:
    """``'Conv2D_3'`` -> ``'Conv2D'``: the class name of a scope segment."""
    return re.sub(r"_\d+$", "", segment)


def _build(path: str, ops_raw: list, params: list[ProgramParameter]) -> ProgramModel:
    ops, shapes, constants, input_value, scopes, fetched = _op_nodes(ops_raw)
    if not input_value:
        raise ModelLoadError(f"{path!r} has no input (no data/feed op)", "export the model with an input_spec")
    by_name = {p.name: p for p in params}
    param_of = {
        op.outputs[0]: by_name[op.attrs["parameter_name"]] for op in ops if op.name == "builtin.parameter"
    }
    data_shape = shapes[input_value]
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
    return ProgramModel(path, ops, shapes, constants, input_value, data_shape, groups, params, scoped,
                        output_values=fetched)


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
    from convcalc.trace.op_names import op_key

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


def _groups(runs: list[tuple[tuple[str, ...], int, int]], scoped: bool, scopes: list) -> list[_Group]:
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
        groups.append(_Group(".".join(scope), kind, leaf, start, end, order))
    return groups


def _run_kind(prefix: str) -> str:
    """A .pdmodel layer's class from its parameter prefix (``conv2d_3`` -> ``Conv2D``)."""
    base = re.sub(r"_\d+$", "", prefix)
    if base == "pool2d":
        return "Pool2D"
    if base.startswith("batch_norm"):
        return "BatchNorm2D"
    return {"conv2d": "Conv2D", "conv2d_transpose": "Conv2DTranspose", "linear": "Linear"}.get(base, base)


# ------------------------------------------------------------- stand-ins


# Classes whose rules read nothing but shapes: a bare instance is enough.
_SHAPE_ONLY = (
    "ReLU", "ReLU6", "LeakyReLU", "Hardswish", "Hardsigmoid", "Sigmoid", "Swish", "Silu", "GELU", "Tanh",
    "ELU", "SELU", "Softplus", "Mish", "Hardtanh", "Softmax", "LogSoftmax", "Dropout", "Dropout2D", "Flatten",
    "Identity", "Unflatten", "AdaptiveAvgPool2D", "AdaptiveMaxPool2D",
)


def _first(ops: Iterable[OpNode], keys: tuple[str, ...]) -> OpNode | None:
    from convcalc.trace.op_names import op_key

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
