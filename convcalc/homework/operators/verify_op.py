"""``verify-op``: check a student's Conv2D / Pool2D against Paddle; the student's code runs in a sandbox.

The checker (this module) draws fresh random inputs, weights, biases and gradient seeds, writes
them as ``.npy`` files for the sandbox (:mod:`convcalc.homework.operators.sandbox`), and starts the worker
(:mod:`convcalc.homework.operators._verify_worker`) there.  The worker only sends back arrays (output and
gradients) in a fixed format, validated on arrival; this process computes Paddle's reference on
the same inputs, compares and decides.  Nothing the student's process says can make a run pass:
a worker that dies, exits early, stops sending or sends garbage fails with a clear message.
"""

from __future__ import annotations

import json
import queue
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convcalc.errors import ConvcalcError, UnknownNameError
from convcalc.homework.operators import sandbox

__all__ = ["VerifyResult", "verify_op", "parse_target", "KINDS"]

KINDS = ("conv2d", "pool2d")
STARTUP_TIMEOUT = 120.0
"""Seconds allowed for the worker to import paddle (not counted in the student's limit)."""
MAX_SOURCE = 1 << 20
ATOL = RTOL = 1e-4
WORKER = Path(__file__).with_name("_verify_worker.py")

# (batch, in_channels, out_channels, height, width, kernel, stride, padding):
# small, simplest first, so a failure points at the simplest broken case.
CONV_GRID = (
    (1, 1, 1, 5, 5, 3, 1, 0),
    (2, 2, 3, 5, 5, 3, 1, 1),
    (1, 2, 1, 7, 7, 3, 2, 1),
    (1, 1, 2, 6, 6, 2, 2, 0),
    (2, 2, 3, 5, 7, 3, 1, 0),
    (1, 1, 1, 6, 6, 5, 1, 2),
    (1, 2, 2, 4, 4, 1, 1, 0),
    (1, 1, 1, 8, 8, 3, 3, 0),
    (1, 2, 1, 7, 5, 3, 2, 2),
)
# (batch, channels, height, width, kernel, stride, padding)
POOL_GRID = (
    (1, 1, 4, 4, 2, 2, 0),
    (2, 3, 6, 6, 2, 2, 0),
    (1, 2, 7, 7, 3, 2, 0),
    (1, 2, 6, 8, 2, 1, 0),
    (2, 1, 8, 8, 3, 3, 0),
    (1, 2, 8, 6, 2, 2, 0),
)
POOL_PADDED_GRID = ((1, 2, 7, 7, 3, 2, 1), (2, 1, 6, 8, 2, 2, 1))

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


@dataclass
class _Config:
    """One configuration: its parameters, the arrays sent to the worker, and Paddle's reference (lazily)."""

    index: int
    kind: str  # "conv" or "pool"
    dims: tuple
    mode: str | None
    arrays: dict[str, Any]
    bias: bool = True
    ref: dict[str, Any] | None = None
    position: int = 0
    """1-based place in the run's plan (the configurations actually tried)."""

    @property
    def ident(self) -> str:
        return f"c{self.index}"

    @property
    def desc(self) -> str:
        if self.kind == "conv":
            b, d, p, h, w, k, s, pad = self.dims
            return f"batch {b}, in_channels {d}, out_channels {p}, input {h}x{w}, kernel {k}, stride {s}, padding {pad}"
        b, c, h, w, k, s, pad = self.dims
        return f"{self.mode} pooling, batch {b}, channels {c}, input {h}x{w}, kernel {k}, stride {s}" + (
            f", padding {pad}" if pad else ""
        )

    def spec(self) -> dict:
        if self.kind == "conv":
            _, d, p, _, _, k, s, pad = self.dims
            extra = {"in_channels": d, "out_channels": p}
        else:
            _, _, _, _, k, s, pad = self.dims
            extra = {}
        return {
            "index": self.index,
            "id": self.ident,
            "kind": self.kind,
            "mode": self.mode,
            "kernel": k,
            "stride": s,
            "padding": pad,
            "arrays": sorted(self.arrays),
            **extra,
        }


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


def _reference_name(kind: str, modes: list[str]) -> str:
    if kind == "conv2d":
        return "paddle.nn.Conv2D"
    return " and ".join({"max": "paddle.nn.MaxPool2D", "avg": "paddle.nn.AvgPool2D"}[m] for m in modes)


