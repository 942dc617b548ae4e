"""PID 1 of a sandbox: builds the read-only root, then runs the untrusted program as its only child.

Started by :mod:`convcalc.homework.operators.sandbox` as
``unshare --pid --fork --kill-child --mount --net --ipc --uts [--user --map-root-user] python -I -S THIS FD``,
so it begins as (namespace) root in fresh PID, mount, network, IPC and UTS namespaces.  Its
configuration arrives on the inherited pipe FD (never in argv), and once the root is built its
command line is overwritten to ``sandbox-init``: /proc/1/cmdline shows no host path.  It imports
only the standard library (it runs before, and outside, any sys.path the sandbox will have).

With a ``harness`` in the configuration (verify-op) it is also the trusted harness
(:mod:`convcalc.homework.operators._harness`): it keeps the checker's result channel to itself,
starts the program with only a request pipe (fd 3) and an answer pipe (fd 4), every other
descriptor closed, and writes every event the checker reads.

Steps: a private tmpfs becomes the new root; the system directories, Python and the venv are
bind-mounted into it read-only; ``/job`` (the checker's inputs) read-only; ``/tmp`` a small
writable tmpfs; a minimal ``/dev`` and ``/etc``; a fresh ``/proc``.  ``pivot_root`` then detaches
the host's tree entirely (no /root, /home, /work, other submissions).  The child gets its own
session, the resource limits, no privileges (uid nobody when we are real root, else every
capability dropped with no_new_privs) and an empty environment, and execs the program.  This
process stays PID 1: when it exits, the kernel kills everything left in the namespace, so no
grandchild (even one that called setsid) outlives the run.  Setup failures are reported as one
frame on the protocol pipe, which the checker turns into a one-line refusal.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import resource
import shutil
import signal
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 28, 38
SECBITS_LOCKED_NOROOT = 0x2F  # NOROOT, NOROOT_LOCKED, NO_SETUID_FIXUP, NO_SETUID_FIXUP_LOCKED + KEEP_CAPS_LOCKED
SYS_PIVOT_ROOT, SYS_CAPSET = 155, 126  # x86_64
NOBODY = 65534

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            None if src is None else src.encode(),
            dst.encode(),
            None if fstype is None else fstype.encode(),
            ctypes.c_ulong(flags),
            None if data is None else data.encode(),
        ),
        f"mount {src or fstype} on {dst}",
    )


def bind(src: str, dst: str, *, writable: bool = False, is_file: bool = False) -> None:
    if is_file:
        if not os.path.exists(dst):
            open(dst, "a").close()
    else:
        os.makedirs(dst, exist_ok=True)
    mount(src, dst, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID
    if not writable:
        flags |= MS_RDONLY
    if not is_file or not src.startswith("/dev/"):
        flags |= MS_NODEV
    mount(None, dst, None, flags)


def build_root(cfg: dict) -> None:
    root = cfg["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0755")
    # The system: /usr (and /bin, /lib... as on the host: symlinks into usr, or their own binds).
    for top in cfg["system"]:
        host = "/" + top
        if os.path.islink(host):
            os.symlink(os.readlink(host), root + host)
        elif os.path.isdir(host):
            bind(host, root + host)
    # The scratch directory before the exposed paths, which may live under /tmp (a venv in a CI clone).
    os.makedirs(root + "/tmp", exist_ok=True)
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={cfg['scratch_bytes']},mode=1777")
    system = tuple("/" + top + "/" for top in cfg["system"])
    for path in cfg["expose"]:  # Python's prefix, the venv: read-only, at the same path
        if os.path.isdir(path) and not (path + "/").startswith(system):
            bind(path, root + path)
    for host, target in cfg.get("expose_at", []):  # convcalc: read-only, under /opt (no host path)
        if os.path.isdir(host):
            bind(host, root + target)
    os.makedirs(root + "/etc", exist_ok=True)
    for name in ("ld.so.cache", "ld.so.conf", "localtime", "nsswitch.conf"):
        host = "/etc/" + name
        if os.path.isfile(host):
            bind(host, root + host, is_file=True)
    with open(root + "/etc/passwd", "w") as fh:
        fh.write("root:x:0:0:root:/tmp:/bin/false\nnobody:x:65534:65534:nobody:/tmp:/bin/false\n")
    with open(root + "/etc/group", "w") as fh:
        fh.write("root:x:0:\nnogroup:x:65534:\n")
    with open(root + "/etc/hosts", "w") as fh:
        fh.write("127.0.0.1 localhost\n")
    os.makedirs(root + "/dev", exist_ok=True)
    for dev in ("null", "zero", "full", "random", "urandom"):
        bind("/dev/" + dev, root + "/dev/" + dev, writable=True, is_file=True)
    # /job: a copy on a tmpfs of its own (its mount names no host folder), then read-only.
    os.makedirs(root + "/job", exist_ok=True)
    mount("tmpfs", root + "/job", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    shutil.copytree(cfg["job"], root + "/job", dirs_exist_ok=True)
    mount(None, root + "/job", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.makedirs(root + "/dev/shm", exist_ok=True)
    mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=1777")
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # Nothing writable at the top: remount the new root itself read-only.
    os.makedirs(root + "/.old", exist_ok=True)
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b".old"), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def drop_privileges(real_root: bool) -> None:
    if real_root:  # real root outside: become nobody (no capabilities, no access to root's files)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    else:  # root of a user namespace mapped to the teacher: keep the uid, drop every capability
        for cap in range(64):
            _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        _check(_libc.prctl(PR_SET_SECUREBITS, SECBITS_LOCKED_NOROOT, 0, 0, 0), "securebits")
        header = struct.pack("II", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
        data = bytes(24)  # effective, permitted, inheritable = 0 (two 32-bit words each)
        _check(_libc.syscall(SYS_CAPSET, header, data), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def set_limits(limits: dict, isolate: bool) -> None:
    pairs = {
        "memory": resource.RLIMIT_AS,
        "cpu_seconds": resource.RLIMIT_CPU,
        "file_size": resource.RLIMIT_FSIZE,
        "open_files": resource.RLIMIT_NOFILE,
    }
    if isolate:  # RLIMIT_NPROC counts every process of the uid: without a sandbox, all of the teacher's
        pairs["processes"] = resource.RLIMIT_NPROC
    for key, which in pairs.items():
        value = int(limits[key])
        resource.setrlimit(which, (value, value))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def frame(fd: int, data: dict) -> None:
    payload = json.dumps(data).encode()
    os.write(fd, b"J" + struct.pack(">I", len(payload)) + payload)


def read_config(fd: int) -> dict:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return json.loads(b"".join(chunks))


def scrub_argv() -> None:
    """Overwrite this process's command line (/proc/1/cmdline) with ``sandbox-init``: it held host paths.

    The kernel shows the memory between ``arg_start`` and ``arg_end`` (/proc/self/stat, fields 48
    and 49); this process rewrites it through /proc/self/mem (Python's own argv is a copy)."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # fields 48, 49 counted from 1 with pid and comm
        if not 0 < end - start < 1 << 20:
            return
        title = b"sandbox-init"[: end - start - 1]
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(title + bytes(end - start - len(title)))
    except (OSError, ValueError, IndexError):
        pass


def load_harness(path: str):
    spec = importlib.util.spec_from_file_location("_convcalc_harness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_inputs(job: dict) -> None:
    """Read the configurations' input arrays (never mounted in the sandbox) into memory, before pivot_root."""
    arrays = {}
    for spec in job["configs"]:
        arrays[spec["id"]] = {}
        for name in spec["arrays"]:
            with open(os.path.join(job["inputs"], f"{spec['id']}_{name}.npy"), "rb") as fh:
                arrays[spec["id"]][name] = fh.read()
    job["arrays"] = arrays


def close_other_fds(keep: int) -> None:
    """Close every descriptor above ``keep`` (not only the one we know of)."""
    try:
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
    except (OSError, ValueError):
        for name in os.listdir("/proc/self/fd"):
            if int(name) > keep:
                try:
                    os.close(int(name))
                except OSError:
                    pass


def start_child(cfg: dict, isolate: bool, fds: tuple[int, ...]) -> None:  # pragma: no cover - after fork
    """In the child: ``fds`` become 3, 4, ...; everything else above 2 closed; limits, privileges, exec."""
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if isolate:  # its own session; without isolation it stays in the group the checker kills
            os.setsid()
        high = [os.dup(fd) for fd in fds]  # above every number we are about to overwrite
        moved = []
        for fd in high:
            while fd < 3 + len(fds):
                fd = os.dup(fd)
            moved.append(fd)
        for i, fd in enumerate(moved):
            os.dup2(fd, 3 + i, inheritable=True)
        close_other_fds(2 + len(fds))
        os.chdir(cfg["cwd"])
        set_limits(cfg["limits"], isolate)
        if isolate:
            drop_privileges(cfg["real_root"])
        elif cfg["real_root"]:  # --no-sandbox as root: no capability left, so it cannot trace the harness
            drop_privileges(False)
        else:
            _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
    except BaseException as err:  # noqa: BLE001 - report any setup failure, never run unconfined
        try:
            if len(fds) == 1:  # the plain protocol pipe (no harness) is fd 3
                frame(3, {"event": "sandbox-error", "message": f"worker setup: {err}"})
            os.write(2, f"sandbox: worker setup failed: {err}\n".encode())
        finally:
            os._exit(71)


def main() -> None:
    cfg = read_config(int(sys.argv[1]))  # isolate=false (--no-sandbox): only the limits, the child and the protocol
    os.umask(0o022)  # the new root's folders must be traversable by nobody whatever the teacher's umask
    proto = int(cfg["proto_fd"])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)
    isolate = bool(cfg["isolate"])
    job = cfg.get("harness")
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no process of the sandbox may trace or read this one
        harness = load_harness(cfg["harness_module"]) if job else None
        if job:
            load_inputs(job)
            with open(job["student"], "rb") as fh:
                student = fh.read()
        if isolate:
            build_root(cfg)
            _libc.sethostname(b"sandbox", 7)
        scrub_argv()
    except OSError as err:
        frame(proto, {"event": "sandbox-error", "message": str(err)})
        sys.exit(70)
    frame(proto, {"event": "sandbox-up"})
    if job and not harness.defines(student, job["name"]):  # before any of the student's code runs
        frame(proto, {"event": "ready"})
        frame(
            proto,
            {
                "event": "import-error",
                "error": f"{job['file']} defines no {job['name']!r} at its top level",
                "detail": "",
                "fix": f"define class {job['name']}(paddle.nn.Layer) in the file",
            },
        )
        os._exit(0)
    if job:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            start_child(cfg, isolate, (req_r, resp_w))
        os.close(req_r)
        os.close(resp_w)
        ready = harness.harness(job, proto, req_w, resp_r, pid)
        os.close(req_w)
        status = wait_for(pid, grace=2.0)
        if not ready and os.waitstatus_to_exitcode(status) == 71:  # not the student's doing: the machine's
            frame(proto, {"event": "sandbox-error", "message": "the worker could not be set up"})
    else:
        pid = os.fork()
        if pid == 0:
            start_child(cfg, isolate, (proto,))
        status = wait_for(pid)
    os.close(proto)
    # Exiting PID 1 makes the kernel SIGKILL whatever the worker left behind.
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


def wait_for(pid: int, grace: float | None = None) -> int:
    """The worker's wait status, reaping every orphan on the way; after ``grace`` seconds it is killed."""
    import time

    deadline = None if grace is None else time.monotonic() + grace
    while True:
        try:
            done, st = os.waitpid(-1, 0 if deadline is None else os.WNOHANG)
        except ChildProcessError:
            return 0
        if done == pid:
            return st
        if done == 0:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = None
            else:
                time.sleep(0.02)


if __name__ == "__main__":
    main()
