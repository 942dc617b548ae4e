"""How fast could a trace be that does not build Paddle's static program?  A lower bound.

convcalc traces a model by building its static program (``paddle.jit.to_static``) and then checks it
with an eager forward.  On models of many cheap layers the build alone costs more than half of
``paddle.summary`` + ``paddle.flops`` (docs/performance.md), so issue 23's in-process goal (<= 0.5x on
every zoo model) and issue 20's (median <= 0.5x over PaddleClas and PaddleSeg) cannot be met by that
design.  This script measures the alternative's floor: one eager forward (no_grad) with every function
of ``paddle._C_ops`` wrapped to log its name and the shapes of its tensor inputs and outputs, and a
hook on every layer to log which layer issued them, which is the least a dispatch-level trace must do.
It is timed in turns with convcalc's ``analyze`` and with ``paddle.summary`` + ``paddle.flops`` on the
same model in the same process.

It is a *lower* bound: it builds no records, applies no rules and computes no receptive fields, and it
does not see the operators Paddle runs without passing through ``_C_ops`` (a tensor's ``+`` and
indexing dispatch in C++), so a real dispatch trace would cost more.  Where even this bound is above
0.5x, no dispatch trace could meet the goal either.

    python benchmarks/dispatch_bound.py [--models resnet18 mobilenet_v2 ...] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import statistics
import time

DEFAULT_MODELS = ["resnet18", "mobilenet_v2", "densenet121", "shufflenet_v2_x0_5", "deit_tiny", "lenet"]


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def dispatch_trace(model, x, _C_ops, paddle) -> list[tuple]:
    """One eager forward with every ``_C_ops`` function and every layer call logged."""
    log: list[tuple] = []
    stack: list[str] = []

    def shapes(values):
        return tuple(tuple(v.shape) for v in values if isinstance(v, paddle.Tensor))

    def wrap(name, fn):
        @functools.wraps(fn)
        def logged(*args, **kwargs):
            out = fn(*args, **kwargs)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            log.append((stack[-1] if stack else "", name, shapes(args), shapes(outs)))
            return out
        return logged

    names = [n for n in dir(_C_ops) if not n.startswith("_") and callable(getattr(_C_ops, n))]
    originals = {n: getattr(_C_ops, n) for n in names}

    def enter(path):
        def pre(_layer, _inputs):
            stack.append(path)  # returns None: a hook's return value would replace the inputs
        return pre

    def leave(_layer, _inputs, _outputs):
        stack.pop()

    hooks = []
    for path, layer in model.named_sublayers(include_self=True):
        hooks.append(layer.register_forward_pre_hook(enter(path)))
        hooks.append(layer.register_forward_post_hook(leave))
    try:
        for n, fn in originals.items():
            setattr(_C_ops, n, wrap(n, fn))
        with paddle.no_grad():
            model(x)
    finally:
        for n, fn in originals.items():
            setattr(_C_ops, n, fn)
        for h in hooks:
            h.remove()
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import paddle
    from paddle import _C_ops

    from convcalc.analysis import analyze
    from convcalc.models.zoo import build_model

    print(load())
    print(f"{'model':<20} {'convcalc s':>10} {'dispatch s':>10} {'summary+flops s':>15} "
          f"{'convcalc x':>10} {'dispatch x':>10} {'ops logged':>10}")
    for name in args.models:
        built = build_model(name)
        model = built.model
        model.eval()
        shape = [1, *built.default_input]
        x = paddle.ones(shape)

        def theirs(model=model, shape=shape):
            with contextlib.redirect_stdout(io.StringIO()):
                paddle.summary(model, tuple(shape))
                paddle.flops(model, shape)

        def ours(model=model, shape=shape, name=name):
            analyze(model, tuple(shape), name=name)

        def traced(model=model, x=x):
            return dispatch_trace(model, x, _C_ops, paddle)

        logged = traced()  # warm-up, and the count
        ours()
        theirs()
        rounds = [(seconds(ours), seconds(traced), seconds(theirs)) for _ in range(args.repeat)]
        t_ours, t_dispatch, t_theirs = (statistics.median(r[i] for r in rounds) for i in range(3))
        print(f"{name:<20} {t_ours:>10.3f} {t_dispatch:>10.3f} {t_theirs:>15.3f} "
              f"{t_ours / t_theirs:>10.2f} {t_dispatch / t_theirs:>10.2f} {len(logged):>10}")
    print(load())


if __name__ == "__main__":
    main()
