"""The machine a profile runs on: its name, thread setting, allocator, clock synchronisation and load.

Paddle is imported inside the functions that need it.
"""

from __future__ import annotations

import math
import mmap
import os
import platform
import time
from pathlib import Path

__all__ = [
    "cpu_name", "device_name", "on_gpu", "synchronize", "set_threads", "pin_allocator", "page_fault_cost",
    "load_average", "malloc_env",
]


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def on_gpu() -> bool:
    """True when Paddle's current device is a GPU (its kernels are then queued on a stream)."""
    import paddle

    return paddle.device.get_device().startswith("gpu")


def device_name() -> str:
    """The GPU's name when Paddle runs on one, else the CPU's."""
    if on_gpu():
        import paddle

        return paddle.device.cuda.get_device_name()
    return cpu_name()


def synchronize() -> None:
    """Wait for the device's queued work before a clock read; nothing on a CPU (eager CPU kernels return done)."""
    if on_gpu():
        import paddle

        paddle.device.synchronize()


def set_threads(threads: int) -> int:
    """Set Paddle's CPU math threads (MKL and OpenMP) and return the number in force.

    Paddle 3.3.1 starts with ``FLAGS_paddle_num_threads = 1`` whatever the core
    count, and has no public ``set_num_threads``: ``paddle.base.core.set_num_threads``
    (C++ ``platform::SetNumThreads``) changes MKL's and OpenMP's count at run time;
    the flag is set too, so ``paddle.get_flags`` tells the same.
    """
    import paddle
    from paddle.base import core

    core.set_num_threads(int(threads))
    paddle.set_flags({"FLAGS_paddle_num_threads": int(threads)})
    return int(paddle.get_flags("FLAGS_paddle_num_threads")["FLAGS_paddle_num_threads"])


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def pin_allocator(mmap_threshold: int = 32 * 2**20, trim_threshold: int = 2**30) -> bool:
    """Fix glibc malloc's thresholds (``mallopt``): outputs up to ``mmap_threshold`` come from the heap
    and freed memory stays there, so a large eager output is not page-faulted afresh on every call
    and the timings no longer depend on what the process ran before (glibc raises its mmap threshold
    after frees).  The environment form is ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_``.
    Linux/glibc only: False elsewhere (nothing changed)."""
    import ctypes
    import ctypes.util

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))
    except (OSError, AttributeError):
        return False


def page_fault_cost(mib: int = 64, repeat: int = 3) -> float:
    """Seconds per minor page fault: the first write to each page of a fresh anonymous mapping (best of ``repeat``)."""
    page = mmap.PAGESIZE
    best = math.inf
    for _ in range(repeat):
        m = mmap.mmap(-1, mib * 2**20)
        try:
            t = time.perf_counter()
            for i in range(0, len(m), page):
                m[i] = 1
            best = min(best, (time.perf_counter() - t) / (len(m) // page))
        finally:
            m.close()
    return best


def load_average() -> tuple[float, ...]:
    """The 1-, 5- and 15-minute load averages (empty where the system does not tell)."""
    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except OSError:
        return ()


def malloc_env() -> tuple[tuple[str, str], ...]:
    """The allocator settings in the environment (they change eager CPU times a lot: docs/profile.md)."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"))
