"""Training speed: the convcalc trainer vs a bare Paddle loop, and custom vs API LeNet (5.3.2).

Run from the project root::

    python benchmarks/train_speed.py --data-dir ../shared/data/mnist            # all models
    python benchmarks/train_speed.py --data-dir ../shared/data/mnist --quick    # LeNets only

1. Seconds per epoch of each book model with ``convcalc.train.runner.train``
   (progress display on, quiet console) vs a bare Paddle loop doing the same
   steps in the same process: same seed, data, loader, optimizer and the same
   dev evaluations (every 15 steps and at the last step).  Goal: <= 1.05x.
2. The book's speed test (5.3.2): ``Model_LeNet(vectorized=True)`` - the
   book's operators written with tensor ops (``F.unfold`` for im2col, one
   matmul; max over strided window views, averaging matrices), no Paddle
   conv/pool kernel - vs ``Paddle_LeNet``, forward (batch 1 as the book, and
   64) and one SGD train step (batch 64), 10 warm-up runs then the median
   (and the ratio of the fastest runs, timeit's rule, beside it).
   Goals: <= 1.5x forward, <= 2x train step.  The loop ``Model_LeNet``
   forward (batch 1, ~2 s) is timed ``--naive-runs`` times (default 2) for
   the book's 3.5 s vs 0.001 s comparison.  The 1-minute load average is
   printed with the figures.
   ``--lenet-only`` skips part 1 (no MNIST needed).

Measurements alternate between the two sides, so background load hits both;
part 1 reports the fastest round of each side (as ``timeit`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def bare_epochs(model_name: str, splits, epochs: int, seed: int = 100) -> float:
    """A bare Paddle loop: the trainer's steps and dev evaluations, nothing else."""
    import paddle
    import paddle.nn.functional as F

    from convcalc.train import models
    from convcalc.train.data import BookMNIST
    from convcalc.train.runner import seed_everything

    spec = models.resolve(model_name)
    train_ds, dev_ds = BookMNIST(splits.train), BookMNIST(splits.dev)
    seed_everything(seed)
    model = models.build(spec)
    opt = paddle.optimizer.SGD(learning_rate=spec.book_lr, parameters=model.parameters())
    train_loader = paddle.io.DataLoader(train_ds, batch_size=64, shuffle=True)
    dev_loader = paddle.io.DataLoader(dev_ds, batch_size=64)
    total = epochs * len(train_loader)
    model.train()
    start = time.perf_counter()
    step = 0
    for _ in range(epochs):
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.clear_grad()
            if step > 0 and (step % 15 == 0 or step == total - 1):
                model.eval()
                with paddle.no_grad():
                    for dx, dy in dev_loader:
                        F.cross_entropy(model(dx), dy).item()
                model.train()
            step += 1
    return (time.perf_counter() - start) / epochs


def trainer_epochs(model_name: str, splits, epochs: int, seed: int = 100) -> float:
    from convcalc.render.training import TrainProgress
    from convcalc.train.runner import TrainConfig, train

    config = TrainConfig(model=model_name, epochs=epochs, seed=seed)
    with TrainProgress(model_name, quiet=True) as progress:
        return train(config, splits, progress).result.seconds_per_epoch


