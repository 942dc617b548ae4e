"""verify-op verdicts come only from the harness's own call of the student's class: forged frames never pass.

Each attack is a student file with a *decoy* ``Conv2D`` (right parameter shapes, an all-zero output,
so it can only fail on its values) that, at import, tries to put a passing stream of frames where
the checker reads: on fd 3 and fd 4, from a thread, from a double-forked grandchild in a session of
its own, after moving the descriptor and closing the real one, on every descriptor it has, as
answers sent before they were asked for, through /proc (its own, its parent's, PID 1's) after
closing its pipes, through pidfd_getfd and ptrace on its parent and PID 1, after SIGSTOP/SIGKILL to
them, and on stdout/stderr.  Every one must end in one clear ✗ — never ✓ — and each prints what its
forging did, so the test also sees that the attack ran.  Without the decoy the file is refused
before any of its code runs.  The hijack (the worker's own loop replaced at import, answering with
Paddle's conv2d) is the documented residual: it passes only with the note "uses
paddle.nn.functional.conv2d" and fails with ``--forbid conv``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from convcalc.homework.operators import sandbox
from convcalc.homework.operators.verify_op import verify_op
from convcalc.render.homework import verify_text

DECOY = '''
import json, os, struct, sys, threading, time
import paddle
import paddle.nn as nn

sys.stdout.reconfigure(line_buffering=True)


class Conv2D(nn.Layer):  # a decoy: right parameters, an all-zero output
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.weight = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size])
        self.bias = self.create_parameter([out_channels], is_bias=True)
        self.k, self.s, self.p, self.c = kernel_size, stride, padding, out_channels

    def forward(self, x):
        h = (x.shape[2] + 2 * self.p - self.k) // self.s + 1
        w = (x.shape[3] + 2 * self.p - self.k) // self.s + 1
        return paddle.zeros([x.shape[0], self.c, h, w])


def frame(kind, payload):
    return kind + struct.pack(">I", len(payload)) + payload


def event(**data):
    return frame(b"J", json.dumps(data).encode())


def stream():
    """What a passing run looks like to the checker: ready, loaded, nine results, done."""
    out = [event(event="ready"), event(event="loaded", accepts={"mode": True, "padding": True})]
    out += [event(event="result", index=i, status="ok", arrays=[], note="detached") for i in range(1, 10)]
    return b"".join(out + [event(event="done")])


def forge(fd):
    try:
        n = os.write(fd, stream())
        return f"fd {fd}: wrote {n}"
    except OSError as err:
        return f"fd {fd}: {err.strerror}"

'''

ATTACKS = {
    "at_import": "print('forged', forge(3), forge(4))",
    "from_thread": (
        "def spam():\n"
        "    for _ in range(20):\n"
        "        print('thread', forge(3), forge(4)); time.sleep(0.05)\n"
        "threading.Thread(target=spam, daemon=True).start()"
    ),
    "from_fork": (
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(0.3); print('grandchild', forge(3), forge(4)); os._exit(0)\n"
        "    os._exit(0)"
    ),
    "dup_close_real": (
        "os.dup2(3, 77); os.dup2(4, 78); os.close(3); os.close(4)\nprint('moved', forge(77), forge(78))"
    ),
    "every_inherited_fd": "print('every fd', [forge(fd) for fd in range(0, 256) if fd not in (0, 1, 2)][:6])",
    "answers_unasked": "print('unasked', forge(4), forge(4))",
    "reopen_proc_fd": (
        "os.close(3); os.close(4)\n"
        "for pid in ('self', os.getppid(), 1):\n"
        "    for n in range(0, 12):\n"
        "        try:\n"
        "            fd = os.open(f'/proc/{pid}/fd/{n}', os.O_WRONLY)\n"
        "            print('reopened', pid, n, forge(fd))\n"
        "        except OSError as err:\n"
        "            print('reopen', pid, n, err.strerror)"
    ),
    "pidfd_getfd": (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "for pid in (os.getppid(), 1):\n"
        "    try:\n"
        "        pfd = os.pidfd_open(pid)\n"
        "    except OSError as err:\n"
        "        print('pidfd_open', pid, err.strerror); continue\n"
        "    for n in range(0, 12):\n"
        "        fd = libc.syscall(438, pfd, n, 0)\n"
        "        print('pidfd_getfd', pid, n, forge(fd) if fd >= 0 else os.strerror(ctypes.get_errno()))"
    ),
    "ptrace_harness": (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "for pid in (os.getppid(), 1):\n"
        "    r = libc.ptrace(16, pid, 0, 0)\n"
        "    print('ptrace attach', pid, r, os.strerror(ctypes.get_errno()) if r else 'attached')\n"
        "    try:\n"
        "        open(f'/proc/{pid}/mem', 'r+b').close(); print('mem of', pid, 'opened')\n"
        "    except OSError as err:\n"
        "        print('mem', pid, err.strerror)\n"
        "print('after', forge(3), forge(4))"
    ),
    "signal_harness": (
        "import signal\n"
        "for pid in (os.getppid(), 1):\n"
        "    for sig in (signal.SIGSTOP, signal.SIGKILL):\n"
        "        try:\n"
        "            os.kill(pid, sig); print('signalled', pid, sig)\n"
        "        except OSError as err:\n"
        "            print('kill', pid, sig, err.strerror)\n"
        "print('after', forge(3), forge(4))"
    ),
    "stdout_frames": "sys.stdout.flush(); print('std', forge(1), forge(2))",
}

HIJACK = '''
import sys
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

worker = sys.modules["__main__"]


class Conv2D(nn.Layer):  # a decoy: never called
    pass


def _run(cls, cfg, a, path):
    """Answers the harness's request itself, with Paddle's own conv2d (the documented residual)."""
    x = paddle.to_tensor(a["x"], stop_gradient=False)
    w = paddle.to_tensor(a["weight"], stop_gradient=False)
    b = paddle.to_tensor(a["bias"], stop_gradient=False)
    try:
        out = F.conv2d(x, w, b, stride=cfg["stride"], padding=cfg["padding"])
    except Exception as err:
        worker.send("result", index=cfg["index"], status="error", stage="forward", error=str(err),
                    calls=worker.CALLS)
        return
    (out * paddle.to_tensor(a["seed"])).sum().backward()
    worker.send("result", index=cfg["index"], status="ok", arrays=["out", "grad_x", "grad_weight", "grad_bias"],
                weight=list(w.shape), bias=list(b.shape), calls=worker.CALLS)
    for t in (out, x.grad, w.grad, b.grad):
        worker.send_array(t.numpy())


worker._run = _run
'''


def _write(folder: Path, name: str, text: str) -> str:
    path = folder / f"forge_{name}.py"
    path.write_text(text, encoding="utf-8")
    return f"{path}:Conv2D"


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forged")
    targets = {name: _write(folder, name, DECOY + code + "\n") for name, code in ATTACKS.items()}
    targets["no_class_at_import"] = _write(
        folder, "no_class", DECOY.replace("class Conv2D(nn.Layer)", "class Decoy(nn.Layer)") + ATTACKS["at_import"]
    )
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(verify_op, t, "conv2d", timeout=60) for name, t in targets.items()}
        return {name: f.result() for name, f in futures.items()}


def _never_passes(r) -> str:
    text = verify_text(r)
    assert not r.passed and text.startswith("✗") and "✓" not in text, text
    assert r.failure.count("\n") == 0 and r.failure
    return text


@pytest.mark.parametrize("name", list(ATTACKS))
def test_forged_frames_never_pass(forged, name):
    r = forged[name]
    text = _never_passes(r)
    if name in ("at_import", "dup_close_real", "every_inherited_fd", "answers_unasked", "from_thread", "from_fork"):
        # whatever reached the only pipe it can write (its answers to the harness) broke the protocol,
        # or was never read: then the decoy was called and failed on its own values
        assert "broke the protocol" in r.failure or r.failure == "wrong values", text
    else:
        assert "broke the protocol" in r.failure or r.failure in ("wrong values",) or "before reporting" in r.failure


def test_the_forging_code_ran_and_found_no_channel(forged):
    # fd 3 is the harness's request pipe (write: EBADF); fds past 4 do not exist
    detail = forged["every_inherited_fd"].detail + forged["at_import"].detail
    assert detail == "" or "Bad file descriptor" in detail or "broke the protocol" in forged["at_import"].failure
    reopen = verify_text(forged["reopen_proc_fd"])
    assert "reopened 1" not in reopen  # PID 1 (the harness) holds the channel: never reachable


def test_a_file_without_the_class_is_refused_before_it_runs(forged):
    r = forged["no_class_at_import"]
    _never_passes(r)
    assert r.failure == "forge_no_class.py defines no 'Conv2D' at its top level"
    assert r.detail == ""  # none of its code ran: it printed nothing


def test_the_worker_holds_only_its_two_pipes_and_no_inputs(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os\n"
        "fds = sorted(int(n) for n in os.listdir('/proc/self/fd'))\n"
        "job = sorted(os.listdir('/job'))\n"
        'raise ImportError(f\'fds={fds} job={job} cmdline1={open("/proc/1/cmdline", "rb").read()!r}\')\n'
        "class Conv2D:\n    pass\n",
        encoding="utf-8",
    )
    r = verify_op(f"{probe}:Conv2D", "conv2d", timeout=30)
    assert not r.passed
    fds = eval(r.failure.split("fds=")[1].split(" job=")[0])  # noqa: S307 - our own probe's list
    assert set(fds) - {0, 1, 2, 3, 4} <= {max(fds)}  # the listing's own descriptor at most
    assert ".npy" not in r.failure  # the inputs are never in the sandbox: they come one request at a time
    assert "cmdline1=b'sandbox-init" in r.failure and "/tmp/convcalc-sandbox" not in r.failure


def test_the_hijacked_loop_passes_only_as_using_paddles_conv_and_fails_with_forbid(tmp_path):
    path = tmp_path / "hijack.py"
    path.write_text(HIJACK, encoding="utf-8")
    r = verify_op(f"{path}:Conv2D", "conv2d", timeout=60)
    if r.passed:  # the residual: its answers are right, and the verdict says whose kernel made them
        assert "paddle.nn.functional.conv2d" in " ".join(r.notes)
    r = verify_op(f"{path}:Conv2D", "conv2d", timeout=60, forbid=("conv",))
    assert not r.passed and ("forbids (--forbid conv)" in r.failure or "not allowed" in r.failure), r.failure


@pytest.mark.slow
@pytest.mark.parametrize("name", ["at_import", "reopen_proc_fd", "pidfd_getfd", "ptrace_harness", "signal_harness"])
def test_forged_frames_never_pass_in_the_user_namespace_mode(tmp_path, monkeypatch, name):
    monkeypatch.setattr(sandbox, "_real_root", lambda: False)  # what a teacher who is not root gets
    r = verify_op(_write(tmp_path, name, DECOY + ATTACKS[name] + "\n"), "conv2d", timeout=60)
    _never_passes(r)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["at_import", "pidfd_getfd", "ptrace_harness"])
def test_forged_frames_never_pass_without_the_sandbox(tmp_path, name):
    if os.geteuid() != 0:
        pytest.skip("the root teacher's case")
    r = verify_op(_write(tmp_path, name, DECOY + ATTACKS[name] + "\n"), "conv2d", timeout=60, isolate=False)
    _never_passes(r)
