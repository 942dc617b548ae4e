"""The trusted harness of verify-op: the only process that holds the checker's result channel.

Standard library only: it runs as PID 1 of the sandbox (loaded by path from
:mod:`convcalc.homework.operators._sandbox_init`, before any sys.path exists) and, with
``--no-sandbox``, as the plain intermediate process.  The student's file is imported in a
*child* (the worker, ``_verify_worker``) that holds exactly two pipes: requests from the
harness on fd 3, its answers on fd 4; every other descriptor is closed before it starts, so it
has no way to the checker's channel.  The harness asks, one request at a time, "load" (import
the file and find the class), "run" (one configuration, with its input arrays, drawn by the
checker and sent only now), "exit"; it reads exactly one answer per request, rejects anything
sent unasked, and writes every event the checker reads itself, with its own indices and only
whitelisted fields.  A file that does not bind the class's name at its top level is refused
before any of its code runs (:func:`defines`).
"""

from __future__ import annotations

import ast
import json
import os
import select
import struct

__all__ = ["frame", "read_frame", "defines", "skipped", "harness", "ARRAY_NAMES", "Violation"]

MAX_JSON = 64 * 1024
MAX_ARRAY = 4 * (1 << 20) + 1024
ARRAY_NAMES = ("out", "grad_x", "grad_weight", "grad_bias")
INPUT_NAMES = ("x", "weight", "bias", "seed")


class Violation(Exception):
    """The worker broke the request/response protocol (the run fails with this reason)."""


def frame(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack(">I", len(payload)) + payload


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def send_json(fd: int, data: dict) -> None:
    write_all(fd, frame(b"J", json.dumps(data).encode()))


def _exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame(fd: int) -> tuple[bytes, bytes]:
    """One frame (kind, payload); EOFError at the end, :class:`Violation` for anything malformed."""
    kind = os.read(fd, 1)
    if not kind:
        raise EOFError
    (length,) = struct.unpack(">I", _exact(fd, 4))
    if kind == b"J" and length <= MAX_JSON or kind == b"A" and length <= MAX_ARRAY:
        return kind, _exact(fd, length)
    raise Violation(f"a frame of type {kind!r} and {length} bytes")


def read_json(fd: int) -> dict:
    kind, payload = read_frame(fd)
    if kind != b"J":
        raise Violation("an array where a message was due")
    try:
        data = json.loads(payload)
    except ValueError:
        raise Violation("a message that is not JSON") from None
    if not isinstance(data, dict):
        raise Violation("a message that is not an object")
    return data


# --------------------------------------------------------------------------- before any student code


def _binds(node: ast.stmt, name: str) -> bool:
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name == name
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(n, ast.Name) and n.id == name for t in targets for n in ast.walk(t))
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            if alias.name == "*":
                return True  # cannot tell: the import itself will say
            if (alias.asname or alias.name.split(".")[0]) == name:
                return True
        return False
    blocks = []
    if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.AsyncFor, ast.AsyncWith)):
        blocks = [node.body, getattr(node, "orelse", [])]
    elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
        blocks = [node.body, node.orelse, node.finalbody] + [h.body for h in node.handlers]
    return any(_binds(child, name) for block in blocks for child in block)


def defines(source: bytes, name: str) -> bool:
    """Whether the file binds ``name`` at its top level (a class, a def, an assignment, an import).

    A syntax error counts as "maybe": the worker's import then reports it with its line.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return any(_binds(node, name) for node in tree.body)


def skipped(spec: dict, accepts: dict, auto_modes: bool) -> bool:
    """Whether a configuration is left out: pooling with padding when the constructor takes no ``padding``,
    avg pooling when the modes were not chosen (--mode) and the constructor takes no ``mode``."""
    if spec["kind"] != "pool":
        return False
    return bool(spec["padding"] and not accepts.get("padding")) or bool(
        spec["mode"] == "avg" and auto_modes and not accepts.get("mode")
    )


# --------------------------------------------------------------------------- the conversation


def _short(value: object, limit: int) -> str:
    return str(value)[:limit]


def _shape(value: object) -> list | None:
    if value is None:
        return None
    if isinstance(value, list) and len(value) <= 8 and all(isinstance(v, int) and 0 <= v < 1 << 31 for v in value):
        return value
    raise Violation("a parameter shape that is not a list of numbers")


def _result_fields(data: dict) -> tuple[dict, list]:
    """The whitelisted fields of the worker's answer to "run", and the arrays it announces."""
    if data.get("event") != "result":
        raise Violation(f"{_short(data.get('event'), 40)!r} where a result was due")
    status = data.get("status")
    if status not in ("ok", "error", "weight"):
        raise Violation(f"a result with status {_short(status, 40)!r}")
    names = data.get("arrays", []) if status == "ok" else []
    if not (
        isinstance(names, list)
        and all(isinstance(n, str) for n in names)
        and (status != "ok" or (names and names[0] == "out"))
        and len(set(names)) == len(names)
        and set(names) <= set(ARRAY_NAMES)
    ):
        raise Violation("a result whose arrays are not out[, grad_x, grad_weight, grad_bias]")
    calls = data.get("calls", [])
    if not isinstance(calls, list) or len(calls) > 50 or not all(isinstance(c, str) for c in calls):
        raise Violation("a result with a malformed list of calls")
    out = {
        "status": status,
        "arrays": names,
        "stage": _short(data.get("stage", ""), 40),
        "error": _short(data.get("error", ""), 400),
        "detail": _short(data.get("detail", ""), 2000),
        "note": "detached" if data.get("note") == "detached" else "",
        "calls": [_short(c, 100) for c in calls],
    }
    if "weight" in data or "bias" in data:
        out["weight"] = _shape(data.get("weight"))
        out["bias"] = _shape(data.get("bias"))
    return out, names


