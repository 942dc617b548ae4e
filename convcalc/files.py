"""Writing output files whole or not at all."""

from __future__ import annotations

import os
import tempfile
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


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    target = check_writable(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as fh:
            fh.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {str(target)!r}: {exc.strerror or exc}", "choose another path") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
