"""Cold-start time of ``convcalc formulas`` and ``convcalc explain conv2d ...``.

Each command runs in a fresh interpreter (``sys.executable -m convcalc ...``,
output discarded), ``--runs`` times (default 7, at least 5); the median is
printed next to a bare ``python -c "import sympy"`` baseline measured in the
same run, with the ratio -- both wall-clock and CPU time (user + sys of the
child), since CPU time barely moves when the machine is busy.  Goal (issue 2): <= 0.8 s and <= 1.5x the baseline.

    python benchmarks/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = {
    'python -c "import sympy"  (baseline)': [sys.executable, "-c", "import sympy"],
    "convcalc formulas": [sys.executable, "-m", "convcalc", "formulas"],
    "convcalc explain conv2d --input 3x32x32 --out-channels 6 --kernel 3": [
        sys.executable, "-m", "convcalc", "explain", "conv2d",
        "--input", "3x32x32", "--out-channels", "6", "--kernel", "3",
    ],
}
# Cold means a fresh interpreter, not a missing bytecode cache: with
# PYTHONDONTWRITEBYTECODE set (as in some sandboxes) convcalc's own modules
# would be compiled from source on every run (~0.08 s) while sympy's come
# precompiled from site-packages.  --keep-env measures the environment as is.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
# The convcalc measured is this checkout's: first on PYTHONPATH, and each command runs in its folder (``-m`` and
# ``-c`` put the current folder before PYTHONPATH: from another checkout's folder, that one would run).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH", "")) if p)
GOAL_SECONDS = 0.8
GOAL_RATIO = 1.5


def time_once(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one cold run; CPU time is less sensitive to machine load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _load() -> str:
    try:
        import os

        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs per command (>= 5; default 7)")
    parser.add_argument("--keep-env", action="store_true", help="keep PYTHONDONTWRITEBYTECODE if set")
    args = parser.parse_args(argv)
    if args.keep_env:
        ENV.update(os.environ)
    runs = max(5, args.runs)
    for cmd in COMMANDS.values():  # warm the OS file cache and write the .pyc files once
        time_once(cmd)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(runs):  # interleave so load changes hit every command alike
        for name, cmd in COMMANDS.items():
            samples[name].append(time_once(cmd))
    wall = {name: statistics.median(w for w, _ in s) for name, s in samples.items()}
    cpu = {name: statistics.median(c for _, c in s) for name, s in samples.items()}
    base = next(iter(COMMANDS))
    print(f"median of {runs} cold runs each ({sys.executable}); load average {_load()}")
    if "PYTHONDONTWRITEBYTECODE" in os.environ and not args.keep_env:
        print("  (PYTHONDONTWRITEBYTECODE unset for the runs, so bytecode is cached as usual)")
    print(f"  {'wall':>7}  {'ratio':>5}  {'cpu':>7}  {'ratio':>5}  command")
    ok = True
    for name in COMMANDS:
        w_ratio, c_ratio = wall[name] / wall[base], cpu[name] / cpu[base]
        print(f"  {wall[name]:6.3f}s  {w_ratio:4.2f}x  {cpu[name]:6.3f}s  {c_ratio:4.2f}x  {name}")
        if name != base:
            ok = ok and wall[name] <= GOAL_SECONDS and w_ratio <= GOAL_RATIO
    print(f"goal (wall): <= {GOAL_SECONDS} s and <= {GOAL_RATIO}x the baseline: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
