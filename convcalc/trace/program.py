"""Exported inference programs (``paddle.jit.save`` output) as a :class:`~convcalc.trace.graph.Trace`.

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

from dataclasses import dataclass, field
from typing import Any

from convcalc.errors import InputSpecError, ModelLoadError
from convcalc.trace.graph import OpNode, Trace
from convcalc.trace.program_files import (
    PARAMS_SUFFIX,
    ProgramParameter,
    find_files,
    load_inference,
    one_line,
    read_parameters,
    stored_tensor_dims,
)
from convcalc.trace.program_layers import SINK_OPS, LayerGroup, ProgramLayer, read_layers

__all__ = ["PROGRAM_SUFFIXES", "PARAMS_SUFFIX", "is_program_path", "ProgramParameter", "ProgramLayer", "ProgramModel",
           "load_program"]

PROGRAM_SUFFIXES = (".json", ".pdmodel")


def is_program_path(spec: str) -> bool:
    """Whether ``spec`` names an exported program (``.json`` / ``.pdmodel``), existing or not."""
    return str(spec).strip().lower().endswith(PROGRAM_SUFFIXES)


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
    groups: list[LayerGroup] = field(repr=False)
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
        program_file, _ = find_files(self.path)
        from convcalc.trace.native_logs import quiet_native_logs

        was_dynamic = paddle.in_dynamic_mode()
        paddle.enable_static()
        try:
            scope = paddle.static.Scope()
            exe = paddle.static.Executor(paddle.CPUPlace())
            with paddle.static.scope_guard(scope), quiet_native_logs():
                program, feeds, _ = load_inference(program_file, exe)
                block = program.global_block()
                for op in [op for op in block.ops if op.name() == "pd_op.fetch"]:
                    block.remove_op(op)  # the program's own outputs: not needed, and they clash with ours
                ops_raw = [op for op in block.ops if op.name() not in SINK_OPS]
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

    def check_fixed_size(self) -> None:
        """Refuse a program exported with a dynamic size beyond the batch (no ``--input`` can fix that)."""
        if any(d < 0 for d in self.data_shape[1:]):
            raise InputSpecError(
                f"{self.path} was exported for inputs {list(self.data_shape)}, with a dynamic size: convcalc reads "
                "shapes from the program and cannot re-infer them",
                "export it with a fixed input size, e.g. InputSpec([None, 3, 224, 224]), and report that",
            )

    def convcalc_trace(self, input_shape: tuple[int, ...]) -> Trace:
        """The trace of this program at ``input_shape`` (N, C, H, W): its shapes with the batch filled in."""
        shape = tuple(int(d) for d in input_shape)
        fixed = self.data_shape
        where = f"{self.path} was exported for inputs {list(fixed)}"
        self.check_fixed_size()
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


def load_program(path: str) -> ProgramModel:
    """Load ``<prefix>.json`` / ``<prefix>.pdmodel`` with its ``<prefix>.pdiparams``, without the model's class.

    Raises :class:`~convcalc.errors.ModelLoadError` (one line) for a missing,
    damaged or mismatched pair of files.
    """
    program_file, params_file = find_files(path)
    import numpy as np
    import paddle

    was_dynamic = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        scope = paddle.static.Scope()
        exe = paddle.static.Executor(paddle.CPUPlace())
        try:
            with paddle.static.scope_guard(scope):
                program, _, _ = load_inference(program_file, exe)
        except Exception as exc:  # noqa: BLE001 - Paddle raises RuntimeError/ValueError/... for bad files
            raise ModelLoadError(
                f"Paddle cannot load {path!r} with {params_file.name!r}: {one_line(exc)}",
                "give an unmodified <prefix>.json/.pdmodel + <prefix>.pdiparams pair from one paddle.jit.save",
            ) from None
        ops_raw = list(program.global_block().ops)
        params = read_parameters(ops_raw)
        stored = stored_tensor_dims(params_file)
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


def _build(path: str, ops_raw: list, params: list[ProgramParameter]) -> ProgramModel:
    ops, shapes, constants, input_value, groups, scoped, fetched = read_layers(path, ops_raw, params)
    return ProgramModel(path, ops, shapes, constants, input_value, shapes[input_value], groups, params, scoped,
                        output_values=fetched)
