"""Run the real-library corpus: one subprocess per model, in the environment that has the libraries.

The libraries are installed in an environment of their own (:func:`environment_commands` says
exactly how); the parent may run in any environment and starts each model's check with that
environment's interpreter (``python``), with this convcalc first on ``PYTHONPATH``.  A model
that hangs is stopped after ``timeout`` seconds, one that crashes Paddle ends only its own
process; both are reported, never retried.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RealLibrariesRun", "run_corpus", "environment_problem", "environment_commands", "DEFAULT_VENV",
           "COUNTED", "ENV_VARIABLE"]

DEFAULT_VENV = "~/.cache/convcalc-corpus-venv"
ENV_VARIABLE = "CONVCALC_REAL_LIBRARIES_PYTHON"
LIBRARIES = ("paddleclas==2.6.0", "paddleseg==2.8.0")
# What importing the networks needs (PaddleSeg's package __init__ and ppcls.arch import these), nothing more;
# numpy stays below 2.4 (convcalc's own pin: paddle.flops in Paddle 3.3.1).
IMPORTS = ("six", "pyyaml", "requests", "tqdm", "scikit-learn", "opencv-python-headless")
COUNTED = ("right", "wrong", "refused by convcalc", "convcalc crashed")  # the verdicts of models Paddle runs
ROOT = Path(__file__).resolve().parents[3]  # the folder holding the convcalc package


def environment_commands(venv: str = DEFAULT_VENV, source: str = ".") -> list[str]:
    """The shell commands that create the environment the corpus runs in.

    ``venv`` is its folder, ``source`` the convcalc checkout installed into it (``.`` from the repository
    root; the checkout's path is :data:`ROOT` when this convcalc runs from one).
    """
    pip = f"{venv}/bin/pip"
    return [
        f"python3 -m venv {venv}",
        f"{pip} install -e {source}",
        f"{pip} install --no-deps {' '.join(LIBRARIES)}",
        f"{pip} install {' '.join(IMPORTS)} 'numpy<2.4'",
    ]


_PROBE = ("import warnings; warnings.filterwarnings('ignore'); "
          "from convcalc.checks.real_libraries.models import import_libraries; import_libraries()")


def child_environment() -> dict[str, str]:
    """The environment a child runs in: this convcalc first on ``PYTHONPATH``.

    A child also runs in :data:`ROOT` (``cwd=``): ``python -m`` and ``-c`` put the current directory
    before ``PYTHONPATH``, so from another checkout's folder the child would import that checkout's
    convcalc (two trees compared in turns measured one tree twice)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH", "")])])
    return env


def environment_problem(python: str) -> str:
    """``""`` when ``python`` can import both libraries' networks, else why not (one line)."""
    if not Path(python).is_file():
        return f"{python} does not exist"
    proc = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, env=child_environment(),
                          timeout=600, cwd=ROOT)
    if proc.returncode:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return f"{python} cannot import the libraries' networks: " + (lines[-1] if lines else f"exit {proc.returncode}")
    return ""


@dataclass(frozen=True)
class RealLibrariesRun:
    """The outcome of every model (dicts as :mod:`.child` writes them) and how the run went."""

    outcomes: tuple[dict, ...]
    seconds: float
    python: str
    timing: bool
    jobs: int
    load: tuple[float, float] = (0.0, 0.0)  # load average at the start and at the end
    environment: dict = field(default_factory=dict)

    def counted(self, library: str | None = None) -> list[dict]:
        return [o for o in self.outcomes if o["verdict"] in COUNTED and library in (None, o.get("library"))]

    @property
    def ok(self) -> bool:
        return all(o["verdict"] in ("right", "refused by Paddle") for o in self.outcomes)

    def ratios(self, library: str | None = None) -> list[float]:
        """analysis / (summary + flops) of every model convcalc analysed."""
        return [o["ratio"] for o in self.counted(library) if isinstance(o.get("ratio"), (int, float))
                and o["verdict"] in ("right", "wrong")]

    def fixed_costs(self) -> list[float]:
        return [o["fixed_cost"]["warm_s"] for o in self.outcomes if "fixed_cost" in o]

    def median(self, values: list[float]) -> float | None:
        return statistics.median(values) if values else None


def run_one(name: str, python: str, timeout: float, timing: bool | str) -> dict:
    """One model in a process of its own (its result, or how the process ended); ``timing="only"``: no checks."""
    from convcalc.checks.real_libraries.models import library_of

    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [python, "-m", "convcalc.checks.real_libraries.child", name, str(result)]
        t0 = time.perf_counter()
        try:
            flags = ["--speed"] if timing == "only" else [] if timing else ["--no-timing"]
            proc = subprocess.run(cmd + flags, capture_output=True, text=True,
                                  timeout=timeout, env=child_environment(), cwd=ROOT)
        except subprocess.TimeoutExpired:
            return {"model": name, "library": library_of(name), "verdict": "timeout",
                    "reason": f"no result in {timeout:.0f} s", "seconds": round(time.perf_counter() - t0, 1)}
        if result.is_file():
            return json.loads(result.read_text())
        tail = " | ".join(ln for ln in proc.stderr.strip().splitlines()[-3:])
        return {"model": name, "library": library_of(name), "verdict": "crashed",
                "reason": f"exit {proc.returncode}: {tail[-300:]}", "seconds": round(time.perf_counter() - t0, 1)}


def run_corpus(names: Sequence[str], python: str | None = None, timeout: float = 900, jobs: int = 1,
               timing: bool = True, progress: Callable[[str], None] = lambda message: None) -> RealLibrariesRun:
    """Check ``names`` (see :mod:`.models`), ``jobs`` at a time; outcomes in the order of ``names``."""
    python = python or sys.executable
    t0 = time.perf_counter()
    start_load = os.getloadavg()[0]
    done = [0]

    def one(name: str) -> dict:
        out = run_one(name, python, timeout, timing)
        done[0] += 1
        ratio = f", {out['ratio']:.2f}x summary+flops" if isinstance(out.get("ratio"), (int, float)) else ""
        progress(f"real libraries: [{done[0]}/{len(names)}] {name}: {out['verdict']}{ratio}")
        return out

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        outcomes = tuple(pool.map(one, names))
    return RealLibrariesRun(outcomes, time.perf_counter() - t0, python, timing, jobs,
                            (round(start_load, 2), round(os.getloadavg()[0], 2)), _environment(python))


def _environment(python: str) -> dict:
    code = ("import json, platform, numpy, paddle, importlib.metadata as m; print(json.dumps({'python': "
            "platform.python_version(), 'paddle': paddle.__version__, 'numpy': numpy.__version__, 'paddleclas': "
            "m.version('paddleclas'), 'paddleseg': m.version('paddleseg'), 'cpus': __import__('os').cpu_count()}))")
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300,
                              env=child_environment(), cwd=ROOT)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except Exception:  # noqa: BLE001 - the versions are a courtesy
        return {}
