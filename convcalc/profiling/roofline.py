"""The roofline model, pure: a row's bound and class from its FLOPs, bytes and measured time; rank statistics.

No paddle and no clock here: every function takes numbers and returns numbers, so
each is tested on hand-made values.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from convcalc.profiling.records import Bound, Ceilings, ProfileRow, Reason

__all__ = [
    "FAR_ABOVE", "roofline_times", "classify", "overhead_reason", "median_iqr", "spearman", "flops_time_rank",
    "kernel_rank", "misleading", "class_summary", "split_by_keys", "op_key",
]

FAR_ABOVE = 10.0  # "measured far above both roofs": at least this many times the roofline bound


def roofline_times(flops: int | None, nbytes: int, ceilings: Ceilings) -> tuple[float | None, float]:
    """``(FLOPs / peak, bytes / bandwidth at that working set)``; the first is None when FLOPs are unknown."""
    t_compute = None if flops is None else flops / ceilings.peak_flops
    t_memory = nbytes / ceilings.bandwidth_at(nbytes) if nbytes else 0.0
    return t_compute, t_memory


def classify(t_compute: float | None, t_memory: float, measured: float, far: float = FAR_ABOVE) -> Bound:
    """The issue's three classes, from the numbers alone.

    Overhead-bound when the measured time is at least ``far`` times the roofline bound
    (neither the FLOPs nor the bytes explain it); else compute- or memory-bound by the
    larger of the two roofline times.

    >>> classify(1e-3, 2e-4, 2e-3).value, classify(1e-4, 2e-4, 3e-4).value, classify(1e-4, 2e-4, 2e-3).value
    ('compute-bound', 'memory-bound', 'overhead-bound')
    """
    bound = max(t_compute or 0.0, t_memory)
    if measured >= far * bound:
        return Bound.OVERHEAD
    return Bound.COMPUTE if (t_compute or 0.0) >= t_memory else Bound.MEMORY


def overhead_reason(median: float, bound: float, faults: float | None, ceilings: Ceilings) -> Reason:
    """Why an overhead-bound row is slow, from its numbers: first-touch page faults (their cost is at
    least half its time), a fixed per-call cost (at most 3 layer-call floors, or a bound below one
    floor), or else a kernel far below the machine's roofs."""
    if (faults or 0.0) * ceilings.fault_cost >= 0.5 * median:
        return Reason.PAGE_FAULTS
    if median <= 3 * ceilings.call_floor or bound < ceilings.call_floor:
        return Reason.PER_CALL
    return Reason.SLOW_KERNEL


def median_iqr(xs: Sequence[float]) -> tuple[float, float]:
    """Median and inter-quartile range (p75 - p25) of a sample."""
    if not xs:
        return 0.0, 0.0
    if len(xs) < 2:
        return float(xs[0]), 0.0
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return statistics.median(xs), q[2] - q[0]


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation, ties at their average rank; nan when either side is constant.

    >>> spearman([1, 2, 3], [10, 30, 20])
    0.5
    """
    if len(xs) != len(ys):
        raise ValueError("spearman needs two samples of the same length")
    rx, ry = _ranks(xs), _ranks(ys)
    if len(rx) < 2:
        return math.nan
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    num = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    den = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return num / den if den else math.nan


def flops_time_rank(rows: Sequence[ProfileRow]) -> float:
    """Spearman's rank correlation of the rows' FLOPs and their measured time (rows with known FLOPs)."""
    known = [r for r in rows if r.flops is not None]
    return spearman([r.flops for r in known], [r.median for r in known])


def kernel_rank(rows: Sequence[ProfileRow]) -> float | None:
    """Spearman's rank correlation of the hook times and Paddle's profiler kernel times, layer rows only."""
    both = [r for r in rows if r.profiler_kernel is not None]
    return spearman([r.median for r in both], [r.profiler_kernel for r in both]) if len(both) > 1 else None


def misleading(rows: Sequence[ProfileRow], flops_total: int, n: int = 5) -> tuple[tuple[int, float, float], ...]:
    """The rows whose share of time differs most from their share of FLOPs: ``(row index, time share, FLOP share)``."""
    total = flops_total or 1
    out = [(r.index, r.share, (r.flops or 0) / total) for r in rows]
    return tuple(sorted(out, key=lambda t: -abs(t[1] - t[2]))[:n])


def class_summary(rows: Sequence[ProfileRow], flops_total: int) -> tuple[tuple[Bound, int, float, float], ...]:
    """Per class: ``(class, rows, share of time, share of FLOPs)``."""
    out = {b: [0, 0.0, 0.0] for b in Bound}
    total = flops_total or 1
    for r in rows:
        acc = out[r.bound_class]
        acc[0] += 1
        acc[1] += r.share
        acc[2] += (r.flops or 0) / total
    return tuple((b, int(v[0]), v[1], v[2]) for b, v in out.items())


def op_key(name: str) -> str:
    """Paddle's op name as a report key: ``'relu_'`` (in place) -> ``'relu'``."""
    name = name.strip()
    return name[:-1] if name.endswith("_") else name


def split_by_keys(keys: Sequence[str], ops: Sequence[tuple[str, float]]) -> tuple[list[float], list[str]]:
    """Match a container's functional rows (their op keys, in order) to the ops it ran (name, seconds, in order).

    Returns one weight per row (its matched op's seconds; 0 when none matched) and the
    names of the ops no row matched (eager ops with no row, such as ``expand`` of a
    parameter).

    >>> split_by_keys(["add", "relu"], [("add", 2.0), ("expand", 1.0), ("relu_", 3.0)])
    ([2.0, 3.0], ['expand'])
    """
    weights = [0.0] * len(keys)
    used = [False] * len(ops)
    j = 0
    for i, key in enumerate(keys):
        for jj in range(j, len(ops)):
            if not used[jj] and op_key(ops[jj][0]) == key:
                weights[i] = ops[jj][1]
                used[jj] = True
                j = jj + 1
                break
    return weights, [o[0] for o, u in zip(ops, used) if not u]
