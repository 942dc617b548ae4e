"""A ``forward`` that branches on tensor values, traced along the branch Paddle's eager forward took.

Paddle's static program (``to_static(full_graph=True)``) turns ``if x.mean() > 0:``
into a ``pd_op.if`` holding *both* branches (and fails to build when they
return different shapes, as an early ``return`` often does), and a ``while``
on a tensor into a ``pd_op.while``: no layer row would have one shape.  So
the program is built with dy2static's ``IfElse``/``While`` replaced: the
first build (a probe) takes every tensor-valued ``if``'s first branch and no
``while`` iteration; its shapes are checked; Paddle's eager forward then runs
once, recording every truth value a tensor gave (``Tensor.__bool__``); if it
went another way, the program is built again following those decisions.
The program is the path taken at this input, and the report says so.

Paddle 3.3.1's other option, SOT (``full_graph=False``), breaks the program
into several graphs at each such branch and falls back to Python between
them, so no single program with the whole dataflow exists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from convcalc.errors import ModelLoadError
from convcalc.trace.op_names import BOOKKEEPING_OPS

CONTROL_FLOW_OPS = frozenset({"pd_op.if", "pd_op.while"})

# A forward that asks more tensors for a truth value than this is not a model's branching
# but a loop that does not end at this input.
MAX_DECISIONS = 10_000


class Decisions:
    """The truth values an eager forward asked of tensors, in order, and the layer that asked first.

    A probe (``probe=True``) has no values yet: every tensor-valued ``if``
    takes its first branch and every such ``while`` runs no iteration; what
    it was asked is kept in ``asked``.
    """

    def __init__(self, probe: bool = False) -> None:
        self.values: list[bool] = []
        self.asked: list[bool] = []
        self.first_layer = ""
        self.used = 0
        self.probe = probe

    def restart(self) -> None:
        """Forget what a build that was abandoned asked or used (the next build asks again)."""
        self.asked.clear()
        self.used = 0

    def next(self, if_default: bool = True) -> bool:
        if self.probe:
            self.asked.append(if_default)
            return if_default
        if self.used >= len(self.values):
            raise _Diverged("the program asked for more branch decisions than the eager forward made")
        self.used += 1
        return self.values[self.used - 1]


class _Diverged(Exception):
    """The static build did not follow the eager forward's path."""


@contextlib.contextmanager
def recording(decisions: Decisions, current_layer) -> Iterator[None]:
    """While the eager forward runs: record each tensor's truth value (``current_layer()`` names who asked)."""
    import paddle

    real = paddle.Tensor.__bool__

    def recorded(self):
        value = bool(real(self))
        if not decisions.values:
            decisions.first_layer = current_layer()
        decisions.values.append(value)
        if len(decisions.values) > MAX_DECISIONS:
            raise ModelLoadError(
                f"the forward pass branched on tensor values more than {MAX_DECISIONS:,} times "
                f"(first in {decisions.first_layer}): a loop that does not end at this input?",
                "bound the loop by a Python number of steps",
            )
        return value

    paddle.Tensor.__bool__ = recorded
    try:
        yield
    finally:
        paddle.Tensor.__bool__ = real


@contextlib.contextmanager
def replaying(decisions: Decisions) -> Iterator[None]:
    """While the static program is built: take each tensor-valued ``if``/``while`` the way it was taken."""
    import paddle.jit.dy2static as jst
    from paddle.pir import Value

    real = {k: getattr(jst, k) for k in ("IfElse", "While", "And", "Or", "Not", "Assert")}

    def truth(value, default: bool = True):
        return decisions.next(default) if isinstance(value, Value) else value

    def if_else(pred, true_fn, false_fn, get_args, set_args, return_name_ids, push_pop_names=None):
        if isinstance(pred, Value):
            return true_fn() if decisions.next() else false_fn()
        return real["IfElse"](pred, true_fn, false_fn, get_args, set_args, return_name_ids, push_pop_names)

    def while_loop(cond, body, getter, setter, return_name_ids=None, push_pop_names=None):
        while truth(cond(), False):
            body()

    # Python's `a and b`, `a or b`, `not a` and `assert a` ask each tensor for its truth value in turn.
    def logical_and(x_func, y_func):
        x = truth(x_func())
        return x if not x else truth(y_func())

    def logical_or(x_func, y_func):
        x = truth(x_func())
        return x if x else truth(y_func())

    def logical_not(x):
        return not truth(x)

    def assert_(cond, message=""):
        return real["Assert"](truth(cond), message)

    patched = {"IfElse": if_else, "While": while_loop, "And": logical_and, "Or": logical_or, "Not": logical_not,
               "Assert": assert_}
    for k, fn in patched.items():
        setattr(jst, k, fn)
    try:
        yield
    finally:
        for k, fn in real.items():
            setattr(jst, k, fn)


def has_control_flow(program: Any) -> bool:
    return any(op.name() in CONTROL_FLOW_OPS for op in program.global_block().ops)


def empty_in_branches(program: Any) -> str:
    """The first op inside an ``if``/``while`` body whose result has an empty shape (``""`` if none)."""
    def walk(block) -> str:
        for op in block.ops:
            for sub in op.blocks() if op.name() in CONTROL_FLOW_OPS else ():
                found = walk(sub)
                if found:
                    return found
            if op.name() in BOOKKEEPING_OPS or block is program.global_block():
                continue
            for r in op.results():
                try:
                    dims = [int(d) for d in r.shape] if r.is_dense_tensor_type() else []
                except Exception:  # noqa: BLE001 - results without a shape
                    dims = []
                if any(d == 0 for d in dims):
                    return f"{op.name()} -> {dims}"
        return ""

    return walk(program.global_block())


__all__ = ["CONTROL_FLOW_OPS", "Decisions", "recording", "replaying", "has_control_flow", "empty_in_branches"]
