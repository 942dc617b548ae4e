"""Hostile: sends a pickled object array (code that would run on unpickling) as its output."""

import io
import json
import os
import struct
import sys

import numpy as np


class Boom:
    def __reduce__(self):
        return (os.system, ("echo unpickled > /tmp/convcalc-unpickled",))


fd = getattr(sys.modules["__main__"], "_fd", 3)


def frame(kind, payload):
    os.write(fd, kind + struct.pack(">I", len(payload)) + payload)


buf = io.BytesIO()
np.save(buf, np.array([Boom()], dtype=object), allow_pickle=True)
frame(b"J", json.dumps({"event": "loaded", "accepts": {}}).encode())
frame(
    b"J",
    json.dumps(
        {"event": "result", "index": 1, "status": "ok", "arrays": ["out"], "weight": [1, 1, 3, 3], "bias": [1]}
    ).encode(),
)
frame(b"A", buf.getvalue())
os._exit(0)


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
