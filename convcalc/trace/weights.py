"""Parameters a model was built without (``paddle.LazyGuard``): memory for the eager check, values only if read.

Building a zoo model initialises every weight at random (resnet18: 11.7 M values, a third of a second; vit_b_16
seconds), yet the static program reads only their shapes and dtypes, and the eager check (Paddle's own
refusals) reads their values only where a refusal could depend on them.  So the report's live path builds
zoo models under ``paddle.LazyGuard`` (:func:`convcalc.models.zoo.build_model` with ``lazy=True``), and
:func:`give_memory` completes them just before the eager forward: uninitialised memory where the program's
refusals depend on shapes and dtypes alone (:func:`convcalc.trace.stand_ins.value_free`, the premise of the
stand-ins), each parameter's own initializer where values may be read (a value-dependent program, or a
value read on the stand-ins).  Where the static build itself fails, the parameters get their initial values
and it is built again, so that the failure is told as for a normal build (uninitialised parameters make
Paddle fail with another message).  A model built normally has nothing to complete.  Other commands
(compare, rf, diff, train, weight transfer) and user files build normally: they read weights, or a user's
constructor may.
"""

from __future__ import annotations

from typing import Any

__all__ = ["give_memory", "lazy_parameters"]


def lazy_parameters(model: Any) -> list:
    """The parameters built under ``paddle.LazyGuard`` that still have their initializer to run."""
    out = []
    for p in model.parameters():
        if getattr(p, "_init_func", None) is not None and (not p._is_initialized() or getattr(p, "_convcalc_empty",
                                                                                              False)):
            out.append(p)
    return out


def give_memory(model: Any, values: bool) -> None:
    """Give every lazily built parameter of ``model`` memory: its initializer's values when ``values`` (the
    eager forward may read them), else uninitialised memory of its shape and dtype (``paddle.empty``)."""
    lazy = lazy_parameters(model)
    if not lazy:
        return
    import paddle

    for p in lazy:
        if values:
            p.initialize()  # (runs the initializer and drops it: the parameter is a normal one from here on)
            p._convcalc_empty = False
        elif not p._is_initialized():
            paddle.empty(p.shape, p.dtype)._share_buffer_to(p)
            p._convcalc_empty = True
