"""The roofline model and the join, pure: hand-made ceilings, rows and timings, hand-worked answers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pytest

from convcalc.profiling.records import Bound, Ceilings, ProfileRow, Reason
from convcalc.profiling.roofline import (
    FAR_ABOVE,
    class_summary,
    classify,
    median_iqr,
    misleading,
    overhead_reason,
    roofline_times,
    spearman,
    split_by_keys,
)

CEIL = Ceilings(device="cpu", dtype="float32", threads=1, peak_flops=1e10, bandwidth=1e9,
                curve=((1e3, 4e9), (1e5, 1e10), (1e7, 1e9)), call_floor=5e-6, op_floor=3e-6, fault_cost=1e-5,
                paddle="3.3.1", measured_at="2026-01-01T00:00:00")


def test_the_ridge_and_the_bandwidth_curve():
    assert CEIL.ridge == 10.0 and CEIL.top_bandwidth == 1e10
    # a busy machine can make the DRAM kernels beat the curve's one kernel: the best measured stands
    assert replace(CEIL, bandwidth=2e10).top_bandwidth == 2e10
    assert CEIL.bandwidth_at(10) == 4e9 and CEIL.bandwidth_at(1e9) == 1e9  # clamped at both ends
    assert CEIL.bandwidth_at(1e5) == pytest.approx(1e10)
    assert math.isclose(CEIL.bandwidth_at(1e4), math.sqrt(4e9 * 1e10))  # log-log midpoint
    assert math.isclose(CEIL.bandwidth_at(1e6), math.sqrt(1e10 * 1e9))


def test_roofline_times_by_hand():
    # 1e6 FLOPs at 1e10 FLOP/s; 1e5 bytes at 1e10 B/s (the curve at 1e5)
    assert roofline_times(10**6, 10**5, CEIL) == pytest.approx((1e-4, 1e-5))
    t_c, t_m = roofline_times(None, 10**7, CEIL)
    assert t_c is None and t_m == pytest.approx(1e-2)


@pytest.mark.parametrize("t_c, t_m, measured, want", [
    (1e-3, 1e-4, 1e-3, Bound.COMPUTE),
    (1e-4, 1e-3, 2e-3, Bound.MEMORY),
    (None, 1e-3, 2e-3, Bound.MEMORY),  # FLOPs unknown: the bytes still bound it
    (1e-4, 1e-3, FAR_ABOVE * 1e-3, Bound.OVERHEAD),  # exactly 10x the bound: "far above"
    (1e-4, 1e-3, FAR_ABOVE * 1e-3 * 0.999, Bound.MEMORY),
    (1e-3, 1e-3, 1e-3, Bound.COMPUTE),  # a tie is compute
])
def test_classes_at_the_thresholds(t_c, t_m, measured, want):
    assert classify(t_c, t_m, measured) is want


def test_overhead_reasons():
    # 1,000 faults x 10 us = 10 ms of a 15 ms row: page faults
    assert overhead_reason(15e-3, 1e-4, 1000, CEIL) is Reason.PAGE_FAULTS
    # 12 us, at most 3 layer-call floors of 5 us: per-call cost; so is any row whose bound is below one floor
    assert overhead_reason(12e-6, 1e-7, 0, CEIL) is Reason.PER_CALL
    assert overhead_reason(1e-3, 1e-6, None, CEIL) is Reason.PER_CALL
    # 1 ms on a 20 us bound, few faults: the kernel itself is slow
    assert overhead_reason(1e-3, 2e-5, 3, CEIL) is Reason.SLOW_KERNEL


def test_spearman_hand_cases():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(math.sqrt(3) / 2)  # ties take their average rank
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3])) and math.isnan(spearman([1], [2]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_median_and_iqr():
    assert median_iqr([4.0, 1.0, 3.0, 2.0, 5.0]) == (3.0, 2.0)
    assert median_iqr([7.0]) == (7.0, 0.0) and median_iqr([]) == (0.0, 0.0)


def test_split_matches_ops_by_key_in_order():
    assert split_by_keys(["add", "relu"], [("add", 2.0), ("expand", 1.0), ("relu_", 3.0)]) == ([2.0, 3.0], ["expand"])
    # two adds: the first row takes the first add; an op the rows never name is left over
    assert split_by_keys(["add", "add"], [("add", 1.0), ("add", 4.0)]) == ([1.0, 4.0], [])
    assert split_by_keys(["matmul"], [("scale", 1.0)]) == ([0.0], ["scale"])


def _row(index, share, flops, klass=Bound.COMPUTE) -> ProfileRow:
    return ProfileRow(index=index, path=f"l{index}", kind="Conv2D", is_functional=False, call=0, times=(1.0,),
                      median=1.0, iqr=0.0, best=1.0, share=share, flops=flops, bytes=1, t_compute=None, t_memory=0.0,
                      bound=0.0, efficiency=0.0, bound_class=klass)


def test_misleading_and_class_summary():
    rows = [_row(0, 0.5, 90), _row(1, 0.4, 5, Bound.OVERHEAD), _row(2, 0.1, None, Bound.MEMORY)]
    worst = misleading(rows, 95, n=2)
    assert [i for i, _, _ in worst] == [0, 1]  # 50% of time for 95% of FLOPs, then 40% for 5%
    assert worst[1][1:] == pytest.approx((0.4, 5 / 95))
    summary = {b: rest for b, *rest in class_summary(rows, 95)}
    assert summary[Bound.COMPUTE] == [1, 0.5, pytest.approx(90 / 95)]
    assert summary[Bound.MEMORY] == [1, 0.1, 0.0] and summary[Bound.OVERHEAD][0] == 1


def test_records_refuse_a_misspelt_class():
    with pytest.raises(ValueError):
        _row(0, 1.0, 1, klass="compute")
    with pytest.raises(ValueError):
        Ceilings(**{**CEIL.__dict__, "peak_flops": 0.0})


# ------------------------------------------------------------------ the join, on a real report and made-up times
@dataclass
class _Call:
    is_leaf: bool
    times: list = field(default_factory=list)
    self_times: list = field(default_factory=list)


@dataclass
class _Timing:
    calls: dict
    hooked: list
    unhooked: list
    root_self: list
    faults: float = 0.0


@dataclass
class _Kernels:
    calls: dict
    forward: list
    kernel_total: list
    root_ops: list


@dataclass
class _Scope:
    scope: list
    kernel: list
    direct_ops: list


def _report():
    import paddle

    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(1, 2, 3)
            self.fc = paddle.nn.Linear(2, 2)

        def forward(self, x):
            y = self.conv(x)
            y = paddle.nn.functional.relu(y + y)  # two functional ops of the root: add, relu
            return self.fc(y.mean([2, 3]))

    from convcalc.analysis import analyze

    return analyze(Net(), (1, 1, 5, 5), convention="flops", name="net")


def _timing():
    return _Timing(calls={("conv", 0): _Call(True, [2.0, 4.0], [2.0, 4.0]), ("fc", 0): _Call(True, [1.0, 1.0],
                                                                                          [1.0, 1.0])},
                   hooked=[10.0, 12.0], unhooked=[9.0, 10.0], root_self=[3.0, 6.0])


def test_the_join_splits_a_containers_own_time_by_profiler_op_times():
    from convcalc.profiling.join import Settings, build_profile

    report = _report()
    functional = [r.kind for r in report.records if r.is_functional]
    assert functional[:2] == ["add", "relu"]
    ops = [("add", 1.0), ("relu", 2.0)] + [(k, 0.0) for k in functional[2:]]
    kernels = _Kernels(calls={("conv", 0): _Scope([2.5], [2.0], [[]]), ("fc", 0): _Scope([1.2], [1.0], [[]])},
                       forward=[11.0], kernel_total=[3.0], root_ops=[ops])
    p = build_profile(report, _timing(), CEIL, Settings("net", repeat=2), kernels=kernels)
    rows = {r.path: r for r in p.rows}
    # the root's own 3 s and 6 s: a third to the add, two thirds to the relu (profiler op times 1 : 2)
    assert rows[":add"].times == (1.0, 2.0) and rows[":relu"].times == (2.0, 4.0)
    assert rows["conv"].median == 3.0 and rows["conv"].profiler_scope == 2.5 and rows["conv"].profiler_kernel == 2.0
    assert p.outside == 0.0 and p.measured == pytest.approx(3.0 + 1.0 + 1.5 + 3.0)
    assert p.overhead_paired == pytest.approx(((10 / 9) + (12 / 10)) / 2 - 1)
    assert p.overhead_sum == pytest.approx(p.measured / 9.5 - 1)
    assert p.profiler_overhead == pytest.approx(11.0 / 9.5 - 1)


def test_the_join_without_the_profiler_splits_equally_and_says_so():
    from convcalc.profiling.join import Settings, build_profile

    report = _report()
    p = build_profile(report, _timing(), CEIL, Settings("net", repeat=2))
    n = sum(r.is_functional for r in report.records)
    rows = [r for r in p.rows if r.is_functional]
    assert [r.times for r in rows] == [(3.0 / n, 6.0 / n)] * n
    assert any(f"its {n} functional ops share its own time equally" in note for note in p.notes)
    assert p.profiler_forward is None and p.kernel_rank is None


def test_the_records_the_renderers_read_load_no_paddle():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, convcalc, convcalc.profiling.records, convcalc.profiling.roofline, convcalc.render.profile, "
            "convcalc.render.roofline; assert 'paddle' not in sys.modules, 'paddle imported'; "
            "assert callable(convcalc.profile) and convcalc.profile.__module__ == 'convcalc.profiling.run'")
    root = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
