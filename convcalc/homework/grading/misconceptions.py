"""The misconception catalogue: each typical mistake recomputes the answer as that mistake would.

A hint is named only when the student's number is exactly what a
misconception gives (and differs from the right answer).  When several fit,
the one that also explains the student's *other* answers comes first (it
reproduces another wrong answer: +1; it would have spoiled an answer the
student got right: -1); then the one that explains wrong answers in the
file's *other* questions (a student who forgot the ``+ 1`` in four questions
most likely forgot it in the fifth); then a misconception tied to a feature of the
question (padding, ceil_mode, a bias, an average pool, ...) before a
generic one.  Two are shown only when they stay tied.

Each entry is a small function ``Question -> values | None`` (``None``: the
mistake cannot happen in this question), registered with
:func:`misconception`; the recomputation itself is
:func:`convcalc.homework.compute.compute_stack` with one deliberate error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convcalc.homework import compute
from convcalc.homework.grading.match import values_match
from convcalc.homework.spec import Question, Tolerance

__all__ = ["Misconception", "CATALOGUE", "HINTS", "misconception", "ranked", "hint_for"]

Values = dict[str, Any]


@dataclass(frozen=True)
class Misconception:
    """A named mistake: its hint and the function that recomputes a question's answers under it."""

    name: str
    hint: str
    recompute: Callable[[Question], Values | None]
    specific: bool  # tied to a feature of the question (not a mistake any question can show)
    supersedes: tuple[str, ...] = ()  # generic mistakes this one explains better when both fit


CATALOGUE: dict[str, Misconception] = {}


def misconception(name: str, hint: str, *, specific: bool = False, supersedes: tuple[str, ...] = ()):
    """Register ``fn(question) -> values | None`` as the misconception ``name``."""

    def register(fn: Callable[[Question], Values | None]) -> Callable[[Question], Values | None]:
        CATALOGUE[name] = Misconception(name, hint, fn, specific, supersedes)
        return fn

    return register


def _variant(q: Question, name: str) -> Values:
    return compute.compute_stack(q, name, explained=False).values


def _has(q: Question, kind: str, test: Callable[[dict], bool] = lambda cfg: True) -> bool:
    return any(spec.kind == kind and test(spec.kwargs()) for spec in q.layers)


