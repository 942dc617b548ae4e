"""Old module paths (before the 0.2 layout) that still import, with a DeprecationWarning, for one release.

Two kinds of move:

* a module that now lives elsewhere (``convcalc.records`` -> ``convcalc.analysis.records``): a meta-path
  finder answers the old name with the new module itself, so ``from convcalc.records import Report`` keeps
  working and its objects are the very same;
* a module whose path is now a package (``convcalc.trace``, ``convcalc.rules``, ``convcalc.explain``,
  ``convcalc.homework.answers``): the package forwards the old module's names (:func:`forwarded`).

Written by hand: importlib has no alias mechanism, and a shim file per old path would put back the flat
row of modules the layout removed.  Delete this module, and the ``forwarded`` calls, in the release after.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType
from typing import Any

MOVED_MODULES = {
    "convcalc.branches": "convcalc.trace.branches",
    "convcalc.inputs": "convcalc.trace.inputs",
    "convcalc.native_logs": "convcalc.trace.native_logs",
    "convcalc.op_names": "convcalc.trace.op_names",
    "convcalc.program": "convcalc.trace.program",
    "convcalc.shape_guards": "convcalc.trace.shape_guards",
    "convcalc.stand_ins": "convcalc.trace.stand_ins",
    "convcalc.analysis.input_forms": "convcalc.trace.input_forms",
    "convcalc.op_rules": "convcalc.rules.ops",
    "convcalc.grad_rules": "convcalc.rules.gradients",
    "convcalc.records": "convcalc.analysis.records",
    "convcalc.diff": "convcalc.analysis.diff",
    "convcalc.analysis.crosscheck": "convcalc.checks.crosscheck",
    "convcalc.backward_program": "convcalc.checks.backward_program",
    "convcalc.training_check": "convcalc.checks.training_cost",
    "convcalc.rf_check": "convcalc.checks.gradient_fields",
    "convcalc.property_counts": "convcalc.checks.property_counts",
    "convcalc.validation": "convcalc.checks.validation",
    "convcalc.workers": "convcalc.checks.workers",
    "convcalc.corpus": "convcalc.checks.corpus",
    "convcalc.explain_backward": "convcalc.explain.backward",
    "convcalc.rf_inputs": "convcalc.train.rf_inputs",
    "convcalc.homework.source": "convcalc.homework.answers.source",
    "convcalc.homework.values": "convcalc.homework.answers.values",
    "convcalc.homework.layers": "convcalc.homework.answers.layers",
    "convcalc.homework.schema": "convcalc.homework.answers.schema",
    "convcalc.homework.answer_key": "convcalc.homework.grading.answer_key",
    "convcalc.homework.derive": "convcalc.homework.grading.derive",
    "convcalc.homework.grade": "convcalc.homework.grading.grade",
    "convcalc.homework.gradebook": "convcalc.homework.grading.gradebook",
    "convcalc.homework.marking": "convcalc.homework.grading.marking",
    "convcalc.homework.match": "convcalc.homework.grading.match",
    "convcalc.homework.misconceptions": "convcalc.homework.grading.misconceptions",
    "convcalc.homework.models": "convcalc.homework.grading.models",
    "convcalc.homework.results": "convcalc.homework.grading.results",
    "convcalc.homework.rows": "convcalc.homework.grading.rows",
    "convcalc.homework.sandbox": "convcalc.homework.operators.sandbox",
    "convcalc.homework.verify_op": "convcalc.homework.operators.verify_op",
}
"""Old module -> its new home (the module itself moved)."""

MOVED_PACKAGES = {
    "convcalc.trace": ("convcalc.trace.build", "convcalc.trace.graph", "convcalc.trace.eager",
                       "convcalc.trace.inputs", "convcalc.trace.failures", "convcalc.trace.temporary"),
    "convcalc.rules": ("convcalc.rules.layers",),
    "convcalc.explain": ("convcalc.explain.layers", "convcalc.explain.steps"),
    "convcalc.homework.answers": ("convcalc.homework.answers.student",),
}
"""Old module whose path is now a package -> the modules that hold its old names (the old private
helpers that became public lost their leading underscore)."""


def _warn(old: str, new: str, stacklevel: int) -> None:
    warnings.warn(f"{old} moved to {new}; the old path will be removed in the next release",
                  DeprecationWarning, stacklevel=stacklevel)


def _new_name(old: str) -> str | None:
    """The new path of ``old`` or of a module inside a moved package (``convcalc.corpus.check``)."""
    for prefix, new in MOVED_MODULES.items():
        if old == prefix or old.startswith(prefix + "."):
            return new + old[len(prefix):]
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        _warn(spec.name, self.new, 3)  # (the importing line, behind importlib's frames)
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """The new module is already executed."""


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        new = _new_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Answer old module paths (once per process); it answers nothing but the names in the table."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        # First: inside an old package path (convcalc.corpus.check) the path finder would load a second copy.
        sys.meta_path.insert(0, _Finder())


def forwarded(package: str, name: str) -> Any:
    """``name`` as the old module ``package`` had it, with a DeprecationWarning (for a package's ``__getattr__``)."""
    found = []
    for new in MOVED_PACKAGES[package]:
        module = importlib.import_module(new)
        found += [(new, c, getattr(module, c)) for c in dict.fromkeys((name, name.lstrip("_"))) if hasattr(module, c)]
    if not found:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    # the module that defines it, not one that imports it
    new, candidate, value = next((f for f in found if getattr(f[2], "__module__", None) == f[0]), found[0])
    _warn(f"{package}.{name}", f"{new}.{candidate}", 4)  # the caller of the package's __getattr__
    return value
