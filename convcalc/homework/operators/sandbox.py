"""Run untrusted code (a student's operator) in a throwaway sandbox, and read what it sends back.

The threat model and the guarantees are in docs/homework.md ("The sandbox").  In short: the
student's file is hostile.  :func:`start` runs a program under ``unshare`` (util-linux) in new
user (unless we are root), PID, mount, network, IPC and UTS namespaces;
:mod:`convcalc.homework.operators._sandbox_init` (PID 1 inside) builds a read-only root with only the
system, Python and the venv, a read-only ``/job`` holding the checker's files and a small
private ``/tmp``, then runs the program as uid nobody (or without capabilities) with resource
limits and an empty environment.  The program talks back only through frames on one pipe
(:func:`read_frames`): a type byte, a 4-byte length and a bounded JSON object or a ``.npy``
array, validated here and never unpickled.  Its stdout and stderr are captured up to a cap;
beyond a hard cap the run is killed.  Killing the ``unshare`` process (timeout, cap, end of
run) kills PID 1 and with it every process in the namespace.

``isolate=False`` (the teacher's explicit ``--no-sandbox``) runs the same program as a plain
child with the same limits and protocol but none of the isolation.
"""

from __future__ import annotations

import io
import json
import os
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from convcalc.errors import ConvcalcError

__all__ = [
    "Limits",
    "Run",
    "SandboxUnavailable",
    "ProtocolError",
    "start",
    "read_array",
    "parse_size",
]

GiB = 1 << 30
MiB = 1 << 20
MAX_JSON = 64 * 1024
MAX_ARRAY = 4 * MiB
MAX_STREAM = 64 * MiB
ARRAY_DTYPES = ("float16", "float32", "float64", "int32", "int64")
INIT = Path(__file__).with_name("_sandbox_init.py")
HARNESS = Path(__file__).with_name("_harness.py")
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


@dataclass(frozen=True)
class Limits:
    """Resource limits of the sandboxed program (the kernel enforces the first five)."""

    memory: int = 2 * GiB
    """Address space (RLIMIT_AS), bytes."""
    cpu_seconds: int = 300
    """CPU time (RLIMIT_CPU); the checker's wall-clock timeout is usually hit first."""
    file_size: int = 16 * MiB
    """Largest file the program may write (RLIMIT_FSIZE)."""
    processes: int = 64
    """Processes and threads (RLIMIT_NPROC)."""
    open_files: int = 256
    """Open file descriptors (RLIMIT_NOFILE)."""
    scratch: int = 32 * MiB
    """Size of the private /tmp."""
    output_kept: int = 64 * 1024
    """Bytes of stdout/stderr kept for the report (the end of it)."""
    output_max: int = 8 * MiB
    """Bytes of stdout/stderr after which the run is killed."""


