"""The truth for a corpus case, computed from Paddle alone, never from convcalc's analysis.

- **Shapes**: Paddle's eager forward with a forward-post hook on every
  sublayer; each call of a leaf layer (one without sublayers) records the
  shapes of all its outputs, by path, in call order.
- **Parameters**: ``model.parameters()`` (unique by identity), each owned by
  its first holder in ``model.named_parameters()`` order; trainable means
  ``not p.stop_gradient``.  *Used* parameters are those the forward pass
  reads: what a report's totals count.  A parameter held by a leaf layer
  that ran is read (its forward is one unit; BatchNorm's statistics get no
  gradient but are read); one held only by the root or a container is read
  when a backward pass of the outputs' sum gives it a gradient (MoCo v3's and
  CLIP's root-held ``proj``, which their forward never uses, is not).
- **Refusals**: the message of the exception Paddle's eager forward raises.
- **Never ran**: layers none of whose hooks fired and none of whose
  parameters a layer that ran holds (an RNN runs its cells' weights itself).

Inputs are made by :func:`make_inputs` (seeded, so convcalc can be given the
very same tensors): floats uniform in [0, 1), integers zero (a valid id for
any embedding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any

__all__ = ["Truth", "make_inputs", "truth_for", "paddle_reason"]


@dataclass(frozen=True)
class Truth:
    """What Paddle itself says about one case."""

    refused: str = ""  # the informative line of Paddle's message when its eager forward refuses the input
    refused_text: str = ""  # Paddle's whole message, on one line (hints included)
    leaf_outputs: dict[str, tuple[tuple[tuple[int, ...], ...], ...]] = field(default_factory=dict)
    never_ran: tuple[str, ...] = ()
    params_in_model: int = 0
    params_used: int = 0
    params_used_trainable: int = 0
    params_by_owner: dict[str, int] = field(default_factory=dict)  # used parameters, by owning layer path


def make_inputs(case: Any) -> list:
    """The input tensors of ``case`` (``case.inputs``: ``((shape with batch, dtype), ...)``)."""
    import paddle

    paddle.seed(0)
    tensors = []
    for shape, dtype in case.inputs:
        if "int" in dtype or dtype == "bool":
            tensors.append(paddle.zeros(list(shape), dtype=dtype))
        else:
            tensors.append(paddle.rand(list(shape), dtype="float32").astype(dtype))
    return tensors


def paddle_reason(err: BaseException) -> str:
    """The informative line of a Paddle error (``(InvalidArgument) ...``), else its last line."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("(") and ")" in ln[:30]:
            return ln
    return lines[-1] if lines else type(err).__name__


def _shapes(obj: Any) -> tuple[tuple[int, ...], ...]:
    """Shapes of every tensor in a layer's output (tensors, tuples, lists, dicts), in order."""
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return (tuple(int(d) for d in obj.shape),)
    if isinstance(obj, (list, tuple)):
        return tuple(s for o in obj for s in _shapes(o))
    if isinstance(obj, dict):
        return tuple(s for o in obj.values() for s in _shapes(o))
    return ()


def _unread_container_parameters(case: Any, model: Any, holders: dict, leaves: set, ran: set) -> set[int]:
    """Ids of the parameters held only by containers or the root (no leaf that ran holds them) that the forward
    pass never reads: a backward pass of the sum of the outputs leaves their gradient empty."""
    import paddle

    held = [p for p in model.parameters() if not any(h in ran and h in leaves for h in holders[id(p)])]
    if not held:
        return set()
    flags = [p.stop_gradient for p in held]
    try:
        for p in held:
            p.stop_gradient = False
            if p.grad is not None:
                p.clear_gradient(False)
        out = model(*make_inputs(case))
        total = sum(t.astype("float32").sum() for t in _tensors(out) if not t.stop_gradient)
        if not isinstance(total, paddle.Tensor):
            return set()  # nothing differentiable came out: no way to tell, count them as read
        total.backward()
        return {id(p) for p in held if p.grad is None}
    except Exception:  # noqa: BLE001 - a forward without gradients: count them as read (the old definition)
        return set()
    finally:
        for p, flag in zip(held, flags):
            p.stop_gradient = flag
            if p.grad is not None:
                p.clear_gradient(False)


def _tensors(obj: Any) -> list:
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return [obj] if str(obj.dtype).split(".")[-1].startswith(("float", "bfloat")) else []
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def truth_for(case: Any, model: Any | None = None) -> Truth:
    """Run ``case`` through Paddle's eager forward (eval mode, no grad) and count its parameters."""
    import paddle

    model = model if model is not None else case.build()
    model.eval()
    paths = {id(layer): path for path, layer in model.named_sublayers(include_self=True)}
    outputs: dict[str, list] = {}
    ran: set[str] = {""}

    def hook(layer, inputs, output):
        path = paths[id(layer)]
        ran.add(path)
        if not layer.sublayers():
            outputs.setdefault(path, []).append(_shapes(output))

    handles = [layer.register_forward_post_hook(hook) for _, layer in model.named_sublayers()]
    refused = refused_text = ""
    try:
        with paddle.no_grad():
            model(*make_inputs(case))
    except Exception as err:  # noqa: BLE001 - Paddle's refusal is the truth for this case
        refused, refused_text = paddle_reason(err), " ".join(str(err).split())
    finally:
        for h in handles:
            h.remove()

    holders: dict[int, list[str]] = {}
    leaves = {path for path, layer in model.named_sublayers(include_self=True) if not layer.sublayers()}
    for path, layer in model.named_sublayers(include_self=True):
        for p in layer._parameters.values():
            if p is not None:
                holders.setdefault(id(p), []).append(path)
    unread = set() if refused else _unread_container_parameters(case, model, holders, leaves, ran)
    in_model = used = trainable = 0
    by_owner: dict[str, int] = {}
    for name, p in model.named_parameters():
        n = int(prod(p.shape))
        in_model += n
        if not any(h in ran for h in holders[id(p)]) or id(p) in unread:
            continue
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        used += n
        trainable += n if not p.stop_gradient else 0
        by_owner[owner] = by_owner.get(owner, 0) + n
    used_ids = {id(p) for p in model.parameters() if any(h in ran for h in holders[id(p)]) and id(p) not in unread}

    def idle(layer) -> bool:
        """Neither it nor a sublayer ran, and no parameter in it is used by a layer that ran
        (an RNN's cells: the RNN runs their weights itself, without calling them)."""
        subtree = [layer, *layer.sublayers()]
        return (not any(paths[id(s)] in ran for s in subtree)
                and not any(id(p) in used_ids for s in subtree for p in s._parameters.values() if p is not None))

    never = tuple(p for p, layer in model.named_sublayers() if idle(layer))
    return Truth(
        refused=refused,
        refused_text=refused_text,
        leaf_outputs={k: tuple(v) for k, v in outputs.items()},
        never_ran=never if not refused else (),
        params_in_model=in_model,
        params_used=used,
        params_used_trainable=trainable,
        params_by_owner=by_owner,
    )
