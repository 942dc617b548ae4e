"""Sizes a forward reads at run time: concrete in the static program, resolved by running it, or marked unknown.

Real models read sizes as tensors: ``F.interpolate(x, paddle.shape(y)[2:])``,
``x.reshape([paddle.shape(x)[0], -1, c])``.  In Paddle's static program such a
size is an op result, and PIR's shape inference gives everything it reaches the
size ``-1``; a ``-1`` used as a number makes negative or ~1000x wrong counts.
Three steps keep every size concrete or honestly marked:

1. :func:`static_shapes`: while the program is built, ``paddle.shape(v)`` of a
   value whose static shape is fully known returns that shape as a
   :class:`ShapeList` (the shape guards' ``TracedDim`` ints, with a tensor's
   elementwise arithmetic) instead of a ``shape64`` op.  Interpolation sizes,
   reshape targets, ``x.shape`` reads and asserts then see plain numbers, and no
   ``-1`` is created.  User code that does tensor arithmetic on the result
   (``paddle.ceil(s[2] / p)``) cannot build with it: the trace builds again
   without (see :mod:`convcalc.trace.build`).
   A size handed to ``reshape`` or ``F.interpolate`` as a tensor that is an integer chain of
   constants and known sizes (``paddle.to_tensor(n // k, "int32")``, ``paddle.cast(s[2], "int32") // 2``)
   is handed to Paddle as the number it stands for (:mod:`convcalc.trace.size_folding`).
2. :func:`size_dependence`: of the ``-1`` sizes that remain, those that follow
   from shapes alone (a chain back to ``shape64`` of a known value) are
   *deterministic*; those that follow from tensor values (``nonzero``,
   ``masked_select``, a reshape to a size computed from data, ...) are not.
3. :func:`run_for_sizes`: the deterministic ones are read from one run of the
   traced program itself (Paddle's executor, on the eager check's input, with the
   model's own parameters shared, not copied).  The value-dependent ones stay
   unknown: their rows say so, their counts are left out and the total is a
   lower bound (:data:`convcalc.analysis.records.UNKNOWN`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from convcalc.trace.graph import OpNode
from convcalc.trace.op_names import op_key

__all__ = ["ShapeList", "static_shapes", "size_dependence", "run_for_sizes", "drop_workspaces",
           "DATA_DEPENDENT_OPS"]

# Ops whose result size is the count of something in their operands' values.
DATA_DEPENDENT_OPS = frozenset({
    "nonzero", "masked_select", "unique", "unique_consecutive", "where_index", "argwhere", "nms",
    "multiclass_nms3", "matrix_nms", "edit_distance", "boolean_mask", "masked_fill_select",
})
_CONSTANT_OPS = frozenset({"builtin.parameter", "builtin.constant", "pd_op.full", "pd_op.full_int_array",
                           "pd_op.assign_value_", "pd_op.assign_value"})
_INTEGERS = ("int8", "int16", "int32", "int64", "uint8", "bool")


class ShapeList(tuple):
    """``paddle.shape(x)`` of a value whose static shape is known: its sizes as ints, with a tensor's arithmetic.

    Indexing gives an int (a slice another :class:`ShapeList`); ``+ - * / // %``
    act element by element (with a number or a sequence of the same length), as
    on the int64 tensor ``paddle.shape`` returns, never as tuple concatenation or
    repetition; ``astype`` keeps the numbers.
    """

    def __getitem__(self, index):
        got = tuple.__getitem__(self, index)
        return ShapeList(got) if isinstance(index, slice) else got

    def _each(self, other, fn) -> ShapeList:
        if isinstance(other, (list, tuple)):
            if len(other) == 1:
                other = tuple(other) * len(self)
            if len(other) != len(self):
                raise ValueError(f"shapes {list(self)} and {list(other)} do not broadcast")
            return ShapeList(fn(a, b) for a, b in zip(self, other))
        return ShapeList(fn(a, other) for a in self)

    def __add__(self, o):
        return self._each(o, lambda a, b: a + b)

    def __radd__(self, o):
        return self._each(o, lambda a, b: b + a)

    def __sub__(self, o):
        return self._each(o, lambda a, b: a - b)

    def __rsub__(self, o):
        return self._each(o, lambda a, b: b - a)

    def __mul__(self, o):
        return self._each(o, lambda a, b: a * b)

    def __rmul__(self, o):
        return self._each(o, lambda a, b: b * a)

    def __floordiv__(self, o):
        return self._each(o, lambda a, b: a // b)

    def __rfloordiv__(self, o):
        return self._each(o, lambda a, b: b // a)

    def __truediv__(self, o):
        return self._each(o, lambda a, b: a / b)

    def __rtruediv__(self, o):
        return self._each(o, lambda a, b: b / a)

    def __mod__(self, o):
        return self._each(o, lambda a, b: a % b)

    def astype(self, dtype: Any) -> ShapeList:
        if str(dtype).replace("paddle.", "").startswith(("float", "bfloat")):
            return ShapeList(float(d) for d in self)
        return self

    def tolist(self) -> list:
        return list(self)

    @property
    def shape(self) -> list[int]:
        return [len(self)]

    ndim = 1


class _Patch:
    """How often ``paddle.shape`` was answered with a :class:`ShapeList` in this build."""

    def __init__(self) -> None:
        self.used = 0


_HOLDER_NAMES = ("paddle", "paddle.tensor", "paddle.tensor.attribute")


@contextlib.contextmanager
def static_shapes(enabled: bool = True) -> Iterator[_Patch]:
    """While the static program is built, ``paddle.shape`` of a fully known value called from user code is a
    :class:`ShapeList` (Paddle's own code keeps the real op).  Yields a counter of the answers given."""
    patch = _Patch()
    if not enabled:
        yield patch
        return
    import importlib

    import paddle
    from paddle.pir import Value

    holders = [importlib.import_module(n) for n in _HOLDER_NAMES]
    real = paddle.tensor.attribute.shape
    paddle_dir = os.path.dirname(paddle.__file__) + os.sep

    @paddle.jit.not_to_static
    def shape(input, *args, **kwargs):  # noqa: A002 - Paddle's own argument name
        if isinstance(input, Value) and not sys._getframe(1).f_code.co_filename.startswith(paddle_dir):
            try:
                dims = input.shape  # TracedDim ints while the shape guards record
            except Exception:  # noqa: BLE001 - a value without a tensor shape: Paddle's own op
                dims = None
            if dims is not None and all(int(d) >= 0 for d in dims):
                patch.used += 1
                return ShapeList(dims)
        return real(input, *args, **kwargs)

    saved = [(h, h.shape) for h in holders]
    for h in holders:
        h.shape = shape
    try:
        yield patch
    finally:
        for h, fn in saved:
            h.shape = fn


def _unknown(shape: Sequence[int]) -> bool:
    return any(d < 0 for d in shape)


def drop_workspaces(ops: list[OpNode], shapes: dict, read: set[str]) -> None:
    """Forget the size of side results nothing reads that Paddle leaves open (batch_norm's reserve space):
    kernel workspaces, not values of the forward pass (``read``: every value an op or a layer call hands on)."""
    for op in ops:
        for k, v in enumerate(op.outputs):
            if k and v not in read and _unknown(shapes.get(v, ())):
                shapes[v] = ()


def size_dependence(ops: list[OpNode], shapes: dict, dtypes: dict, input_values: Sequence[str]
                    ) -> tuple[list[str], dict[str, str]]:
    """The values whose static size has a ``-1``: ``(deterministic, {value: why it follows from tensor values})``.

    A taint walk in program order: a value's *contents* depend on the input's
    values if it is an input or computed from such a value (a ``shape64`` result
    only when its operand's size does); a ``-1`` size depends on values when an
    operand's size does, when the op counts values (:data:`DATA_DEPENDENT_OPS`),
    or when it reads a size-like operand (integer, scalar or list) whose
    contents depend on values.  Every other ``-1`` follows from shapes alone.
    """
    contents = set(v for v in input_values if v)
    by_values: dict[str, str] = {}
    deterministic: list[str] = []
    for op in ops:
        key = op_key(op.name)
        live = [v for v in op.inputs if v]
        if op.name == "pd_op.data":
            contents.update(op.outputs)
        elif key in ("shape", "shape64"):
            if any(v in by_values for v in live):
                contents.update(op.outputs)
        elif op.name not in _CONSTANT_OPS and any(v in contents for v in live):
            contents.update(op.outputs)
        for v in op.outputs:
            if not _unknown(shapes.get(v, ())):
                continue
            inherited = next((by_values[u] for u in live if u in by_values), None)
            if inherited is not None:
                by_values[v] = inherited
            elif key in DATA_DEPENDENT_OPS and any(u in contents for u in live):
                by_values[v] = f"{op.name} (#{op.index}) counts tensor values"
            elif any(u in contents and _size_like(u, shapes, dtypes) for u in live[1:]):
                by_values[v] = f"{op.name} (#{op.index}) takes a size computed from tensor values"
            else:
                deterministic.append(v)
    return deterministic, by_values


def _size_like(v: str, shapes: dict, dtypes: dict) -> bool:
    """An operand that can carry a size: integer, a scalar, or a list of values (``builtin.combine``)."""
    shape = shapes.get(v)
    if not shape or v not in dtypes:  # a list, or a scalar
        return True
    return str(dtypes[v]).endswith(_INTEGERS)


def run_for_sizes(program: Any, model: Any, inputs: Sequence[Any], values: Sequence[Any] | None,
                  wanted: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """The real sizes of the values ``wanted`` (ids), from one run of ``program`` on the eager check's input.

    Paddle's static executor runs the very program that was traced, in a scope of
    its own whose parameter variables share memory with ``model``'s parameters
    and buffers (matched by name, as the ``builtin.parameter`` ops name them).
    Raises whatever Paddle raises when it cannot run the program.
    """
    import numpy as np
    import paddle

    block = program.global_block()
    results = {}
    for op in block.ops:
        for r in op.results():
            try:
                results[r.id] = r
            except Exception:  # noqa: BLE001 - results without an id
                continue
    fetch = [results[v] for v in wanted]
    named = {p.name: p for p in model.parameters()}
    named.update({b.name: b for b in model.buffers() if b is not None})
    scope = paddle.static.Scope()
    for op in block.ops:
        if op.name() == "builtin.parameter":
            name = op.attrs()["parameter_name"]
            if name not in named:
                raise LookupError(f"parameter {name} of the program is not one of the model's")
            scope.var(name).get_tensor()._share_data_with(named[name].value().get_tensor())
    feed = {}
    given = list(values) if values is not None else [None] * len(inputs)
    for item, value in zip(inputs, given):
        if value is not None:
            feed[item.spec_name] = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        elif item.dtype.startswith(("float", "bfloat")):
            feed[item.spec_name] = np.ones(item.shape, item.dtype)
        else:
            feed[item.spec_name] = np.zeros(item.shape, item.dtype)
    was_dynamic = paddle.in_dynamic_mode()
    paddle.enable_static()
    try:
        got = paddle.static.Executor(paddle.CPUPlace()).run(program, feed=feed, fetch_list=fetch, scope=scope)
    finally:
        if was_dynamic:
            paddle.disable_static()
    return {v: tuple(int(d) for d in np.shape(a)) for v, a in zip(wanted, got)}
