"""Weight transfer between the book's models and Paddle's (book §5.3.2 and 5.4.4).

- ``paddle.vision.models.resnet18`` -> the book's :class:`Model_ResNet18`
  (:func:`transfer_resnet18`, :func:`book_resnet18_from_vision`).  The vision
  stem conv has no bias, so the book's stem-conv bias is set to zero; each
  ``downsample.0`` / ``downsample.1`` maps to ``shortcut`` / ``bn3``, running
  mean and variance included.
- :class:`Model_LeNet` <-> :class:`Paddle_LeNet` (:func:`transfer_lenet`), conv
  biases reshaped between ``[P, 1]`` and ``[P]``.

Every transfer is checked before anything is written: each source entry must
map to an existing target entry of the same shape, no two onto the same one,
and every target parameter *and buffer* must be assigned (or be explicitly
zero-filled).  A wrong mapping therefore fails loudly.  (The book's own
mapping writes ``'shorcutt'`` for ``'shortcut'``, so ``set_state_dict`` skips
the shortcut BatchNorm; its output check still passes only because freshly
built BatchNorm layers are identities.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import paddle
from paddle import nn

from convcalc.errors import ModelLoadError
from convcalc.models.book import Model_LeNet, Model_ResNet18, Paddle_LeNet

__all__ = [
    "WeightTransferError",
    "TransferReport",
    "transfer_state",
    "resnet18_key_map",
    "transfer_resnet18",
    "book_resnet18_from_vision",
    "transfer_lenet",
    "max_abs_diff",
]


class WeightTransferError(ModelLoadError):
    """A weight mapping that does not cover the target exactly (missing, extra, misshapen)."""


@dataclass(frozen=True)
class TransferReport:
    """What a transfer did: ``(source_key, target_key)`` pairs and zero-filled targets."""

    assigned: tuple[tuple[str, str], ...]
    zero_filled: tuple[str, ...] = ()
    reshaped: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """Number of target entries written (assigned plus zero-filled)."""
        return len(self.assigned) + len(self.zero_filled)


KeyMap = Callable[[str], "str | None"]
ReshapeRule = Callable[[str, tuple[int, ...], tuple[int, ...]], bool]


def _as_state(source: nn.Layer | Mapping[str, Any]) -> dict[str, np.ndarray]:
    state = source.state_dict() if isinstance(source, nn.Layer) else source
    return {key: np.asarray(value.numpy() if hasattr(value, "numpy") else value) for key, value in state.items()}


def _listing(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def transfer_state(
    source: nn.Layer | Mapping[str, Any],
    target: nn.Layer,
    key_map: KeyMap,
    *,
    zero_fill: tuple[str, ...] = (),
    reshape_ok: ReshapeRule | None = None,
) -> TransferReport:
    """Copy ``source``'s state into ``target`` through ``key_map``, checking coverage.

    ``key_map(source_key)`` returns the target key (``None``: no mapping, an
    error).  ``zero_fill`` lists target keys that have no source and are set
    to zero.  ``reshape_ok(target_key, source_shape, target_shape)`` may allow
    a reshape of equal size.  Nothing is written unless every check passes;
    otherwise :class:`WeightTransferError` lists all problems found.
    """
    src = _as_state(source)
    dst = target.state_dict()
    problems: list[str] = []
    pairs: list[tuple[str, str]] = []
    reshaped: list[str] = []
    unmapped = [k for k in src if key_map(k) is None]
    if unmapped:
        problems.append(f"no mapping for source keys {_listing(unmapped)}")
    seen: dict[str, str] = {}
    unknown: list[str] = []
    for key in src:
        new = key_map(key)
        if new is None:
            continue
        if new not in dst:
            unknown.append(f"{key} -> {new}")
            continue
        if new in seen:
            problems.append(f"{seen[new]!r} and {key!r} both map to {new!r}")
            continue
        seen[new] = key
        src_shape, dst_shape = tuple(src[key].shape), tuple(dst[new].shape)
        if src_shape != dst_shape:
            same_size = int(np.prod(src_shape)) == int(np.prod(dst_shape))
            if same_size and reshape_ok is not None and reshape_ok(new, src_shape, dst_shape):
                reshaped.append(new)
            else:
                problems.append(f"shape mismatch {key} {list(src_shape)} -> {new} {list(dst_shape)}")
                continue
        pairs.append((key, new))
    if unknown:
        problems.append(f"mapped onto keys the target lacks: {_listing(unknown)}")
    bad_fill = [k for k in zero_fill if k not in dst or k in seen]
    if bad_fill:
        problems.append(f"zero-fill keys missing from the target or also mapped: {_listing(bad_fill)}")
    missing = [k for k in dst if k not in seen and k not in zero_fill]
    if missing:
        problems.append(f"target entries left unassigned: {_listing(missing)}")
    if problems:
        raise WeightTransferError(
            f"weight transfer {type(target).__name__} failed: " + "; ".join(problems),
            "fix the key mapping so every target parameter and buffer gets exactly one source",
        )
    for key, new in pairs:
        tensor = dst[new]
        tensor.set_value(src[key].reshape(tensor.shape).astype(tensor.numpy().dtype))
    for key in zero_fill:
        tensor = dst[key]
        tensor.set_value(np.zeros(tensor.shape, dtype=tensor.numpy().dtype))
    return TransferReport(tuple(pairs), tuple(zero_fill), tuple(reshaped))


# ------------------------------------------------------------------ ResNet18

_LAYER_KEY = re.compile(r"^layer([1-4])\.(\d+)\.(.+)$")
_STAGE_RENAMES = {"downsample.0.": "shortcut.", "downsample.1.": "bn3."}

#: paddle.vision ``resnet18`` names -> the book's ``Model_ResNet18`` names.
#: Stem: ``conv1`` -> ``net.0.0``, ``bn1`` -> ``net.0.1``; ``layerL.B`` -> ``net.L.B``;
#: ``fc`` -> ``net.7`` (after AdaptiveAvgPool2D at 5 and Flatten at 6).


def resnet18_key_map(key: str) -> str | None:
    """Map one ``paddle.vision`` ResNet18 state key to the book's; ``None`` if unknown.

    >>> resnet18_key_map("layer2.0.downsample.1._mean")
    'net.2.0.bn3._mean'
    >>> resnet18_key_map("conv1.weight"), resnet18_key_map("fc.bias")
    ('net.0.0.weight', 'net.7.bias')
    """
    if key == "conv1.weight":
        return "net.0.0.weight"
    if key.startswith("bn1."):
        return "net.0.1." + key[len("bn1.") :]
    if key.startswith("fc."):
        return "net.7." + key[len("fc.") :]
    match = _LAYER_KEY.match(key)
    if match is None:
        return None
    stage, block, rest = match.groups()
    for old, new in _STAGE_RENAMES.items():
        if rest.startswith(old):
            rest = new + rest[len(old) :]
            break
    return f"net.{stage}.{block}.{rest}"


def transfer_resnet18(
    source: nn.Layer | Mapping[str, Any],
    target: Model_ResNet18,
    key_map: KeyMap = resnet18_key_map,
) -> TransferReport:
    """Copy a ``paddle.vision.models.resnet18`` into the book's ``Model_ResNet18``.

    The target must have the source's input channels and classes.  The book's
    stem conv has a bias the vision model lacks; it is set to zero.
    """
    return transfer_state(source, target, key_map, zero_fill=("net.0.0.bias",))


def book_resnet18_from_vision(source: nn.Layer) -> Model_ResNet18:
    """A new book ``Model_ResNet18`` computing exactly what ``source`` (vision resnet18) does."""
    state = source.state_dict()
    if "conv1.weight" not in state or "fc.weight" not in state:
        raise WeightTransferError(
            f"{type(source).__name__} is not a paddle.vision resnet18 with a classifier",
            "pass paddle.vision.models.resnet18(...) built with num_classes > 0",
        )
    in_channels = int(state["conv1.weight"].shape[1])
    num_classes = int(state["fc.weight"].shape[1])
    target = Model_ResNet18(in_channels=in_channels, num_classes=num_classes, use_residual=True)
    transfer_resnet18(source, target)
    target.train(source.training)
    return target


# ------------------------------------------------------------------ LeNet


def _conv_bias_reshape(key: str, src: tuple[int, ...], dst: tuple[int, ...]) -> bool:
    """Allow ``[P, 1]`` <-> ``[P]`` for the conv biases only (5.2.1.2 vs paddle.nn.Conv2D)."""
    squeeze = tuple(d for d in src if d != 1) == tuple(d for d in dst if d != 1)
    return key.startswith("conv") and key.endswith(".bias") and squeeze


def transfer_lenet(
    source: Model_LeNet | Paddle_LeNet | Mapping[str, Any],
    target: Model_LeNet | Paddle_LeNet,
) -> TransferReport:
    """Copy weights between the book's ``Model_LeNet`` and ``Paddle_LeNet`` (either way).

    Both use the same names (``conv1``, ``conv3``, ``conv5``, ``linear6``,
    ``linear7``); conv biases are reshaped between ``[P, 1]`` and ``[P]``.
    """
    return transfer_state(source, target, lambda key: key, reshape_ok=_conv_bias_reshape)


# ------------------------------------------------------------------ checking


def max_abs_diff(model_a: nn.Layer, model_b: nn.Layer, x: paddle.Tensor) -> float:
    """``max |model_a(x) - model_b(x)|`` over the (first) outputs, without gradients."""
    with paddle.no_grad():
        out_a, out_b = model_a(x), model_b(x)
    if isinstance(out_a, (tuple, list)):
        out_a = out_a[0]
    if isinstance(out_b, (tuple, list)):
        out_b = out_b[0]
    if tuple(out_a.shape) != tuple(out_b.shape):
        raise WeightTransferError(
            f"outputs differ in shape: {list(out_a.shape)} vs {list(out_b.shape)}",
            "compare models with the same number of classes",
        )
    return float(paddle.max(paddle.abs(out_a - out_b)))
