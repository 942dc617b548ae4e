"""convcalc: what a convolutional network costs, layer by layer.

Output shapes, parameter counts, FLOPs and receptive fields from symbolic
formulas (``convcalc.formulas``), checked against PaddlePaddle's own
``paddle.summary`` and ``paddle.flops``.

``import convcalc`` is light: submodules load on first use, so
``from convcalc import formulas`` never imports paddle.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from convcalc import _moved

# Paddle warns at import that ccache (a C++ build cache for its extension
# builder) is missing; convcalc builds no extensions, so it is pure noise in a
# terminal or a notebook.  Only this message is silenced.
warnings.filterwarnings("ignore", message="No ccache found")

__version__ = "0.1.0"

_moved.install()  # the old module paths, with a DeprecationWarning (one release)

__all__ = [
    "__version__",
    "formulas",
    "errors",
    "ConvcalcError",
    "analyze",
    "summary",
    "profile",
    "register_rule",
    "register_op",
]

_LAZY = {
    "formulas": ("convcalc.formulas", None),
    "errors": ("convcalc.errors", None),
    "ConvcalcError": ("convcalc.errors", "ConvcalcError"),
    "analyze": ("convcalc.analysis", "analyze"),
    "summary": ("convcalc.summary", "summary"),
    "profile": ("convcalc.profiling.run", "profile"),
    "register_rule": ("convcalc.rules.layers", "register_rule"),
    "register_op": ("convcalc.rules.ops", "register_op"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'convcalc' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value
