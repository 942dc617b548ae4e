"""Hostile: no convolution at all; it calls the worker's own reporting function to claim a pass.

Against the old worker (`send("result", ok=True, ...)` on the protocol stream) this got
"✓ all 9 configurations".  It then tries the new format too: a "result" for every configuration
with an all-zero output, then "done", and exits before the real worker can say anything.
"""

import io
import json
import os
import struct
import sys

import numpy as np

worker = sys.modules["__main__"]
worker.send("result", ok=True, tried=9, total=9, notes=[], modes=[])
fd = getattr(worker, "_fd", 3)


def frame(kind, payload):
    os.write(fd, kind + struct.pack(">I", len(payload)) + payload)


for i in range(1, 10):
    frame(
        b"J",
        json.dumps(
            {"event": "result", "index": i, "status": "ok", "arrays": ["out"], "weight": None, "bias": None}
        ).encode(),
    )
    buf = io.BytesIO()
    np.save(buf, np.zeros((1, 1, 3, 3), "float32"))
    frame(b"A", buf.getvalue())
frame(b"J", json.dumps({"event": "done"}).encode())
os._exit(0)


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
