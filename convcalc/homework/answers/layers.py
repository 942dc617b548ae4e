"""A layer of a layer question: its kind and options, checked against the closed lists of ``explain``."""

from __future__ import annotations

import difflib
from typing import Any

from convcalc.homework.answers.source import Context
from convcalc.homework.answers.values import as_table, boolean, check_keys, pair, string, whole
from convcalc.homework.spec import LAYER_KINDS, MAX_CHANNELS, MAX_KERNEL, REQUIRED_LAYER_KEYS, LayerSpec

__all__ = ["layer_spec"]


def layer_spec(ctx: Context, path: tuple, value: Any) -> LayerSpec:
    table = as_table(ctx, path, value, "a layer")
    if "kind" not in table:
        raise ctx.fail(path, "the layer has no 'kind'", "add kind = one of " + ", ".join(LAYER_KINDS))
    kind = string(ctx, path + ("kind",), table["kind"], '"conv2d"').lower()
    if kind not in LAYER_KINDS:
        close = difflib.get_close_matches(kind, LAYER_KINDS, n=1, cutoff=0.5)
        fix = (f"did you mean {close[0]!r}? " if close else "") + "layer kinds: " + ", ".join(LAYER_KINDS)
        raise ctx.fail(path + ("kind",), f"unknown layer kind {kind!r}", fix)
    allowed = ("kind",) + LAYER_KINDS[kind]
    check_keys(ctx, path, table, allowed, f"a {kind} layer")
    for key in REQUIRED_LAYER_KEYS.get(kind, ()):
        if key not in table:
            raise ctx.fail(
                path + (key,),
                f"a {kind} layer needs {key!r}",
                f"add {key} = ... (see docs/homework.md)",
            )
    config: list[tuple[str, Any]] = []
    for key in LAYER_KINDS[kind]:
        if key not in table:
            continue
        raw, p = table[key], path + (key,)
        if key in ("out_channels", "out_features"):
            val: Any = whole(ctx, p, raw, 1, MAX_CHANNELS, f"{key} = 6")
        elif key == "kernel":
            val = pair(ctx, p, raw, 1, MAX_KERNEL, "kernel = 3 or kernel = [3, 5]")
        elif key == "stride":
            val = pair(ctx, p, raw, 1, MAX_KERNEL, "stride = 2")
        elif key == "dilation":
            val = pair(ctx, p, raw, 1, MAX_KERNEL, "dilation = 2")
        elif key == "groups":
            val = whole(ctx, p, raw, 1, MAX_CHANNELS, "groups = 1")
        elif key == "padding":
            if isinstance(raw, str):
                if raw.upper() not in ("SAME", "VALID"):
                    raise ctx.fail(
                        p,
                        f"unknown padding {raw[:40]!r}",
                        'write a number, [height, width], "SAME" or "VALID"',
                    )
                val = raw.upper()
            elif isinstance(raw, list):
                if len(raw) != 4:
                    raise ctx.fail(
                        p,
                        f"padding as a list needs 4 numbers [top, bottom, left, right], got {len(raw)}",
                        "write padding = 1 or padding = [0, 1, 0, 1]",
                    )
                val = tuple(whole(ctx, p, v, 0, MAX_KERNEL, "padding = [0, 1, 0, 1]") for v in raw)
            else:
                val = whole(ctx, p, raw, 0, MAX_KERNEL, "padding = 1")
        elif key == "mode":
            val = string(ctx, p, raw, '"max"').lower()
            if val not in ("max", "avg"):
                raise ctx.fail(p, f"unknown pooling mode {raw!r}", 'write mode = "max" or mode = "avg"')
        else:  # bias, ceil_mode
            val = boolean(ctx, p, raw)
        config.append((key, val))
    return LayerSpec(kind=kind, config=tuple(config))
