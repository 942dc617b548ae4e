"""Speed of convcalc's analysis on the real-library corpus, against paddle.summary + paddle.flops.

Issue 20's goal: one ``analyze(model, input_size=...)`` takes at most 1.0x the time of one
``paddle.summary`` plus one ``paddle.flops`` of the same model, run right after it in the same
process, on every PaddleClas and PaddleSeg model of the corpus (median at most 0.5x), and the
fixed cost of an analysis is at most 0.2 s.  Each model runs in a fresh process (the
environment that has the libraries: see ``convcalc validate --help``), after one forward of the
model and two analyses of a tiny model (conv, batch norm, ReLU, pool, flatten, linear at
1x3x32x32): the second of those is the *fixed cost* of an analysis.  The *cold* cost, the first
analysis in a process that has imported only paddle (convcalc's own imports, sympy's among them,
included), is measured in three more processes.  Each model's ratio is of medians over three rounds taken in turns,
after the first analysis and the first summary + flops (``in_turns`` in
convcalc/checks/real_libraries/child.py says why the first calls mislead).
``--repeat N`` runs each model in N processes and reports the median ratio.  The load average
is printed first and last: the machine may be shared, and the seconds move with it (the ratios
much less).

    python benchmarks/real_libraries_speed.py --python ~/.cache/convcalc-corpus-venv/bin/python
    python benchmarks/real_libraries_speed.py --python PY --models HRNet_W18_C ResNet18 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_EACH, GOAL_MEDIAN, GOAL_FIXED = 1.0, 0.5, 0.2


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    from convcalc.checks.real_libraries import models as M
    from convcalc.checks.real_libraries.run import ENV_VARIABLE, environment_problem, run_one

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=os.environ.get(ENV_VARIABLE, sys.executable),
                        help="the interpreter of the environment that has the libraries")
    parser.add_argument("--models", nargs="+", default=None, help="default: every model of the corpus")
    parser.add_argument("--repeat", type=int, default=1, help="processes per model (median ratio)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures to FILE")
    args = parser.parse_args(argv)
    python = os.path.expanduser(args.python)
    problem = environment_problem(python)
    if problem:
        print(f"real_libraries_speed: {problem}; see `convcalc validate --help` to create the environment")
        return 2
    names = args.models or M.all_models()
    print(load())
    print(f"{'model':42} {'library':10} {'convcalc s':>10} {'summary+flops s':>15} {'ratio':>7}  {'load':>5}")
    ratios: dict[str, float] = {}
    started = time.perf_counter()
    colds = [run_one("--cold", python, args.timeout, "only") for _ in range(3)]
    cold = [r["cold_s"] for r in colds if "cold_s" in r]
    fixed = [r["warm_s"] for r in colds if "warm_s" in r]
    everything: list[dict] = [*colds]
    for name in names:
        runs = [run_one(name, python, args.timeout, "only") for _ in range(args.repeat)]
        everything += runs
        timed = [r for r in runs if isinstance(r.get("ratio"), (int, float)) and r.get("verdict") == "analysed"]
        fixed += [r["fixed_cost"]["warm_s"] for r in runs if "fixed_cost" in r]
        if not timed:
            print(f"{name:42} {M.library_of(name):10} {runs[0].get('verdict')}: {runs[0].get('reason', '')[:80]}")
            continue
        ratio = statistics.median(r["ratio"] for r in timed)
        ratios[name] = ratio
        ours = statistics.median(r["analysis_s"] for r in timed)
        theirs = statistics.median(r["summary_flops_s"] for r in timed)
        mark = "" if ratio <= GOAL_EACH else "  > 1.0x"
        print(f"{name:42} {M.library_of(name):10} {ours:10.2f} {theirs:15.2f} {ratio:6.2f}x  "
              f"{timed[0].get('load_after', 0):5.1f}{mark}", flush=True)
    if ratios:
        worst = max(ratios, key=ratios.get)
        median = statistics.median(ratios.values())
        print(f"\n{len(ratios)} models: median ratio {median:.2f}x (goal <= {GOAL_MEDIAN}), "
              f"worst {ratios[worst]:.2f}x {worst} (goal <= {GOAL_EACH}); "
              f"{sum(r > GOAL_EACH for r in ratios.values())} over {GOAL_EACH}x")
        for lib in ("PaddleSeg", "PaddleClas"):
            part = [r for n, r in ratios.items() if M.library_of(n) == lib]
            if part:
                print(f"  {lib}: median {statistics.median(part):.2f}x, worst {max(part):.2f}x over {len(part)}")
    if fixed:
        print(f"fixed cost (second analysis of the tiny model): median {statistics.median(fixed):.3f} s over "
              f"{len(fixed)} processes (goal <= {GOAL_FIXED})")
    if cold:
        print(f"cold cost (first analysis in a process, importing convcalc): median {statistics.median(cold):.2f} s "
              f"over {len(cold)} processes")
    print(f"took {time.perf_counter() - started:.0f} s; {load()}")
    if args.json:
        import json

        Path(args.json).write_text(json.dumps({"load_end": os.getloadavg(), "runs": everything}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
