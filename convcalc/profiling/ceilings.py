"""The machine's ceilings, cached per device, dtype, thread count and Paddle version.

The cache is one JSON file, ``ceilings.json``, in ``$CONVCALC_CACHE`` (else
``$XDG_CACHE_HOME/convcalc``, else ``~/.cache/convcalc``).  A missing or corrupt
file, or a missing key, means "measure now" (in a child process) and store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

from convcalc.profiling import machine
from convcalc.profiling.records import Ceilings

__all__ = ["cache_dir", "cache_key", "get_ceilings", "measure_in_child", "read_cache", "store"]

CACHE_FILE = "ceilings.json"


def cache_dir() -> Path:
    """The cache folder: ``$CONVCALC_CACHE``, else ``$XDG_CACHE_HOME/convcalc``, else ``~/.cache/convcalc``."""
    given = os.environ.get("CONVCALC_CACHE")
    if given:
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "convcalc"


def cache_key(dtype: str, threads: int) -> str:
    """``'<device>|<dtype>|<threads>|paddle <version>'``: ceilings measured elsewhere are never reused."""
    import paddle

    return f"{machine.device_name()}|{dtype}|{int(threads)}|paddle {paddle.__version__}"


def _from_dict(d: dict) -> Ceilings:
    d = dict(d)
    d["curve"] = tuple((float(x), float(y)) for x, y in d["curve"])
    return Ceilings(**d)


def read_cache(folder: Path | None = None) -> dict:
    """The cache file's entries (``{}`` when the file is missing or not JSON)."""
    path = (folder or cache_dir()) / CACHE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def store(key: str, ceilings: Ceilings, folder: Path | None = None) -> Path:
    """Write ``ceilings`` under ``key`` (other keys kept), whole or not at all."""
    from convcalc.files import write_atomic

    folder = folder or cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    entries = read_cache(folder)
    entries[key] = asdict(replace(ceilings, source="measured"))
    path = folder / CACHE_FILE
    write_atomic(path, json.dumps(entries, indent=1) + "\n")
    return path


def measure_in_child(dtype: str, threads: int, *, quick: bool = False) -> Ceilings:
    """Measure the ceilings in a fresh Python process (:mod:`convcalc.profiling.ceiling_kernels`)."""
    root = str(Path(__file__).resolve().parents[2])  # the folder holding this convcalc
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]),
               GLOG_minloglevel=os.environ.get("GLOG_minloglevel", "2"))
    argv = [sys.executable, "-m", "convcalc.profiling.ceiling_kernels", dtype, str(int(threads))]
    proc = subprocess.run(argv + (["--quick"] if quick else []), capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"measuring the ceilings failed: {last}")
    return _from_dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def get_ceilings(dtype: str = "float32", threads: int = 1, *, remeasure: bool = False, quick: bool = False,
                 folder: Path | None = None) -> Ceilings:
    """The ceilings for this machine, dtype and thread count: cached (``source='cache'``), else measured and cached.

    ``remeasure``: measure again and overwrite the cached entry.
    """
    key = cache_key(dtype, threads)
    if not remeasure:
        entry = read_cache(folder).get(key)
        if entry is not None:
            try:
                return replace(_from_dict(entry), source="cache")
            except (TypeError, ValueError, KeyError):  # an entry of another version or hand-edited: measure
                pass
    ceilings = measure_in_child(dtype, threads, quick=quick)
    store(key, ceilings, folder)
    return ceilings
