"""Join a report's records with the measured times: one :class:`ProfileRow` per leaf record, then the totals.

Keys: a layer row is ``(path, n-th record of that path)`` and meets the ``(path, n-th
call)`` of the hooks.  A functional row (``<parent>:<op>#n``) is no layer, so no hook sees
it: its container's own time (inclusive minus its sublayers, summed over its calls) goes
to its functional rows, split by the op times Paddle's profiler recorded for the ops run
directly in that container, matched by op key in order (an equal split, with a note, when
the profiler did not run).  A container with no functional row keeps its own time
"outside every row".  Reads the report only through ``LayerRecord``'s public fields.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import prod
from typing import Any

from convcalc.analysis.records import LayerRecord, Report
from convcalc.profiling.records import DTYPE_BYTES, Bound, Ceilings, Profile, ProfileRow, TrainingStep
from convcalc.profiling.roofline import (
    class_summary,
    classify,
    flops_time_rank,
    kernel_rank,
    median_iqr,
    misleading,
    overhead_reason,
    roofline_times,
    split_by_keys,
)

__all__ = ["Settings", "build_profile", "bytes_moved"]

Key = tuple[str, int]


@dataclass(frozen=True)
class Settings:
    """What was asked for (stated in the output, so a user can rerun it)."""

    model: str
    dtype: str = "float32"
    threads: int = 1
    repeat: int = 20
    warmup: int = 3
    seed: int = 0
    allocator: str = "default"


def _numel(shape: Sequence[Any]) -> int:
    return int(prod(int(d) for d in shape))


def bytes_moved(rec: LayerRecord, width: int, held_params: int = 0) -> int:
    """The least a row must move: its inputs, parameters and outputs, each once, at ``width`` bytes a value.

    ``held_params``: the parameters of the layer the record belongs to, read on every call
    (the report counts them on a layer's first call only).
    """
    outputs = rec.output_shapes or (rec.output_shape,)
    values = sum(_numel(s) for s in rec.input_shapes) + max(int(rec.params), held_params) + sum(
        _numel(s) for s in outputs)
    return values * width


def _layer_keys(records: Sequence[LayerRecord]) -> dict[int, Key]:
    nth: dict[str, int] = defaultdict(int)
    keys = {}
    for r in records:
        if not r.is_functional and r.path:
            keys[r.index] = (r.path, nth[r.path])
            nth[r.path] += 1
    return keys


def _container_self(timing: Any) -> dict[str, list[float]]:
    """Each container's own seconds per repeat (all its calls), the root's included (key ``""``)."""
    out: dict[str, list[float]] = {"": list(timing.root_self)}
    for (path, _), ct in timing.calls.items():
        if not ct.is_leaf:
            acc = out.setdefault(path, [0.0] * len(ct.self_times))
            for i, v in enumerate(ct.self_times):
                acc[i] += v
    return out


def _direct_ops(kernels: Any, path: str) -> list[tuple[str, float]]:
    """The ops Paddle's profiler saw directly in container ``path`` (its first step, all calls in order)."""
    if kernels is None:
        return []
    if path == "":
        return list(kernels.root_ops[0]) if kernels.root_ops else []
    ops: list[tuple[str, float]] = []
    for (p, _), pc in sorted(kernels.calls.items()):
        if p == path and pc.direct_ops:
            ops.extend(pc.direct_ops[0])
    return ops


def _functional_times(records, timing, kernels, notes: list[str]) -> tuple[dict[int, list[float]], list[float]]:
    """Seconds per repeat of each functional row, and the time outside every row."""
    by_parent: dict[str, list[LayerRecord]] = defaultdict(list)
    for r in records:
        if r.is_functional:
            by_parent[r.parent].append(r)
    times: dict[int, list[float]] = {}
    outside = [0.0] * len(timing.hooked)
    unmatched: dict[str, int] = defaultdict(int)
    for path, selfs in _container_self(timing).items():
        rows = by_parent.get(path, [])
        if not rows:
            for i, v in enumerate(selfs):
                outside[i] += v
            continue
        weights, extra = split_by_keys([r.kind for r in rows], _direct_ops(kernels, path))
        for name in extra:
            unmatched[name] += 1
        if sum(weights) <= 0:
            weights = [1.0] * len(rows)
            if len(rows) > 1:
                notes.append(f"{path or 'the root'}: its {len(rows)} functional ops share its own time equally "
                             "(no profiler op times)")
        total = sum(weights)
        for r, w in zip(rows, weights):
            times[r.index] = [v * w / total for v in selfs]
    if unmatched:
        notes.append("eager ops with no row of their own (their time stays with their container's functional rows): "
                     + ", ".join(f"{k} x{n}" for k, n in sorted(unmatched.items())))
    return times, outside


def _functional_backward(records, backward) -> dict[int, float]:
    """A container's backward nodes split among its functional rows by op key (forward order = reversed)."""
    by_parent: dict[str, list[LayerRecord]] = defaultdict(list)
    for r in records:
        if r.is_functional:
            by_parent[r.parent].append(r)
    out: dict[int, float] = {}
    for parent, rows in by_parent.items():
        per_repeat = backward.functional.get(parent)
        if not per_repeat:
            continue
        matched = [split_by_keys([r.kind for r in rows], list(reversed(nodes)))[0] for nodes in per_repeat]
        for i, r in enumerate(rows):
            out[r.index] = statistics.median(m[i] for m in matched)
    return out


def _training(backward, rows: Sequence[ProfileRow]) -> TrainingStep:
    med = statistics.median
    return TrainingStep(
        forward=med(backward.forward), backward=med(backward.backward), optimizer=med(backward.optimizer),
        step_unhooked=med(backward.step_unhooked), backward_on_rows=sum(r.backward or 0.0 for r in rows),
        backward_unclaimed=med(backward.unclaimed), backward_flops=sum(r.backward_flops or 0 for r in rows))


def build_profile(report: Report, timing: Any, ceilings: Ceilings, settings: Settings, *, kernels: Any = None,
                  faults: dict[Key, float] | None = None, backward: Any = None, training_cost: Any = None,
                  ) -> Profile:
    """The profile of ``report``'s leaf rows from the hook ``timing`` (``forward.ForwardTiming``), with
    Paddle's profiler run ``kernels`` (``checks.profiler_kernels.ProfilerRun``), page ``faults`` per layer
    call, and with ``--training`` the ``backward`` timing and the report's training cost."""
    width = DTYPE_BYTES[settings.dtype]
    notes: list[str] = []
    records = report.records
    keys = _layer_keys(records)
    func_times, outside = _functional_times(records, timing, kernels, notes)
    held: dict[str, int] = {}
    for r in records:
        if r.is_leaf and not r.is_functional:
            held.setdefault(r.path, int(r.params))
    timed: list[tuple[LayerRecord, list[float]]] = []
    for r in (r for r in records if r.is_leaf):
        if r.is_functional:
            t = func_times.get(r.index)
        else:
            ct = timing.calls.get(keys.get(r.index))
            t = ct.times if ct else None
        if t:
            timed.append((r, t))
        else:
            notes.append(f"{r.path}: not timed (the eager forward did not call it as the trace did)")
    measured = sum(statistics.median(t) for _, t in timed) + (statistics.median(outside) if outside else 0.0)
    bwd_rows = _functional_backward(records, backward) if backward is not None else {}
    train_rows = {tr.index: tr for tr in training_cost.rows} if training_cost is not None else {}
    rows = []
    for r, t in timed:
        key = keys.get(r.index)
        med, iqr = median_iqr(t)
        flops = int(r.flops) if r.has_rule else None
        nbytes = bytes_moved(r, width, 0 if r.is_functional else held.get(r.path, 0))
        t_c, t_m = roofline_times(flops, nbytes, ceilings)
        bound = max(t_c or 0.0, t_m)
        klass = classify(t_c, t_m, med)
        pc = kernels.calls.get(key) if kernels is not None and key is not None else None
        n_faults = (faults or {}).get(key) if key is not None else None
        if r.is_functional:
            bwd = bwd_rows.get(r.index)
            source = "container" + (", split by profiler" if kernels is not None else "")
        else:
            per = backward.per_call.get(key) if backward is not None else None
            bwd = statistics.median(per) if per else None
            source = "hooks"
        tr = train_rows.get(r.index)
        rows.append(ProfileRow(
            index=r.index, path=r.path, kind=r.kind, is_functional=r.is_functional, call=key[1] if key else 0,
            times=tuple(t), median=med, iqr=iqr, best=min(t), share=med / measured if measured else 0.0,
            flops=flops, bytes=nbytes, t_compute=t_c, t_memory=t_m, bound=bound,
            efficiency=bound / med if med > 0 else 0.0, bound_class=klass,
            reason=overhead_reason(med, bound, n_faults, ceilings) if klass is Bound.OVERHEAD else "",
            source=source, faults=n_faults,
            profiler_scope=statistics.median(pc.scope) if pc and pc.scope else None,
            profiler_kernel=statistics.median(pc.kernel) if pc and pc.kernel else None,
            backward=bwd, backward_flops=tr.backward if tr is not None else None,
        ))
    unhooked, unhooked_iqr = median_iqr(timing.unhooked)
    flops_total = sum(r.flops or 0 for r in rows)
    paired = [h / u for h, u in zip(timing.hooked, timing.unhooked) if u > 0]
    return Profile(
        model=settings.model, input_shapes=tuple(tuple(int(d) for d in s) for s in report.input_shapes),
        dtype=settings.dtype, threads=settings.threads, repeat=settings.repeat, warmup=settings.warmup,
        seed=settings.seed, allocator=settings.allocator, ceilings=ceilings, rows=tuple(rows), measured=measured,
        hooked=statistics.median(timing.hooked), unhooked=unhooked, unhooked_iqr=unhooked_iqr,
        outside=statistics.median(outside) if outside else 0.0, prediction=sum(r.bound for r in rows),
        flops_total=flops_total, flops_complete=all(r.flops is not None for r in rows),
        overhead_sum=measured / unhooked - 1 if unhooked else 0.0,
        overhead_paired=statistics.median(paired) - 1 if paired else 0.0, faults_per_forward=timing.faults,
        profiler_forward=statistics.median(kernels.forward) if kernels is not None and kernels.forward else None,
        profiler_kernels=(statistics.median(kernels.kernel_total)
                          if kernels is not None and kernels.kernel_total else None),
        training=_training(backward, rows) if backward is not None else None,
        rows_without_rule=tuple(r.path for r, _ in timed if not r.has_rule),
        flops_time_rank=flops_time_rank(rows), kernel_rank=kernel_rank(rows), classes=class_summary(rows, flops_total),
        misleading=misleading(rows, flops_total),
        notes=tuple(dict.fromkeys(notes)),
    )


def with_run_facts(profile: Profile, **facts: Any) -> Profile:
    """The profile with the facts of its run (start time, load before and after, allocator environment)."""
    return replace(profile, **facts)
