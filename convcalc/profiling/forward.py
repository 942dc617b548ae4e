"""Forward time per layer call, from pre/post hooks that read the clock, beside un-hooked forwards.

Hooked and un-hooked forwards alternate in one run (u, h, u, h, ...), so a slow drift of a
shared machine hits both alike; the hooks exist only during the hooked forwards, are removed
in ``finally:`` and the model's train/eval mode is restored.  Each hook reads
``time.perf_counter()`` once (after synchronising the device on a GPU) and appends to a list.
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from convcalc.errors import ModelLoadError
from convcalc.profiling import machine
from convcalc.trace.temporary import in_mode

__all__ = ["CallTimes", "ForwardTiming", "time_forward", "count_faults", "hooked", "is_leaf"]


@dataclass
class CallTimes:
    """Seconds of one layer call, ``(path, n-th call)``, in each timed repeat (inclusive of its sublayers)."""

    path: str
    call: int
    is_leaf: bool
    times: list[float] = field(default_factory=list)
    self_times: list[float] = field(default_factory=list)  # inclusive minus its direct children


@dataclass
class ForwardTiming:
    calls: dict[tuple[str, int], CallTimes]
    hooked: list[float]  # end-to-end seconds of each hooked forward
    unhooked: list[float]  # ... of each un-hooked forward, interleaved with them
    root_self: list[float]  # hooked end-to-end minus the top-level calls: the root's own code
    faults: float = 0.0  # median minor page faults per timed forward (the whole process)


def is_leaf(layer: Any) -> bool:
    """A layer convcalc reports as one row: no sublayers, or a recurrent layer (opaque)."""
    from paddle.nn.layer.rnn import RNNBase

    return isinstance(layer, RNNBase) or not layer.sublayers()


@contextlib.contextmanager
def hooked(model: Any, pre: Callable, post: Callable) -> Iterator[None]:
    """``pre``/``post`` forward hooks on every sublayer for the block; every handle removed afterwards."""
    handles = []
    try:
        for _, layer in model.named_sublayers():
            handles.append(layer.register_forward_pre_hook(pre))
            handles.append(layer.register_forward_post_hook(post))
        yield
    finally:
        for h in handles:
            h.remove()


def _forward_failed(model: Any, err: Exception, done: Sequence[str]) -> ModelLoadError:
    last = done[-1] if done else "none"
    return ModelLoadError(
        f"{type(model).__name__}'s forward raised {type(err).__name__} while timed: {str(err).splitlines()[0]} "
        f"(executed layers up to: {last})",
        "check that the model runs on this input: convcalc report MODEL --input ...")


def time_forward(model: Any, args: Sequence[Any], *, repeat: int = 20, warmup: int = 3,
                 training: bool = False) -> ForwardTiming:
    """Per layer call: seconds in each of ``repeat`` hooked forwards, plus as many un-hooked ones.

    ``training``: train mode with autograd on (the forward as it runs inside a training
    step); else eval mode under ``paddle.no_grad()``.
    """
    import paddle

    paths = {id(layer): p for p, layer in model.named_sublayers()}
    leaves = {id(layer): is_leaf(layer) for _, layer in model.named_sublayers()}
    sync = machine.synchronize if machine.on_gpu() else None
    clock = time.perf_counter
    stack: list[float] = []
    events: list[tuple[int, float, float, int]] = []  # (layer id, start, end, depth), in finishing order

    def pre(layer, inputs):
        if sync:
            sync()
        stack.append(clock())

    def post(layer, inputs, out):
        if sync:
            sync()
        t = clock()
        events.append((id(layer), stack.pop(), t, len(stack)))

    faults_seen: list[int] = []

    def run_once() -> float:
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        if sync:
            sync()
        t = clock()
        model(*args)
        if sync:
            sync()
        dt = clock() - t
        faults_seen.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        return dt

    calls: dict[tuple[str, int], CallTimes] = {}
    hooked_times, unhooked, root_self = [], [], []
    grad = contextlib.nullcontext() if training else paddle.no_grad()
    with in_mode(model, training), grad:
        for _ in range(warmup):
            run_once()
        for _ in range(repeat):
            unhooked.append(run_once())
            events.clear()
            stack.clear()
            try:
                with hooked(model, pre, post):
                    total = run_once()
            except Exception as err:  # noqa: BLE001 - re-raised with the layers it got through
                raise _forward_failed(model, err, [paths.get(e[0], "?") for e in events]) from err
            hooked_times.append(total)
            _fold(events, paths, leaves, calls)
            root_self.append(total - sum(e[2] - e[1] for e in events if e[3] == 0))
    timed = faults_seen[warmup:][1::2]  # the hooked forwards
    return ForwardTiming(calls, hooked_times, unhooked, root_self, statistics.median(timed) if timed else 0.0)


def _fold(events: list, paths: dict, leaves: dict, calls: dict) -> None:
    """One forward's hook events -> per ``(path, n-th call)`` inclusive and self seconds.

    Events come in finishing order: a call's children finish before it, one level deeper.
    """
    seen: dict[str, int] = defaultdict(int)
    pending: dict[int, float] = defaultdict(float)  # depth -> seconds of finished calls not yet given a parent
    for lid, t0, t1, depth in events:
        path = paths.get(lid, "?")
        key = (path, seen[path])
        seen[path] += 1
        child_sum = pending.pop(depth + 1, 0.0)
        pending[depth] += t1 - t0
        ct = calls.get(key)
        if ct is None:
            ct = calls[key] = CallTimes(path, key[1], leaves.get(lid, True))
        ct.times.append(t1 - t0)
        ct.self_times.append((t1 - t0) - child_sum)


def count_faults(model: Any, args: Sequence[Any], *, passes: int = 3, training: bool = False
                 ) -> dict[tuple[str, int], float]:
    """Minor page faults per layer call (median over ``passes`` hooked forwards), from ``getrusage``.

    Run apart from the timed forwards (two system calls per hook).  On Linux a large eager
    output is a fresh mapping whose pages fault when first written: a cost in the measured
    time but in no roofline.  Inclusive for containers.
    """
    import paddle

    paths = {id(layer): p for p, layer in model.named_sublayers()}
    stack: list[int] = []
    per: dict[tuple[str, int], list[int]] = defaultdict(list)
    seen: dict[str, int] = defaultdict(int)

    def minflt() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def pre(layer, inputs):
        stack.append(minflt())

    def post(layer, inputs, out):
        n = minflt() - stack.pop()
        path = paths.get(id(layer), "?")
        per[(path, seen[path])].append(n)
        seen[path] += 1

    grad = contextlib.nullcontext() if training else paddle.no_grad()
    with in_mode(model, training), grad:
        model(*args)
        with hooked(model, pre, post):
            for _ in range(passes):
                seen.clear()
                stack.clear()
                model(*args)
    return {k: float(statistics.median(v)) for k, v in per.items()}
