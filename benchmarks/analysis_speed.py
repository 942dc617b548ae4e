"""convcalc's analysis vs paddle.summary + paddle.flops, in the same process.

Prints, per model, the median seconds of convcalc's concrete analysis and of
running ``paddle.summary`` plus ``paddle.flops`` on the same model and input
(taken in turns, so both see the same load), their ratio (goal: <= 0.5x),
then what the analysis spent in its eager check (the check that refuses what
Paddle's eager forward refuses: convolutions at their smallest size, see
convcalc/trace/stand_ins.py) beside one plain eager forward of the model (what the
check cost when it was a full forward); then the time of the symbolic report
of resnet50 (goal: <= 2 s).  The load average is printed first and last: the
machine may be shared.

With ``--zoo`` it measures every zoo model (``convcalc models``) and ends with
how many meet the goal; ``--no-symbolic`` skips the resnet50 symbolic report.

    python benchmarks/analysis_speed.py [--repeat 5] [--models resnet18 resnet50 | --zoo] [--no-symbolic]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=["resnet18", "resnet50"])
    parser.add_argument("--zoo", action="store_true", help="every zoo model (overrides --models)")
    parser.add_argument("--no-symbolic", action="store_true", help="skip resnet50's symbolic report")
    args = parser.parse_args()

    import paddle

    import convcalc.trace.build as trace
    from convcalc.analysis import analyze
    from convcalc.models.zoo import ZOO, build_model

    names = sorted(ZOO) if args.zoo else args.models
    print(load())
    check_times: list[float] = []
    real_check = trace.eager_check

    def timed_check(*a, **k):  # the eager check as analyze runs it, timed
        start = time.perf_counter()
        try:
            return real_check(*a, **k)
        finally:
            check_times.append(time.perf_counter() - start)

    trace.eager_check = timed_check
    print(f"{'model':<12} {'convcalc s':>11} {'summary+flops s':>16} {'ratio':>7}  (goal <= 0.50)"
          f" {'eager check s':>14} {'plain forward s':>16}")
    ratios: dict[str, float] = {}
    for name in names:
        built = build_model(name)
        shape = (1, *built.default_input)
        x = paddle.ones(list(shape))

        def ours(model=built.model, shape=shape, name=name):
            analyze(model, shape, name=name)

        def theirs(model=built.model, shape=shape):
            with contextlib.redirect_stdout(io.StringIO()):
                paddle.summary(model, shape)
                paddle.flops(model, list(shape))

        def forward(model=built.model, x=x):
            model.eval()
            with paddle.no_grad():
                model(x)

        ours()  # warm-up: first to_static compiles Paddle's converters; first kernels set up
        theirs()
        forward()
        check_times.clear()
        rounds = [(median_time(ours, 1), median_time(theirs, 1), median_time(forward, 1)) for _ in range(args.repeat)]
        t_ours, t_theirs, t_forward = (statistics.median(r[i] for r in rounds) for i in range(3))
        t_check = statistics.median(check_times) if check_times else 0.0
        ratios[name] = t_ours / t_theirs
        print(f"{name:<12} {t_ours:>11.3f} {t_theirs:>16.3f} {t_ours / t_theirs:>7.2f} {'':>14}"
              f"{t_check:>14.3f} {t_forward:>16.3f}")

    met = [n for n, r in ratios.items() if r <= 0.5]
    print(f"goal <= 0.50x met by {len(met)} of {len(ratios)} models; worst "
          + ", ".join(f"{n} {r:.2f}" for n, r in sorted(ratios.items(), key=lambda kv: -kv[1])[:5]))
    if args.no_symbolic:
        print(load())
        return
    built = build_model("resnet50")
    t_sym = median_time(lambda: analyze(built.model, (3, 224, 224), symbolic=True), args.repeat)
    print(f"symbolic report of resnet50: {t_sym:.3f} s (goal <= 2 s)")
    print(load())


if __name__ == "__main__":
    main()