class SandboxUnavailable(ConvcalcError):
    """The kernel (or the machine) offers no isolation: refuse unless --no-sandbox."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"cannot isolate the student's code: {reason}",
            "run on Linux with user namespaces enabled (sysctl kernel.unprivileged_userns_clone=1, util-linux "
            "unshare), or pass --no-sandbox to run it unisolated (only for code you trust)",
        )


class ProtocolError(Exception):
    """The program sent something that is not a valid frame (garbage, too large, wrong type)."""


def parse_size(text: str) -> int:
    """``"2G"``, ``"512M"``, ``"1.5GiB"`` or a number of bytes -> bytes."""
    raw = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    factor = 1
    for suffix, mult in (("K", 1 << 10), ("M", MiB), ("G", GiB), ("T", 1 << 40)):
        if raw.endswith(suffix):
            raw, factor = raw[:-1], mult
            break
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value * factor > 1 << 44:
        raise ConvcalcError(f"{text!r} is not a memory size", "write e.g. 2G, 512M or 4096M")
    return int(value * factor)


def read_array(payload: bytes, limit: int = MAX_ARRAY) -> Any:
    """A ``.npy`` payload -> a numpy array; strictly checked, never unpickled."""
    import numpy as np

    if len(payload) > limit + 1024:
        raise ProtocolError(f"array of {len(payload)} bytes (at most {limit})")
    stream = io.BytesIO(payload)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ProtocolError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError, TypeError) as err:
        raise ProtocolError(f"not a .npy array ({err})") from None
    if fortran or dtype.hasobject or dtype.name not in ARRAY_DTYPES:
        raise ProtocolError(f"array of dtype {dtype} (allowed: {', '.join(ARRAY_DTYPES)}, C order)")
    if not (isinstance(shape, tuple) and len(shape) <= 8 and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise ProtocolError(f"array with shape {shape!r}")
    count = 1
    for n in shape:
        count *= n
    data = payload[stream.tell() :]
    if count * dtype.itemsize != len(data):
        raise ProtocolError(f"array {list(shape)} of {dtype} with {len(data)} data bytes")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _frames(fd: int, out: queue.Queue, run: Run) -> None:
    """Reader thread: frames from ``fd`` into ``out`` as (kind, value, arrival time); kind json/array/garbage/eof."""
    total = 0
    with os.fdopen(fd, "rb", buffering=0) as fh:

        def exact(n: int) -> bytes:
            buf = b""
            while len(buf) < n:
                chunk = fh.read(n - len(buf))
                if not chunk:
                    raise EOFError
                buf += chunk
            return buf

        try:
            while True:
                head = fh.read(1)
                if not head:
                    break
                kind = head
                (length,) = struct.unpack(">I", exact(4))
                total += 5 + length
                if total > MAX_STREAM:
                    raise ProtocolError(f"more than {MAX_STREAM // MiB} MiB of results")
                if kind == b"J":
                    if length > MAX_JSON:
                        raise ProtocolError(f"a message of {length} bytes")
                    try:
                        data = json.loads(exact(length))
                    except ValueError:
                        raise ProtocolError("a message that is not JSON") from None
                    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
                        raise ProtocolError("a message without an event")
                    out.put(("json", data, time.monotonic()))
                elif kind == b"A":
                    if length > MAX_ARRAY + 1024:
                        raise ProtocolError(f"an array of {length} bytes")
                    out.put(("array", read_array(exact(length)), time.monotonic()))
                else:
                    raise ProtocolError(f"a frame of unknown type {kind!r}")
        except EOFError:
            out.put(("garbage", "a truncated message", time.monotonic()))
        except ProtocolError as err:
            out.put(("garbage", str(err), time.monotonic()))
            run.kill()
        out.put(("eof", None, time.monotonic()))


def _output(fd: int, run: Run) -> None:
    """Reader thread: stdout+stderr, keeping the last ``output_kept`` bytes; kill beyond ``output_max``."""
    with os.fdopen(fd, "rb", buffering=0) as fh:
        while True:
            chunk = fh.read(65536)
            if not chunk:
                break
            run.output_bytes += len(chunk)
            run.output_tail = (run.output_tail + chunk)[-run.limits.output_kept :]
            if run.output_bytes > run.limits.output_max and not run.flooded:
                run.flooded = True
                run.kill()


@dataclass
class Run:
    """A started program: its frames (``frames`` queue), its captured output, ``kill()`` and ``wait()``."""

    proc: subprocess.Popen
    limits: Limits
    job: Path
    isolated: bool
    frames: queue.Queue
    output_tail: bytes = b""
    output_bytes: int = 0
    flooded: bool = False
    output_reader: threading.Thread | None = None

    def kill(self) -> None:
        """Kill the whole run: the unshare process (PID 1 inside follows, then every process in the namespace)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.kill()
        except OSError:
            pass

    def wait(self, timeout: float = 10.0) -> int | None:
        """The exit code, once the process has ended and its output has been read to the end."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            try:
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:  # pragma: no cover - a process in D state
                return None
        if self.output_reader is not None:
            self.output_reader.join(timeout=2.0)  # a leftover holding the pipe (only without isolation)
        return code

    def output(self, limit: int = 800) -> str:
        """The end of what the program printed (warnings dropped), for a failure report."""
        text = self.output_tail.decode("utf-8", errors="replace")
        lines = [ln for ln in text.strip().splitlines() if "warn" not in ln.lower()]
        return "\n".join(lines[-8:])[-limit:]

    def close(self, grace: float = 0.0) -> None:
        """Let the program end by itself for ``grace`` seconds, kill what is left, remove the job folder."""
        if grace > 0:
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.kill()
        self.wait()
        shutil.rmtree(self.job, ignore_errors=True)


def _expose() -> list[str]:
    """Python's installation and the venv, read-only at their own paths."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    return sorted(p for p in paths if p and os.path.isdir(p) and p != "/")


def _real_root() -> bool:
    """Root outside: no user namespace needed, and the program runs as nobody."""
    return os.geteuid() == 0


def _unshare() -> str | None:
    """util-linux ``unshare``, or None."""
    found = shutil.which("unshare", path="/usr/bin:/bin:/usr/sbin:/sbin:" + os.environ.get("PATH", ""))
    return found


def _pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the checker


def new_job() -> Path:
    """A private folder for one run: ``files/`` becomes the sandbox's read-only ``/job``."""
    job = Path(tempfile.mkdtemp(prefix="convcalc-sandbox-"))
    (job / "files").mkdir()
    (job / "root").mkdir()
    os.chmod(job, 0o711)
    os.chmod(job / "files", 0o755)
    os.chmod(job / "root", 0o755)
    return job