def _configs(kind: str, modes: list[str], bias: bool) -> list[_Config]:
    """Fresh random inputs (a new seed per run: nothing can be precomputed) for every configuration."""
    import numpy as np

    rng = np.random.default_rng(secrets.randbits(64))
    out: list[_Config] = []
    if kind == "conv2d":
        for i, dims in enumerate(CONV_GRID, 1):
            b, d, p, h, w, k, s, pad = dims
            oh, ow = _out(h, k, s, pad), _out(w, k, s, pad)
            arrays = {
                "x": rng.standard_normal((b, d, h, w)).astype("float32"),
                "weight": rng.standard_normal((p, d, k, k)).astype("float32"),
                "bias": (rng.standard_normal((p,)) if bias else np.zeros(p)).astype("float32"),
                "seed": rng.standard_normal((b, p, oh, ow)).astype("float32"),
            }
            out.append(_Config(i, "conv", dims, None, arrays, bias))
        return out
    for mode in modes:
        for dims in POOL_GRID + POOL_PADDED_GRID:
            b, c, h, w, k, s, pad = dims
            arrays = {
                "x": rng.standard_normal((b, c, h, w)).astype("float32"),
                "seed": rng.standard_normal((b, c, _out(h, k, s, pad), _out(w, k, s, pad))).astype("float32"),
            }
            out.append(_Config(len(out) + 1, "pool", dims, mode, arrays))
    return out


def _plan(configs: list[_Config], accepts: dict, auto_modes: bool) -> list[_Config]:
    """The configurations the worker runs, given what the constructor takes (the same rule as the worker)."""
    plan = []
    for c in configs:
        if c.kind == "pool" and (
            (c.dims[-1] and not accepts.get("padding")) or (c.mode == "avg" and auto_modes and not accepts.get("mode"))
        ):
            continue
        plan.append(c)
    for i, c in enumerate(plan, 1):
        c.position = i
    return plan


# --------------------------------------------------------------------------- Paddle's reference (checker side)


def _out(m: int, k: int, s: int, p: int) -> int:
    return (m + 2 * p - k) // s + 1


def _eager() -> Any:
    """paddle, in eager (dygraph) mode in this thread: its mode is per thread, and verify_op may run in one."""
    import paddle

    if not paddle.in_dynamic_mode():
        paddle.disable_static()
    return paddle


def _conv(x: Any, weight: Any, bias: Any, s: int, pad: int, seed: Any | None = None) -> dict[str, Any]:
    paddle = _eager()
    import paddle.nn.functional as F

    xt = paddle.to_tensor(x, stop_gradient=seed is None)
    wt = paddle.to_tensor(weight.copy(), stop_gradient=seed is None)
    bt = paddle.to_tensor(bias.copy(), stop_gradient=seed is None)
    out = F.conv2d(xt, wt, bt, stride=s, padding=pad)
    ref = {"out": out.numpy()}
    if seed is not None:
        (out * paddle.to_tensor(seed)).sum().backward()
        ref.update(grad_x=xt.grad.numpy(), grad_weight=wt.grad.numpy(), grad_bias=bt.grad.numpy())
    return ref


def _pool(x: Any, mode: str, k: int, s: int, pad: int, seed: Any | None = None, exclusive: bool = True) -> dict:
    paddle = _eager()
    import paddle.nn.functional as F

    xt = paddle.to_tensor(x, stop_gradient=seed is None)
    if mode == "max":
        out = F.max_pool2d(xt, kernel_size=k, stride=s, padding=pad)
    else:
        out = F.avg_pool2d(xt, kernel_size=k, stride=s, padding=pad, exclusive=exclusive)
    ref = {"out": out.numpy()}
    if seed is not None:
        (out * paddle.to_tensor(seed)).sum().backward()
        ref["grad_x"] = xt.grad.numpy()
    return ref


def _reference(c: _Config) -> dict[str, Any]:
    if c.ref is None:
        a = c.arrays
        if c.kind == "conv":
            c.ref = _conv(a["x"], a["weight"], a["bias"], c.dims[6], c.dims[7], a["seed"])
        else:
            c.ref = _pool(a["x"], c.mode or "max", *c.dims[4:], seed=a["seed"])
    return c.ref


