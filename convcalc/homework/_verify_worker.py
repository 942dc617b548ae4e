"""The child process of ``convcalc verify-op``: runs a student's operator against Paddle.

Run as ``python -m convcalc.homework._verify_worker SPEC_JSON``.  It talks to
the parent through JSON lines on the original stdout (``ready`` after paddle
is imported, ``loaded`` after the student's file, ``config`` before each
configuration, then one ``result``); anything the student's code prints goes
to stderr.  The parent enforces the time limit and kills this process when it
is exceeded, so nothing here needs to guard against hangs.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
import traceback
from typing import Any

# (batch, in_channels, out_channels, height, width, kernel, stride, padding):
# small, simplest first, so a failure points at the simplest broken case.
CONV_GRID = (
    (1, 1, 1, 5, 5, 3, 1, 0),
    (2, 2, 2, 5, 5, 3, 1, 1),
    (1, 2, 1, 7, 7, 3, 2, 1),
    (1, 1, 2, 6, 6, 2, 2, 0),
    (2, 2, 3, 5, 7, 3, 1, 0),
    (1, 1, 1, 6, 6, 5, 1, 2),
    (1, 2, 2, 4, 4, 1, 1, 0),
    (1, 1, 1, 8, 8, 3, 3, 0),
    (1, 2, 1, 7, 5, 3, 2, 2),
)
# (batch, channels, height, width, kernel, stride, padding)
POOL_GRID = (
    (1, 1, 4, 4, 2, 2, 0),
    (2, 3, 6, 6, 2, 2, 0),
    (1, 2, 7, 7, 3, 2, 0),
    (1, 2, 6, 8, 2, 1, 0),
    (2, 1, 8, 8, 3, 3, 0),
    (1, 2, 8, 6, 2, 2, 0),
)
POOL_PADDED_GRID = ((1, 2, 7, 7, 3, 2, 1), (2, 1, 6, 8, 2, 2, 1))
ATOL = RTOL = 1e-4

_proto: Any = None


def send(event: str, **data: Any) -> None:
    _proto.write(json.dumps({"event": event, **data}) + "\n")
    _proto.flush()


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _student_frames(err: BaseException, path: str) -> str:
    """The traceback lines inside the student's file (where the bug is)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if os.path.abspath(f.filename) == path]
    lines = [
        f"{os.path.basename(f.filename)} line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames[-3:]
    ]
    return "\n".join(lines)


def _conv_desc(cfg: tuple) -> str:
    b, d, p, h, w, k, s, pad = cfg
    return f"batch {b}, in_channels {d}, out_channels {p}, input {h}x{w}, kernel {k}, stride {s}, padding {pad}"


def _pool_desc(cfg: tuple, mode: str) -> str:
    b, c, h, w, k, s, pad = cfg
    return f"{mode} pooling, batch {b}, channels {c}, input {h}x{w}, kernel {k}, stride {s}" + (
        f", padding {pad}" if pad else ""
    )


def _out(m: int, k: int, s: int, p: int) -> int:
    return (m + 2 * p - k) // s + 1


