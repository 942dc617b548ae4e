"""The sandboxed half of ``convcalc verify-op``: runs a student's operator on the checker's inputs.

Copied into the sandbox as ``/job/worker.py`` and run as ``python -I /job/worker.py``; it imports
only the standard library, numpy and paddle (never convcalc).  It reads ``/job/spec.json`` and
the input arrays the checker wrote (``/job/<name>.npy``), runs the student's operator on each
configuration and sends back, on the protocol pipe (fd 3, or ``$CONVCALC_PROTO_FD``), frames of
a fixed format: ``b"J" + length + JSON`` for events and ``b"A" + length + .npy bytes`` for
arrays (the output, and the gradients of ``sum(output * seed)`` with respect to the input, the
weight and the bias).

This process decides nothing: the student's code runs in it and could send anything.  The
checker (:mod:`convcalc.homework.operators.verify_op`), outside the sandbox, validates every frame,
computes Paddle's reference on the same inputs and gives the verdict.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import os
import struct
import sys
import traceback
from typing import Any

JOB = os.environ.get("CONVCALC_JOB", "/job")
_fd = int(os.environ.get("CONVCALC_PROTO_FD", "3"))


def _frame(kind: bytes, payload: bytes) -> None:
    os.write(_fd, kind + struct.pack(">I", len(payload)) + payload)


def send(event: str, **data: Any) -> None:
    _frame(b"J", json.dumps({"event": event, **data}, default=str).encode())


def send_array(array: Any) -> None:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    _frame(b"A", buf.getvalue())


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _student_frames(err: BaseException, path: str) -> str:
    """The traceback lines inside the student's file (where the bug is)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if os.path.abspath(f.filename) == path]
    return "\n".join(
        f"{os.path.basename(f.filename)} line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames[-3:]
    )


def _load(path: str, name: str) -> Any:
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


def _params(cls: Any) -> dict:
    try:
        return dict(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return {}


def _accepts(cls: Any, name: str) -> bool:
    params = _params(cls)
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _construct(cls: Any, wanted: dict[str, Any], positional: list[str]) -> Any:
    """Call the constructor with the arguments it names (by keyword), else positionally."""
    params = _params(cls)
    varkw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if params and all(n in params or varkw for n in positional):
        return cls(**{k: v for k, v in wanted.items() if k in params or varkw})
    return cls(*[wanted[n] for n in positional])


def _find_param(layer: Any, attr: str, numel: int, ndim_pref: int, exclude: Any = None) -> Any:
    import paddle

    value = getattr(layer, attr, None)
    if isinstance(value, paddle.Tensor) and int(value.size) == numel and value is not exclude:
        return value
    matches = [p for p in layer.parameters() if int(p.size) == numel and p is not exclude]
    matches.sort(key=lambda p: len(p.shape) != ndim_pref)
    return matches[0] if matches else None


def _as_array(y: Any) -> Any:
    import numpy as np

    if hasattr(y, "numpy"):
        y = y.numpy()
    y = np.asarray(y)
    if y.dtype.name not in ("float16", "float32", "float64", "int32", "int64"):
        y = y.astype("float64")
    return y


def _run(cls: Any, cfg: dict, path: str) -> None:
    """One configuration: build, copy the weights in, forward, backward; send the arrays."""
    import numpy as np
    import paddle

    a = {n: np.load(f"{JOB}/{cfg['id']}_{n}.npy", allow_pickle=False) for n in cfg["arrays"]}
    index = cfg["index"]
    stage = "constructor"
    try:
        if cfg["kind"] == "conv":
            op = _construct(
                cls,
                {
                    "in_channels": cfg["in_channels"],
                    "out_channels": cfg["out_channels"],
                    "kernel_size": cfg["kernel"],
                    "stride": cfg["stride"],
                    "padding": cfg["padding"],
                },
                ["in_channels", "out_channels", "kernel_size", "stride", "padding"],
            )
            weight = _find_param(op, "weight", a["weight"].size, 4)
            bias = _find_param(op, "bias", a["weight"].shape[0], 1, exclude=weight)
            shapes = {
                "weight": None if weight is None else list(weight.shape),
                "bias": None if bias is None else list(bias.shape),
            }
            if weight is None or list(weight.shape) != list(a["weight"].shape):
                send("result", index=index, status="weight", **shapes)
                return
            stage = "weights"
            weight.set_value(a["weight"])
            if bias is not None:
                bias.set_value(a["bias"].reshape(bias.shape))
        else:
            wanted: dict[str, Any] = {"stride": cfg["stride"]}
            if _accepts(cls, "size"):
                wanted["size"] = (cfg["kernel"], cfg["kernel"])
                positional = ["size", "mode", "stride"]
            else:
                wanted["kernel_size"] = cfg["kernel"]
                positional = ["kernel_size", "stride"]
            if _accepts(cls, "mode"):
                wanted["mode"] = cfg["mode"]
            if cfg["padding"]:
                wanted["padding"] = cfg["padding"]
            op = _construct(cls, wanted, [n for n in positional if n in wanted])
            weight = bias = None
            shapes = {}
        stage = "forward"
        x = paddle.to_tensor(a["x"])
        x.stop_gradient = False
        out = op(x)
        got = _as_array(out)
        grads: list[tuple[str, Any]] = []
        note = ""
        if isinstance(out, paddle.Tensor) and not out.stop_gradient and list(out.shape) == list(a["seed"].shape):
            stage = "backward"
            (out * paddle.to_tensor(a["seed"], dtype=out.dtype)).sum().backward()
            for name, t in (("grad_x", x), ("grad_weight", weight), ("grad_bias", bias)):
                if t is not None and t.grad is not None:
                    grads.append((name, t.grad.numpy()))
        elif not isinstance(out, paddle.Tensor) or out.stop_gradient:
            note = "detached"
    except BaseException as err:  # SystemExit, MemoryError, ...: the checker reports it
        send(
            "result",
            index=index,
            status="error",
            stage=stage,
            error=_short(err),
            detail=_student_frames(err, path),
        )
        return
    names = ["out"] + [n for n, _ in grads]
    send("result", index=index, status="ok", arrays=names, note=note, **shapes)
    send_array(got)
    for _, g in grads:
        send_array(g)


def main() -> None:
    os.set_inheritable(_fd, False)
    with open(f"{JOB}/spec.json", encoding="utf-8") as fh:
        spec = json.load(fh)
    import numpy  # noqa: F401
    import paddle

    paddle.set_device("cpu")
    send("ready")
    path, name = f"{JOB}/{spec['path']}", spec["name"]
    sys.path[:0] = [p for p in spec.get("sys_path", []) if isinstance(p, str)]  # convcalc (read-only)
    try:
        cls = _load(path, name)
        if not callable(cls):
            raise TypeError(f"{name} is not a class")
    except BaseException as err:  # SyntaxError, ImportError, SystemExit, MemoryError, ...
        send("import-error", error=_short(err), detail=_student_frames(err, path))
        os._exit(0)
    send("loaded", accepts={n: _accepts(cls, n) for n in ("mode", "padding")})
    for cfg in spec["configs"]:
        skip_padded = cfg["padding"] and not _accepts(cls, "padding")
        skip_avg = cfg["mode"] == "avg" and not spec["modes"] and not _accepts(cls, "mode")
        if cfg["kind"] == "pool" and (skip_padded or skip_avg):
            continue
        _run(cls, cfg, path)
    send("done")
    os._exit(0)  # skip paddle's slow interpreter teardown: the checker has all it needs


if __name__ == "__main__":
    main()
