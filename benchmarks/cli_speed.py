"""Whole-process speed of ``convcalc report M`` against the script it replaces.

Per model (default resnet18, mobilenet_v2, vit_b_16) it times, each in a fresh
interpreter with its output discarded (stdout is not a terminal):

- ``convcalc report M``          (the table; the default path)
- ``convcalc report M --format json``
- ``convcalc report M --live``   (only where this convcalc has ``--live``: the trace, forced)
- the bare script                (build M, ``paddle.summary`` + ``paddle.flops``; vit_b_16 from
                                  convcalc.models.transformers, which imports only paddle)
- ``python -c "import paddle"``  (the floor; once, not per model)
- any ``--extra NAME=COMMAND`` (``{model}`` and ``{python}`` substituted).

The convcalc that runs is the one this file belongs to (its checkout is put
first on ``PYTHONPATH``).

All commands are interleaved round by round (``--rounds``, default 5) after one
warm-up round, so a load change hits every command alike.  Per command: median
wall seconds, median CPU seconds (user+sys of that child alone, from
``os.wait4``; far less sensitive to other people's load), the ratios of both
to the bare script of the same model, and the child's peak RSS (MiB, max over
rounds; ``ru_maxrss`` of that child alone).  The load average is printed before
and after.

    python benchmarks/cli_speed.py [--rounds 5] [--models resnet18 mobilenet_v2 vit_b_16] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BARE = """\
import contextlib, io, sys
import paddle
name = sys.argv[1]
if name in ("vit_b_16", "deit_tiny"):
    from convcalc.models import transformers
    model = getattr(transformers, name)()
else:
    import paddle.vision.models as m
    model = getattr(m, name)(pretrained=False)
model.eval()
shape = [1, 3, 299, 299] if name == "inception_v3" else [1, 3, 224, 224]
with contextlib.redirect_stdout(io.StringIO()):
    paddle.summary(model, tuple(shape))
    paddle.flops(model, shape)
"""

# Same environment as a user's shell, but bytecode cached as usual (see benchmarks/cold_start.py), and this
# checkout's convcalc first on the path.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV.setdefault("GLOG_minloglevel", "2")
ENV["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH", "")) if p)


def has_live() -> bool:
    """Whether this convcalc's ``report`` takes ``--live``."""
    out = subprocess.run([sys.executable, "-m", "convcalc", "report", "--help"], capture_output=True, text=True,
                         env=ENV, check=False, cwd=ROOT)
    return "--live" in out.stdout


def run_once(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s of this child, peak RSS MiB of this child)."""
    start = time.perf_counter()
    # (convcalc's own commands run in this checkout: ``-m`` puts the current directory before PYTHONPATH)
    own = cmd[1:3] == ["-m", "convcalc"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, cwd=ROOT if own else None)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def commands(models: list[str], extras: list[str]) -> dict[tuple[str, str], list[str]]:
    py = sys.executable
    convcalc = [py, "-m", "convcalc"]
    cmds: dict[tuple[str, str], list[str]] = {("-", "import paddle"): [py, "-c", "import paddle"]}
    live = has_live()
    for m in models:
        cmds[(m, "convcalc report")] = [*convcalc, "report", m]
        cmds[(m, "report --format json")] = [*convcalc, "report", m, "--format", "json"]
        if live:
            cmds[(m, "report --live")] = [*convcalc, "report", m, "--live"]
        for extra in extras:
            label, _, template = extra.partition("=")
            cmds[(m, label)] = [part.format(model=m, python=py) for part in template.split()]
        cmds[(m, "bare summary+flops")] = [py, "-c", BARE, m]
    return cmds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=["resnet18", "mobilenet_v2", "vit_b_16"])
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=COMMAND",
                        help="another command per model; {model} and {python} are substituted")
    parser.add_argument("--json", metavar="FILE", help="also write the raw samples as JSON")
    args = parser.parse_args(argv)
    cmds = commands(args.models, args.extra)
    print(f"{sys.executable}; {args.rounds} rounds after 1 warm-up; load before {load()}", flush=True)
    for cmd in cmds.values():  # warm the file cache and the .pyc files
        run_once(cmd)
    samples: dict[tuple[str, str], list[tuple[float, float, float]]] = {k: [] for k in cmds}
    for r in range(args.rounds):
        for key, cmd in cmds.items():
            samples[key].append(run_once(cmd))
        print(f"  round {r + 1} done, load {load()}", file=sys.stderr, flush=True)
    print(f"load after {load()}")
    med = {k: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v), max(s[2] for s in v))
           for k, v in samples.items()}
    print(f"{'model':<13} {'command':<22} {'wall s':>7} {'x bare':>7} {'cpu s':>7} {'x bare':>7} {'peak MiB':>9}")
    for (model, label), (wall, cpu, rss) in med.items():
        bare = med.get((model, "bare summary+flops"))
        rw = f"{wall / bare[0]:.2f}" if bare else "-"
        rc = f"{cpu / bare[1]:.2f}" if bare else "-"
        print(f"{model:<13} {label:<22} {wall:>7.3f} {rw:>7} {cpu:>7.3f} {rc:>7} {rss:>9.0f}")
    print("goals (docs/performance.md): the default path <= 0.25x the bare script and <= 100 MiB where the zoo data "
          "answers; report --live <= 0.80x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"load_after": load(), "samples": {f"{m}|{lab}": s for (m, lab), s in samples.items()}}, fh,
                      indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
