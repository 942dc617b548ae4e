"""The sandboxed half of ``convcalc verify-op``: imports a student's operator and runs it when asked.

Copied into the sandbox as ``/job/worker.py`` and run as ``python -I /job/worker.py``; it imports
only the standard library, numpy and paddle (never convcalc).  It holds two pipes and nothing
else: requests from the trusted harness (:mod:`convcalc.homework.operators._harness`) on fd 3,
its answers on fd 4.  It answers each request once: "load" (import the student's file, find the
class), "run" (one configuration: build the operator, copy the weights in, forward, backward on
the input arrays sent with the request), "exit".  Frames have a fixed format: ``b"J" + length +
JSON`` and ``b"A" + length + .npy bytes`` (the output and the gradients of ``sum(output * seed)``
with respect to the input, the weight and the bias).

This process decides nothing and is never trusted: the student's code runs in it.  The harness
rejects anything it sends unasked, the checker (outside the sandbox) validates every array,
computes the reference itself and gives the verdict.  Before the student's file is imported,
Paddle's own convolution and pooling entry points are wrapped: each call is recorded (the
verdict says "uses paddle.nn.functional.conv2d"), and with ``--forbid`` it raises.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import os
import struct
import sys
from typing import Any

JOB = os.environ.get("CONVCALC_JOB", "/job")
REQ, RESP = 3, 4
MAX_FRAME = 8 << 20


def _frame(kind: bytes, payload: bytes) -> None:
    data = memoryview(kind + struct.pack(">I", len(payload)) + payload)
    while data:
        data = data[os.write(RESP, data) :]


def send(event: str, **data: Any) -> None:
    _frame(b"J", json.dumps({"event": event, **data}, default=str).encode())


def send_array(array: Any) -> None:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    _frame(b"A", buf.getvalue())


def _exact(n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(REQ, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _receive() -> tuple[bytes, bytes]:
    kind = _exact(1)
    (length,) = struct.unpack(">I", _exact(4))
    if length > MAX_FRAME:
        raise EOFError
    return kind, _exact(length)


def _request() -> dict:
    kind, payload = _receive()
    return json.loads(payload) if kind == b"J" else {}


def _input_array() -> Any:
    import numpy as np

    _, payload = _receive()
    return np.load(io.BytesIO(payload), allow_pickle=False)


# --------------------------------------------------------------------------- Paddle's own operators

GROUPS = {
    "conv": (
        "conv2d conv2d_transpose conv2d_transpose_bias conv3d conv3d_transpose depthwise_conv2d"
        " depthwise_conv2d_bias depthwise_conv2d_transpose depthwise_conv3d_bias deformable_conv"
        " fused_conv2d_add_act sequence_conv fusion_seqconv_eltadd_relu unfold fold tensor_unfold"
    ).split(),
    "pool": (
        "pool2d pool3d max_pool2d_with_index max_pool3d_with_index lp_pool2d fractional_max_pool2d"
        " fractional_max_pool3d unpool unpool3d"
    ).split(),
}
PUBLIC = {
    "conv": ("conv1d conv2d conv3d conv1d_transpose conv2d_transpose conv3d_transpose unfold fold").split(),
    "pool": (
        "max_pool1d max_pool2d max_pool3d avg_pool1d avg_pool2d avg_pool3d adaptive_max_pool1d"
        " adaptive_max_pool2d adaptive_max_pool3d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d"
        " lp_pool1d lp_pool2d fractional_max_pool2d fractional_max_pool3d max_unpool1d max_unpool2d max_unpool3d"
    ).split(),
}
CALLS: list[str] = []


class ForbiddenOperator(RuntimeError):
    pass


def _public_name(group: str, op: str, args: tuple) -> str:
    if op in ("pool2d", "pool3d"):
        mode = "max" if any(isinstance(a, str) and a == "max" for a in args) else "avg"
        return f"paddle.nn.functional.{mode}_{op[:4]}{op[-2:]}"
    if op.startswith("max_pool"):
        return f"paddle.nn.functional.{op[:10]}"
    if op.startswith("depthwise_conv2d") or op.startswith("conv2d"):
        return "paddle.nn.functional.conv2d" + ("_transpose" if "transpose" in op else "")
    if op in ("unfold", "tensor_unfold"):
        return "paddle.nn.functional.unfold"
    return f"paddle.nn.functional.{op}" if op in PUBLIC[group] else f"paddle._C_ops.{op}"


def _guard(fn: Any, group: str, op: str, forbidden: bool, public: str = "") -> Any:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        name = public or _public_name(group, op, args)
        if name not in CALLS:
            CALLS.append(name)
        if forbidden:
            raise ForbiddenOperator(f"{name} is not allowed in this assignment (--forbid {group})")
        return fn(*args, **kwargs)

    guarded.__name__ = getattr(fn, "__name__", op)
    return guarded


def _no_static(*args: Any, **kwargs: Any) -> Any:
    raise ForbiddenOperator("static graphs and paddle.jit are not allowed in this assignment (--forbid)")


def install_guards(forbid: list[str]) -> None:
    """Wrap Paddle's convolution and pooling entry points: record every call; raise for ``forbid``."""
    import paddle
    import paddle.nn.functional as F

    modules = [
        getattr(paddle, "_C_ops", None),
        getattr(paddle, "_legacy_C_ops", None),
        getattr(paddle, "_pir_ops", None),
    ]
    try:
        modules.append(paddle.base.core.eager.ops)
    except AttributeError:
        pass
    for group, ops in GROUPS.items():
        for module in modules:
            for op in ops:
                fn = getattr(module, op, None) if module is not None else None
                if fn is not None:
                    try:
                        setattr(module, op, _guard(fn, group, op, group in forbid))
                    except (AttributeError, TypeError):
                        pass
        for name in PUBLIC[group]:
            fn = getattr(F, name, None)
            if fn is not None:
                setattr(F, name, _guard(fn, group, name, group in forbid, f"paddle.nn.functional.{name}"))
    if forbid:
        paddle.enable_static = _no_static
        paddle.jit.to_static = _no_static
        paddle.static.Executor.run = _no_static


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _student_frames(err: BaseException, path: str) -> str:
    """The traceback lines inside the student's file (where the bug is): the first and the last three.

    Walks ``tb_next`` with a cap: a recursion of millions of frames is never turned into a list."""
    found = []
    tb, seen = err.__traceback__, 0
    while tb is not None and seen < 200_000:
        code = tb.tb_frame.f_code
        if os.path.abspath(code.co_filename) == path:
            found.append((code.co_filename, tb.tb_lineno, code.co_name))
            if len(found) > 4:
                del found[1]
        tb, seen = tb.tb_next, seen + 1
    import linecache

    return "\n".join(
        f"{os.path.basename(f)} line {n}, in {name}: {linecache.getline(f, n).strip()}" for f, n, name in found[-3:]
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


def _run(cls: Any, cfg: dict, a: dict, path: str) -> None:
    """One configuration: build, copy the weights in, forward, backward; send the arrays."""
    import paddle

    del CALLS[:]
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
                send("result", index=index, status="weight", calls=CALLS, **shapes)
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
            calls=CALLS,
        )
        return
    names = ["out"] + [n for n, _ in grads]
    send("result", index=index, status="ok", arrays=names, note=note, calls=CALLS, **shapes)
    send_array(got)
    for _, g in grads:
        send_array(g)


