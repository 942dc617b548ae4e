"""Homework checking speed (issue 11, point 6).

Class part (goal <= 10 s): writes 200 answer files for examples/homework/chapter5_questions.toml
(the answer key with planted mistakes: bias forgotten, MACs for FLOPs, a wrong
table cell, an unreadable answer in a few, a broken file) into a temporary
folder, then runs ``convcalc check FOLDER --questions ... --gradebook`` as a
user would (a fresh process, paddle and the LeNet model question included).
Prints the seconds, the ratio to the 10 s goal, and the ratio to grading a
single file the same way (the fixed cost of a run).

verify-op part (goal <= 3 s per operator, sandbox start included): runs ``verify_op`` in this
process on a student's loop Conv2D, the book's Conv2D and Pool2D, each in the sandbox and, as
the baseline in the same run, without it (``--no-sandbox``: same worker, same protocol, no
namespaces).  Prints wall seconds (median of ``--runs``), the CPU seconds of the worker and of
the checker (less sensitive to a busy machine: on an idle machine the wall time is about the
larger of the two, as they overlap), the sandbox's overhead as a ratio, the start of an empty
sandbox alone (unshare + the read-only root, no paddle), and one cold CLI run
(``python -m convcalc verify-op``, a fresh process: the checker's own paddle import included).

    python benchmarks/homework_speed.py [--part class|verify|all] [--students 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EXAMPLES = ROOT / "examples" / "homework"
CLASS_GOAL_S = 10.0

# --------------------------------------------------------------------------- class part


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


def run_check(folder_or_file: Path, extra: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of the child (what a loaded machine does not inflate), exit code."""
    cmd = [sys.executable, "-m", "convcalc", "check", str(folder_or_file), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def class_part(students: int) -> None:
    key = (EXAMPLES / "chapter5_key.toml").read_text(encoding="utf-8")
    questions = EXAMPLES / "chapter5_questions.toml"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        for i in range(students):
            (folder / f"student{i:04d}.toml").write_text(student_file(key, i), encoding="utf-8")
        one = Path(tmp) / "one.toml"
        one.write_text(student_file(key, 1), encoding="utf-8")
        t_one, c_one, _ = run_check(one, ["--questions", str(questions), "--json"])
        book = Path(tmp) / "grades.csv"
        t_class, c_class, code = run_check(folder, ["--questions", str(questions), "--gradebook", str(book)])
        rows = len(book.read_text(encoding="utf-8").splitlines()) - 1 if book.exists() else 0
    print(f"class mode: {students} files in {t_class:.2f} s wall, {c_class:.2f} s CPU (exit {code}, {rows} rows)")
    goal = CLASS_GOAL_S
    print(f"  ratio to the goal ({goal:g} s): wall {t_class / goal:.2f}, CPU {c_class / goal:.2f}  (goal <= 1)")
    print(f"  one file alone: {t_one:.2f} s wall, {c_one:.2f} s CPU; the class costs {c_class / c_one:.1f}x one file")
    print(f"  per extra file: {1000 * (c_class - c_one) / max(students - 1, 1):.1f} ms CPU")


# --------------------------------------------------------------------------- verify-op part

VERIFY_GOAL_S = 3.0
OPS = ROOT / "tests" / "data" / "homework" / "ops"


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _operators() -> dict[str, tuple[str, str]]:
    ops = {"student loop Conv2D (good_conv.py)": (f"{OPS}/good_conv.py:Conv2D", "conv2d")}
    spec = importlib.util.find_spec("convcalc.models.book")
    if spec and spec.origin:
        ops["book Conv2D"] = (f"{spec.origin}:Conv2D", "conv2d")
        ops["book Pool2D (max and avg)"] = (f"{spec.origin}:Pool2D", "pool2d")
    return ops


def _time_verify(target: str, kind: str, isolate: bool, runs: int) -> tuple[float, float, float, bool]:
    """Median (wall, worker CPU, checker CPU) seconds and whether every run passed."""
    from convcalc.homework.operators.verify_op import verify_op

    walls, worker, checker, passed = [], [], [], True
    for _ in range(runs):
        w0, c0, t0 = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF), time.perf_counter()
        r = verify_op(target, kind, isolate=isolate)
        walls.append(time.perf_counter() - t0)
        worker.append(_cpu(resource.RUSAGE_CHILDREN) - w0)
        checker.append(_cpu(resource.RUSAGE_SELF) - c0)
        passed = passed and r.passed
    return statistics.median(walls), statistics.median(worker), statistics.median(checker), passed


def _cli(target: str, kind: str) -> tuple[float, float, int]:
    """One cold ``python -m convcalc verify-op`` run: (wall, CPU of the whole process tree, exit code)."""
    c0, t0 = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    cmd = [sys.executable, "-m", "convcalc", "verify-op", target, "--kind", kind]
    code = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return time.perf_counter() - t0, _cpu(resource.RUSAGE_CHILDREN) - c0, code


def _sandbox_start(runs: int) -> float:
    from convcalc.homework.operators import sandbox

    times = []
    for _ in range(runs):
        job = sandbox.new_job()
        (job / "files" / "p.py").write_text("")
        t0 = time.perf_counter()
        run = sandbox.start([sys.executable, "-I", "-S", "/job/p.py"], job)
        sandbox.first_frame(run, 30)
        run.wait()
        times.append(time.perf_counter() - t0)
        run.close()
    return statistics.median(times)


def verify_part(runs: int) -> None:
    import paddle  # noqa: F401 - the checker's own import, paid once per process, not per operator

    print(f"verify-op, median of {runs} run(s) per line; goal <= {VERIFY_GOAL_S:g} s per operator")
    print(f"  empty sandbox start (unshare, read-only root, PID 1, exit): {_sandbox_start(runs):.3f} s")
    for label, (target, kind) in _operators().items():
        b_wall, b_worker, b_checker, b_ok = _time_verify(target, kind, False, runs)
        wall, worker, checker, ok = _time_verify(target, kind, True, runs)
        print(f"  {label}:")
        for name, w, wc, cc, good in (
            ("sandboxed   ", wall, worker, checker, ok),
            ("--no-sandbox", b_wall, b_worker, b_checker, b_ok),
        ):
            verdict = "pass" if good else "FAIL"
            print(f"    {name} {w:6.2f} s wall; CPU {wc:5.2f} s worker, {cc:5.2f} s checker  {verdict}")
        print(
            f"    sandbox overhead x{wall / b_wall:.2f} wall, x{worker / max(b_worker, 1e-9):.2f} worker CPU;"
            f" ratio to the goal {wall / VERIFY_GOAL_S:.2f} wall, {max(worker, checker) / VERIFY_GOAL_S:.2f} CPU"
            " (goal <= 1.00)"
        )
    target, kind = _operators()["student loop Conv2D (good_conv.py)"]
    wall, cpu, code = _cli(target, kind)
    print(f"  cold CLI run (good_conv.py): {wall:.2f} s wall, {cpu:.2f} s CPU of the process tree, exit {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("class", "verify", "all"), default="all")
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="verify-op runs per operator and mode (median)")
    args = parser.parse_args()
    if args.part in ("class", "all"):
        class_part(args.students)
    if args.part in ("verify", "all"):
        verify_part(max(1, args.runs))


if __name__ == "__main__":
    main()
