"""Truth for ``convcalc profile``: Paddle's own profiler, its kernel times grouped by the layer that issued them.

Forward: ``repeat`` forwards run under ``paddle.profiler`` with one ``RecordEvent`` per
layer call named ``cc:<path>`` (begun in a pre hook, ended in a post hook); the event tree
is read back (``prof.profiler_result.get_data()``: ``{thread id: root node}``, nodes with
``name``, ``type``, ``start_ns``, ``end_ns``, ``children_node``, ``runtime_node``,
``device_node``).  Per layer call: the scope's time, the sum of its ops' "kernel launch"
events (on a CPU the kernel's own compute: it is synchronous; on a GPU the device kernels
under the runtime calls) and its ops outside every child scope (a container's functional
ops).  Backward: the sequence of ``Global_<Name>GradNode`` events of one ``backward()``.

Paddle alone: nothing here imports convcalc's analysis or profiling (contract ``truths-blind``).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ProfiledCall", "ProfilerRun", "SCOPE", "profile_forward", "profile_backward"]

SCOPE = "cc:"


@dataclass
class ProfiledCall:
    path: str
    call: int
    scope: list[float] = field(default_factory=list)  # the scope's wall seconds, per step
    kernel: list[float] = field(default_factory=list)  # its ops' kernel seconds
    op_time: list[float] = field(default_factory=list)  # its ops' Operator events (dispatch + kernel)
    direct_ops: list[list[tuple[str, float]]] = field(default_factory=list)  # ops in no child scope, per step


@dataclass
class ProfilerRun:
    calls: dict[tuple[str, int], ProfiledCall]
    forward: list[float]  # the whole forward's scope, per step
    kernel_total: list[float]  # every kernel inside it
    root_ops: list[list[tuple[str, float]]]  # ops of the root outside every layer scope, per step


def _seconds(node: Any) -> float:
    return (node.end_ns - node.start_ns) / 1e9


def _kernels(node: Any, types: Any) -> float:
    total = 0.0
    for c in node.children_node:
        total += _seconds(c) if c.type == types.DygraphKernelLaunch else _kernels(c, types)
    for d in getattr(node, "device_node", None) or []:
        if d.type == types.Kernel:
            total += _seconds(d)
    for rt in getattr(node, "runtime_node", None) or []:
        for d in rt.device_node:
            if d.type == types.Kernel:
                total += _seconds(d)
    return total


def _scan(node: Any, seen: dict, run: ProfilerRun, types: Any) -> tuple[float, float, list[tuple[str, float]]]:
    """(kernel seconds, op seconds, direct ops) under ``node``; nested layer scopes recorded as calls."""
    k_sum = op_sum = 0.0
    direct: list[tuple[str, float]] = []
    for c in node.children_node:
        if c.type == types.PythonUserDefined and c.name.startswith(SCOPE):
            path = c.name[len(SCOPE):]
            key = (path, seen[path])
            seen[path] += 1
            k, o, d = _scan(c, seen, run, types)
            pc = run.calls.setdefault(key, ProfiledCall(path, key[1]))
            pc.scope.append(_seconds(c))
            pc.kernel.append(k)
            pc.op_time.append(o)
            pc.direct_ops.append(d)
            k_sum, op_sum = k_sum + k, op_sum + o
        elif c.type == types.Operator:
            k = _kernels(c, types)
            direct.append((c.name.replace(" dygraph", ""), _seconds(c)))
            k_sum, op_sum = k_sum + k, op_sum + _seconds(c)
        else:
            k, o, d = _scan(c, seen, run, types)
            k_sum, op_sum = k_sum + k, op_sum + o
            direct.extend(d)
    return k_sum, op_sum, direct


def _targets() -> list[Any]:
    import paddle
    import paddle.profiler as profiler

    gpu = paddle.device.get_device().startswith("gpu")
    return [profiler.ProfilerTarget.CPU] + ([profiler.ProfilerTarget.GPU] if gpu else [])


def _sync() -> None:
    import paddle

    if paddle.device.get_device().startswith("gpu"):
        paddle.device.synchronize()


def profile_forward(model: Any, args: Sequence[Any], *, repeat: int = 5, warmup: int = 2,
                    training: bool = False) -> ProfilerRun:
    """``repeat`` forwards under Paddle's profiler, kernels grouped by the layer call that issued them."""
    import paddle
    import paddle.profiler as profiler
    from paddle.base.core import TracerEventType

    paths = {id(layer): p for p, layer in model.named_sublayers()}
    open_events: list[Any] = []

    def pre(layer, inputs):
        event = profiler.RecordEvent(SCOPE + paths.get(id(layer), "?"))
        event.begin()
        open_events.append(event)

    def post(layer, inputs, out):
        open_events.pop().end()

    was = model.training
    model.train() if training else model.eval()
    handles = []
    try:
        with contextlib.nullcontext() if training else paddle.no_grad():
            for _ in range(warmup):
                model(*args)
            for _, layer in model.named_sublayers():
                handles += [layer.register_forward_pre_hook(pre), layer.register_forward_post_hook(post)]
            prof = profiler.Profiler(targets=_targets(), on_trace_ready=lambda p: None)
            prof.start()
            try:
                for _ in range(repeat):
                    with profiler.RecordEvent(SCOPE):
                        model(*args)
                        _sync()
                    prof.step()
            finally:
                prof.stop()
    finally:
        for h in handles:
            h.remove()
        model.train() if was else model.eval()
    run = ProfilerRun({}, [], [], [])
    for root in prof.profiler_result.get_data().values():
        for step in root.children_node:
            if step.type != TracerEventType.ProfileStep:
                continue
            for c in step.children_node:
                if c.type == TracerEventType.PythonUserDefined and c.name == SCOPE:
                    k, _, d = _scan(c, defaultdict(int), run, TracerEventType)
                    run.forward.append(_seconds(c))
                    run.kernel_total.append(k)
                    run.root_ops.append(d)
    return run


def profile_backward(backward: Callable[[], Any]) -> list[tuple[str, float]]:
    """Run ``backward()`` under Paddle's profiler: its grad-node events in run order, ``(node name, seconds)``
    (``'Conv2dGradNodeFinal'``; ``'GradNodeAccumulation'`` are the parameter-gradient accumulations)."""
    import paddle.profiler as profiler
    from paddle.base.core import TracerEventType

    prof = profiler.Profiler(targets=_targets(), on_trace_ready=lambda p: None)
    prof.start()
    try:
        backward()
        _sync()
    finally:
        prof.stop()
    events: list[tuple[str, float]] = []

    def walk(node: Any) -> None:
        for c in node.children_node:
            if c.type == TracerEventType.Operator and c.name.startswith("Global_"):
                events.append((c.name[len("Global_"):], _seconds(c)))
            else:
                walk(c)

    for root in prof.profiler_result.get_data().values():
        walk(root)
    return events
