"""convcalc.files: output files are written whole, with the permissions ``open()`` would give."""

from __future__ import annotations

import os

from convcalc.files import write_atomic


def _with_umask(mask: int, fn):
    old = os.umask(mask)
    try:
        return fn()
    finally:
        os.umask(old)


def test_new_files_follow_the_umask(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    _with_umask(0o022, lambda: write_atomic(a, "x"))
    _with_umask(0o077, lambda: write_atomic(b, "x"))
    assert a.stat().st_mode & 0o777 == 0o644
    assert b.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temporary left


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "grades.csv"
    target.write_text("old")
    target.chmod(0o640)
    _with_umask(0o022, lambda: write_atomic(target, "new"))
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640
