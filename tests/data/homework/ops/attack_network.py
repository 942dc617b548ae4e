"""Hostile: at import, connects to a listener on this machine (PORT is replaced by the test)."""

import socket

PORT = 9

with socket.create_connection(("127.0.0.1", PORT), timeout=5) as conn:
    conn.sendall(b"a student's file says hello\n")


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
