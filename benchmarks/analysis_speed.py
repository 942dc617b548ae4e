"""convcalc's analysis vs paddle.summary + paddle.flops, in the same process.

Prints, per model, the median seconds of convcalc's concrete analysis (which
includes the eager check that refuses what Paddle refuses) and of running
``paddle.summary`` plus ``paddle.flops`` on the same model and input, their
ratio (goal: <= 0.5x), and the eager check's own seconds; then the time of
the symbolic report of resnet50 (goal: <= 2 s).

    python benchmarks/analysis_speed.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=["resnet18", "resnet50"])
    args = parser.parse_args()

    import paddle

    from convcalc.analysis import analyze
    from convcalc.inputs import ModelInput
    from convcalc.models.zoo import build_model
    from convcalc.trace import eager_check

    print(f"{'model':<12} {'convcalc s':>11} {'summary+flops s':>16} {'ratio':>7}  (goal <= 0.50)"
          f" {'of which eager check s':>23}")
    for name in args.models:
        built = build_model(name)
        shape = (1, *built.default_input)

        def ours(model=built.model, shape=shape, name=name):
            analyze(model, shape, name=name)

        def theirs(model=built.model, shape=shape):
            with contextlib.redirect_stdout(io.StringIO()):
                paddle.summary(model, shape)
                paddle.flops(model, list(shape))

        ours()  # warm-up: first to_static compiles Paddle's converters
        theirs()
        def check(model=built.model, shape=shape):
            eager_check(model, [ModelInput(shape)])

        t_ours = median_time(ours, args.repeat)
        t_theirs = median_time(theirs, args.repeat)
        t_check = median_time(check, args.repeat)
        print(f"{name:<12} {t_ours:>11.3f} {t_theirs:>16.3f} {t_ours / t_theirs:>7.2f} {t_check:>23.3f}")

    built = build_model("resnet50")
    t_sym = median_time(lambda: analyze(built.model, (3, 224, 224), symbolic=True), args.repeat)
    print(f"symbolic report of resnet50: {t_sym:.3f} s (goal <= 2 s)")


if __name__ == "__main__":
    main()
