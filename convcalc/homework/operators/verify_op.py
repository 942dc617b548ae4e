"""``verify-op``: check a student's Conv2D / Pool2D against Paddle; the student's code runs in a sandbox.

The checker (this module) draws fresh random inputs, weights, biases and gradient seeds, writes
them as ``.npy`` files next to (never inside) the sandbox's ``/job``, and starts the sandbox
(:mod:`convcalc.homework.operators.sandbox`) whose PID 1 is the trusted harness
(:mod:`convcalc.homework.operators._harness`): it alone holds the channel this process reads.
The harness imports the student's file in a child (:mod:`convcalc.homework.operators._verify_worker`)
that holds only a request and an answer pipe, calls the named class there one configuration at
a time (sending its inputs only then), and forwards what it returned.  This process validates
every array, computes the reference on the same inputs, compares and decides.  A worker that
dies, exits early, stops answering, answers unasked or sends garbage fails with a clear message.
"""

from __future__ import annotations

import json
import queue
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convcalc.errors import ConvcalcError, UnknownNameError
from convcalc.homework.operators import sandbox
from convcalc.homework.operators.configurations import Config, configurations, plan, reference_name
from convcalc.homework.operators.judging import ATOL, Failure, judge, memory_hint

__all__ = ["VerifyResult", "verify_op", "parse_target", "KINDS"]


KINDS = ("conv2d", "pool2d")
FORBID = ("conv", "pool")


STARTUP_TIMEOUT = 120.0
"""Seconds allowed for the worker to import paddle (not counted in the student's limit)."""


MAX_SOURCE = 1 << 20


WORKER = Path(__file__).with_name("_verify_worker.py")


INFINITE_LOOP_HINT = (
    "an infinite loop? (a while loop whose condition never changes, or a loop index never advanced);"
    " raise --timeout if the operator is only slow"
)


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
    tolerance: float = ATOL
    hint: str = ""
    detail: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    sandbox: str = "namespaces"
    forbidden: tuple[str, ...] = ()
    """The groups of Paddle's own operators disabled in the sandbox (``--forbid conv,pool``)."""
    calls: tuple[str, ...] = ()
    """Paddle's own convolution/pooling functions the student's operator called."""


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
    if path.stat().st_size > MAX_SOURCE:
        raise ConvcalcError(f"{path_text}: larger than {MAX_SOURCE >> 20} MiB", "give the student's source file")
    return path, name


