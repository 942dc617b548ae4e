"""Shared test configuration: the --runslow flag and the book's data folder."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Homework model values are cached on disk (convcalc/homework/grading/model_cache.py): tests use a
# folder of their own, never the teacher's ~/.cache (subprocesses inherit it).
if "CONVCALC_CACHE_DIR" not in os.environ:
    os.environ["CONVCALC_CACHE_DIR"] = _CACHE = tempfile.mkdtemp(prefix="convcalc-test-cache-")
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"

# tests/data holds model and student files that tests load on purpose (some hang
# or exit at import); --doctest-modules must never import them.
collect_ignore = ["data"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")
    parser.addoption("--long", action="store_true", help="run property tests at full length")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST test set not found at {MNIST_DIR}")
    return MNIST_DIR


@pytest.fixture
def flops_numpy() -> None:
    """paddle.flops (Paddle 3.3.1) crashes with numpy >= 2.4: stop with convcalc's one-line error naming the fix."""
    from convcalc.checks.crosscheck import check_numpy
    from convcalc.errors import DependencyError

    try:
        check_numpy()
    except DependencyError as err:
        pytest.fail(str(err), pytrace=False)
