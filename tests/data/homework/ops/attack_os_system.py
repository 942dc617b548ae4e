"""Hostile: at import, runs shell commands; MARK is replaced by the test with a path it owns."""

import os

MARK = "/tmp/convcalc-os-system-mark"

status = os.system(f"id > {MARK}")
if status != 0:
    raise RuntimeError(f"os.system returned {status}")


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
