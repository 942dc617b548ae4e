"""What Paddle alone costs inside an analysis: the floor under issues 20 and 23's in-process speed goals.

convcalc analyses a model by building its static program and checking it with an eager forward (the
design issue 20 describes: sizes resolved "from the run convcalc already makes (the eager check, or
executing the program once)").  Two parts of that are Paddle's own work, which no change to convcalc
can make cheaper:

- **op creation**: the time inside Paddle's program-building op functions (every ``paddle._C_ops``
  function called while Paddle is in static mode, timed around each call) during one ``analyze``;
  operators Paddle builds without passing through ``_C_ops`` are not counted, so this is a *lower*
  bound on Paddle's share of the build;
- **eager check**: the eager forward convcalc runs to refuse what Paddle refuses (``eager_check`` as
  ``analyze`` calls it, already on crops where it can be), shown beside one plain eager forward.

Per model, timed in turns in one process against ``paddle.summary`` + ``paddle.flops`` (medians of
``--repeat`` rounds), it prints those parts and the whole analysis as ratios, and ``floor``: op creation
plus the smaller of the eager check and the plain forward.  Where ``floor`` is above the goal, no
analysis that builds the static program and runs the check can meet it.

    python benchmarks/speed_floors.py [--models lenet shufflenet_v2_x0_25 ... | --zoo] [--repeat 5] [--goal 0.5]
    ~/.cache/convcalc-corpus-venv/bin/python benchmarks/speed_floors.py --real LeViT_128S MicroNet_M0 --goal 1.0

``--real`` takes the models from the real-library corpus (PaddleClas / PaddleSeg; run it with the
interpreter of the environment that has them, see ``convcalc validate --help``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (the companion benchmark, the other design's floor: its load average and timer, one copy of each)
from dispatch_bound import load, seconds  # noqa: E402


@contextlib.contextmanager
def timed(module, name: str, into: list[float]):
    """``module.name`` timed into ``into`` (one entry per call) while the block runs."""
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - start)

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, real)


@contextlib.contextmanager
def op_creation_timed(paddle, into: list[float]):
    """Every ``paddle._C_ops`` function timed while Paddle is in static mode (building a program)."""
    from paddle import _C_ops

    in_dynamic = paddle.in_dynamic_mode
    originals = {n: getattr(_C_ops, n) for n in dir(_C_ops) if not n.startswith("_") and callable(getattr(_C_ops, n))}

    def wrap(fn):
        def building(*args, **kwargs):
            if in_dynamic():
                return fn(*args, **kwargs)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                into.append(time.perf_counter() - start)
        return building

    for n, fn in originals.items():
        setattr(_C_ops, n, wrap(fn))
    try:
        yield
    finally:
        for n, fn in originals.items():
            setattr(_C_ops, n, fn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["lenet", "shufflenet_v2_x0_25", "mobilenet_v3_small",
                                                        "mobilenet_v2", "densenet121", "resnet18"])
    parser.add_argument("--zoo", action="store_true", help="every zoo model (overrides --models)")
    parser.add_argument("--real", nargs="*", metavar="MODEL", help="real-library models instead of zoo models")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--goal", type=float, default=0.5, help="the ratio goal (issue 23: 0.5; issue 20: 1.0)")
    args = parser.parse_args()

    import paddle

    import convcalc.trace.build as trace
    from convcalc.analysis import analyze

    if args.real is not None:
        from convcalc.checks.real_libraries import models as real_models

        real_models.import_libraries()

        def build(name):
            model = real_models.build(name)
            model.eval()
            return model, tuple(real_models.input_of(name))
    else:
        from convcalc.models.zoo import ZOO, build_model

        if args.zoo:
            args.models = sorted(ZOO)

        def build(name):
            built = build_model(name)
            return built.model, (1, *built.default_input)

    print(load())
    print(f"{'model':<26} {'summary+flops s':>15} {'analysis x':>10} {'op creation x':>13} {'ops':>5} "
          f"{'eager check x':>13} {'plain fwd x':>11} {'floor x':>8}  goal {args.goal}")
    for name in args.real if args.real is not None else args.models:
        model, shape = build(name)
        x = paddle.ones(list(shape))

        def theirs(model=model, shape=shape):
            with contextlib.redirect_stdout(io.StringIO()):
                paddle.summary(model, shape)
                paddle.flops(model, list(shape))

        def ours(model=model, shape=shape, name=name):
            analyze(model, shape, name=name)

        def forward(model=model, x=x):
            with paddle.no_grad():
                model(x)

        ours()
        theirs()
        forward()
        rounds = [(seconds(ours), seconds(theirs), seconds(forward)) for _ in range(args.repeat)]
        t_ours, t_theirs, t_forward = (statistics.median(r[i] for r in rounds) for i in range(3))
        creation, checks, count = [], [], 0
        for _ in range(args.repeat):
            ops: list[float] = []
            check: list[float] = []
            with op_creation_timed(paddle, ops), timed(trace, "eager_check", check):
                ours()
            creation.append(sum(ops))
            checks.append(sum(check))
            count = len(ops)
        t_creation, t_check = statistics.median(creation), statistics.median(checks)
        floor = (t_creation + min(t_check, t_forward)) / t_theirs
        print(f"{name:<26} {t_theirs:>15.3f} {t_ours / t_theirs:>10.2f} {t_creation / t_theirs:>13.2f} {count:>5} "
              f"{t_check / t_theirs:>13.2f} {t_forward / t_theirs:>11.2f} {floor:>8.2f}"
              f"{'  floor above the goal' if floor > args.goal else ''}", flush=True)
    print(load())


if __name__ == "__main__":
    main()
