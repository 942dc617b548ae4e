"""Paddle's eager forward, run once: only its kernels check everything, so what it refuses, convcalc refuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convcalc.errors import ConvcalcError
from convcalc.trace.branches import Decisions, recording
from convcalc.trace.failures import empty_conv_or_pool, forward_error, out_of_memory
from convcalc.trace.inputs import ModelInput, arguments
from convcalc.trace.temporary import eval_mode, swapped_forwards

__all__ = ["example_values", "eager_check"]


def example_values(inputs: list[ModelInput]) -> list[Any]:
    """Deterministic example tensors: ones for float inputs, zeros (valid ids) for integer and bool ones."""
    import paddle

    return [
        paddle.ones(list(i.shape), i.dtype) if i.dtype.startswith(("float", "bfloat")) else
        paddle.zeros(list(i.shape), i.dtype)
        for i in inputs
    ]


def _first_tensor(obj: Any) -> Any:
    """The first tensor of a layer's output (a tensor, or one in a list, tuple or dict)."""
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return obj
    items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ()
    return next((t for t in (_first_tensor(o) for o in items) if t is not None), None)


def eager_check(
    model: Any,
    inputs: list[ModelInput],
    static_forward: Callable[[Any], Callable | None] = lambda layer: None,
    name: str = "model",
    values: list[Any] | None = None,
    decisions: Decisions | None = None,
    stand_in: Callable[[Any], Callable | None] | None = None,
    shapes: list[tuple[str, tuple]] | None = None,
    guard_empty: bool = False,
) -> list[str]:
    """Run Paddle's eager forward once (eval, no grad): what its kernels refuse, convcalc refuses.

    Returns the paths of the layer calls in finishing order; ``decisions``
    records the truth values tensors gave (branches on tensor values).  Call
    it only after the static shapes are known to be non-empty: an eager conv
    with an empty output corrupts the heap.  ``stand_in`` (layer -> forward
    or None, see :mod:`convcalc.trace.stand_ins`) gives layers a cheaper forward
    with the same refusals.  ``shapes``, if given, receives ``(path, first
    output's shape)`` of every layer call, in finishing order.  ``guard_empty``:
    no static shapes were checked first, so every built-in conv or pool layer's
    output size is checked by the formulas before its kernel runs.
    """
    import paddle

    paths = {id(layer): path for path, layer in model.named_sublayers(include_self=True)}
    stack: list[dict] = []
    done: list[str] = []
    handles = []
    try:
        values = list(values) if values is not None else example_values(inputs)
    except MemoryError as exc:  # (Paddle's ResourceExhausted is one)
        raise out_of_memory(exc, inputs, name) from None
    # Stand-ins that call sublayers (on crops); asked before the forwards are swapped (a swapped layer is not plain).
    cropped = set() if stand_in is None else {
        id(s) for _, s in model.named_sublayers(include_self=True) if s._sub_layers and stand_in(s)}

    def pre_hook(layer, args):
        stack.append({"layer": layer})
        if guard_empty and args and hasattr(args[0], "shape"):
            refused = empty_conv_or_pool(layer, tuple(args[0].shape), paths.get(id(layer), type(layer).__name__),
                                         inputs[0].shape, name)
            if refused is not None:
                raise refused

    def post_hook(layer, args, output):
        stack.pop()
        path = paths.get(id(layer), type(layer).__name__)
        done.append(path)
        if shapes is not None:  # (a call inside a stand-in runs on crops: its shape is no one's, so none is given)
            inside = any(id(e["layer"]) in cropped for e in stack)
            first = None if inside else _first_tensor(output)
            shapes.append((path, tuple(int(d) for d in first.shape) if first is not None else ()))

    def current() -> str:
        if not stack:
            return name
        layer = stack[-1]["layer"]
        return f"{paths.get(id(layer)) or name} ({type(layer).__name__})"

    with eval_mode(model):
        try:
            for _, layer in model.named_sublayers(include_self=True):
                handles.append(layer.register_forward_pre_hook(pre_hook))
                handles.append(layer.register_forward_post_hook(post_hook))
            record = recording(decisions or Decisions(), current)
            swap = static_forward if stand_in is None else (lambda layer: static_forward(layer) or stand_in(layer))
            with swapped_forwards(model, swap), paddle.no_grad(), record:
                model(*arguments(inputs, values))
        except ConvcalcError:
            raise
        except Exception as exc:  # noqa: BLE001 - Paddle's refusal, or any failure of user code
            raise forward_error(exc, stack, paths, inputs, name) from None
        finally:
            for h in handles:
                h.remove()
    return done
