"""What a refused or failing forward becomes: one line naming the layer and Paddle's own reason.

Also the refusals convcalc makes before Paddle does: an output the formulas (or the static shapes) find
empty, because an eager conv with an empty output corrupts the heap.
"""

from __future__ import annotations

import math
import re
from typing import Any

from convcalc.errors import ConvcalcError, ModelLoadError, RefusedInputError, ShapeError
from convcalc.trace.inputs import ModelInput, as_inputs, shown_inputs
from convcalc.trace.op_names import BOOKKEEPING_OPS

__all__ = ["describe_failure", "forward_error", "refuse_empty", "first_empty_layer", "check_nonempty", "disagrees",
           "first_disagreement", "static_eager_error", "out_of_memory",
           "available_memory", "check_fits", "MEMORY_HINT",
           "with_rank_hint", "empty_conv_or_pool",
           "EMPTY_HAZARD_OPS"]

# Kernels that corrupt the heap (or read past it) on an empty input or output: convolutions and pooling.
# Every other op may hand on an empty tensor (a ``[:, :0]`` slice then a concat is legal): Paddle decides.
EMPTY_HAZARD_OPS = ("conv", "depthwise_conv", "deformable_conv", "pool", "max_pool", "lp_pool", "unpool")


_PADDLE_REASON = re.compile(r"\((InvalidArgument|PreconditionNotMet|OutOfRange|Unimplemented|NotFound|InvalidType)\)")

# The fix offered where an input is too large for this machine's memory.
MEMORY_HINT = ("use a smaller --batch or --input; every count but memory is linear in the batch, so a batch-1 report "
               "times the batch gives it")


def _clip(text: str, limit: int = 300) -> str:
    """``text`` kept to one readable error line: cut at the last space before ``limit``, marked with an ellipsis
    (Paddle's broadcast refusal runs to 600 characters; cut mid-word it read "... || (y_dims; give the input")."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:(|&") + " …"


def describe_failure(exc: BaseException) -> str:
    """The informative line of an error raised by Paddle (building the program or running a kernel)."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # Paddle's C++ errors: "(InvalidArgument) <what>. But received: <details>  [Hint: Expected a, but received b.]".
    for ln in lines:
        m = re.search(_PADDLE_REASON.pattern + r"\s*(.*)", ln)
        if m:
            what = re.sub(r"\s*\(at /[^)]*\)\s*$", "", m.group(2))
            hint = re.search(r"\[Hint: Expected (.*?), but (received .*)\]", text)
            if hint:
                what = re.split(r"\.?\s+But receiv", what)[0].rstrip(".")
                what = f"{what} ({hint.group(2).rstrip('.')})"
            return _clip(what)
    # dy2static wraps the user's error: "In transformed code: ... RuntimeError: boom".
    for ln in reversed(lines):
        m = re.match(r"^[A-Za-z_.]*(Error|Exception): (.*)$", ln)
        if m:
            return _clip(m.group(2))
    useful = [ln for ln in lines if not ln.startswith(("In transformed code", "File ", "-", ">"))]
    return _clip(useful[-1] if useful else type(exc).__name__)


def _axis_padding(padding: Any, axis: int) -> Any:
    """One axis of a Conv2D/pool layer's ``padding`` in the form the formulas take; None if unreadable."""
    if isinstance(padding, (int, str)):
        return padding
    p = list(padding)
    if len(p) == 2 and all(isinstance(x, int) for x in p):
        return p[axis]
    if len(p) == 4 and all(isinstance(x, int) for x in p):
        return (p[2 * axis], p[2 * axis + 1])
    if len(p) == 4 and all(isinstance(x, (list, tuple)) for x in p):
        return tuple(p[2 + axis])
    return None


def refuse_empty(finished: list[dict], paths: dict, inputs: list[ModelInput], name: str) -> None:
    """Refuse the first layer the formulas find empty, even where Paddle's static shapes say 1."""
    refused = first_empty_layer(finished, paths, inputs[0].shape, name)
    if refused:
        raise refused


