"""Hostile: at import, prints 700 MB."""

import sys

line = "flood " * 174762 + "\n"  # ~1 MiB
for _ in range(700):
    sys.stdout.write(line)
    sys.stderr.write(line)
