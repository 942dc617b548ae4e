"""The book's operators and models, weight transfer, and the model zoo.

May import ``convcalc.trace`` (an exported program is a zoo entry too) and nothing above it.

Light on import: ``convcalc.models.zoo`` lists models without importing
paddle; ``convcalc.models.book`` and ``convcalc.models.transfer`` import
paddle and load on first attribute access here.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ZOO",
    "ZooEntry",
    "BuiltModel",
    "build_model",
    "get_entry",
    "list_entries",
    "book",
    "transfer",
    "zoo",
]

_ZOO_NAMES = {"ZOO", "ZooEntry", "BuiltModel", "build_model", "get_entry", "list_entries"}


def __getattr__(name: str) -> Any:
    if name in _ZOO_NAMES:
        value = getattr(importlib.import_module("convcalc.models.zoo"), name)
    elif name in ("book", "transfer", "zoo"):
        value = importlib.import_module(f"convcalc.models.{name}")
    else:
        raise AttributeError(f"module 'convcalc.models' has no attribute {name!r}")
    globals()[name] = value
    return value
