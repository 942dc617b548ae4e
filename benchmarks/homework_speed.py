"""Homework speed (issue 21, Deliver 7), as ratios to ``python -c "import paddle"`` measured in the same run.

The goals were set in seconds on an idle machine: ``convcalc check`` of one answer file with a
model question <= 1.5 s, a class of 200 files <= 6 s, ``verify-op`` <= 2.5 s per operator.  On
this machine, idle, ``import paddle`` takes ~1.85 s (its CPU time), so the goals are ratios of
**0.8x**, **3.3x** and **1.4x** ``import paddle``; a loaded machine slows both sides alike, so a
ratio holds where seconds do not.  Every line prints wall and CPU seconds (CPU of the child
process tree: what a loaded machine inflates least) and both as ratios, with the load average
before and after.

* check, one file: ``examples/homework/chapter5_student.toml`` (LeNet's per-layer table, a model
  question) with ``--questions``, after one run that filled the model cache (a fresh cache folder
  per benchmark run; the cold run is printed too);
* check, a class: 200 files (the answer key with planted mistakes, an unreadable answer in a
  few, two broken files) with ``--questions`` and ``--gradebook``;
* verify-op: one cold ``python -m convcalc verify-op`` per operator (the student's loop Conv2D,
  the book's Conv2D, the book's Pool2D with max and avg), sandbox included.

    python benchmarks/homework_speed.py [--runs 3] [--students 200] [--part check|verify|all]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "homework"
OPS = ROOT / "tests" / "data" / "homework" / "ops"
GOALS = {"one file": 0.8, "class": 3.3, "verify-op": 1.4}
"""Ratio goals: 1.5 s, 6 s and 2.5 s over the ~1.85 s ``import paddle`` of an idle machine."""


def student_file(key: str, i: int) -> str:
    """The key with a few planted mistakes, different per student."""
    text = key.replace("[homework]", f'[homework]\nstudent_id = "s{i:04d}"', 1)
    if i % 3 == 0:
        text = text.replace("params = 168", "params = 162", 1)  # bias forgotten
    if i % 5 == 0:
        text = text.replace("flops = 151200", "flops = 145800", 1)  # MACs
    if i % 7 == 0:
        text = text.replace("params = 2416", "params = 2400", 1)  # one table cell
    if i % 40 == 0:
        text = text.replace("params = 10164", 'params = "10164"', 1)  # an unreadable answer
    if i % 100 == 99:
        text = "this is not [[ toml"  # a broken file
    return text


def timed(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the child process tree, exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = perf_counter()
    code = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    wall = perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), code


def median(cmd: list[str], env: dict, runs: int) -> tuple[float, float, int]:
    got = [timed(cmd, env) for _ in range(runs)]
    return statistics.median(g[0] for g in got), statistics.median(g[1] for g in got), got[-1][2]


def line(label: str, value: tuple[float, float, int], paddle: tuple[float, float, int], goal: float | None) -> None:
    wall, cpu, code = value
    ratio = f"x{wall / paddle[0]:.2f} wall, x{cpu / paddle[1]:.2f} CPU"
    verdict = ""
    if goal is not None:
        verdict = f"  goal <= x{goal:g}: {'met' if cpu / paddle[1] <= goal else 'MISSED'} (CPU)"
    print(f"  {label:<58} {wall:6.2f} s wall {cpu:6.2f} s CPU  {ratio}  exit {code}{verdict}")


def check_part(paddle: tuple, env: dict, runs: int, students: int) -> None:
    cc = [sys.executable, "-m", "convcalc", "check"]
    questions = EXAMPLES / "chapter5_questions.toml"
    student = [str(EXAMPLES / "chapter5_student.toml"), "--questions", str(questions)]
    line(
        "check, one file with a model question, cold (no cache)",
        median(cc + student + ["--no-cache"], env, 1),
        paddle,
        None,
    )
    timed(cc + student, env)  # fills the cache, as a teacher's --answer-key run or a first student does
    line(
        "check, one file with a model question (cache filled)",
        median(cc + student, env, runs),
        paddle,
        GOALS["one file"],
    )
    key = (EXAMPLES / "chapter5_key.toml").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        for i in range(students):
            (folder / f"student{i:04d}.toml").write_text(student_file(key, i), encoding="utf-8")
        book = Path(tmp) / "grades.csv"
        got = median(cc + [str(folder), "--questions", str(questions), "--gradebook", str(book)], env, runs)
        line(f"check, a class of {students} files (--gradebook)", got, paddle, GOALS["class"])


def _operators() -> dict[str, tuple[str, str]]:
    ops = {"verify-op, a student's loop Conv2D (good_conv.py)": (f"{OPS}/good_conv.py:Conv2D", "conv2d")}
    spec = importlib.util.find_spec("convcalc.models.book")
    if spec and spec.origin:
        ops["verify-op, the book's Conv2D"] = (f"{spec.origin}:Conv2D", "conv2d")
        ops["verify-op, the book's Pool2D (max and avg)"] = (f"{spec.origin}:Pool2D", "pool2d")
    return ops


def verify_part(paddle: tuple, env: dict, runs: int) -> None:
    for label, (target, kind) in _operators().items():
        cmd = [sys.executable, "-m", "convcalc", "verify-op", target, "--kind", kind]
        line(label, median(cmd, env, runs), paddle, GOALS["verify-op"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("check", "verify", "all"), default="all")
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="runs per line (median)")
    args = parser.parse_args()
    runs = max(1, args.runs)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "CONVCALC_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} cores)")
        paddle = median([sys.executable, "-c", "import paddle"], env, runs)
        label = 'python -c "import paddle" (the baseline)'
        print(f"  {label:<58} {paddle[0]:6.2f} s wall {paddle[1]:6.2f} s CPU")
        if args.part in ("check", "all"):
            check_part(paddle, env, runs, args.students)
        if args.part in ("verify", "all"):
            verify_part(paddle, env, runs)
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
