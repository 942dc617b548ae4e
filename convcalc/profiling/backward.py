"""Backward time per layer call (``--training``), from post hooks on Paddle's autograd nodes.

During an untimed forward each layer's post hook *claims* the grad nodes its call created:
it walks ``grad_fn.next_functions`` back from its outputs, stops at its inputs' nodes, and
passes through nodes its sublayers claimed (so a container claims only its functional ops).
During ``backward()`` every node has a post hook that reads the clock; a node's time is the
interval since the previous node (Paddle's CPU backward runs one node at a time), so the
intervals plus the tail add up to ``backward()`` exactly.  ``GradNodeAccumulation`` (parameter
gradients) refuses hooks: its time falls into the next node's interval.  The SGD step is timed
apart, and the same step without any hook beside it.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from convcalc.profiling.forward import hooked, is_leaf
from convcalc.trace.temporary import in_mode

__all__ = ["BackwardTiming", "time_backward", "grad_node_key", "ACCUMULATION"]

ACCUMULATION = "GradNodeAccumulation"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

Key = tuple[str, int]  # (layer path, n-th call)


def grad_node_key(name: str) -> str:
    """A grad node's op as a report key: ``'AddGradNode'`` -> ``'add'``, ``'MatmulGradNodeFinal'`` -> ``'matmul'``."""
    return _CAMEL.sub("_", re.sub(r"GradNode(Final)?$", "", name)).lower()


@dataclass
class BackwardTiming:
    per_call: dict[Key, list[float]]  # a leaf call's grad nodes, seconds per repeat
    functional: dict[str, list[list[tuple[str, float]]]]  # container path -> per repeat [(op key, seconds)]
    unclaimed: list[float]  # the loss, the tail after the last node, nodes no layer claimed
    backward: list[float]  # backward() per repeat
    forward: list[float]  # the hooked (claiming) forward per repeat
    optimizer: list[float]
    step_unhooked: list[float]  # forward + backward + optimizer step, no hook at all
    nodes: list[list[tuple[str, float, Key | None]]]  # per repeat, in run order: (node name, seconds, owner)


def _tensors(obj: Any) -> Iterator[Any]:
    import paddle

    if isinstance(obj, paddle.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def _grad_fns(obj: Any) -> list[Any]:
    return [t.grad_fn for t in _tensors(obj) if getattr(t, "grad_fn", None) is not None]


def _loss(out: Any) -> Any:
    first = next(_tensors(out))
    return first.astype("float32").mean()


class _Claims:
    """Which layer call created which grad node, filled by forward hooks."""

    def __init__(self, model: Any) -> None:
        self.paths = {id(layer): p for p, layer in model.named_sublayers()}
        self.leaves = {id(layer): is_leaf(layer) for _, layer in model.named_sublayers()}
        self.owner: dict[int, Key] = {}
        self.nodes: dict[int, Any] = {}
        self.is_leaf: dict[Key, bool] = {("", 0): False}
        self._stack: list[set[int]] = []
        self._seen: dict[str, int] = defaultdict(int)

    def pre(self, layer, inputs) -> None:
        self._stack.append({g.node_ptr() for g in _grad_fns(inputs)})

    def post(self, layer, inputs, out) -> None:
        stop = self._stack.pop()
        path = self.paths.get(id(layer), "?")
        key = (path, self._seen[path])
        self._seen[path] += 1
        self.is_leaf[key] = self.leaves.get(id(layer), True)
        inside = path + "."
        todo, visited = _grad_fns(out), set()
        while todo:
            g = todo.pop()
            p = g.node_ptr()
            if p in stop or p in visited:
                continue
            visited.add(p)
            if p in self.owner:
                if not self.owner[p][0].startswith(inside):
                    continue  # claimed by a call outside this one
            else:
                self.owner[p] = key
                self.nodes[p] = g
            todo.extend(f for f in g.next_functions if f is not None)

    def claim_rest(self, out: Any, loss: Any) -> None:
        """The root's own functional ops (its hooks do not fire), then every other node behind the loss."""
        for start, owner in ((_grad_fns(out), ("", 0)), ([loss.grad_fn], None)):
            todo, visited = list(start), set()
            while todo:
                g = todo.pop()
                p = g.node_ptr()
                if p in visited:
                    continue
                visited.add(p)
                if p not in self.nodes:
                    self.nodes[p] = g
                    if owner is not None:
                        self.owner[p] = owner
                todo.extend(f for f in g.next_functions if f is not None)


def time_backward(model: Any, args: Sequence[Any], *, repeat: int = 10, warmup: int = 2, lr: float = 1e-3,
                  run: Callable[[Any], Any] | None = None) -> BackwardTiming:
    """Backward seconds per layer call over ``repeat`` training steps (loss: the mean of the first output).

    ``run(loss)`` runs the timed backward (default ``loss.backward()``): a check can wrap it,
    e.g. in Paddle's profiler.
    """
    import paddle

    opt = paddle.optimizer.SGD(learning_rate=lr, parameters=model.parameters())
    clock = time.perf_counter

    def step_unhooked() -> float:
        t = clock()
        _loss(model(*args)).backward()
        opt.step()
        opt.clear_grad()
        return clock() - t

    per_call: dict[Key, list[float]] = defaultdict(list)
    functional: dict[str, list[list[tuple[str, float]]]] = defaultdict(list)
    out_t = BackwardTiming({}, {}, [], [], [], [], [], [])
    with in_mode(model, True):
        for _ in range(warmup):
            step_unhooked()
        for _ in range(repeat):
            out_t.step_unhooked.append(step_unhooked())
            claims = _Claims(model)
            t = clock()
            with hooked(model, claims.pre, claims.post):
                out = model(*args)
            out_t.forward.append(clock() - t)
            loss = _loss(out)
            claims.claim_rest(out, loss)
            log: list[tuple[int, float]] = []
            keep = []
            for p, g in claims.nodes.items():
                if g.name() == ACCUMULATION:
                    continue

                def hook(*grads, _p=p, _log=log):
                    _log.append((_p, clock()))
                    return grads[0]

                keep.append(g._register_post_hook(hook))
            t0 = clock()
            if run is None:
                loss.backward()
            else:
                run(loss)
            t_end = clock()
            out_t.backward.append(t_end - t0)
            t = clock()
            opt.step()
            opt.clear_grad()
            out_t.optimizer.append(clock() - t)
            sums, funcs, nodes, prev, rest = defaultdict(float), defaultdict(list), [], t0, 0.0
            for p, tp in log:
                dt, prev = tp - prev, tp
                key = claims.owner.get(p)
                name = claims.nodes[p].name()
                nodes.append((name, dt, key))
                if key is None:
                    rest += dt
                elif claims.is_leaf.get(key, True):
                    sums[key] += dt
                else:
                    funcs[key[0]].append((grad_node_key(name), dt))
            out_t.unclaimed.append(rest + t_end - prev)
            for key, v in sums.items():
                per_call[key].append(v)
            for path, lst in funcs.items():
                functional[path].append(lst)
            out_t.nodes.append(nodes)
            del keep, claims, out, loss
    out_t.per_call, out_t.functional = dict(per_call), dict(functional)
    return out_t
