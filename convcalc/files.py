"""Writing output files whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from convcalc.errors import OutputError


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early (before long work) when ``path`` cannot be written."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise OutputError(f"output path {str(target)!r} is a directory", "give a file name")
    if not folder.is_dir():
        raise OutputError(f"folder {str(folder)!r} does not exist", "create it first or choose another path")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"folder {str(folder)!r} is not writable", "choose a path you can write to")
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto it when the block succeeds, removed otherwise.

    For writers that take a file name (``paddle.save``, ``savefig``, ``Image.save``)
    as much as for plain text: nothing half-written is ever left at ``path``.
    The file gets the permissions of a file created with ``open()`` (0644 under
    umask 022; ``mkstemp``'s own are 0600), or those of the file it replaces.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    try:
        os.fchmod(fd, _mode_for(target))
    finally:
        os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    """The mode a new file at ``target`` would have: the replaced file's, else 0666 minus the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_current_umask()


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    target = check_writable(path)
    try:
        with atomic_path(target) as tmp:
            if isinstance(data, bytes):
                tmp.write_bytes(data)
            else:
                tmp.write_text(data, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {str(target)!r}: {exc.strerror or exc}", "choose another path") from None
    return target