def first_empty_layer(finished: list[dict], paths: dict, input_shape, name) -> ShapeError | None:
    """The first conv/pool layer (in execution order) whose output the formulas find empty.

    Paddle's static shape inference truncates toward zero, so a kernel larger than its padded
    input can come out as a size of 1 and the build fails later, in an innocent layer (GoogLeNet
    at 3x64x64 fails in a Linear after ``_pool_o1``).  The formulas name the real culprit.
    """
    import paddle

    from convcalc.formulas import shapes as F

    for entry in sorted(finished, key=lambda e: e["order"]):
        layer, hw = entry["layer"], entry.get("in_shape", ())[-2:]
        if layer.sublayers() or len(hw) != 2 or not all(isinstance(d, int) and d > 0 for d in hw):
            continue
        try:
            if isinstance(layer, paddle.nn.Conv2D):  # and its subclasses; not Conv2DTranspose
                if layer._data_format != "NCHW" or len(layer._kernel_size) != 2:
                    continue
                for axis in (0, 1):
                    F.conv_output_size(hw[axis], layer._kernel_size[axis], layer._stride[axis],
                                       _axis_padding(layer._padding, axis), layer._dilation[axis])
            elif isinstance(layer, (paddle.nn.MaxPool2D, paddle.nn.AvgPool2D)) and layer.data_format == "NCHW":
                pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
                kernel = pair(layer.ksize)
                stride = kernel if layer.stride is None else pair(layer.stride)
                for axis in (0, 1):
                    F.pool_output_size(hw[axis], kernel[axis], stride[axis], _axis_padding(layer.padding, axis),
                                       ceil_mode=bool(layer.ceil_mode))
        except ShapeError as err:
            shown = "x".join(str(d) for d in input_shape[1:])
            path = paths.get(id(layer), type(layer).__name__)
            return ShapeError(
                f"input {shown} is too small for {name}: layer {path} ({type(layer).__name__}) would produce "
                f"an empty output ({err.problem})",
                "use a larger --input (see `convcalc models` for each model's default)",
            )
        except Exception:  # noqa: BLE001 - a form the formulas do not read: Paddle's own checks decide
            continue
    return None


def check_nonempty(ops, shapes, calls, inputs, name) -> None:
    """Static shape inference does not always refuse an empty output: find the first one a kernel cannot take.

    Only convolutions and pooling (:data:`EMPTY_HAZARD_OPS`) are refused here, on
    an empty result or data operand: their eager kernels corrupt the heap.  An
    empty tensor anywhere else is legal Paddle, and its eager forward judges it.
    """
    for op in ops:
        key = op.name.split(".", 1)[-1]
        if op.name in BOOKKEEPING_OPS or not key.startswith(EMPTY_HAZARD_OPS):
            continue
        for v in (*op.outputs[:1], *op.inputs[:1]):
            if any(d == 0 or d < -1 for d in shapes.get(v, ())):
                leaf = [c for c in calls if c.is_leaf and c.op_start <= op.index < c.op_end]
                where = f"layer {leaf[0].path} ({leaf[0].kind})" if leaf else f"op {op.name}"
                shown = shown_inputs(inputs)
                raise ShapeError(
                    f"input {shown} is too small for {name}: {where} would produce an empty output "
                    f"{list(shapes[op.outputs[0]])}",
                    "use a larger --input (see `convcalc models` for each model's default)",
                )


def first_disagreement(calls, shapes, eager: list[tuple[str, tuple]],
                       outputs: tuple[str, ...] = ()) -> tuple[str, tuple, tuple] | None:
    """The first layer call whose output shape in the static program differs from the eager forward's, as
    ``(path, static shape, eager shape)``, or None.

    ``eager`` is ``(path, shape)`` in finishing order, the model's own call last (path ``""``); the model's
    output is compared when the program has one (``outputs``) and the eager forward gave one tensor.  A size
    the program leaves at ``-1`` agrees with any.
    """
    static = [(c.path, shapes.get(c.outputs[0], ()) if c.outputs else ()) for c in calls if c.path]
    seen = [(p, s) for p, s in eager if p]
    if not seen or [p for p, _ in static] != [p for p, _ in seen]:
        return None  # (no eager run, or another path: the branch checks handle that)
    if len(outputs) == 1 and eager and eager[-1][0] == "":
        static.append(("", shapes.get(outputs[0], ())))
        seen.append(eager[-1])
    for (path, a), (_, b) in zip(static, seen):
        if a and b and (len(a) != len(b) or any(x >= 0 and x != y for x, y in zip(a, b))):
            return path, tuple(a), tuple(b)
    return None


def disagrees(calls, shapes, eager: list[tuple[str, tuple]]) -> bool:
    """Whether a layer call's output shape in the static program differs from the eager forward's
    (:func:`first_disagreement`, the layers' calls only)."""
    return first_disagreement(calls, shapes, eager) is not None


def static_eager_error(found: tuple[str, tuple, tuple], name: str) -> ModelLoadError:
    """The static program and Paddle's eager forward give another shape: convcalc counts the program, so it refuses.

    The one cause met so far: an op that writes a tensor in place (``paddle.assign(v, output=s)``,
    ``s.add_(t)``), which Paddle's static graph does out of place, so a size written that way is lost.
    """
    path, static, eager = found
    where = f"layer {path}" if path else "its output"
    return ModelLoadError(
        f"Paddle's static program of {name} gives {where} the shape {list(static)}, its eager forward "
        f"{list(eager)}: convcalc counts the program, so it cannot count this forward (an op that writes a "
        "tensor in place, such as paddle.assign(v, output=s) or s.add_(t), is done out of place in a static program)",
        "write the value out of place (s = v, s = s + t) and analyse again",
    )


