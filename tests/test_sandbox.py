"""The verify-op sandbox against hostile student files (tests/data/homework/ops/attack_*.py).

Each attack is a student file that, at import, tries one thing the issue saw succeed: write into
the teacher's home, read the teacher's environment, /etc/passwd and a secret file, list the
other submissions, connect to a listener on this machine, run os.system, leave children alive
after the timeout, kill its parent, hold 3 GiB, print 700 MB, or forge the verdict.  The test
owns the targets (a fake home, a secret file, a listener, a marker path, a token in the escaped
children's command line), substitutes them into a copy of the file and checks on the host that
the attack had no effect *and* that verify-op still gives one clear failure.  The attacks run
concurrently in one module fixture (each starts a sandbox and paddle).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from convcalc.cli import main
from convcalc.homework.operators import sandbox
from convcalc.homework.operators.sandbox import ProtocolError, SandboxUnavailable, read_array
from convcalc.homework.operators.verify_op import verify_op
from convcalc.render.homework import verify_text

OPS = Path(__file__).parent / "data" / "homework" / "ops"
ENV_SECRET = "teacher-env-secret-4711"
FILE_SECRET = "teacher-file-secret-0815"


def _substitute(src: Path, dst: Path, **constants: object) -> None:
    text = src.read_text(encoding="utf-8")
    for name, value in constants.items():
        text, n = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", text, count=1, flags=re.M)
        assert n == 1, f"{src.name} has no {name} constant"
    dst.write_text(text, encoding="utf-8")


def _escaped(token: str) -> list[int]:
    """Host PIDs whose command line carries ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def attacks(tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher")
    home, subs, private = root / "home", root / "submissions", root / "private"
    for d in (home, subs, private):
        d.mkdir()
    for other in ("alice_wang.py", "bob_li.py"):
        shutil.copy(OPS / "good_conv.py", subs / other)
    secret = private / "secret.txt"
    secret.write_text(FILE_SECRET + "\n")
    secret.chmod(stat.S_IRUSR | stat.S_IWUSR)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    token = f"convcalc-escape-{os.getpid()}-{time.monotonic_ns()}"
    marks = {"os_system": root / "os-system-mark", "unpickled": Path("/tmp/convcalc-unpickled")}
    marks["unpickled"].unlink(missing_ok=True)
    files = {
        "write_home": dict(TARGETS=[str(home), str(subs)]),
        "read_secrets": dict(SECRET_FILE=str(secret)),
        "list_submissions": {},
        "network": dict(PORT=listener.getsockname()[1]),
        "os_system": dict(MARK=str(marks["os_system"])),
        "escape_timeout": dict(TOKEN=token),
        "kill_parent": {},
        "memory_hog": {},
        "output_flood": {},
        "forge_report": {},
        "forge_pickle": {},
    }
    for name, constants in files.items():
        _substitute(OPS / f"attack_{name}.py", subs / f"attack_{name}.py", **constants)
    runs = {name: (name, True) for name in files}
    runs["kill_parent_no_sandbox"] = ("kill_parent", False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONVCALC_TEACHER_SECRET", ENV_SECRET)
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {
                key: pool.submit(
                    verify_op,
                    f"{subs}/attack_{name}.py:Conv2D",
                    "conv2d",
                    None,
                    3 if name == "escape_timeout" else 60,
                    isolate=isolate,
                )
                for key, (name, isolate) in runs.items()
            }
            results = {key: f.result() for key, f in futures.items()}
    try:
        conn, _ = listener.accept()
        connected = conn.recv(100) or b"(connected)"
        conn.close()
    except OSError:
        connected = b""
    listener.close()
    yield {"results": results, "home": home, "subs": subs, "connected": connected, "token": token, "marks": marks}
    for pid in _escaped(token):  # only if the sandbox failed: don't leave them running
        os.kill(pid, 9)


def _everything(r) -> str:
    """All a teacher (or an autograder showing it to the student) would see."""
    return json.dumps(asdict(r)) + verify_text(r)


def _one_clear_failure(r) -> None:
    assert not r.passed, r
    first = verify_text(r).splitlines()[0]
    assert first.startswith("✗ ") and r.failure in first


def test_write_outside_scratch_fails(attacks):
    r = attacks["results"]["write_home"]
    _one_clear_failure(r)
    assert "FileNotFoundError" in r.failure or "Read-only" in r.failure
    assert not (attacks["home"] / "convcalc-pwned.txt").exists()
    assert not (attacks["subs"] / "convcalc-pwned.txt").exists()


def test_environment_passwd_and_secret_file_unreadable(attacks):
    r = attacks["results"]["read_secrets"]
    _one_clear_failure(r)
    seen = _everything(r)
    assert "leaked" in seen  # the file ran and reported what it could read ...
    assert ENV_SECRET not in seen and "CONVCALC_TEACHER_SECRET" not in seen  # ... not the teacher's environment
    assert FILE_SECRET not in seen and "unreadable" in seen
    host_users = [ln.split(":")[0] for ln in Path("/etc/passwd").read_text().splitlines() if ln and ln[0] != "#"]
    hidden = [u for u in host_users if u not in ("root", "nobody")]
    assert hidden, "this machine's /etc/passwd has only root and nobody: nothing to hide"
    assert not any(f"{u}:x:" in seen for u in hidden)


def test_other_submissions_invisible(attacks):
    r = attacks["results"]["list_submissions"]
    _one_clear_failure(r)
    seen = _everything(r)
    assert "my folder holds" in seen
    assert "alice_wang.py" not in seen and "bob_li.py" not in seen and "attack_network.py" not in seen


def test_no_network(attacks):
    r = attacks["results"]["network"]
    _one_clear_failure(r)
    assert "unreachable" in r.failure or "refused" in r.failure
    assert attacks["connected"] == b""


def test_os_system_cannot_touch_the_host(attacks):
    r = attacks["results"]["os_system"]
    _one_clear_failure(r)
    assert "os.system returned" in r.failure
    assert not attacks["marks"]["os_system"].exists()


def test_children_in_new_sessions_die_at_the_timeout(attacks):
    r = attacks["results"]["escape_timeout"]
    _one_clear_failure(r)
    assert r.failure == "timed out after 3 s while importing attack_escape_timeout.py"
    survivors = _escaped(attacks["token"])
    for _ in range(50):  # the kernel tears the namespace down asynchronously: allow it a moment
        if not survivors:
            break
        time.sleep(0.1)
        survivors = _escaped(attacks["token"])
    assert survivors == []


@pytest.mark.parametrize("key", ["kill_parent", "kill_parent_no_sandbox"])
def test_killing_the_parent_leaves_the_checker_reporting(attacks, key):
    r = attacks["results"][key]
    _one_clear_failure(r)
    # The checker is never the worker's parent; the worker at most kills itself.
    assert "killed by signal 9" in r.failure or r.failure == "wrong values"


def test_memory_hog_hits_the_limit(attacks):
    r = attacks["results"]["memory_hog"]
    _one_clear_failure(r)
    assert "MemoryError" in r.failure and "2 GiB" in r.hint


def test_output_flood_is_cut(attacks):
    r = attacks["results"]["output_flood"]
    _one_clear_failure(r)
    assert r.failure == "the operator printed more than 8 MiB (output is capped)"
    assert len(r.detail) <= 800


def test_forged_report_does_not_pass(attacks):
    r = attacks["results"]["forge_report"]
    _one_clear_failure(r)
    # its frames reach only the harness, which takes nothing it did not ask for
    assert "broke the protocol" in r.failure


def test_pickled_array_is_refused_not_unpickled(attacks):
    r = attacks["results"]["forge_pickle"]
    _one_clear_failure(r)
    # fd 3 is now the harness's request pipe (read-only for it): the forged array never leaves
    assert "Bad file descriptor" in r.failure or "broke the protocol" in r.failure, r.failure
    assert not attacks["marks"]["unpickled"].exists()


# --------------------------------------------------------------------------- fast checks (no paddle)


def _npy(array, **kw) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, **kw)
    return buf.getvalue()


def test_read_array_accepts_plain_arrays_only():
    a = np.arange(6, dtype="float32").reshape(2, 3)
    assert np.array_equal(read_array(_npy(a)), a)
    with pytest.raises(ProtocolError, match="dtype object"):
        read_array(_npy(np.array([{"x": 1}], dtype=object), allow_pickle=True))
    with pytest.raises(ProtocolError, match="C order"):
        read_array(_npy(np.asfortranarray(a)))
    with pytest.raises(ProtocolError, match="data bytes"):
        read_array(_npy(a)[:-4])
    with pytest.raises(ProtocolError, match="not a .npy"):
        read_array(b"garbage" * 20)
    with pytest.raises(ProtocolError, match="at most"):
        read_array(_npy(np.zeros(2_000_000, "float32")), limit=1 << 20)


PROBE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
r = {"uid": os.getuid(), "pid": os.getpid(), "env": sorted(os.environ)}
r["umount"] = libc.umount2(b"/usr", 2) == 0
r["mount"] = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0
r["caps"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
r["roots"] = sorted(os.listdir("/"))
for path in ("/usr/convcalc-x", "/job/convcalc-x", "/etc/convcalc-x", "/tmp/convcalc-x"):
    try:
        open(path, "w").close()
        r[path] = "written"
    except OSError as err:
        r[path] = err.strerror
report(**r)
"""


@pytest.mark.parametrize(
    "userns,umask", [(False, 0o022), (True, 0o022), (False, 0o077)], ids=["plain", "user-namespace", "umask-077"]
)
def test_sandbox_view_and_privileges(monkeypatch, userns, umask):
    import sys

    if userns:  # what a teacher who is not root gets: a user namespace, every capability dropped
        monkeypatch.setattr(sandbox, "_real_root", lambda: False)
    old_umask = os.umask(umask)  # a teacher's strict umask must not lock nobody out of the sandbox
    try:
        job = sandbox.new_job()
    finally:
        os.umask(old_umask)
    (job / "files" / "p.py").write_text(
        "import json, os, struct\n"
        "def report(**d):\n"
        "    p = json.dumps({'event': 'report', **d}).encode()\n"
        "    os.write(3, b'J' + struct.pack('>I', len(p)) + p)\n" + PROBE
    )
    old_umask = os.umask(umask)
    try:
        run = sandbox.start([sys.executable, "-I", "/job/p.py"], job)
    finally:
        os.umask(old_umask)
    try:
        sandbox.first_frame(run, 30)
        kind, r, _ = run.frames.get(timeout=60)
        assert kind == "json", (r, run.output())
    finally:
        run.close()
    assert r["pid"] == 2  # PID 1 is the sandbox's init; the program is its only child
    assert r["env"] == ["HOME", "LANG", "PATH"]
    assert not r["umount"] and not r["mount"] and int(r["caps"], 16) == 0
    python_tops = {Path(p).parts[1] for p in sandbox._expose()}  # e.g. /root/.pyenv/... and /work/venv
    assert set(r["roots"]) <= set(sandbox.SYSTEM_DIRS) | {"dev", "etc", "job", "proc", "tmp"} | python_tops
    assert r["/usr/convcalc-x"] == r["/job/convcalc-x"] == r["/etc/convcalc-x"] == "Read-only file system"
    assert r["/tmp/convcalc-x"] == "written"
    if not userns and os.geteuid() == 0:
        assert r["uid"] == 65534


def test_exposed_folder_under_tmp_is_visible_read_only(tmp_path):
    """A venv or a clone under /tmp (as in CI) stays visible although the sandbox has its own /tmp."""
    import sys

    shown = tmp_path / "venv-like"
    shown.mkdir()
    (shown / "marker.txt").write_text("visible")
    job = sandbox.new_job()
    (job / "files" / "p.py").write_text(
        "import json, os, struct\n"
        f"path = {str(shown / 'marker.txt')!r}\n"
        "r = {'read': open(path).read()}\n"
        "try:\n"
        "    open(path, 'w')\n"
        "    r['write'] = 'written'\n"
        "except OSError as err:\n"
        "    r['write'] = err.strerror\n"
        "p = json.dumps({'event': 'report', **r}).encode()\n"
        "os.write(3, b'J' + struct.pack('>I', len(p)) + p)\n"
    )
    run = sandbox.start([sys.executable, "-I", "/job/p.py"], job, expose=(str(shown),))
    try:
        sandbox.first_frame(run, 30)
        kind, r, _ = run.frames.get(timeout=60)
        assert kind == "json", (r, run.output())
    finally:
        run.close()
    assert r == {"event": "report", "read": "visible", "write": "Read-only file system"}


def test_refuses_with_one_line_when_isolation_is_impossible(monkeypatch, tmp_path, capsys):
    fake = tmp_path / "unshare"
    fake.write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sandbox, "_unshare", lambda: str(fake))
    with pytest.raises(SandboxUnavailable, match="Operation not permitted"):
        verify_op(f"{OPS}/good_conv.py:Conv2D", "conv2d")
    monkeypatch.setattr(sandbox, "_unshare", lambda: None)
    assert main(["verify-op", f"{OPS}/good_conv.py:Conv2D", "--kind", "conv2d"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot isolate" in err[0] and "--no-sandbox" in err[0]
