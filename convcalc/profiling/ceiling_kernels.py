"""The kernels that measure a machine's ceilings with Paddle itself: a large matmul, in-place streams, a call.

Run in a child process (``python -m convcalc.profiling.ceiling_kernels DTYPE THREADS``, see
:func:`convcalc.profiling.ceilings.measure_in_child`): their large buffers would otherwise change
the profiled process's allocator state (glibc raises its mmap threshold after large frees) and so
the model's own timings.  The best of several runs is taken: a ceiling is what the machine *can*
do, and noise only slows a run down.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial

from convcalc.profiling import machine
from convcalc.profiling.records import DTYPE_BYTES, Ceilings

__all__ = ["measure_ceilings", "FULL", "QUICK"]

# (matmul n, stream operand sizes in MiB, repeats); the largest stream size is the DRAM roof
FULL = (2048, (0.125, 0.5, 2, 8, 32, 128, 512), 7)
QUICK = (512, (0.125, 2, 32), 3)  # for tests: seconds, not tens of seconds


def _best(fn: Callable[[], object], repeat: int, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        machine.synchronize()
        t = time.perf_counter()
        fn()
        machine.synchronize()
        times.append(time.perf_counter() - t)
    return min(times), times


def _call_floors(dtype: str) -> tuple[float, float]:
    """The hooked time of a layer call that does almost nothing (ReLU on one value), and of one bare op."""
    import paddle
    from paddle import nn

    one = paddle.ones([1], dtype)
    op_floor = statistics.median(_best(lambda: paddle.nn.functional.relu(one), 200, warmup=20)[1])
    relu = nn.ReLU()
    stack: list[float] = []
    times: list[float] = []
    pre = relu.register_forward_pre_hook(lambda layer, args: stack.append(time.perf_counter()))
    post = relu.register_forward_post_hook(lambda layer, args, out: times.append(time.perf_counter() - stack.pop()))
    try:
        for _ in range(220):
            relu(one)
    finally:
        pre.remove()
        post.remove()
    return statistics.median(times[20:]), op_floor


def measure_ceilings(dtype: str = "float32", threads: int = 1, sizes: tuple = FULL) -> Ceilings:
    """Measure the ceilings now, in this process, at ``threads`` (set here) and ``dtype``.

    Streams run in place (``x += y``, ``x *= 1``): a fresh output of a large op is
    mmapped and page-faulted on every call, which measures the allocator, not the memory.
    """
    import paddle

    matmul_n, stream_mib, repeat = sizes
    machine.set_threads(threads)
    width = DTYPE_BYTES[dtype]
    paddle.seed(0)
    with paddle.no_grad():
        a = paddle.randn([matmul_n, matmul_n]).astype(dtype)
        b = paddle.randn([matmul_n, matmul_n]).astype(dtype)
        t_mm, mm_times = _best(partial(paddle.matmul, a, b), repeat)
        peak = matmul_n * matmul_n * (2 * matmul_n - 1) / t_mm
        del a, b
        curve, dram = [], {}
        for mib in stream_mib:
            numel = int(mib * 2**20) // width
            x = paddle.full([numel], 1.0, dtype)
            y = paddle.full([numel], 0.5, dtype)
            reps = max(repeat, int(min(200, 64 / mib)))
            t_add, _ = _best(partial(x.add_, y), reps)  # reads x and y, writes x
            curve.append((2 * numel * width, 3 * numel * width / t_add))
            if mib == max(stream_mib):
                dram["add_"] = 3 * numel * width / t_add
                t_scale, _ = _best(partial(x.scale_, 1.0), reps)  # reads x, writes x
                dram["scale_"] = 2 * numel * width / t_scale
            del x, y
        call_floor, op_floor = _call_floors(dtype)
    return Ceilings(
        device=machine.device_name(), dtype=dtype, threads=threads, peak_flops=peak,
        bandwidth=max(dram.values()), curve=tuple(curve), call_floor=call_floor, op_floor=op_floor,
        fault_cost=machine.page_fault_cost(), paddle=paddle.__version__,
        measured_at=_dt.datetime.now().isoformat(timespec="seconds"),
        kernels={"matmul_n": matmul_n, "matmul_seconds": mm_times, "stream_mib": max(stream_mib), "dram": dram,
                 "load": machine.load_average()},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="measure this machine's ceilings with Paddle; print them as JSON")
    parser.add_argument("dtype", choices=tuple(DTYPE_BYTES))
    parser.add_argument("threads", type=int)
    parser.add_argument("--quick", action="store_true", help="small kernels (tests)")
    args = parser.parse_args(argv)
    ceilings = measure_ceilings(args.dtype, args.threads, QUICK if args.quick else FULL)
    sys.stdout.write(json.dumps(asdict(ceilings)) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover - run by ceilings.measure_in_child
    raise SystemExit(main())
