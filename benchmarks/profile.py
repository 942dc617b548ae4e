"""Benchmark of ``convcalc profile`` (issue 24): the tables of docs/profile.md.

For each model and batch, one child process (a fresh allocator and cache state) runs
``convcalc.profile`` (hooks interleaved with un-hooked forwards, page faults, Paddle's
profiler), then a second timed pass (run B) in the same process for the repeat-to-repeat
agreement, and writes one JSON file.  The parent prints Markdown tables:

1. per model and batch: measured total, un-hooked forward, roofline prediction and their
   ratio, the measurement's own overhead (paired hooked/un-hooked, the goal: <= 10% on resnet18
   batch 1), the sum of the rows against the un-hooked forward, Paddle's profiler's overhead,
   and Spearman's rank correlation between per-layer FLOPs and per-layer time;
2. repeat-to-repeat agreement (rows above 1% of the time; goal: within 10% on a quiet
   machine) and the hooks against the profiler's kernels;
3. the ceilings against the same kernels in plain numpy.

The load average is recorded before and after every run.  Ratios only: each figure is
measured against a baseline run in the same process.

    nice -n 10 python benchmarks/profile.py                      (about an hour on a busy 2-core machine)
    python benchmarks/profile.py --models lenet --batches 1 --repeat 3 --out /tmp/runs
    python benchmarks/profile.py --summarise /tmp/runs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODELS = ("lenet", "resnet18", "mobilenet_v2", "vit_b_16")
REPEAT = {1: 30, 32: 7}
REPEAT_HEAVY = {1: 12, 32: 3}  # vit_b_16: seconds per forward at batch 32


def _settings(model: str, batch: int, repeat: int | None) -> dict:
    heavy = model == "vit_b_16"
    r = repeat or (REPEAT_HEAVY if heavy else REPEAT).get(batch, 7)
    return {"repeat": r, "warmup": 5 if batch == 1 else 2,
            "profiler_repeat": min(r, 10 if batch == 1 else (2 if heavy else 3))}


def child(model: str, batch: int, threads: int, allocator: str, repeat: int | None, out: Path) -> None:
    from dataclasses import asdict

    from convcalc.models.zoo import build_model
    from convcalc.profiling import machine, profile
    from convcalc.render.profile import profile_dict

    s = _settings(model, batch, repeat)
    built = build_model(model)
    size = (batch, *built.default_input)
    t0 = time.perf_counter()
    p = profile(built.model, size, name=model, threads=threads, allocator=allocator, **s)
    seconds = time.perf_counter() - t0
    # run B: a second whole run, later in the same process (the repeat-to-repeat agreement)
    load_b = machine.load_average()
    b = profile(built.model, size, name=model, threads=threads, allocator=allocator, profiler=False,
                ceilings=p.ceilings, **{k: v for k, v in s.items() if k != "profiler_repeat"})
    run_b = {str(r.index): {"median": r.median, "best": r.best} for r in b.rows}
    d = profile_dict(p)
    d.update(run_b=run_b, load_b=[load_b, machine.load_average()], seconds=seconds, batch=batch,
             hooked_b=b.hooked, unhooked_b=b.unhooked)
    d["ceilings_raw"] = asdict(p.ceilings)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{model}_b{batch}_t{threads}_{allocator}.json").write_text(json.dumps(d, indent=1))


def numpy_check(threads: int, out: Path) -> None:
    from convcalc.checks.numpy_ceilings import numpy_ceilings
    from convcalc.profiling import machine
    from convcalc.profiling.ceilings import get_ceilings

    load = machine.load_average()
    paddle_c = get_ceilings("float32", threads)
    n = numpy_ceilings(threads)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"ceilings_t{threads}.json").write_text(json.dumps({
        "threads": threads, "load": [load, machine.load_average()], "numpy": n,
        "paddle": {"peak_flops": paddle_c.peak_flops, "bandwidth": paddle_c.bandwidth,
                   "top_bandwidth": paddle_c.top_bandwidth, "measured_at": paddle_c.measured_at,
                   "source": paddle_c.source, "load": paddle_c.kernels.get("load")}}, indent=1))


# ------------------------------------------------------------------ tables
def _ms(x) -> str:
    return "?" if x is None else f"{x * 1e3:,.2f}"


def _pct(x) -> str:
    return "?" if x is None else f"{x * 100:+.1f}%"


def _load(pair) -> str:
    first = pair[0][0] if pair and pair[0] else None
    last = pair[-1][0] if pair and pair[-1] else None
    return f"{first:.1f}→{last:.1f}" if first is not None and last is not None else "?"


def agreement(run: dict, key: str = "median", min_share: float = 0.01) -> tuple[int, int, float]:
    """(layer rows above ``min_share``, of them within 10% between run A and run B, median deviation)."""
    devs = []
    for r in run["rows"]:
        b = run["run_b"].get(str(r["index"]))
        if r["is_functional"] or r["share"] <= min_share or b is None:
            continue
        a = r["median"] if key == "median" else r["best"]
        devs.append(abs(b[key] - a) / a)
    return len(devs), sum(d <= 0.10 for d in devs), statistics.median(devs) if devs else 0.0


def summarise(folder: Path) -> str:
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*_b*_t*.json"))]
    order = {m: i for i, m in enumerate(MODELS)}
    runs.sort(key=lambda r: (order.get(r["model"], 99), r["batch"], r["allocator"], r["threads"]))
    out = ["| model | batch | allocator | threads | load (start→end) | measured ms | un-hooked ms (IQR) | "
           "roofline ms | measured / roofline | overhead (paired) | Σ rows vs un-hooked | Paddle profiler overhead | "
           "Spearman FLOPs~time | page faults / forward |", "|" + "---|" * 14]
    for r in runs:
        out.append(
            f"| {r['model']} | {r['batch']} | {r['allocator']} | {r['threads']} | "
            f"{_load([r['load_before'], r['load_b'][-1]])} | {_ms(r['measured'])} | {_ms(r['unhooked'])} "
            f"({_ms(r['unhooked_iqr'])}) | {_ms(r['prediction'])} | {r['ratio']:.2f} | {_pct(r['overhead_paired'])} | "
            f"{_pct(r['overhead_sum'])} | {_pct(r['profiler_overhead'])} | {r['flops_time_rank']:.2f} | "
            f"{r['faults_per_forward']:,.0f} |")
    out += ["", "| model | batch | allocator | layer rows > 1% | medians within 10% (run A vs B) | median deviation | "
            "fastest repeat within 10% | median deviation | un-hooked forward B / A | Spearman hooks~kernels | "
            "Σ kernels / measured |", "|" + "---|" * 11]
    for r in runs:
        n, w, md = agreement(r, "median")
        n2, w2, md2 = agreement(r, "best")
        frac = r["profiler_kernels"] / r["measured"] if r.get("profiler_kernels") and r["measured"] else None
        rank = "?" if r["kernel_rank"] is None else f"{r['kernel_rank']:.2f}"
        out.append(f"| {r['model']} | {r['batch']} | {r['allocator']} | {n} | {w}/{n} | {md * 100:.1f}% | {w2}/{n2} | "
                   f"{md2 * 100:.1f}% | {r['unhooked_b'] / r['unhooked']:.2f} | {rank} | "
                   f"{'?' if frac is None else f'{frac:.2f}'} |")
    checks = [json.loads(p.read_text()) for p in sorted(folder.glob("ceilings_t*.json"))]
    if checks:
        out += ["", "| threads | load | Paddle matmul peak | numpy matmul peak | Paddle DRAM stream | "
                "numpy DRAM stream | Paddle best in-cache stream |", "|" + "---|" * 7]
        for c in checks:
            pc, nc = c["paddle"], c["numpy"]
            out.append(f"| {c['threads']} | {_load(c['load'])} | {pc['peak_flops'] / 1e9:.1f} GFLOP/s | "
                       f"{nc['peak_flops'] / 1e9:.1f} GFLOP/s | {pc['bandwidth'] / 1e9:.1f} GB/s | "
                       f"{nc['bandwidth'] / 1e9:.1f} GB/s | {pc['top_bandwidth'] / 1e9:.1f} GB/s |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--allocator", default="default", choices=("default", "pinned"))
    ap.add_argument("--repeat", type=int, default=None, help="timed forwards per run (default: 30/7, vit 12/3)")
    ap.add_argument("--out", type=Path, default=Path("profile-runs"), help="folder for the JSON of each run")
    ap.add_argument("--remeasure", action="store_true", help="measure the ceilings again first")
    ap.add_argument("--no-numpy", action="store_true", help="skip the ceilings against numpy")
    ap.add_argument("--summarise", type=Path, metavar="DIR", help="only print the tables of an earlier run")
    ap.add_argument("--child", nargs=2, metavar=("MODEL", "BATCH"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.summarise:
        sys.stdout.write(summarise(a.summarise))
        return 0
    if a.child:
        child(a.child[0], int(a.child[1]), a.threads, a.allocator, a.repeat, a.out)
        return 0
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
               GLOG_minloglevel="2")
    if a.remeasure:
        from convcalc.profiling.ceilings import get_ceilings

        get_ceilings("float32", a.threads, remeasure=True)
    common = ["--threads", str(a.threads), "--allocator", a.allocator, "--out", str(a.out)]
    common += ["--repeat", str(a.repeat)] if a.repeat else []
    for model in a.models:
        for batch in a.batches:
            print(f"--- {model} batch {batch}, load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
            proc = subprocess.run([sys.executable, __file__, "--child", model, str(batch), *common], env=env)
            if proc.returncode:
                print(f"{model} batch {batch} failed (exit {proc.returncode})", file=sys.stderr)
                return proc.returncode
    if not a.no_numpy:
        numpy_check(a.threads, a.out)
    sys.stdout.write(summarise(a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