def _compare(got: Any, want: Any) -> tuple[bool, float]:
    import numpy as np

    diff = np.abs(got.astype("float64") - want.astype("float64"))
    ok = bool(np.all(diff <= ATOL + RTOL * np.abs(want)))
    return ok, float(np.nan_to_num(diff, nan=np.inf).max()) if diff.size else 0.0


def _shape_hint(got: tuple, c: _Config) -> str:
    """Name the mistake whose output size equals the student's."""
    if c.kind == "conv":
        b, _, channels, h, w, k, s, p = c.dims
    else:
        b, channels, h, w, k, s, p = c.dims
    if len(got) != 4:
        return f"the output must be 4-D [batch, channels, height, width]; yours has {len(got)} dims"
    if got[0] != b:
        return f"the batch dimension is {got[0]}, expected {b}: keep every sample of the batch"
    if got[1] != channels:
        return f"{got[1]} output channels, expected {channels}"
    candidates = [
        ("off by one: M' = (M + 2P - U) // S + 1", (_out(h, k, s, p) - 1, _out(w, k, s, p) - 1)),
        ("padding ignored: pad the input with P zeros on every side first", (_out(h, k, s, 0), _out(w, k, s, 0))),
        ("stride applied twice (S*S): the window moves by S", (_out(h, k, s * s, p), _out(w, k, s * s, p))),
        ("stride ignored: the window must move by S", (_out(h, k, 1, p), _out(w, k, 1, p))),
        ("padding added on one side only: pad P zeros on both sides", ((h + p - k) // s + 1, (w + p - k) // s + 1)),
        ("height and width swapped", (_out(w, k, s, p), _out(h, k, s, p))),
    ]
    right = (_out(h, k, s, p), _out(w, k, s, p))
    return "; or ".join([text for text, size in candidates if tuple(got[2:]) == size and size != right][:2])


def _value_hint(got: Any, c: _Config) -> str:
    """Name the mistake whose output equals the student's (recomputed with Paddle on the same inputs)."""
    import numpy as np

    a = c.arrays
    if c.kind == "conv":
        s, pad = c.dims[6], c.dims[7]
        w, b = a["weight"], a["bias"]
        variants = [
            (
                "kernel flipped: you computed a true convolution; paddle.nn.Conv2D (and the book) "
                "slide the kernel without flipping it (cross-correlation)",
                w[:, :, ::-1, ::-1],
                b,
            ),
            ("kernel transposed: row u of the kernel must multiply row i*S+u of the input", w.transpose(0, 1, 3, 2), b),
            ("bias not added: Z^p = sum_d W^{p,d} * X^d + b^p (5.18)", w, np.zeros_like(b)),
        ]
        if w.shape[0] == w.shape[1]:
            variants.append(
                (
                    "weight axes swapped: the weight should be [P, D, k, k] (W^{p,d}, output channel first);"
                    " yours is used as [D, P, k, k]",
                    w.transpose(1, 0, 2, 3),
                    b,
                )
            )
        for text, w_alt, b_alt in variants:
            if _compare(got, _conv(a["x"], np.ascontiguousarray(w_alt), b_alt, s, pad)["out"])[0]:
                return text
        return ""
    mode = c.mode or "max"
    k, s, pad = c.dims[4:]
    if mode == "avg" and pad and _compare(got, _pool(a["x"], "avg", k, s, pad, exclusive=False)["out"])[0]:
        return (
            "the average counted the padded zeros: paddle.nn.AvgPool2D (exclusive=True) divides by the"
            " number of real input pixels in each window"
        )
    other = "avg" if mode == "max" else "max"
    if _compare(got, _pool(a["x"], other, k, s, pad)["out"])[0]:
        return f"computes {other} pooling where {mode} pooling was asked"
    return ""


# --------------------------------------------------------------------------- judging one configuration


class _Fail(Exception):
    def __init__(self, failure: str, **data: Any) -> None:
        super().__init__(failure)
        self.failure = failure
        self.data = data


def _judge(c: _Config, msg: dict, arrays: dict[str, Any], memory: int, notes: list[str]) -> None:
    """Raise :class:`_Fail` unless the worker's arrays for configuration ``c`` match Paddle's."""
    where = {"config": c.desc, "config_index": c.position}
    status = msg.get("status")
    if status == "error":
        stage = {"constructor": "the constructor", "weights": "setting the weights", "backward": "backward"}.get(
            str(msg.get("stage")), "forward"
        )
        error = str(msg.get("error", "an error"))[:400]
        hint = _memory_hint(memory) if error.startswith("MemoryError") else ""
        raise _Fail(f"{stage} raised {error}", detail=str(msg.get("detail", ""))[:2000], hint=hint, **where)
    if c.kind == "conv":
        _, d, p, _, _, k, _, _ = c.dims
        want_w = [p, d, k, k]
        got_w = msg.get("weight")
        if status == "weight" or got_w != want_w:
            if got_w is None:
                raise _Fail(
                    f"no weight parameter with {p}x{d}x{k}x{k} = {p * d * k * k} values",
                    hint="create the kernel as a parameter [out_channels, in_channels, k, k] (self.weight)",
                    **where,
                )
            if got_w == [d, p, k, k]:
                raise _Fail(
                    f"weight should be [P, D, k, k] = {want_w}, got [D, P, k, k] = {got_w}",
                    hint="the first axis of the kernel is the output channel p, the second the input channel d"
                    " (W^{p,d}, 5.18), as in paddle.nn.Conv2D",
                    **where,
                )
            raise _Fail(f"weight should be [P, D, k, k] = {want_w}, got {got_w}", **where)
        if c.bias and msg.get("bias") is None:
            raise _Fail(
                "no bias parameter: the book's Conv2D adds a bias b^p to each output channel (5.18)",
                hint="create self.bias = self.create_parameter([out_channels], is_bias=True) and add it;"
                " pass --no-bias if this assignment's operator has none",
                **where,
            )
    if status != "ok":
        raise _Fail(f"the operator's process sent an unknown status {str(status)[:40]!r}", **where)
    ref = _reference(c)
    got = arrays["out"]
    if tuple(got.shape) != tuple(ref["out"].shape):
        raise _Fail(
            "wrong output shape",
            got_shape=list(got.shape),
            expected_shape=list(ref["out"].shape),
            hint=_shape_hint(tuple(got.shape), c),
            **where,
        )
    ok, max_diff = _compare(got, ref["out"])
    if not ok:
        raise _Fail("wrong values", max_diff=max_diff, got_shape=list(got.shape), hint=_value_hint(got, c), **where)
    grads = [n for n in ("grad_x", "grad_weight", "grad_bias") if n in ref]
    if msg.get("note") == "detached":
        note = "gradients not checked: the output is not connected to the input by paddle operations"
        if note not in notes:
            notes.append(note)
        return
    for name in grads:
        what = {"grad_x": "the input", "grad_weight": "the weight", "grad_bias": "the bias"}[name]
        if name not in arrays:
            if name == "grad_bias" and msg.get("bias") is None:
                continue  # --no-bias and no bias parameter
            raise _Fail(
                f"no gradient reached {what} (the forward values are right)",
                hint=f"use {what.split()[-1]} through paddle operations: a copy through numpy or .detach()"
                " leaves the parameter untrained",
                **where,
            )
        g, want = arrays[name], ref[name]
        if g.size != want.size:
            raise _Fail(f"the gradient with respect to {what} has shape {list(g.shape)}", **where)
        ok, diff = _compare(g.reshape(want.shape), want)
        if not ok:
            raise _Fail(
                f"wrong gradient with respect to {what} (the forward values are right)",
                max_diff=diff,
                hint="paddle differentiates the forward by itself: a custom backward, or values copied"
                " through numpy, break the gradient",
                **where,
            )


def _memory_hint(memory: int) -> str:
    return f"the sandbox allows {memory / sandbox.GiB:g} GiB of memory (--memory to change)"


# --------------------------------------------------------------------------- the run


@dataclass
class _Check:
    """One verify-op run: the options, the configurations, and what has arrived so far."""

    run: sandbox.Run
    configs: list[_Config]
    base: dict[str, Any]
    auto_modes: bool
    timeout: float
    startup_timeout: float
    memory: int
    notes: list[str]
    ready_at: float | None = None
    plan: list[_Config] | None = None
    done: int = 0

    def result(self, failure: str = "", **data: Any) -> VerifyResult:
        total = len(self.plan) if self.plan else 0
        return VerifyResult(
            **self.base,
            passed=not failure,
            tried=self.done,
            total=total,
            failure=failure,
            notes=tuple(self.notes),
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
            hint = f"killed itself (os.kill), or ran out of memory ({_memory_hint(self.memory)})"
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
            if self.ready_at is None:  # sent before any student code ran
                if event == "sandbox-error":  # PID 1 could not start the worker: the machine's fault
                    raise sandbox.SandboxUnavailable(str(data.get("message", ""))[:300])
                if event != "ready":
                    return self.died(f"{event!r} before the worker was ready")
                self.ready_at = at
            elif self.plan is None:
                if event == "import-error":
                    error = str(data.get("error", ""))[:400]
                    return self.result(
                        f"importing {self.base['target'].split(':')[0]} raised {error}",
                        detail=str(data.get("detail", ""))[:2000],
                        hint=_memory_hint(self.memory) if error.startswith("MemoryError") else "",
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
        self.plan = _plan(self.configs, accepts, self.auto_modes)
        if self.plan and self.plan[0].kind == "pool":
            modes = sorted({c.mode for c in self.plan}, key=["max", "avg"].index)
            self.base["reference"] = _reference_name("pool2d", modes)
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
        try:
            _judge(self.plan[self.done] if self.plan else self.configs[0], data, arrays, self.memory, self.notes)
        except _Fail as err:
            self.run.kill()
            return self.result(err.failure, **err.data)
        return None


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
) -> VerifyResult:
    """Run the student's operator over the configuration grid in a sandbox and judge its outputs.

    ``timeout`` bounds the student's code (import + every configuration); paddle's own import in
    the worker is allowed ``startup_timeout`` more.  ``bias=False`` (``--no-bias``) compares a
    convolution with a bias-free ``paddle.nn.Conv2D``.  ``isolate=False`` (``--no-sandbox``) runs
    the worker without namespaces (limits and protocol unchanged).  Raises
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
    path, name = parse_target(target)
    modes = [mode] if mode else ["max", "avg"]
    configs = _configs(kind, modes, bias)
    notes: list[str] = []
    if not isolate:
        notes.append("ran WITHOUT the sandbox (--no-sandbox): the student's code could reach this machine")
    if kind == "conv2d" and not bias:
        notes.append("compared with a bias-free paddle.nn.Conv2D (--no-bias)")
    job = sandbox.new_job()
    run = None
    try:
        package = Path(__file__).resolve().parents[2]  # convcalc itself, read-only: files may import it
        _write_job(job / "files", path, name, configs, [] if mode is None else modes, package)
        run = sandbox.start(
            [sys.executable, "-I", "/job/worker.py"],
            job,
            sandbox.Limits(memory=memory, cpu_seconds=int(startup_timeout + timeout) + 5),
            isolate=isolate,
            env={"OMP_NUM_THREADS": "1", "GLOG_minloglevel": "3", "PYTHONDONTWRITEBYTECODE": "1"},
            expose=(str(package),),
        )
        sandbox.first_frame(run, 30.0)
        started = time.monotonic()
        import paddle  # noqa: F401 - for the reference; imported while the worker starts

        base = dict(
            target=f"{path.name}:{name}",
            kind=kind,
            mode=mode if kind == "pool2d" else None,
            reference=_reference_name(kind, modes if mode else ["max"]),
            sandbox="namespaces" if isolate else "none (--no-sandbox)",
        )
        check = _Check(run, configs, base, mode is None, timeout, startup_timeout, memory, notes)
        return check.converse(started)
    finally:
        if run is not None:
            run.close(grace=2.0)  # a worker that said "done" exits by itself; anything else was killed
        else:
            shutil.rmtree(job, ignore_errors=True)


def _write_job(files: Path, path: Path, name: str, configs: list[_Config], modes: list[str], package: Path) -> None:
    """The sandbox's /job: the worker, the student's file alone, the inputs (.npy) and spec.json."""
    import numpy as np

    (files / "student").mkdir()
    shutil.copyfile(path, files / "student" / path.name)
    shutil.copyfile(WORKER, files / "worker.py")
    for c in configs:
        for n, arr in c.arrays.items():
            np.save(files / f"{c.ident}_{n}.npy", arr, allow_pickle=False)
    spec = {
        "sys_path": [str(package.parent)],
        "path": f"student/{path.name}",
        "name": name,
        "modes": modes,
        "configs": [c.spec() for c in configs],
    }
    (files / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    for entry in files.rglob("*"):  # readable by the sandbox's nobody whatever the teacher's umask
        entry.chmod(0o755 if entry.is_dir() else 0o644)
