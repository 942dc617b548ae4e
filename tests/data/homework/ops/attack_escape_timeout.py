"""Hostile: at import, starts children that leave its session (setsid), then hangs forever.

The children sleep with TOKEN in their command line, so the test can look for survivors in /proc
after the timeout (TOKEN is replaced by the test).
"""

import os
import subprocess
import sys

TOKEN = "convcalc-escape-token"

subprocess.Popen(
    [sys.executable, "-c", f"import time; time.sleep(600)  # {TOKEN}"],
    start_new_session=True,
    stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
if os.fork() == 0:  # the classic double fork of a daemon
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", f"import time; time.sleep(600)  # {TOKEN}"])
    os._exit(0)
while True:
    pass


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
