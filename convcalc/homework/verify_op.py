"""``verify-op``: check a student's Conv2D / Pool2D against Paddle, in a separate process.

The student's file is imported only in a child process
(``convcalc.homework._verify_worker``) with a time limit; an exception, a
hang, a crash or a wrong shape becomes a :class:`VerifyResult` with a clear
failure message, never an exception of the checker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from convcalc.errors import ConvcalcError, UnknownNameError

__all__ = ["VerifyResult", "verify_op", "parse_target", "KINDS"]

KINDS = ("conv2d", "pool2d")
STARTUP_TIMEOUT = 120.0
"""Seconds allowed for the child to import paddle (not counted in the student's limit)."""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome: passed with the number of configurations, or the first failure."""

    target: str
    kind: str
    mode: str | None
    reference: str
    passed: bool
    tried: int
    total: int
    failure: str = ""
    config: str = ""
    config_index: int | None = None
    expected_shape: list | None = None
    got_shape: list | None = None
    max_diff: float | None = None
    tolerance: float = 1e-4
    hint: str = ""
    detail: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def parse_target(text: str) -> tuple[Path, str]:
    """``path/to/file.py:ClassName`` -> (absolute path, class name)."""
    path_text, sep, name = str(text).rpartition(":")
    if not sep or not name or not path_text:
        raise ConvcalcError(f"malformed operator {text!r}", "write FILE.py:ClassName, e.g. my_conv.py:Conv2D")
    if not name.isidentifier():
        raise ConvcalcError(
            f"{name!r} is not a Python class name",
            "write FILE.py:ClassName, e.g. my_conv.py:Conv2D",
        )
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise ConvcalcError(f"{path_text}: no such file", "check the path to the student's .py file")
    if path.suffix != ".py":
        raise ConvcalcError(f"{path_text}: not a .py file", "give the Python file that defines the operator")
    return path, name


def _reference(kind: str, modes: list[str]) -> str:
    if kind == "conv2d":
        return "paddle.nn.Conv2D"
    return " and ".join({"max": "paddle.nn.MaxPool2D", "avg": "paddle.nn.AvgPool2D"}[m] for m in modes)


def _read_lines(stream, sink: list, event: threading.Event) -> None:
    for line in stream:
        try:
            sink.append(json.loads(line))
        except ValueError:
            continue
        event.set()
    event.set()


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


def _tail(path: str, limit: int = 800) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return ""
    lines = [ln for ln in text.strip().splitlines() if "warn" not in ln.lower()]
    out = "\n".join(lines[-8:])
    return out[-limit:]


def verify_op(
    target: str,
    kind: str,
    mode: str | None = None,
    timeout: float = 60.0,
    *,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> VerifyResult:
    """Run the student's operator over the configuration grid in a child process.

    ``timeout`` bounds the student's code (import + every configuration);
    paddle's own import in the child is allowed ``startup_timeout`` more.
    """
    if kind not in KINDS:
        raise UnknownNameError("operator kind", kind, KINDS)
    if mode is not None and mode not in ("max", "avg"):
        raise UnknownNameError("pooling mode", mode, ("max", "avg"))
    if not (timeout > 0):
        raise ConvcalcError(f"--timeout must be positive, got {timeout}", "give seconds, e.g. --timeout 60")
    path, name = parse_target(target)
    modes = [mode] if mode else None  # None: both when the constructor takes `mode`, else max
    reference = _reference(kind, modes or ["max"])
    shown = f"{path.name}:{name}"
    spec = json.dumps({"path": str(path), "name": name, "kind": kind, "modes": modes})
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOG_minloglevel="3", PYTHONDONTWRITEBYTECODE="1")
    err_fd, err_path = tempfile.mkstemp(prefix="convcalc-verify-", suffix=".log")
    events: list[dict] = []
    arrived = threading.Event()
    base = dict(target=shown, kind=kind, mode=mode if kind == "pool2d" else None, reference=reference)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "convcalc.homework._verify_worker", spec],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err_fd,
            text=True,
            env=env,
            start_new_session=True,
        )
        reader = threading.Thread(target=_read_lines, args=(proc.stdout, events, arrived), daemon=True)
        reader.start()
        deadline = time.monotonic() + startup_timeout
        started = False
        while True:
            if any(e.get("event") == "result" for e in events):
                break
            if not started and any(e.get("event") == "ready" for e in events):
                started = True
                deadline = time.monotonic() + timeout
            if proc.poll() is not None and not reader.is_alive():
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill(proc)
                configs = [e for e in events if e.get("event") == "config"]
                if not started:
                    return VerifyResult(
                        **base,
                        passed=False,
                        tried=0,
                        total=0,
                        failure=f"the checker could not start paddle within {startup_timeout:g} s",
                    )
                if not any(e.get("event") == "loaded" for e in events):
                    return VerifyResult(
                        **base,
                        passed=False,
                        tried=0,
                        total=0,
                        failure=f"timed out after {timeout:g} s while importing {path.name}",
                        hint="code at the top level of the file runs on import: an infinite loop?",
                    )
                last = configs[-1] if configs else {}
                return VerifyResult(
                    **base,
                    passed=False,
                    tried=max(0, int(last.get("index", 1)) - 1),
                    total=int(last.get("total", 0)),
                    failure=f"timed out after {timeout:g} s",
                    config=str(last.get("config", "")),
                    config_index=last.get("index"),
                    hint=(
                        "an infinite loop? (a while loop whose condition never changes, or a loop"
                        " index never advanced); raise --timeout if the operator is only slow"
                    ),
                )
            arrived.wait(timeout=min(remaining, 0.5))
            arrived.clear()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _kill(proc)
        reader.join(timeout=5)
        results = [e for e in events if e.get("event") == "result"]
        if not results:
            code = proc.returncode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            return VerifyResult(
                **base,
                passed=False,
                tried=0,
                total=0,
                failure=f"the operator's process {how} before reporting",
                detail=_tail(err_path),
                hint="a crash inside native code, os._exit() or sys.exit() in the student's file?",
            )
        r = results[-1]
        if r.get("modes"):
            base["reference"] = _reference(kind, list(r["modes"]))
        notes = tuple(r.get("notes") or ())
        if r.get("ok"):
            return VerifyResult(**base, passed=True, tried=int(r["tried"]), total=int(r["total"]), notes=notes)
        if r.get("mode"):
            base["mode"] = r["mode"]
        return VerifyResult(
            **base,
            passed=False,
            tried=int(r.get("tried") or 0),
            total=int(r.get("total") or 0),
            failure=str(r.get("failure", "failed")),
            config=str(r.get("config") or ""),
            config_index=r.get("config_index"),
            expected_shape=r.get("expected_shape"),
            got_shape=r.get("got_shape"),
            max_diff=r.get("max_diff"),
            hint=str(r.get("hint") or ""),
            detail=str(r.get("detail") or ""),
            notes=notes,
        )
    finally:
        if "proc" in locals() and proc.poll() is None:
            _kill(proc)
        try:
            os.close(err_fd)
        except OSError:
            pass
        try:
            os.unlink(err_path)
        except OSError:
            pass
