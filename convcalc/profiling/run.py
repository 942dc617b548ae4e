"""``convcalc.profile(model, ...)``: the whole measurement, in a fixed order.

analyse (FLOPs and shapes, ``flops`` convention) -> ceilings (cached, or measured in a
child process) -> hook timings interleaved with un-hooked forwards -> page faults per layer
call -> Paddle's profiler pass (the independent truth, and the op times that split a
container's time among its functional ops) -> with ``training`` the backward per layer ->
join.  The order is fixed because the allocator's state depends on what ran before
(docs/profile.md, "Page faults").
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from convcalc.errors import InvalidParameterError, RefusedInputError, ShapeError
from convcalc.profiling import machine
from convcalc.profiling.ceilings import get_ceilings
from convcalc.profiling.join import Settings, build_profile, with_run_facts
from convcalc.profiling.records import DTYPE_BYTES, Allocator, Ceilings, Profile

__all__ = ["profile", "example_values"]


def _whole(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidParameterError(f"{name} must be a whole number >= {least}, got {value!r}",
                                    f"e.g. {name}={max(least, 1)}")
    return value


def _options(repeat, warmup, threads, profiler_repeat, dtype, allocator, ceilings) -> tuple[str, Allocator]:
    _whole("repeat", repeat, 1)
    _whole("warmup", warmup, 0)
    _whole("threads", threads, 1)
    _whole("profiler_repeat", profiler_repeat, 0)
    if dtype not in DTYPE_BYTES:
        raise InvalidParameterError(f"unknown dtype {dtype!r}", "choose one of: " + ", ".join(DTYPE_BYTES))
    try:
        alloc = Allocator(allocator)
    except ValueError:
        raise InvalidParameterError(f"unknown allocator {allocator!r}", "choose default or pinned") from None
    if not (isinstance(ceilings, Ceilings) or ceilings in ("cached", "measure")):
        raise InvalidParameterError(f"ceilings must be 'cached', 'measure' or a Ceilings, got {ceilings!r}",
                                    "e.g. ceilings='measure' to measure them again")
    return dtype, alloc


def example_values(inputs: Sequence[Any], seed: int) -> list[Any]:
    """Seeded inputs: standard normal for floating dtypes, zeros (valid ids and masks) for the others."""
    import paddle

    paddle.seed(seed)
    return [paddle.randn(list(i.shape)).astype(i.dtype) if i.dtype.startswith(("float", "bfloat"))
            else paddle.zeros(list(i.shape), i.dtype) for i in inputs]


def _check_fits(report: Any, name: str) -> None:
    """Refuse a run whose forward cannot be held in this machine's free memory: the timed forwards hold every
    activation at its peak with the parameters (the report's inference memory), and Linux would grant the
    allocations and then end the process."""
    from convcalc.trace.failures import available_memory

    t = report.totals
    free = available_memory()
    try:
        need = int(t.peak_activation_bytes) + int(t.param_bytes)
    except (TypeError, ValueError):  # (a size the report could not know: nothing to compare)
        return
    if free is not None and need > free:
        shape = "x".join(str(d) for d in report.input_shape)
        raise ShapeError(
            f"input {shape} is too large to profile {name} on this machine: its forward holds "
            f"{need / 2**30:,.1f} GiB at its peak (activations and parameters), {free / 2**30:,.1f} GiB is available",
            "use a smaller --batch or --input",
        )


def _cast(model: Any, values: list[Any], dtype: str) -> tuple[list[Any], str | None]:
    """The model's floating parameters and inputs in ``dtype``; returns the inputs and the dtype to restore."""
    if dtype == "float32":
        return values, None
    model.to(dtype=dtype)
    return [v.astype(dtype) if str(v.dtype).endswith(("float32", "float64")) else v for v in values], "float32"


def _check_runs(model: Any, args: list[Any], dtype: str, name: str) -> None:
    """One forward in ``dtype``: Paddle's refusal (a kernel it lacks on this device) becomes one line."""
    import paddle

    try:
        with paddle.no_grad():
            model(*args)
    except Exception as err:  # noqa: BLE001 - Paddle's reason, in one line
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RefusedInputError(f"{name} does not run in {dtype} here: {reason[:300]}",
                                "choose another --dtype (float32 runs everywhere; float16/bfloat16 need a GPU)"
                                ) from None


def profile(model: Any, input_size: Any = None, *, input_data: Any = None, name: str | None = None,
            repeat: int = 20, warmup: int = 3, threads: int = 1, dtype: str = "float32", seed: int = 0,
            training: bool = False, allocator: str = "default", profiler: bool = True, profiler_repeat: int = 5,
            ceilings: str | Ceilings = "cached") -> Profile:
    """Measured forward time per layer beside its FLOPs and bytes, on this machine's roofline.

    ``input_size`` (batch first, as :func:`convcalc.analyze`) or ``input_data`` (tensors);
    float inputs are seeded standard normal (``seed``), integer inputs zeros.  ``repeat``
    hooked forwards are interleaved with as many un-hooked ones after ``warmup``; ``threads``
    sets Paddle's CPU threads; ``allocator='pinned'`` fixes glibc's malloc thresholds first
    (no page faults per call).  ``profiler``: also run ``profiler_repeat`` forwards under
    Paddle's profiler (per-layer kernel times beside the hooks', and the split of a container's
    own time among its functional ops).  ``training``: train mode with autograd, then the
    backward per layer and the step.  ``ceilings``: ``'cached'`` (measured once per machine,
    dtype and thread count), ``'measure'`` (again, and cached) or a :class:`Ceilings`.
    """
    import paddle

    from convcalc.analysis import analyze
    from convcalc.trace.input_forms import model_inputs
    from convcalc.trace.inputs import arguments, bind_names, in_forward_order

    dtype, alloc = _options(repeat, warmup, threads, profiler_repeat, dtype, allocator, ceilings)
    name = name or type(model).__name__
    started = _dt.datetime.now().isoformat(timespec="seconds")
    load_before = machine.load_average()
    notes = []
    if alloc is Allocator.PINNED and not machine.pin_allocator():
        notes.append("allocator: pinned asked for, but this is not Linux/glibc: the allocator is as it was")
    machine.set_threads(threads)
    inputs, given = model_inputs(model, input_size, input_data=input_data)
    bound = bind_names(model, inputs, name)
    ordered = in_forward_order(model, bound, bound)
    training_cost = None
    if training:
        from convcalc.analysis.engine import trace_for
        from convcalc.analysis.training import training_from_report

        trace = trace_for(model, list(inputs), name)
        report = analyze(model, list(inputs), convention="flops", name=name, trace=trace)
        training_cost = training_from_report(report, trace, model)
    else:
        report = analyze(model, list(inputs), convention="flops", name=name)
    _check_fits(report, name)  # (the analysis refuses only what its own eager check cannot hold)
    values = in_forward_order(model, bound, list(given)) if given is not None else example_values(ordered, seed)
    values, restore = _cast(model, values, dtype)
    try:
        args = arguments(ordered, values)
        paddle.seed(seed)
        _check_runs(model, args, dtype, name)
        ceil = ceilings if isinstance(ceilings, Ceilings) else get_ceilings(
            dtype, threads, remeasure=ceilings == "measure")
        profile_ = _measure(model, args, report, ceil, training, profiler, profiler_repeat, training_cost,
                            Settings(name, dtype, threads, repeat, warmup, seed, alloc.value))
    finally:
        if restore:
            model.to(dtype=restore)
    return with_run_facts(profile_, started=started, load_before=load_before, load_after=machine.load_average(),
                          malloc_env=machine.malloc_env(), notes=(*notes, *profile_.notes))


def _measure(model, args, report, ceil, training, profiler, profiler_repeat, training_cost, settings) -> Profile:
    from convcalc.profiling.forward import count_faults, time_forward

    timing = time_forward(model, args, repeat=settings.repeat, warmup=settings.warmup, training=training)
    # right after the timed pass: the profiler pass frees buffers that change glibc's mmap threshold
    faults = count_faults(model, args, training=training)
    kernels = None
    if profiler and profiler_repeat:
        from convcalc.checks.profiler_kernels import profile_forward

        kernels = profile_forward(model, args, repeat=profiler_repeat, warmup=1, training=training)
    backward = None
    if training:
        from convcalc.profiling.backward import time_backward

        backward = time_backward(model, args, repeat=max(3, settings.repeat // 2), warmup=min(2, settings.warmup))
    return build_profile(report, timing, ceil, settings, kernels=kernels, faults=faults, backward=backward,
                         training_cost=training_cost)