def start(
    argv: list[str],
    job: Path,
    limits: Limits = Limits(),
    *,
    isolate: bool = True,
    env: dict[str, str] | None = None,
    expose: tuple[str, ...] = (),
    expose_at: tuple[tuple[str, str], ...] = (),
    harness: dict | None = None,
) -> Run:
    """Start ``argv`` (paths as seen inside: ``/job/...``) in a sandbox; frames arrive on ``Run.frames``.

    Raises :class:`SandboxUnavailable` when isolation was asked for and the machine cannot give it
    (here, or from :func:`first_frame`).  With ``isolate=False`` ``/job/`` in argv is rewritten to
    the job's files folder and the program finds it in ``$CONVCALC_JOB``.  ``expose``: more folders
    to show read-only at their own paths; ``expose_at``: (host folder, path inside) pairs.

    ``harness`` (verify-op): PID 1 is then the trusted harness of
    :mod:`convcalc.homework.operators._harness`; the program gets a request pipe (fd 3) and an
    answer pipe (fd 4) and never the checker's channel.  It holds ``configs`` (specs), ``inputs``
    (the host folder of their ``.npy`` arrays, read by PID 1 and never mounted), ``auto_modes``,
    ``student`` (the host path of the student's file), ``file`` and ``name``.
    """
    clean_env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", **(env or {})}
    files = str(job / "files")
    if not isolate:
        argv = [files + a[4:] if a.startswith("/job/") else a for a in argv]
        clean_env.update(HOME=files, CONVCALC_JOB=files)
    real_root = _real_root()
    cfg = {
        "isolate": isolate,
        "root": str(job / "root"),
        "job": files,
        "cwd": "/tmp" if isolate else files,
        "system": [d for d in SYSTEM_DIRS if os.path.lexists("/" + d)],
        "expose": _expose() + [str(p) for p in expose],
        "expose_at": [list(pair) for pair in expose_at],
        "limits": asdict(limits),
        "scratch_bytes": limits.scratch,
        "real_root": real_root,
        "proto_fd": 0,
        "argv": argv,
        "env": clean_env,
    }
    if harness is not None:
        cfg["harness"] = harness
        cfg["harness_module"] = str(HARNESS)
    cmd = [sys.executable, "-I", "-S", str(INIT)]
    if isolate:
        unshare = _unshare()
        if sys.platform != "linux" or unshare is None:
            raise SandboxUnavailable("no Linux namespaces here (util-linux `unshare` not found)")
        prefix = [unshare, "--pid", "--fork", "--kill-child", "--mount", "--net", "--ipc", "--uts"]
        cmd = prefix + ([] if real_root else ["--user", "--map-root-user"]) + cmd
    proto_r, proto_w = os.pipe()
    out_r, out_w = os.pipe()
    cfg_r, cfg_w = os.pipe()  # the configuration (host paths) goes through a pipe, never into argv
    cfg["proto_fd"] = proto_w
    try:
        proc = subprocess.Popen(
            [*cmd, str(cfg_r)],
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            pass_fds=(proto_w, cfg_r),
            start_new_session=True,
            preexec_fn=_pdeathsig,
            cwd=files,
        )
    except OSError:
        os.close(proto_r), os.close(out_r), os.close(cfg_w)
        raise
    finally:
        os.close(proto_w)
        os.close(out_w)
        os.close(cfg_r)
    threading.Thread(target=_write_config, args=(cfg_w, json.dumps(cfg).encode()), daemon=True).start()
    run = Run(proc=proc, limits=limits, job=job, isolated=isolate, frames=queue.Queue())
    threading.Thread(target=_frames, args=(proto_r, run.frames, run), daemon=True).start()
    run.output_reader = threading.Thread(target=_output, args=(out_r, run), daemon=True)
    run.output_reader.start()
    return run


def _write_config(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError:  # PID 1 died before reading it: first_frame reports why
        pass


def first_frame(run: Run, timeout: float) -> None:
    """Wait for PID 1's "sandbox-up"; raise :class:`SandboxUnavailable` with unshare's reason otherwise."""
    try:
        kind, data, _ = run.frames.get(timeout=timeout)
    except queue.Empty:
        run.close()
        raise SandboxUnavailable(f"the sandbox did not start within {timeout:g} s") from None
    if kind == "json" and data.get("event") == "sandbox-up":
        return
    run.wait()
    reason = data.get("message") if kind == "json" else ""
    reason = reason or run.output(300).strip().splitlines()[-1:] or [f"unshare exited with {run.proc.returncode}"]
    run.close()
    raise SandboxUnavailable(reason if isinstance(reason, str) else reason[0])
