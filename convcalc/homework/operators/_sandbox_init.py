"""PID 1 of a sandbox: builds the read-only root, then runs the untrusted program as its only child.

Started by :mod:`convcalc.homework.operators.sandbox` as
``unshare --pid --fork --kill-child --mount --net --ipc --uts [--user --map-root-user] python -I -S THIS CONFIG_JSON``,
so it begins as (namespace) root in fresh PID, mount, network, IPC and UTS namespaces.  It imports
only the standard library (it runs before, and outside, any sys.path the sandbox will have).

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
import json
import os
import resource
import signal
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 24, 28, 38
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
    for path in cfg["expose"]:  # Python's prefix, the venv, convcalc: read-only, at the same path
        if os.path.isdir(path) and not (path + "/").startswith(system):
            bind(path, root + path)
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
    bind(cfg["job"], root + "/job")
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


def main() -> None:
    cfg = json.loads(sys.argv[1])  # isolate=false (--no-sandbox): only the limits, the child and the protocol
    os.umask(0o022)  # the new root's folders must be traversable by nobody whatever the teacher's umask
    proto = int(cfg["proto_fd"])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)
    isolate = bool(cfg["isolate"])
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if isolate:
            build_root(cfg)
            _libc.sethostname(b"sandbox", 7)
    except OSError as err:
        frame(proto, {"event": "sandbox-error", "message": str(err)})
        sys.exit(70)
    frame(proto, {"event": "sandbox-up"})
    pid = os.fork()
    if pid == 0:
        try:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if isolate:  # its own session; without isolation it stays in the group the checker kills
                os.setsid()
            if proto != 3:
                os.dup2(proto, 3)
                os.close(proto)
            os.set_inheritable(3, True)
            os.chdir(cfg["cwd"])
            set_limits(cfg["limits"], isolate)
            if isolate:
                drop_privileges(cfg["real_root"])
            else:
                _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
            os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
        except BaseException as err:  # noqa: BLE001 - report any setup failure, never run unconfined
            try:
                frame(3 if proto != 3 else proto, {"event": "sandbox-error", "message": f"worker setup: {err}"})
            finally:
                os._exit(71)
    os.close(proto)
    status = 0
    while True:  # reap every orphan until the worker itself exits
        try:
            done, st = os.wait()
        except ChildProcessError:
            break
        if done == pid:
            status = st
            break
    # Exiting PID 1 makes the kernel SIGKILL whatever the worker left behind.
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
