"""Tasks for tests/test_corpus.py's isolation test: one kills its own worker process (as a crash in Paddle would)."""

from __future__ import annotations

import os
import signal


def dies_on_odd(n: int) -> str:
    if n % 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return f"ran {n}"


def crashed(n: int, reason: str) -> str:
    return f"crashed {n}: {reason}"