def _timeit(fn, warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def lenet_comparison(runs: int, naive_runs: int, rounds: int = 5) -> dict[str, float]:
    """Median seconds: vectorised Model_LeNet vs Paddle_LeNet (and the loop Model_LeNet)."""
    import paddle
    import paddle.nn.functional as F

    from convcalc.models.book import Model_LeNet, Paddle_LeNet

    paddle.seed(100)
    models = {"custom": Model_LeNet(1, 10, vectorized=True), "api": Paddle_LeNet(1, 10)}
    opts = {k: paddle.optimizer.SGD(learning_rate=0.1, parameters=m.parameters()) for k, m in models.items()}
    rng = np.random.default_rng(0)
    x1 = paddle.to_tensor(rng.standard_normal((1, 1, 32, 32)).astype("float32"))
    x64 = paddle.to_tensor(rng.standard_normal((64, 1, 32, 32)).astype("float32"))
    y64 = paddle.to_tensor(rng.integers(0, 10, (64, 1)).astype("int64"))
    res: dict[str, list[float]] = {}

    def fwd(m, x):
        with paddle.no_grad():
            m(x)

    def step(k):
        loss = F.cross_entropy(models[k](x64), y64)
        loss.backward()
        opts[k].step()
        opts[k].clear_grad()

    for _ in range(rounds):  # alternate rounds
        for k, m in models.items():
            res.setdefault(f"{k}_forward_b1", []).extend(_timeit(lambda m=m: fwd(m, x1), 10, runs))
            res.setdefault(f"{k}_forward_b64", []).extend(_timeit(lambda m=m: fwd(m, x64), 10, runs))
            res.setdefault(f"{k}_train_step_b64", []).extend(_timeit(lambda k=k: step(k), 10, runs))
    out = {k: statistics.median(v) for k, v in res.items()}
    out.update({f"{k}_fastest": min(v) for k, v in res.items()})  # the least disturbed run (timeit's rule)
    if naive_runs:
        naive = Model_LeNet(1, 10, vectorized=False)
        out["naive_forward_b1"] = statistics.median(_timeit(lambda: fwd(naive, x1), 0, naive_runs))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="LeNets only in part 1")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="rounds for the LeNets")
    parser.add_argument("--resnet-repeats", type=int, default=1, help="rounds for ResNet18")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per round, part 2")
    parser.add_argument("--naive-runs", type=int, default=2, help="loop Model_LeNet forwards (~2 s each)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds, part 2")
    parser.add_argument("--lenet-only", action="store_true", help="part 2 only (no MNIST data needed)")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="part 1 for these models only")
    parser.add_argument("--skip-lenet-comparison", action="store_true", help="part 1 only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    names = ["book_lenet", "book_paddle_lenet"]
    if not args.quick:
        names += ["book_resnet18_plain", "book_resnet18"]
    if args.models:
        names = args.models
    if args.lenet_only:
        names = []
    else:
        from convcalc.train.data import load_book_splits

        splits = load_book_splits(args.data_dir)
    part1 = {}
    for name in names:
        repeats = args.repeats if "lenet" in name else args.resnet_repeats
        bare, ours = [], []
        if "lenet" in name:  # warm-up (allocator, oneDNN primitives); ResNet epochs are long
            bare_epochs(name, splits, 1)
        for _ in range(repeats):
            bare.append(bare_epochs(name, splits, args.epochs))
            ours.append(trainer_epochs(name, splits, args.epochs))
        b, o = min(bare), min(ours)  # the least disturbed run of each (timeit's rule)
        part1[name] = {"bare_s_per_epoch": b, "trainer_s_per_epoch": o, "ratio": o / b}
        print(
            f"{name}: trainer {o:.3f} s/epoch, bare loop {b:.3f} s/epoch, ratio {o / b:.3f}",
            file=sys.stderr,
            flush=True,
        )
    if args.skip_lenet_comparison:
        return 0
    load_before = os.getloadavg()[0]
    part2 = lenet_comparison(args.runs, args.naive_runs, args.rounds)
    load = (load_before, os.getloadavg()[0])  # 1-minute load average before and after part 2
    keys = ("forward_b1", "forward_b64", "train_step_b64")
    ratios = {k: part2[f"custom_{k}"] / part2[f"api_{k}"] for k in keys}
    fastest = {k: part2[f"custom_{k}_fastest"] / part2[f"api_{k}_fastest"] for k in keys}
    report = {"trainer_vs_bare": part1, "lenet_seconds": part2, "custom_vs_api_ratio": ratios,
              "custom_vs_api_ratio_fastest": fastest,
              "load_average_1min": {"before": load[0], "after": load[1]}}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    t1 = Table(title="Trainer vs bare Paddle loop (seconds per epoch; goal <= 1.05x)")
    for h in ("model", "trainer", "bare loop", "ratio"):
        t1.add_column(h, justify="right")
    for name, r in part1.items():
        t1.add_row(name, f"{r['trainer_s_per_epoch']:.3f}", f"{r['bare_s_per_epoch']:.3f}", f"{r['ratio']:.3f}")
    t2 = Table(title="Model_LeNet (vectorised: unfold + matmul, no conv/pool kernel) vs Paddle_LeNet, median (5.3.2)")
    for h in ("measure", "custom", "paddle API", "ratio", "ratio of fastest", "goal"):
        t2.add_column(h, justify="right")
    for key, goal in (("forward_b1", "<= 1.5"), ("forward_b64", "<= 1.5"), ("train_step_b64", "<= 2")):
        t2.add_row(
            key,
            f"{part2['custom_' + key] * 1e3:.3f} ms",
            f"{part2['api_' + key] * 1e3:.3f} ms",
            f"{ratios[key]:.3f}",
            f"{fastest[key]:.3f}",
            goal,
        )
    if "naive_forward_b1" in part2:
        t2.add_row(
            "loop Model_LeNet forward_b1",
            f"{part2['naive_forward_b1']:.3f} s",
            f"{part2['api_forward_b1'] * 1e3:.3f} ms",
            f"{part2['naive_forward_b1'] / part2['api_forward_b1']:.0f}",
            "",
            "(book: 3.5 s)",
        )
    console = Console()
    if part1:
        console.print(t1)
    console.print(t2)
    console.print(f"1-minute load average {load[0]:.2f} before, {load[1]:.2f} after ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
