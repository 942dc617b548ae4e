"""Hostile: at import, lists the folder it was submitted in (the other students' files) and leaks it."""

import os

here = os.path.dirname(os.path.abspath(__file__))
mine = sorted(os.listdir(here))
above = sorted(os.listdir(os.path.dirname(here)))
raise RuntimeError(f"my folder holds {mine!r}; above it {above!r}")


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
