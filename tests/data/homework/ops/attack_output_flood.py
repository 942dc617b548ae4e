"""Hostile: at import, prints 700 MB."""

import sys

line = "flood " * 174762 + "\n"  # ~1 MiB
for _ in range(700):
    sys.stdout.write(line)
    sys.stderr.write(line)


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
