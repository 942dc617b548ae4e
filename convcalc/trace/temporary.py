"""Temporary changes for one trace, each undone on exit: eval mode, swapped forwards, a cheap op stack, no GC."""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["in_mode", "eval_mode", "swapped_forwards", "fast_op_creation", "without_gc_pauses"]

F = TypeVar("F", bound=Callable[..., Any])


def without_gc_pauses(fn: F) -> F:
    """``fn`` with Python's cyclic garbage collector paused while it runs (and running again after).

    An analysis allocates hundreds of thousands of short-lived objects (program values, sympy
    numbers, fractions) while the process holds millions (Paddle, the model, sympy's caches):
    each automatic full collection walks all of them, a fifth of an HRNet analysis.  Objects
    freed by reference counting are freed at once as always; only cycles wait for the next
    collection after the analysis.  Nested calls leave the collector as the outermost found it.
    """

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return run  # type: ignore[return-value]


@contextlib.contextmanager
def swapped_forwards(model: Any, static_forward: Callable[[Any], Callable | None]) -> Iterator[None]:
    """Temporarily give layers with an opaque rule their static equivalent forward."""
    swapped = []
    try:
        for _, layer in model.named_sublayers(include_self=True):
            fn = static_forward(layer)
            if fn is not None:
                had = "forward" in layer.__dict__
                old = layer.__dict__.get("forward")
                # (what Layer.__setattr__ ends in for a function, without its checks for parameters and buffers)
                object.__setattr__(layer, "forward", _bound(fn, layer))
                swapped.append((layer, had, old))
        yield
    finally:
        for layer, had, old in swapped:
            if had:
                object.__setattr__(layer, "forward", old)
            else:
                del layer.__dict__["forward"]


_SIGNATURES: dict[Any, Any] = {}  # a class's forward -> its signature when bound (the same for every instance)


def _bound(fn: Callable, layer: Any) -> Callable:
    """``fn(layer, ...)`` as ``layer.forward``, with the signature of the layer's own forward (``to_static`` of a
    root layer reads its argument names from it)."""
    def forward(*args, **kwargs):
        return fn(layer, *args, **kwargs)

    own = type(layer).forward
    try:
        signature = _SIGNATURES.get(own)
    except TypeError:  # pragma: no cover - unhashable
        signature = None
    if signature is None:
        try:
            signature = inspect.signature(own.__get__(layer))
        except (TypeError, ValueError):  # pragma: no cover - builtins
            return forward
        try:
            _SIGNATURES[own] = signature
        except TypeError:  # pragma: no cover - unhashable
            pass
    forward.__signature__ = signature
    return forward


@contextlib.contextmanager
def fast_op_creation() -> Iterator[None]:
    """Skip the Python call stack Paddle records for every op it builds.

    Paddle's op builders call ``traceback.extract_stack()`` for each op (and
    each parameter's initializer), only to decorate its own error messages.
    Walking the stack was ~40% of a ResNet-50 trace; while the program is
    built it is replaced by an empty stack, and restored afterwards.
    """
    import traceback

    real = traceback.extract_stack
    traceback.extract_stack = lambda *args, **kwargs: traceback.StackSummary()
    try:
        yield
    finally:
        traceback.extract_stack = real


@contextlib.contextmanager
def in_mode(model: Any, training: bool) -> Iterator[None]:
    """``model.train()`` or ``model.eval()`` for the block; then every layer's own mode back, and Paddle's global one.

    Not ``model.train()`` afterwards: a model being fine-tuned with a frozen batch norm (``bn.eval()`` under a
    training root) would come out with that norm training again, and a training sublayer under an eval root
    would come out in eval mode.
    """
    from paddle.base import framework
    from paddle.nn import Layer

    tracer = framework._dygraph_tracer()
    tracer_training = getattr(tracer, "_train_mode", None)
    modes = [(layer, layer.training) for _, layer in model.named_sublayers(include_self=True)]
    if type(model).train is not Layer.train or type(model).eval is not Layer.eval:
        model.train() if training else model.eval()  # (the model's own may do more)
    else:  # what they do, without walking the layers again: the ones in the other mode are set
        for layer, mode in modes:
            if mode != training:
                layer.training = training
        if tracer_training is not None:
            tracer.train_mode() if training else tracer.eval_mode()
    try:
        yield
    finally:
        for layer, mode in modes:
            if layer.training != mode:
                layer.training = mode
        if tracer_training is not None:
            tracer.train_mode() if tracer_training else tracer.eval_mode()


def eval_mode(model: Any) -> contextlib.AbstractContextManager[None]:
    """:func:`in_mode` in eval mode."""
    return in_mode(model, False)