class _Worker:
    """The harness's side of the two pipes to the worker."""

    def __init__(self, req: int, resp: int, pid: int, pidfd: int | None) -> None:
        self.req, self.resp, self.pid, self.pidfd = req, resp, pid, pidfd

    def unasked(self) -> None:
        """Anything the worker sent that was not asked for is a violation."""
        ready, _, _ = select.select([self.resp], [], [], 0)
        if ready:
            raise Violation("the operator's process sent data it was not asked for")

    def ask(self, data: dict, arrays: list[bytes] = ()) -> None:
        self.unasked()
        try:
            write_all(self.req, frame(b"J", json.dumps(data).encode()) + b"".join(frame(b"A", a) for a in arrays))
        except BrokenPipeError:
            raise EOFError from None

    def wait_readable(self) -> None:
        """Until the worker sends something or exits (its exit: EOFError, even if a grandchild keeps fd 4)."""
        watch = [self.resp] + ([self.pidfd] if self.pidfd is not None else [])
        while True:
            ready, _, _ = select.select(watch, [], [], 1.0)
            _reap(self.pid)
            if self.resp in ready:
                return
            if self.pidfd is not None and self.pidfd in ready:
                ready, _, _ = select.select([self.resp], [], [], 0.2)  # what it wrote before it exited
                if ready:
                    return
                raise EOFError

    def answer(self) -> dict:
        self.wait_readable()
        return read_json(self.resp)

    def array(self) -> bytes:
        self.wait_readable()
        kind, payload = read_frame(self.resp)
        if kind != b"A":
            raise Violation("a message where an array was due")
        return payload


def _reap(worker: int) -> None:
    """PID 1 reaps orphans (a student's forked children) as they die; the worker's own status is kept."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == worker:
            return
        try:
            os.waitpid(info.si_pid, 0)
        except ChildProcessError:
            return


def harness(job: dict, proto: int, req: int, resp: int, pid: int) -> bool:
    """Converse with the worker ``pid`` and write every event the checker reads on ``proto``.

    ``job``: ``configs`` (the specs, in order, with ``arrays``: name -> .npy bytes), ``auto_modes``.
    Returns when the run is over (whether the worker ever said it was ready); the caller exits
    with the worker's status.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    worker = _Worker(req, resp, pid, pidfd)
    ready = False
    try:
        hello = worker.answer()
        if hello.get("event") != "ready":
            raise Violation(f"{_short(hello.get('event'), 40)!r} before the worker was ready")
        send_json(proto, {"event": "ready"})
        ready = True
        worker.ask({"op": "load"})
        loaded = worker.answer()
        if loaded.get("event") == "import-error":
            send_json(
                proto,
                {
                    "event": "import-error",
                    "error": _short(loaded.get("error", ""), 400),
                    "detail": _short(loaded.get("detail", ""), 2000),
                },
            )
            return ready
        accepts = loaded.get("accepts")
        if loaded.get("event") != "loaded" or not isinstance(accepts, dict):
            raise Violation(f"{_short(loaded.get('event'), 40)!r} where the student's class was expected")
        accepts = {n: accepts.get(n) is True for n in ("mode", "padding")}
        send_json(proto, {"event": "loaded", "accepts": accepts})
        for spec in job["configs"]:
            if skipped(spec, accepts, job["auto_modes"]):
                continue
            inputs = job["arrays"][spec["id"]]
            request = {k: v for k, v in spec.items() if k != "arrays"}
            worker.ask({"op": "run", "config": request, "arrays": list(inputs)}, list(inputs.values()))
            fields, names = _result_fields(worker.answer())
            arrays = [worker.array() for _ in names]
            send_json(proto, {"event": "result", "index": spec["index"], **fields})
            for payload in arrays:
                write_all(proto, frame(b"A", payload))
        worker.ask({"op": "exit"})
        send_json(proto, {"event": "done"})
    except Violation as err:
        send_json(proto, {"event": "violation", "message": str(err)[:300]})
    except EOFError:
        pass  # the worker ended: the checker reads the exit status
    return ready