def _shape_hint(got: tuple, cfg_hw: tuple, k: int, s: int, p: int, channels: int, batch: int) -> str:
    """Name the mistake whose output size equals the student's."""
    if len(got) != 4:
        return f"the output must be 4-D [batch, channels, height, width]; yours has {len(got)} dims"
    h, w = cfg_hw
    if got[0] != batch:
        return f"the batch dimension is {got[0]}, expected {batch}: keep every sample of the batch"
    if got[1] != channels:
        return f"{got[1]} output channels, expected {channels}"
    candidates = [
        ("off by one: M' = (M + 2P - U) // S + 1", (_out(h, k, s, p) - 1, _out(w, k, s, p) - 1)),
        (
            "padding ignored: pad the input with P zeros on every side first",
            (_out(h, k, s, 0), _out(w, k, s, 0)),
        ),
        (
            "stride applied twice (S*S): the window moves by S",
            (_out(h, k, s * s, p), _out(w, k, s * s, p)),
        ),
        ("stride ignored: the window must move by S", (_out(h, k, 1, p), _out(w, k, 1, p))),
        (
            "padding added on one side only: pad P zeros on both sides",
            ((h + p - k) // s + 1, (w + p - k) // s + 1),
        ),
        ("height and width swapped", (_out(w, k, s, p), _out(h, k, s, p))),
    ]
    right = (_out(h, k, s, p), _out(w, k, s, p))
    found = [text for text, size in candidates if tuple(got[2:]) == size and size != right]
    return "; or ".join(found[:2])


def _load(path: str, name: str) -> Any:
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("_student_operator", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["_student_operator"] = module
    spec.loader.exec_module(module)
    if not hasattr(module, name):
        import paddle.nn as nn

        found = [
            n
            for n, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, nn.Layer) and v.__module__ == module.__name__
        ]
        raise LookupError(
            f"{os.path.basename(path)} has no {name!r}" + (f"; it defines {', '.join(found)}" if found else "")
        )
    return getattr(module, name)


def _construct(cls: Any, wanted: dict[str, Any], positional: list[str]) -> Any:
    """Call the constructor with the arguments it names (by keyword), else positionally."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    if params and all(n in params or any(p.kind is p.VAR_KEYWORD for p in params.values()) for n in positional):
        return cls(
            **{k: v for k, v in wanted.items() if k in params or any(p.kind is p.VAR_KEYWORD for p in params.values())}
        )
    return cls(*[wanted[n] for n in positional])


def _accepts(cls: Any, name: str) -> bool:
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _find_param(layer: Any, attr: str, numel: int, ndim_pref: int) -> Any:
    import paddle

    value = getattr(layer, attr, None)
    if isinstance(value, paddle.Tensor) and int(value.size) == numel:
        return value
    matches = [p for p in layer.parameters() if int(p.size) == numel]
    matches.sort(key=lambda p: (len(p.shape) != ndim_pref,))
    return matches[0] if matches else None


def _fail(message: str, **data: Any) -> dict:
    return {"ok": False, "failure": message, **data}


def _compare(got: Any, want: Any, np: Any) -> tuple[bool, float]:
    diff = np.abs(got.astype("float64") - want.astype("float64"))
    ok = bool(np.all(diff <= ATOL + RTOL * np.abs(want)))
    return ok, float(diff.max()) if diff.size else 0.0


def _as_array(y: Any, np: Any) -> Any:
    if hasattr(y, "numpy"):
        y = y.numpy()
    return np.asarray(y)


def run_conv(cls: Any, index: int, cfg: tuple, path: str) -> dict:
    import numpy as np
    import paddle
    import paddle.nn.functional as PF

    b, d, p, h, w, k, s, pad = cfg
    desc = _conv_desc(cfg)
    rng = np.random.default_rng(100 + index)
    x = rng.standard_normal((b, d, h, w)).astype("float32")
    weight = rng.standard_normal((p, d, k, k)).astype("float32")
    bias = rng.standard_normal((p,)).astype("float32")
    try:
        op = _construct(
            cls,
            {"in_channels": d, "out_channels": p, "kernel_size": k, "stride": s, "padding": pad},
            ["in_channels", "out_channels", "kernel_size", "stride", "padding"],
        )
    except Exception as err:
        return _fail(f"the constructor raised {_short(err)}", config=desc, detail=_student_frames(err, path))
    w_param = _find_param(op, "weight", p * d * k * k, 4)
    if w_param is None:
        return _fail(
            f"no weight parameter with {p}x{d}x{k}x{k} = {p * d * k * k} values",
            config=desc,
            hint="create the kernel as a parameter [out_channels, in_channels, k, k] (self.weight)",
        )
    w_param.set_value(weight.reshape(w_param.shape))
    b_param = _find_param(op, "bias", p, 1)
    notes = []
    if b_param is None:
        bias = np.zeros_like(bias)
        notes.append("the operator has no bias parameter; compared with a bias-free paddle.nn.Conv2D")
    else:
        b_param.set_value(bias.reshape(b_param.shape))
    x_t = paddle.to_tensor(x)
    want = PF.conv2d(x_t, paddle.to_tensor(weight), paddle.to_tensor(bias), stride=s, padding=pad).numpy()
    try:
        with paddle.no_grad():
            got = _as_array(op(x_t), np)
    except Exception as err:
        return _fail(
            f"forward raised {_short(err)}",
            config=desc,
            detail=_student_frames(err, path),
            notes=notes,
        )
    if tuple(got.shape) != tuple(want.shape):
        return _fail(
            "wrong output shape",
            config=desc,
            got_shape=list(got.shape),
            expected_shape=list(want.shape),
            hint=_shape_hint(tuple(got.shape), (h, w), k, s, pad, p, b),
            notes=notes,
        )
    ok, max_diff = _compare(got, want, np)
    if ok:
        return {"ok": True, "notes": notes}
    hint = ""
    variants = [
        (
            "kernel flipped: you computed a true convolution; paddle.nn.Conv2D (and the book) "
            "slide the kernel without flipping it (cross-correlation)",
            weight[:, :, ::-1, ::-1],
            bias,
        ),
        (
            "kernel transposed: row u of the kernel must multiply row i*S+u of the input",
            weight.transpose(0, 1, 3, 2),
            bias,
        ),
        ("bias not added: Z^p = sum_d W^{p,d} * X^d + b^p (5.18)", weight, np.zeros_like(bias)),
    ]
    for text, w_alt, b_alt in variants:
        alt = PF.conv2d(
            x_t,
            paddle.to_tensor(np.ascontiguousarray(w_alt)),
            paddle.to_tensor(b_alt),
            stride=s,
            padding=pad,
        ).numpy()
        if _compare(got, alt, np)[0]:
            hint = text
            break
    return _fail(
        "wrong values",
        config=desc,
        max_diff=max_diff,
        got_shape=list(got.shape),
        expected_shape=None,
        hint=hint,
        notes=notes,
    )


def run_pool(cls: Any, index: int, cfg: tuple, mode: str, path: str) -> dict:
    import numpy as np
    import paddle
    import paddle.nn.functional as PF

    b, c, h, w, k, s, pad = cfg
    desc = _pool_desc(cfg, mode)
    rng = np.random.default_rng(200 + index)
    x = rng.standard_normal((b, c, h, w)).astype("float32")
    wanted: dict[str, Any] = {"stride": s}
    if _accepts(cls, "size"):
        wanted["size"] = (k, k)
        positional = ["size", "mode", "stride"]
    else:
        wanted["kernel_size"] = k
        positional = ["kernel_size", "stride"]
    if _accepts(cls, "mode"):
        wanted["mode"] = mode
    if pad:
        wanted["padding"] = pad
    try:
        op = _construct(cls, wanted, [n for n in positional if n in wanted])
    except Exception as err:
        return _fail(f"the constructor raised {_short(err)}", config=desc, detail=_student_frames(err, path))
    x_t = paddle.to_tensor(x)
    pool = PF.max_pool2d if mode == "max" else PF.avg_pool2d
    want = pool(x_t, kernel_size=k, stride=s, padding=pad).numpy()
    try:
        with paddle.no_grad():
            got = _as_array(op(x_t), np)
    except Exception as err:
        return _fail(f"forward raised {_short(err)}", config=desc, detail=_student_frames(err, path))
    if tuple(got.shape) != tuple(want.shape):
        return _fail(
            "wrong output shape",
            config=desc,
            got_shape=list(got.shape),
            expected_shape=list(want.shape),
            hint=_shape_hint(tuple(got.shape), (h, w), k, s, pad, c, b),
        )
    ok, max_diff = _compare(got, want, np)
    if ok:
        return {"ok": True}
    other = "avg" if mode == "max" else "max"
    other_pool = PF.avg_pool2d if mode == "max" else PF.max_pool2d
    hint = ""
    if _compare(got, other_pool(x_t, kernel_size=k, stride=s, padding=pad).numpy(), np)[0]:
        hint = f"computes {other} pooling where {mode} pooling was asked"
    return _fail("wrong values", config=desc, max_diff=max_diff, got_shape=list(got.shape), hint=hint)


def main(argv: list[str] | None = None) -> None:
    global _proto
    args = argv or sys.argv[1:]
    if len(args) != 1:
        sys.exit("usage: python -m convcalc.homework._verify_worker SPEC_JSON (started by verify-op)")
    spec = json.loads(args[0])
    # Protocol on the real stdout; the student's prints go to stderr.
    _proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import numpy  # noqa: F401
    import paddle

    paddle.set_device("cpu")
    send("ready")
    path, name, kind, modes = spec["path"], spec["name"], spec["kind"], spec["modes"]
    try:
        cls = _load(path, name)
    except BaseException as err:  # SyntaxError, ImportError, SystemExit, ...
        send(
            "result",
            ok=False,
            failure=f"importing {os.path.basename(path)} raised {_short(err)}",
            detail=_student_frames(err, path),
            tried=0,
        )
        return
    if not callable(cls):
        send("result", ok=False, failure=f"{name} is not a class", tried=0)
        return
    send("loaded")
    tried = 0
    notes: list[str] = []
    if kind == "conv2d":
        modes = []
        work = [("conv", cfg, None) for cfg in CONV_GRID]
    else:
        if not modes:
            modes = ["max", "avg"] if _accepts(cls, "mode") else ["max"]
        grid = POOL_GRID + (POOL_PADDED_GRID if _accepts(cls, "padding") else ())
        if not _accepts(cls, "padding"):
            notes.append("padding not tested: the constructor takes no 'padding' (as the book's Pool2D)")
        work = [("pool", cfg, m) for m in modes for cfg in grid]
    total = len(work)
    for i, (what, cfg, mode) in enumerate(work):
        send(
            "config",
            index=i + 1,
            total=total,
            config=_conv_desc(cfg) if what == "conv" else _pool_desc(cfg, mode),
        )
        try:
            out = run_conv(cls, i, cfg, path) if what == "conv" else run_pool(cls, i, cfg, mode, path)
        except BaseException as err:  # SystemExit or a checker-side surprise: report, don't crash
            out = _fail(f"the operator raised {_short(err)}", config="", detail=_student_frames(err, path))
        for n in out.pop("notes", None) or ():
            if n not in notes:
                notes.append(n)
        if not out.pop("ok"):
            send(
                "result",
                ok=False,
                config_index=i + 1,
                total=total,
                tried=tried,
                notes=notes,
                mode=mode,
                modes=modes,
                **out,
            )
            return
        tried += 1
    send("result", ok=True, tried=tried, total=total, notes=notes, modes=modes)


if __name__ == "__main__":
    main()
