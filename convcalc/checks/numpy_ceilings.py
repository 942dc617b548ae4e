"""Truth for the profiler's ceilings: the same kernels in plain numpy (its own BLAS), in a child process.

A matmul of n x n counted n*n*(2n-1) FLOPs and in-place streams (``x += y``, ``x *= 1``) on
large arrays, best of ``repeat``.  The child sets its BLAS thread count by environment
before numpy loads.  Nothing of convcalc is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

__all__ = ["numpy_ceilings"]

_BENCH = r"""
import json, sys, time
import numpy as np
n, mib, reps = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
def best(f):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)
out = {"peak_flops": n * n * (2 * n - 1) / best(lambda: a @ b)}
numel = int(mib * 2**20) // 4
x = np.ones(numel, dtype=np.float32); y = np.full(numel, 0.5, dtype=np.float32)
out["add_"] = 3 * numel * 4 / best(lambda: np.add(x, y, out=x))
out["scale_"] = 2 * numel * 4 / best(lambda: np.multiply(x, 1.0, out=x))
out["bandwidth"] = max(out["add_"], out["scale_"])
print(json.dumps(out))
"""


def numpy_ceilings(threads: int = 1, *, matmul_n: int = 2048, stream_mib: float = 512, repeat: int = 5) -> dict:
    """``{'peak_flops', 'bandwidth', 'add_', 'scale_'}`` (FLOP/s, B/s) of float32 kernels in plain numpy."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", _BENCH, str(matmul_n), str(stream_mib), str(repeat)], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])
