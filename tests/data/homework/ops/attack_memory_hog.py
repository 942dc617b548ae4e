"""Hostile: at import, holds 3 GiB of memory (every page touched)."""

held = b"x" * (3 << 30)
