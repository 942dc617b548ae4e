"""Hostile: at import, holds 3 GiB of memory (every page touched)."""

held = b"x" * (3 << 30)


class Conv2D:  # the name the checker asks for: its import is what is being tested
    pass