RECURSION_CAP = 10_000


def _cap_recursion() -> None:
    """A raised recursion limit lets a runaway recursion grow towards the memory limit for a minute: cap it."""
    original = sys.setrecursionlimit

    def setrecursionlimit(limit: int) -> None:
        original(min(int(limit), RECURSION_CAP))

    sys.setrecursionlimit = setrecursionlimit


def main() -> None:
    with open(f"{JOB}/spec.json", encoding="utf-8") as fh:
        spec = json.load(fh)
    import numpy  # noqa: F401
    import paddle

    paddle.set_device("cpu")
    install_guards([g for g in spec.get("forbid", []) if g in GROUPS])
    _cap_recursion()
    send("ready")
    path, name = f"{JOB}/{spec['path']}", spec["name"]
    sys.path[:0] = [p for p in spec.get("sys_path", []) if isinstance(p, str)]  # convcalc (read-only)
    cls = None
    while True:
        try:
            msg = _request()
        except (EOFError, ValueError):
            os._exit(0)
        op = msg.get("op")
        if op == "load":
            try:
                cls = _load(path, name)
                if not callable(cls):
                    raise TypeError(f"{name} is not a class")
            except BaseException as err:  # SyntaxError, ImportError, SystemExit, MemoryError, ...
                send("import-error", error=_short(err), detail=_student_frames(err, path))
                continue
            send("loaded", accepts={n: _accepts(cls, n) for n in ("mode", "padding")})
        elif op == "run" and cls is not None:
            arrays = {n: _input_array() for n in msg.get("arrays", [])}
            _run(cls, msg["config"], arrays, path)
        else:
            os._exit(0)  # "exit": skip paddle's slow interpreter teardown, the harness has all it needs


if __name__ == "__main__":
    main()
