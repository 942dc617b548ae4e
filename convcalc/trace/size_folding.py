"""Sizes handed to ``reshape`` and ``F.interpolate`` as tensors, folded to numbers while the program is built.

User code often gives a size as a tensor whose value is fixed before the forward runs:
``B = paddle.to_tensor(n // windows, "int32")`` then ``x.reshape([B, h, w, c])`` (PaddleClas'
CSWin), or ``paddle.cast(paddle.shape(x)[2], "int32") // 2`` where ``paddle.shape`` could not be
answered with a list (:func:`convcalc.trace.sizes.static_shapes`).  PIR's shape inference does not
read such an operand: the result gets a ``-1`` size, and so does everything computed from it, which
then has to be read from a run of the whole program (:func:`convcalc.trace.sizes.run_for_sizes`).

:func:`folded_sizes` evaluates the operand while the program is built, when it is an integer chain
of constants and of the sizes of values whose static shape is known (``full``, ``full_int_array``,
``assign_value``, ``shape``/``shape64``, ``slice``, ``cast``, ``scale``, ``stack``, ``concat``,
``+ - * // %``), and hands the numbers to Paddle instead: the very value the operand would have at
run time, so Paddle builds the same op with a size its shape inference can read.  Anything else (a
size computed from tensor values, an op not listed, a value written in place before it is read:
``s[0] = v`` builds a ``set_value_`` op that reads ``s``, not a new definition of it) is left as it
was.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["folded_sizes", "evaluate"]

_MISSING = object()
_ARITH: dict[str, Callable[[int, int], int]] = {
    "pd_op.add": lambda a, b: a + b,
    "pd_op.subtract": lambda a, b: a - b,
    "pd_op.multiply": lambda a, b: a * b,
}
_NON_NEGATIVE: dict[str, Callable[[int, int], int]] = {  # (Paddle's integer // and % agree with Python's here)
    "pd_op.floor_divide": lambda a, b: a // b,
    "pd_op.remainder": lambda a, b: a % b,
}


def _in_place(op_name: str) -> bool:
    """An op that writes one of its operands (Paddle names them with a trailing ``_``)."""
    return op_name.endswith("_") and not op_name.startswith("builtin.")


def _integral(x: Any) -> bool:
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _int_dtype(dtype: Any) -> bool:
    name = str(dtype).upper()
    return "INT" in name and "POINT" not in name


def evaluate(value: Any, raw_shape: Callable[[Any], Any], depth: int = 0) -> tuple[tuple[int, ...], list] | None:
    """``(dims, flat values)`` of a rank-0 or rank-1 integer ``value`` computed only from constants and known
    sizes, or None.  Float constants are returned as floats (a ``scale``'s factor); nothing is guessed."""
    if depth > 64:
        return None
    try:
        op = value.get_defining_op()
        name = op.name()
        sources = [o.source() for o in op.operands()]
        if any(_in_place(u.name()) for u in value.all_used_ops()):
            return None  # written in place (``s[0] = v``, ``paddle.assign(v, output=s)``): not what it was made as
    except Exception:  # noqa: BLE001 - a block argument, a value of another kind
        return None
    attrs = None

    def attr(key: str) -> Any:
        nonlocal attrs
        if attrs is None:
            attrs = op.attrs()
        return attrs.get(key, _MISSING)

    def operand(k: int) -> tuple[tuple[int, ...], list] | None:
        return evaluate(sources[k], raw_shape, depth + 1) if k < len(sources) else None

    if name in ("pd_op.full", "pd_op.assign_value_", "pd_op.assign_value", "pd_op.full_int_array"):
        if name == "pd_op.full_int_array":
            values = attr("value")
            dims = (len(values),) if isinstance(values, list) else None
        else:
            shape = attr("shape")
            dims = tuple(int(d) for d in shape) if isinstance(shape, list) else None
            if dims is None or len(dims) > 1:
                return None
            count = dims[0] if dims else 1
            if name == "pd_op.full":
                values = [attr("value")] * count
            else:
                values = attr("values")
                if not isinstance(values, list) or len(values) != count:
                    return None
        if dims is None or len(dims) > 1 or not all(isinstance(v, (int, float)) for v in values):
            return None
        dtype = attr("dtype")
        if _int_dtype(dtype):
            if not all(_integral(v) for v in values):
                return None
            values = [int(v) for v in values]
        return dims, list(values)
    if name in ("pd_op.shape64", "pd_op.shape"):
        dims = [int(d) for d in raw_shape(sources[0])]
        return ((len(dims),), dims) if all(d >= 0 for d in dims) else None
    if name == "pd_op.cast":
        got = operand(0)
        dtype = attr("dtype")
        if got is None or not _int_dtype(dtype):
            return None
        return got[0], [int(v) for v in got[1]]  # (truncation, as Paddle's cast)
    if name == "pd_op.slice":
        got, starts, ends = operand(0), operand(1), operand(2)
        axes, decrease = attr("axes"), attr("decrease_axis")
        if None in (got, starts, ends) or axes != [0] or len(got[0]) != 1 or len(starts[1]) != 1 \
                or len(ends[1]) != 1 or not isinstance(decrease, list):
            return None
        part = got[1][int(starts[1][0]):int(ends[1][0])]
        if decrease == [0]:
            return ((), part) if len(part) == 1 else None
        return ((len(part),), part) if not decrease else None
    if name == "pd_op.scale":
        got, factor = operand(0), operand(1)
        bias, after = attr("bias"), attr("bias_after_scale")
        if got is None or factor is None or len(factor[1]) != 1 or not _integral(factor[1][0]) \
                or not _integral(bias) or not all(isinstance(v, int) for v in got[1]):
            return None
        s, b = int(factor[1][0]), int(bias)
        return got[0], [v * s + b if after else (v + b) * s for v in got[1]]
    if name in _ARITH or name in _NON_NEGATIVE:
        a, b = operand(0), operand(1)
        if a is None or b is None or not all(isinstance(v, int) for v in a[1] + b[1]):
            return None
        if len(a[1]) == 1 and len(b[1]) != 1:
            av, bv, dims = a[1] * len(b[1]), b[1], b[0]
        elif len(b[1]) == 1:
            av, bv, dims = a[1], b[1] * len(a[1]), a[0] if len(a[0]) >= len(b[0]) else b[0]
        elif len(a[1]) == len(b[1]):
            av, bv, dims = a[1], b[1], a[0]
        else:
            return None
        if name in _NON_NEGATIVE:
            if any(v < 0 for v in av) or any(v <= 0 for v in bv):
                return None
            fn = _NON_NEGATIVE[name]
        else:
            fn = _ARITH[name]
        return dims, [fn(x, y) for x, y in zip(av, bv)]
    if name in ("pd_op.stack", "pd_op.concat"):
        parts = _combined(sources[0] if sources else None, raw_shape, depth)
        if parts is None:
            return None
        if name == "pd_op.stack":
            if attr("axis") != 0 or any(p[0] != () for p in parts):
                return None
        else:
            axis = operand(1)
            if axis is None or axis[1] not in ([0], [-1]) or any(len(p[0]) != 1 for p in parts):
                return None
        flat = [v for p in parts for v in p[1]]
        return (len(flat),), flat
    return None


def _combined(value: Any, raw_shape: Callable[[Any], Any], depth: int) -> list | None:
    """The evaluated parts of a ``builtin.combine`` (a list operand), or None."""
    try:
        op = value.get_defining_op()
        if op.name() != "builtin.combine":
            return None
        sources = [o.source() for o in op.operands()]
    except Exception:  # noqa: BLE001
        return None
    parts = [evaluate(s, raw_shape, depth + 1) for s in sources]
    return None if any(p is None for p in parts) else parts


class _Folds:
    """How many sizes were folded in this build."""

    def __init__(self) -> None:
        self.count = 0


@contextlib.contextmanager
def folded_sizes(raw_shape: Callable[[Any], Any]) -> Iterator[_Folds]:
    """While the program is built, ``reshape``'s shape and ``F.interpolate``'s size given as tensors are
    handed to Paddle as numbers where :func:`evaluate` knows them (``raw_shape``: Paddle's own
    ``Value.shape`` getter).  Yields a counter of the sizes folded."""
    import paddle
    from paddle.pir import Value

    folds = _Folds()

    def number(v: Any) -> Any:
        if not isinstance(v, Value):
            return v
        got = evaluate(v, raw_shape)
        if got is None or len(got[1]) != 1 or not isinstance(got[1][0], int):
            return v
        folds.count += 1
        return got[1][0]

    def sizes(shape: Any) -> Any:
        if isinstance(shape, Value):
            got = evaluate(shape, raw_shape)
            if got is None or len(got[0]) != 1 or not all(isinstance(d, int) for d in got[1]):
                return shape
            folds.count += 1
            return list(got[1])
        if isinstance(shape, (list, tuple)) and any(isinstance(d, Value) for d in shape):
            return type(shape)(number(d) for d in shape) if isinstance(shape, list) else tuple(number(d) for d in shape)
        return shape

    manipulation = importlib.import_module("paddle.tensor.manipulation")
    common = importlib.import_module("paddle.nn.functional.common")
    real_reshape = manipulation.reshape
    real_interpolate = common.interpolate

    def reshape(x, shape, name=None):
        return real_reshape(x, sizes(shape), name)

    def interpolate(x, size=None, *args, **kwargs):
        return real_interpolate(x, sizes(size), *args, **kwargs)

    reshape_holders = [paddle, importlib.import_module("paddle.tensor"), manipulation]
    interpolate_holders = [importlib.import_module("paddle.nn.functional"), common]
    saved = [(h, "reshape", h.reshape) for h in reshape_holders if h.reshape is real_reshape]
    saved += [(h, "interpolate", h.interpolate) for h in interpolate_holders if h.interpolate is real_interpolate]
    value_reshape = Value.__dict__.get("reshape")
    for h, key, _ in saved:
        setattr(h, key, reshape if key == "reshape" else interpolate)
    if value_reshape is real_reshape:
        Value.reshape = reshape
    try:
        yield folds
    finally:
        for h, key, fn in saved:
            setattr(h, key, fn)
        if value_reshape is real_reshape:
            Value.reshape = value_reshape