@dataclass
class _Check:
    """One verify-op run: the options, the configurations, and what has arrived so far."""

    run: sandbox.Run
    configs: list[Config]
    base: dict[str, Any]
    auto_modes: bool
    timeout: float
    startup_timeout: float
    memory: int
    notes: list[str]
    ready_at: float | None = None
    plan: list[Config] | None = None
    done: int = 0

    calls: list[str] = field(default_factory=list)

    def result(self, failure: str = "", **data: Any) -> VerifyResult:
        total = len(self.plan) if self.plan else 0
        notes = list(self.notes)
        if self.calls and not failure:
            notes.append("uses " + ", ".join(self.calls) + " (Paddle's own operator; --forbid conv,pool disables it)")
        return VerifyResult(
            **self.base,
            passed=not failure,
            tried=self.done,
            total=total,
            failure=failure,
            notes=tuple(notes),
            calls=tuple(self.calls),
            **data,
        )

    def timed_out(self) -> VerifyResult:
        self.run.kill()
        if self.ready_at is None:
            return self.result(f"the checker could not start paddle within {self.startup_timeout:g} s")
        if self.plan is None:
            return self.result(
                f"timed out after {self.timeout:g} s while importing {self.base['target'].split(':')[0]}",
                hint="code at the top level of the file runs on import: an infinite loop?",
            )
        c = self.plan[self.done] if self.done < len(self.plan) else None
        return self.result(
            f"timed out after {self.timeout:g} s",
            config=c.desc if c else "",
            config_index=c.position if c else None,
            hint=INFINITE_LOOP_HINT,
        )

    def died(self, garbage: str = "") -> VerifyResult:
        """The worker ended (or sent ``garbage``) before a verdict."""
        run = self.run
        if garbage:
            run.kill()
        code = run.wait()
        if run.flooded:
            return self.result(
                f"the operator printed more than {run.limits.output_max >> 20} MiB (output is capped)",
                hint="remove the print() calls from loops",
                detail=run.output(300),
            )
        if garbage:
            return self.result(f"the operator's process sent garbage: {garbage}", detail=run.output())
        sig = (code - 128 if code > 128 else -code) if code is not None and (code > 128 or code < 0) else 0
        what = f"was killed by signal {sig}" if sig else f"exited with code {code}"
        where = "before reporting" if not self.done else f"after {self.done} configuration(s)"
        if sig == 9:
            hint = f"killed itself (os.kill), or ran out of memory ({memory_hint(self.memory)})"
        elif sig:
            hint = "a crash inside native code (a segfault or an abort)?"
        else:
            hint = "os._exit() or sys.exit() in the student's file?"
        return self.result(f"the operator's process {what} {where}", detail=run.output(), hint=hint)

    def next(self, deadline: float) -> tuple[str, Any, float] | None:
        try:
            item = self.run.frames.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        return None if item[2] > deadline else item

    def converse(self, started: float) -> VerifyResult:
        """Read the worker's frames in order, judging each configuration as its arrays arrive."""
        while True:
            deadline = started + self.startup_timeout if self.ready_at is None else self.ready_at + self.timeout
            item = self.next(deadline)
            if item is None:
                return self.timed_out()
            kind, data, at = item
            if kind == "eof":
                return self.died()
            if kind != "json":
                return self.died(data if kind == "garbage" else "an array nobody asked for")
            event = data["event"]
            if event == "violation":  # the harness caught the worker answering out of turn
                self.run.kill()
                self.run.wait()
                return self.result(
                    f"the operator's process broke the protocol: {str(data.get('message', ''))[:300]}",
                    hint="the operator's process may only answer the checker's requests",
                    detail=self.run.output(),
                )
            if self.ready_at is None:  # sent before any student code ran
                if event == "sandbox-error":  # PID 1 could not start the worker: the machine's fault
                    raise sandbox.SandboxUnavailable(str(data.get("message", ""))[:300])
                if event != "ready":
                    return self.died(f"{event!r} before the worker was ready")
                self.ready_at = at
            elif self.plan is None:
                if event == "import-error":
                    error = str(data.get("error", ""))[:400]
                    if data.get("fix"):  # refused before running it (no such class at its top level)
                        return self.result(error, hint=str(data["fix"])[:300])
                    return self.result(
                        f"importing {self.base['target'].split(':')[0]} raised {error}",
                        detail=str(data.get("detail", ""))[:2000],
                        hint=memory_hint(self.memory) if error.startswith("MemoryError") else "",
                    )
                if event != "loaded" or not isinstance(data.get("accepts"), dict):
                    return self.died(f"{event!r} where the student's class was expected")
                self.loaded(data["accepts"])
            elif event == "done":
                if self.done < len(self.plan):
                    return self.died(f"'done' after {self.done} of {len(self.plan)} configurations")
                return self.result()
            elif event != "result" or self.done >= len(self.plan) or data.get("index") != self.plan[self.done].index:
                return self.died(f"{event!r} out of order")
            else:
                verdict = self.judge(data, deadline)
                if verdict is not None:
                    return verdict
                self.done += 1

    def loaded(self, accepts: dict) -> None:
        self.plan = plan(self.configs, accepts, self.auto_modes)
        if self.plan and self.plan[0].kind == "pool":
            modes = sorted({c.mode for c in self.plan}, key=["max", "avg"].index)
            self.base["reference"] = reference_name("pool2d", modes)
            if not accepts.get("padding"):
                self.notes.append("padding not tested: the constructor takes no 'padding' (as the book's Pool2D)")

    def judge(self, data: dict, deadline: float) -> VerifyResult | None:
        """Collect one result's arrays and judge them; a verdict on failure, None to go on."""
        ok = data.get("status") == "ok"
        names = data.get("arrays") if ok else []
        if not (
            isinstance(names, list)
            and (not ok or (names and names[0] == "out"))
            and len(set(names)) == len(names)
            and set(names) <= {"out", "grad_x", "grad_weight", "grad_bias"}
        ):
            return self.died("a result whose arrays are not out[, grad_x, grad_weight, grad_bias]")
        arrays: dict[str, Any] = {}
        for n in names:
            item = self.next(deadline)
            if item is None:
                return self.timed_out()
            if item[0] != "array":
                return self.died(item[1] if item[0] == "garbage" else f"a {item[0]} where the array {n!r} was due")
            arrays[n] = item[1]
        calls = [c for c in data.get("calls", []) if isinstance(c, str)]
        self.calls.extend(c for c in calls if c not in self.calls)
        try:
            forbidden = self.base.get("forbidden", ())
            used = [c for c in calls if _group_of(c) in forbidden]
            if used:
                where = self.plan[self.done] if self.plan else self.configs[0]
                raise Failure(
                    f"called {used[0]}, which this assignment forbids (--forbid {','.join(forbidden)})",
                    hint="write the operator with loops, slicing and sums (as the book's Conv2D does)",
                    config=where.desc,
                    config_index=where.position,
                )
            judge(self.plan[self.done] if self.plan else self.configs[0], data, arrays, self.memory, self.notes)
        except Failure as err:
            self.run.kill()
            return self.result(err.failure, **err.data)
        return None


def _group_of(call: str) -> str:
    name = call.rsplit(".", 1)[-1]
    return "pool" if "pool" in name else "conv"


