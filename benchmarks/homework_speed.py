"""Homework checking speed: a 200-student class end to end (goal <= 10 s).

Class part: writes 200 answer files for examples/homework/chapter5_questions.toml
(the answer key with planted mistakes: bias forgotten, MACs for FLOPs, a wrong
table cell, an unreadable answer in a few, a broken file) into a temporary
folder, then runs ``convcalc check FOLDER --questions ... --gradebook`` as a
user would (a fresh process, paddle and the LeNet model question included).
Prints the seconds, the ratio to the 10 s goal, and the ratio to grading a
single file the same way (the fixed cost of a run).

    python benchmarks/homework_speed.py [--students 200]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "homework"
CLASS_GOAL_S = 10.0


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=200)
    args = parser.parse_args()
    class_part(args.students)


if __name__ == "__main__":
    main()
