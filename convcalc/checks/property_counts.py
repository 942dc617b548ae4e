"""How many random examples each property test of tests/test_formulas_paddle.py runs (for docs/validation.md).

Read from the test file's constants without importing it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PropertyCounts", "property_test_counts"]


@dataclass(frozen=True)
class PropertyCounts:
    """How many examples each property test of tests/test_formulas_paddle.py runs."""

    source: str
    rows: tuple[tuple[str, int, int], ...]  # (test, default examples, --long examples)


def property_test_counts(path: str | Path | None = None) -> PropertyCounts | None:
    """Read the example budgets from ``tests/test_formulas_paddle.py`` (without importing it)."""
    path = Path(path) if path else Path(__file__).resolve().parents[2] / "tests" / "test_formulas_paddle.py"
    if not path.is_file():
        return None
    consts: dict[str, int] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets = node.targets[0]
            names = [t.id for t in getattr(targets, "elts", [targets]) if isinstance(t, ast.Name)]
            value = node.value
            values = getattr(value, "elts", [value])
            for n, v in zip(names, values):
                if isinstance(v, ast.Constant) and isinstance(v.value, int):
                    consts[n] = v.value
    rows = []
    if "DEFAULT_CONV" in consts:
        rows.append(("conv output size == Paddle's conv2d shape", consts["DEFAULT_CONV"], consts.get("LONG_CONV", 0)))
    if "DEFAULT_POOL" in consts:
        rows.append(("max-pool output size == Paddle's max_pool2d", consts["DEFAULT_POOL"],
                     consts.get("LONG_POOL", 0)))
        rows.append(("avg-pool output size == Paddle's avg_pool2d", consts["DEFAULT_POOL"],
                     consts.get("LONG_POOL", 0)))
    if "FLOPS_EXAMPLES" in consts:
        rows.append(("paddle-convention FLOPs == paddle.flops (per layer kind)", consts["FLOPS_EXAMPLES"],
                     consts["FLOPS_EXAMPLES"] * 10))
    try:
        source = str(path.relative_to(Path.cwd()))
    except ValueError:
        source = "tests/test_formulas_paddle.py"
    return PropertyCounts(source, tuple(rows))
