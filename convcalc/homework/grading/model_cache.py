"""A model question's expected values on disk: computed once (paddle and a trace), then read in milliseconds.

Grading a class, or one student's file in an autograder, needs the same model's rows and totals
every time; computing them imports paddle and traces the model (seconds).  The first run writes
them here as JSON (atomically), every later run reads them without importing paddle.

The key holds everything the values depend on, so a changed question, model or Paddle never
reuses a stale value: the model spec (a zoo name, or a file's resolved path), the sha256 of the
model file and of every ``.py`` file beside it (the modules it may import), the input shape,
the convention, the Paddle version (read from the package metadata, no import), and a
fingerprint of convcalc's own source (every ``.py`` file's path, size and modification time).
Where: ``$CONVCALC_CACHE_DIR``, else ``$XDG_CACHE_HOME/convcalc/homework``, else
``~/.cache/convcalc/homework``; ``--no-cache`` (or ``CONVCALC_CACHE_DIR=off``) turns it off.
A cache file that cannot be read or written is ignored (the values are then computed).
"""

from __future__ import annotations

import hashlib
import json
import os
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "cache_key", "load", "store", "to_json", "from_json"]

FORMAT = 1


def cache_dir() -> Path | None:
    """The folder of the cache, or None when it is off."""
    env = os.environ.get("CONVCALC_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "convcalc" / "homework"


@cache
def _convcalc_fingerprint() -> str:
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        try:
            st = path.stat()
        except OSError:
            continue
        h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


@cache
def _paddle_version() -> str:
    from importlib import metadata

    for name in ("paddlepaddle", "paddlepaddle-gpu"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def _file_hashes(spec: str) -> list[str]:
    """The sha256 of a model file and of every .py file beside it (what it may import)."""
    path = Path(spec.rpartition(":")[0] if ":" in spec else spec)
    if not path.is_file():
        return []
    out = []
    for p in sorted(path.parent.glob("*.py")):
        try:
            out.append(f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}")
        except OSError:
            out.append(f"{p.name}:unreadable")
    return out


def cache_key(spec: str, input_shape: tuple, convention: str) -> str:
    parts = {
        "format": FORMAT,
        "spec": spec,
        "files": _file_hashes(spec),
        "input": list(input_shape),
        "convention": convention,
        "paddle": _paddle_version(),
        "convcalc": _convcalc_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, Fraction):
        return {"fraction": [value.numerator, value.denominator]}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if getattr(value, "is_Integer", False):  # a sympy number (an input shape from the report)
        return int(value)
    if getattr(value, "is_Rational", False):
        return _encode(Fraction(int(value.p), int(value.q)))
    raise TypeError(f"cannot cache {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "fraction" in value:
            return Fraction(*value["fraction"])
        if "tuple" in value:
            return tuple(_decode(v) for v in value["tuple"])
        return {_decode(k): _decode(v) for k, v in value["dict"]}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def to_json(expected: Any) -> dict:
    rows = [
        {
            "layer": r.layer,
            "kind": r.kind,
            "input_shape": r.input_shape,
            "values": r.values,
            "formula": r.formula,
            "out_channels": r.out_channels,
            "spec": None if r.spec is None else (r.spec.kind, r.spec.config),
            "summary_name": r.summary_name,
        }
        for r in expected.rows
    ]
    data = {
        "model": expected.model,
        "input_shape": expected.input_shape,
        "convention": expected.convention,
        "values": expected.values,
        "rows": rows,
        "notes": expected.notes,
        "other_totals": dict(expected.other_totals),
    }
    return {"format": FORMAT, "data": _encode(data)}


def from_json(doc: dict) -> dict:
    """The plain data :func:`to_json` wrote (``grading.models`` builds its classes from it)."""
    if doc.get("format") != FORMAT:
        raise ValueError("another format")
    return _decode(doc["data"])


def load(key: str) -> dict | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with open(folder / f"{key}.json", encoding="utf-8") as fh:
            return from_json(json.load(fh))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(key: str, expected: Any) -> None:
    folder = cache_dir()
    if folder is None:
        return
    try:
        from convcalc.files import write_atomic

        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / f"{key}.json", json.dumps(to_json(expected)))
    except (OSError, TypeError, ValueError):
        pass  # a cache that cannot be written costs only time