def verify_op(
    target: str,
    kind: str,
    mode: str | None = None,
    timeout: float = 60.0,
    *,
    startup_timeout: float = STARTUP_TIMEOUT,
    bias: bool = True,
    memory: int = sandbox.Limits.memory,
    isolate: bool = True,
    forbid: tuple[str, ...] = (),
) -> VerifyResult:
    """Run the student's operator over the configuration grid in a sandbox and judge its outputs.

    ``timeout`` bounds the student's code (import + every configuration); paddle's own import in
    the worker is allowed ``startup_timeout`` more.  ``bias=False`` (``--no-bias``) compares a
    convolution with a bias-free ``paddle.nn.Conv2D``.  ``isolate=False`` (``--no-sandbox``) runs
    the worker without namespaces (limits and protocol unchanged).  ``forbid`` (``("conv", "pool")``)
    makes Paddle's own convolution / pooling functions raise inside the sandbox.  Raises
    :class:`~convcalc.homework.operators.sandbox.SandboxUnavailable` when isolation is asked for but impossible.
    """
    if kind not in KINDS:
        raise UnknownNameError("operator kind", kind, KINDS)
    if mode is not None and mode not in ("max", "avg"):
        raise UnknownNameError("pooling mode", mode, ("max", "avg"))
    if not (timeout > 0):
        raise ConvcalcError(f"--timeout must be positive, got {timeout}", "give seconds, e.g. --timeout 60")
    if memory < 256 << 20:
        raise ConvcalcError(f"--memory {memory} bytes is too small for paddle", "give at least 512M, e.g. 2G")
    for group in forbid:
        if group not in FORBID:
            raise UnknownNameError("--forbid group", group, FORBID)
    forbid = tuple(g for g in FORBID if g in forbid)
    path, name = parse_target(target)
    modes = [mode] if mode else ["max", "avg"]
    configs = configurations(kind, modes, bias)
    notes: list[str] = []
    if not isolate:
        notes.append("ran WITHOUT the sandbox (--no-sandbox): the student's code could reach this machine")
    if kind == "conv2d" and not bias:
        notes.append("compared with a bias-free paddle.nn.Conv2D (--no-bias)")
    if forbid:
        notes.append(f"Paddle's own {' and '.join(forbid)} operators were disabled (--forbid {','.join(forbid)})")
    job = sandbox.new_job()
    run = None
    try:
        package = Path(__file__).resolve().parents[2]  # convcalc itself, read-only: files may import it
        inside = "/opt/convcalc" if isolate else str(package.parent)
        _write_job(job, path, name, configs, forbid, inside)
        harness = {
            "configs": [c.spec() for c in configs],
            "inputs": str(job / "inputs"),
            "auto_modes": mode is None,
            "student": str(path),
            "file": path.name,
            "name": name,
        }
        run = sandbox.start(
            [sys.executable, "-I", "/job/worker.py"],
            job,
            sandbox.Limits(memory=memory, cpu_seconds=int(startup_timeout + timeout) + 5),
            isolate=isolate,
            env={"OMP_NUM_THREADS": "1", "GLOG_minloglevel": "3", "PYTHONDONTWRITEBYTECODE": "1"},
            expose_at=((str(package), "/opt/convcalc/convcalc"),),
            harness=harness,
        )
        sandbox.first_frame(run, 30.0)
        started = time.monotonic()

        base = dict(
            target=f"{path.name}:{name}",
            kind=kind,
            mode=mode if kind == "pool2d" else None,
            reference=reference_name(kind, modes if mode else ["max"]),
            sandbox="namespaces" if isolate else "none (--no-sandbox)",
            forbidden=forbid,
        )
        check = _Check(run, configs, base, mode is None, timeout, startup_timeout, memory, notes)
        return check.converse(started)
    finally:
        if run is not None:
            run.close(grace=2.0)  # a worker that said "done" exits by itself; anything else was killed
        else:
            shutil.rmtree(job, ignore_errors=True)


def _write_job(job: Path, path: Path, name: str, configs: list[Config], forbid: tuple[str, ...], sys_path: str) -> None:
    """``files/`` (the sandbox's /job): the worker, the student's file alone and spec.json; ``inputs/``:
    the arrays (.npy), read by the harness and sent one configuration at a time, never mounted."""
    import numpy as np

    files, inputs = job / "files", job / "inputs"
    (files / "student").mkdir()
    inputs.mkdir(mode=0o700)
    shutil.copyfile(path, files / "student" / path.name)
    shutil.copyfile(WORKER, files / "worker.py")
    for c in configs:
        for n, arr in c.arrays.items():
            np.save(inputs / f"{c.ident}_{n}.npy", arr, allow_pickle=False)
    spec = {"sys_path": [sys_path], "path": f"student/{path.name}", "name": name, "forbid": list(forbid)}
    (files / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    for entry in files.rglob("*"):  # readable by the sandbox's nobody whatever the teacher's umask
        entry.chmod(0o755 if entry.is_dir() else 0o644)