def _numbers(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _padded(cfg: dict) -> bool:
    p = cfg.get("padding", 0)
    return not isinstance(p, str) and any(v for v in _numbers(p))


# --------------------------------------------------------------------------- output size


@misconception("no_plus_one", "off by one: M' = floor((M + 2P - U) / S) + 1 - the '+ 1' is missing")
def no_plus_one(q: Question) -> Values | None:
    return _variant(q, "no_plus_one")


@misconception("extra_one", "off by one: M' = floor((M + 2P - U) / S) + 1 - one too many")
def extra_one(q: Question) -> Values | None:
    return _variant(q, "extra_one")


@misconception("swap_hw", "height and width swapped: Paddle shapes are [C, H, W] (NCHW), height first")
def swap_hw(q: Question) -> Values | None:
    return _variant(q, "swap_hw")


@misconception(
    "no_channels",
    "the channels are missing: an output shape is [C, H, W] (one map per kernel), not just [H, W]",
)
def no_channels(q: Question) -> Values | None:
    values = compute.compute_stack(q, explained=False).values
    shape = values["output_shape"]
    if len(shape) < 3:
        return None
    return {"output_shape": shape[-2:]}


@misconception(
    "padding_once",
    "padding counted on one side only: the input grows by 2P (P on each side)",
    specific=True,
    supersedes=("no_plus_one",),
)
def padding_once(q: Question) -> Values | None:
    if not any(spec.kind in ("conv2d", "pool2d") and _padded(spec.kwargs()) for spec in q.layers):
        return None
    return _variant(q, "padding_once")


@misconception("no_padding", "padding ignored: the input grows by 2P before the kernel slides", specific=True)
def no_padding(q: Question) -> Values | None:
    if not any(spec.kind in ("conv2d", "pool2d") and _padded(spec.kwargs()) for spec in q.layers):
        return None
    return _variant(q, "no_padding")


@misconception("no_stride", "stride ignored: divide (M + 2P - U) by S before adding 1", specific=True)
def no_stride(q: Question) -> Values | None:
    if not any(max(_numbers(spec.get("stride", 1))) > 1 for spec in q.layers if spec.kind == "conv2d"):
        return None
    return _variant(q, "no_stride")


@misconception("no_dilation", "dilation ignored: a dilated kernel spans D*(U-1)+1 pixels", specific=True)
def no_dilation(q: Question) -> Values | None:
    if not _has(q, "conv2d", lambda c: max(_numbers(c.get("dilation", 1))) > 1):
        return None
    return _variant(q, "no_dilation")


@misconception(
    "ceil_ignored",
    "ceil_mode ignored: with ceil_mode=True the size rounds up, M' = ceil((M + 2P - U) / S) + 1",
    specific=True,
    supersedes=("no_plus_one",),
)
def ceil_ignored(q: Question) -> Values | None:
    if not _has(q, "pool2d", lambda c: c.get("ceil_mode", False)):
        return None
    return _variant(q, "no_ceil")


@misconception(
    "ceil_not_floor",
    "rounded up where Paddle rounds down: M' = floor((M + 2P - U) / S) + 1 (ceil only with ceil_mode=True)",
    specific=True,
    supersedes=("extra_one",),
)
def ceil_not_floor(q: Question) -> Values | None:
    if not any(spec.kind in ("conv2d", "pool2d") and not spec.get("ceil_mode", False) for spec in q.layers):
        return None
    return _variant(q, "ceil")


# --------------------------------------------------------------------------- channels and parameters


@misconception(
    "in_channels",
    "input channels used for the output channels: a conv layer outputs one map per kernel"
    " (out_channels = P); the input's D channels are the depth of each kernel",
    specific=True,
)
def in_channels(q: Question) -> Values | None:
    if not _has(q, "conv2d"):
        return None
    return _variant(q, "in_channels")


@misconception(
    "conv_no_bias",
    "bias forgotten: each of the P kernels adds one bias (+P parameters, +M'N'P paddle FLOPs)",
    specific=True,
)
def conv_no_bias(q: Question) -> Values | None:
    if not _has(q, "conv2d", lambda c: c.get("bias", True)):
        return None
    return _variant(q, "conv_no_bias")


@misconception(
    "linear_no_bias",
    "bias forgotten: a fully connected layer has one bias per output feature (in*out + out parameters)",
    specific=True,
)
def linear_no_bias(q: Question) -> Values | None:
    if not _has(q, "linear", lambda c: c.get("bias", True)):
        return None
    return _variant(q, "linear_no_bias")


@misconception(
    "bn_trainable",
    "running mean and variance left out: paddle.summary counts them as (non-trainable) parameters, 2C more",
    specific=True,
)
def bn_trainable(q: Question) -> Values | None:
    return _variant(q, "bn_trainable") if _has(q, "batchnorm") else None


@misconception(
    "bn_with_running",
    "running statistics counted: the trainable parameters of BatchNorm are only scale and shift (2C)",
    specific=True,
)
def bn_with_running(q: Question) -> Values | None:
    return _variant(q, "bn_with_running") if _has(q, "batchnorm") else None


# --------------------------------------------------------------------------- FLOPs conventions


@misconception(
    "macs",
    "MACs given where paddle-convention FLOPs were asked: paddle also counts the bias add,"
    " one per output value (+M'N'P)",
)
def macs(q: Question) -> Values | None:
    if q.convention != "paddle" or not _has(q, "conv2d", lambda c: c.get("bias", True)):
        return None
    return _variant(q, "macs")


@misconception(
    "paddle",
    "paddle-convention FLOPs given where MACs were asked: MACs count only multiply-accumulates (no bias term)",
)
def paddle(q: Question) -> Values | None:
    return None if q.convention == "paddle" else _variant(q, "paddle")


@misconception(
    "flops",
    "every operation counted (K multiplies, K-1 adds and the bias add per output, the 'flops' convention)"
    " where another convention was asked",
)
def flops(q: Question) -> Values | None:
    return None if q.convention == "flops" else _variant(q, "flops")


@misconception(
    "two_macs",
    "FLOPs given as 2 x MACs (a multiply and an add per multiply-accumulate): the convention asked"
    " counts each multiply-accumulate once (paddle: plus one bias add per output value)",
)
def two_macs(q: Question) -> Values | None:
    if q.convention == "flops":
        return None
    mac = compute.compute_stack(q, "macs" if q.convention != "macs" else None, explained=False).values
    return {"flops": 2 * mac["flops"]} if mac["flops"] else None


@misconception(
    "pool_zero",
    "average-pooling FLOPs given as 0: paddle.flops counts one operation per output value of an"
    " average pool (C x H' x W'); only max pooling counts 0",
    specific=True,
    supersedes=("macs", "input_size_flops", "two_macs"),
)
def pool_zero(q: Question) -> Values | None:
    if q.convention == "macs" or not _has(q, "pool2d", lambda c: c.get("mode", "max") == "avg"):
        return None
    return _variant(q, "pool_zero")


@misconception("no_batch", "the batch size was not multiplied in: FLOPs scale with the batch", specific=True)
def no_batch(q: Question) -> Values | None:
    shape = q.input_shape
    batched = q.layers and compute.compute_stack(q, explained=False).batched
    return _variant(q, "no_batch") if batched and shape[0] > 1 else None


@misconception("input_size_flops", "FLOPs computed over the input size M x N; use the output size M' x N'")
def input_size_flops(q: Question) -> Values | None:
    return _variant(q, "input_size_flops")


# --------------------------------------------------------------------------- receptive field


@misconception(
    "rf_no_jump",
    "strides ignored in the receptive field: each layer adds (k-1) x jump, where jump is the"
    " product of the earlier strides",
    specific=True,
)
def rf_no_jump(q: Question) -> Values | None:
    if len(q.layers) < 2:
        return None
    return _variant(q, "rf_no_jump")


@misconception("rf_plus_one", "receptive field off by one: r_out = r_in + (k-1) x jump (start from r = 1)")
def rf_plus_one(q: Question) -> Values | None:
    return _variant(q, "rf_plus_one")


@misconception(
    "rf_no_dilation",
    "dilation ignored in the receptive field: a dilated kernel spans D*(k-1)+1 pixels, so it adds D*(k-1) x jump",
    specific=True,
    supersedes=("rf_plus_one",),
)
def rf_no_dilation(q: Question) -> Values | None:
    if not _has(q, "conv2d", lambda c: max(_numbers(c.get("dilation", 1))) > 1):
        return None
    return _variant(q, "rf_no_dilation")


@misconception(
    "stride_as_dilation",
    "the stride used as a dilation: the stride is how far the window moves (the output shrinks by S),"
    " the dilation the spacing of the kernel's taps",
    specific=True,
    supersedes=("rf_plus_one", "extra_one", "no_plus_one", "no_stride"),
)
def stride_as_dilation(q: Question) -> Values | None:
    if not _has(q, "conv2d", lambda c: max(_numbers(c.get("stride", 1))) > 1):
        return None
    return _variant(q, "stride_as_dilation")


# --------------------------------------------------------------------------- groups and linear FLOPs


@misconception(
    "groups_ignored",
    "groups ignored: with groups = g each of the P kernels sees only D/g input channels (P*(D/g)*U*V + P parameters)",
    specific=True,
)
def groups_ignored(q: Question) -> Values | None:
    if not _has(q, "conv2d", lambda c: c.get("groups", 1) > 1):
        return None
    return _variant(q, "no_groups")


@misconception(
    "linear_bias_flops",
    "the bias add counted: paddle.flops counts in*out for a linear layer, not the bias",
    specific=True,
)
def linear_bias_flops(q: Question) -> Values | None:
    if q.convention != "paddle" or not _has(q, "linear", lambda c: c.get("bias", True)):
        return None
    return _variant(q, "linear_bias_flops")


HINTS: dict[str, str] = {name: m.hint for name, m in CATALOGUE.items()}
"""Misconception name -> its hint (also used by model questions' totals)."""


# --------------------------------------------------------------------------- choosing


def _values_of(m: Misconception, q: Question, cache: dict | None) -> Values | None:
    key = ("misconception", m.name, q.input_shape, q.layers, q.convention)
    if cache is not None and key in cache:
        return cache[key]
    try:
        values = m.recompute(q)
    except Exception:  # a mistake that makes no sense for this stack (e.g. a size <= 0)
        values = None
    if cache is not None:
        cache[key] = values
    return values


def _consistency(q: Question, name: str, values: Values, expected: Values, answers: dict, batched: bool) -> int:
    """+1 for each other wrong answer the mistake reproduces, -1 for each right answer it would spoil."""
    score = 0
    for other, answer in answers.items():
        want, mistaken = expected.get(other), values.get(other)
        if other == name or answer is None or want is None or mistaken is None:
            continue
        tol = q.tolerance_for(other)
        if values_match(other, mistaken, want, Tolerance(), batched)[0]:
            continue  # this mistake does not change that answer: no evidence either way
        if values_match(other, answer, want, tol, batched)[0]:
            score -= 1
        elif values_match(other, answer, mistaken, tol, batched)[0]:
            score += 1
    return score


def ranked(
    q: Question,
    name: str,
    given: Any,
    expected: Values,
    answers: dict[str, Any],
    batched: bool,
    cache: dict | None = None,
    prior: dict[str, int] | None = None,
) -> list[tuple[tuple, Misconception]]:
    """The misconceptions that reproduce ``given`` for ``name``, most plausible first, with their rank.

    ``prior``: per misconception, in how many *other* questions of the file it explains a wrong
    answer (a student who forgets the ``+ 1`` in four questions most likely forgot it in the fifth)."""
    scored = []
    for order, m in enumerate(CATALOGUE.values()):
        values = _values_of(m, q, cache)
        variant = None if values is None else values.get(name)
        if variant is None or values_match(name, variant, expected.get(name), Tolerance(), batched)[0]:
            continue
        if not values_match(name, given, variant, q.tolerance_for(name), batched)[0]:
            continue
        consistency = _consistency(q, name, values, expected, answers, batched)
        # the question's own answers first; the file's other questions break a tie
        scored.append(((-consistency, -(prior or {}).get(m.name, 0), not m.specific, order), m))
    scored.sort(key=lambda item: item[0])
    return scored


def hint_for(
    q: Question,
    name: str,
    given: Any,
    expected: Values,
    answers: dict[str, Any],
    batched: bool,
    cache: dict | None = None,
    prior: dict[str, int] | None = None,
) -> str:
    """The hint for a wrong answer: the best misconception, and a second one only when they stay tied."""
    found = ranked(q, name, given, expected, answers, batched, cache, prior)
    found = [
        (rank, m)
        for rank, m in found
        if not any(m.name in other.supersedes and other_rank[:2] <= rank[:2] for other_rank, other in found)
    ]
    if not found:
        return ""
    (rank, first), rest = found[0], found[1:]
    if rest and rest[0][0][:2] == rank[:2]:  # as consistent with the other answers: name both
        return f"{first.hint}; or {rest[0][1].hint}"
    return first.hint


def candidates(q: Question, expected: Values, answers: dict[str, Any], batched: bool, cache: dict | None) -> set[str]:
    """The misconceptions that explain some wrong answer of this question (for the file-wide prior)."""
    found: set[str] = set()
    for name, given in answers.items():
        want = expected.get(name)
        if given is None or want is None or values_match(name, given, want, q.tolerance_for(name), batched)[0]:
            continue
        try:
            found.update(m.name for _, m in ranked(q, name, given, expected, answers, batched, cache))
        except Exception:  # a hint is a courtesy: never fail grading over it
            continue
    return found
