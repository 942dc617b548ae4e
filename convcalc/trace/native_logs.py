"""Keep Paddle's C++ log lines (glog) out of a notebook cell or a one-line error.

Paddle writes lines such as ``W1130 00:18:39.42 ... eager_utils.cc:3584]
Paddle static graph(PIR) not support input out tensor for now!`` straight to
file descriptor 2, below Python, while a model is traced.  ``GLOG_minloglevel``
only works when set before paddle is imported, which a notebook user has
usually done already; so while convcalc builds a program, descriptor 2 is
pointed at a temporary file, and afterwards every line that is not a glog line
is written back to ``sys.stderr`` (nothing else is lost).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["quiet_native_logs", "GLOG_LINE"]

# glog's prefix: severity letter, MMDD, time, thread id, file:line]
GLOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+\s+\S+:\d+\]")


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Drop glog lines written to descriptor 2 inside the block; pass every other line through."""
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (some embedded interpreters): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        _flush()
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            _flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [ln for ln in tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not GLOG_LINE.match(ln)]
            if kept:
                sys.stderr.write("".join(kept))
                _flush()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