def out_of_memory(exc: BaseException, inputs, name: str) -> ShapeError | None:
    """Paddle could not allocate a tensor (``MemoryError``, ``ResourceExhausted``) for the eager check: the input
    chosen is too large for this machine, a user's choice to report in one line; None for any other failure."""
    text = str(exc)
    if not isinstance(exc, MemoryError) and "ResourceExhausted" not in text:
        return None
    asked = re.search(r"alloc(?:ate)? memory of (\d+)", text)
    size = f" (Paddle could not allocate {int(asked.group(1)) / 2**30:,.1f} GiB at once)" if asked else ""
    first = as_inputs(inputs)[0]
    batch = f" at batch {first.shape[0]:,}" if first.shape else ""
    return ShapeError(
        f"input {shown_inputs(inputs)}{batch} is too large for this machine's memory: Paddle's eager check of "
        f"{name} cannot run it{size}",
        MEMORY_HINT,
    )


# Bytes per element of the dtypes a program holds (the rest are 4 bytes: float32, int32).
_ITEMSIZE = {"float64": 8, "int64": 8, "complex64": 8, "complex128": 16, "float16": 2, "bfloat16": 2, "int16": 2,
             "uint8": 1, "int8": 1, "bool": 1}


def available_memory() -> int | None:
    """Bytes the kernel can give without swapping (Linux ``MemAvailable``), or None where it does not say."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_fits(shapes: dict, dtypes: dict, inputs, name: str, available: int | None = None) -> None:
    """Refuse, before the eager check, an input whose largest tensor (with the input) cannot be held in memory.

    Paddle's allocation of such a tensor succeeds (Linux overcommits) and filling it makes the kernel's
    out-of-memory killer end the process: no message, and the output lost.  The input plus the largest
    tensor of the static program is a lower bound of what the eager forward holds at once.
    """
    free = available_memory() if available is None else available
    if free is None:
        return
    largest = max((math.prod(s) * _ITEMSIZE.get(dtypes.get(v, ""), 4) for v, s in shapes.items()
                   if s and min(s) > 0), default=0)
    given = as_inputs(inputs)
    need = largest + sum(math.prod(i.shape) * _ITEMSIZE.get(i.dtype, 4) for i in given)
    if need > free:
        raise ShapeError(
            f"input {shown_inputs(inputs)} at batch {given[0].shape[0]:,} is too large for this machine's memory: "
            f"Paddle's eager check of {name} needs at least {need / 2**30:,.1f} GiB at once, "
            f"{free / 2**30:,.1f} GiB is available",
            MEMORY_HINT,
        )


def forward_error(exc, stack, paths, inputs, name) -> Exception:
    """Turn a failure inside the model's forward into a one-line user error saying its real cause."""
    oom = out_of_memory(exc, inputs, name)
    if oom is not None:
        return oom
    shown = shown_inputs(inputs)
    where = ""
    if stack:
        layer = stack[-1]["layer"]
        where = f"{paths.get(id(layer), type(layer).__name__) or name} ({type(layer).__name__})"
    reason = describe_failure(exc)
    # Only a non-positive *output size* is "too small"; a rank, channel or reshape problem is not.
    empty = re.search(r"(output|out)[ _]?(size|shape|height|width|length|dim)s?\b.*(greater|larger|positive|> ?0|<= ?0)"
                      r"|(greater|larger) than 0.*(output|out)", reason, re.I)
    if where and empty and not re.search(r"\brank\b|channel|reshape|numel|same dimension", reason, re.I):
        return ShapeError(
            f"input {shown} is too small for {name}: layer {where} would produce an empty output",
            "use a larger --input (see `convcalc models` for each model's default)",
        )
    at = f" in layer {where}" if where else ""
    if _PADDLE_REASON.search(str(exc)):
        return RefusedInputError(
            f"Paddle refuses input {shown} for {name}{at}: {reason}",
            "give the input this model takes (--input per sample, one per forward argument)",
        )
    return ModelLoadError(
        f"the forward pass of {name} raised {type(exc).__name__}{at} at input {shown}: {reason}",
        "check the model code and that --input matches what the model expects",
    )


def with_rank_hint(err: Exception, hint: tuple[str, str] | None) -> Exception:
    """Paddle's refusal with the first layer's rank appended as a hint (``hint``: ``(what, fix)`` or None)."""
    if hint is None or not isinstance(err, ConvcalcError):
        return err
    what, fix = hint
    out = type(err)(f"{err.problem}; {what}", fix)
    return out


def empty_conv_or_pool(layer: Any, in_shape: tuple, path: str, input_shape, name: str) -> ShapeError | None:
    """Before an eager call of a built-in conv or pool layer on ``in_shape``: the error if its output would be
    empty (the kernel would corrupt the heap), else None."""
    entry = {"layer": layer, "order": 0, "in_shape": tuple(int(d) for d in in_shape)}
    return first_empty_layer([entry], {id(layer): path}, input_shape, name)
