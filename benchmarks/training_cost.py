"""Measured beside predicted: real training steps of the book's models vs convcalc's training cost.

For each model (the book's LeNet, as the trainer builds it; the book's ResNet18
with and without residual connections) at batch 64 on MNIST-sized input
(1x32x32, random data, nothing downloaded), prints:

- the predicted FLOPs of one training step (forward + input gradient + weight
  gradient) from ``convcalc.analysis.training.training_cost`` in the ``flops``
  convention (every multiply and add once, the unit of a processor's FLOP/s),
  and in the ``paddle`` convention for reference;
- the median seconds of a real step (forward, cross-entropy, backward, SGD
  step, clear_grad; ``--warmup`` steps first, then ``--steps`` timed);
- the achieved GFLOP/s (predicted flops-convention FLOPs / median seconds) and
  its ratio to a baseline measured in the same process just before each model's
  steps (so background load hits both): a float32 1024x1024 matmul, the dense
  kernel this CPU runs fastest (2*n^3 FLOPs per product);
- where a GPU is present, the predicted peak training memory beside
  ``paddle.device.cuda.max_memory_allocated`` over the timed steps, and their ratio.

Also prints the load average (the machine may be shared; figures move with it).

    python benchmarks/training_cost.py [--steps 10] [--warmup 3] [--models book_lenet ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

MODELS = ("book_lenet", "book_resnet18", "book_resnet18_plain")
BATCH = 64


def matmul_gflops(n: int = 1024, repeat: int = 10) -> float:
    """Median GFLOP/s of a float32 n x n matmul (2*n^3 FLOPs), the baseline."""
    import paddle

    a, b = paddle.randn([n, n]), paddle.randn([n, n])
    (a @ b).numpy()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        (a @ b).numpy()
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def measure(name: str, steps: int, warmup: int) -> dict:
    from convcalc.analysis.training import training_cost
    from convcalc.train import models
    from convcalc.train.measure import time_training_steps

    spec = models.resolve(name)
    shape = (BATCH, 1, 32, 32)
    flops = training_cost(models.build(spec), list(shape), convention="flops").totals
    paddle_conv = training_cost(models.build(spec), list(shape), convention="paddle").totals
    baseline = matmul_gflops()
    timing = time_training_steps(models.build(spec), shape, steps=steps, warmup=warmup, lr=spec.book_lr)
    row = {
        "model": name,
        "batch": BATCH,
        "device": timing.device,
        "predicted_flops": int(flops.step),
        "predicted_forward": int(flops.forward),
        "predicted_backward_input": int(flops.backward_input),
        "predicted_backward_weight": int(flops.backward_weight),
        "predicted_paddle": int(paddle_conv.step),
        "median_seconds": timing.median,
        "seconds": list(timing.seconds),
        "achieved_gflops": flops.step / timing.median / 1e9,
        "matmul_gflops": baseline,
        "predicted_peak_bytes": int(flops.peak_bytes),
        "measured_peak_bytes": timing.peak_bytes,
    }
    if timing.peak_bytes:
        row["peak_ratio"] = flops.peak_bytes / timing.peak_bytes
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--models", nargs="*", default=list(MODELS), help=f"default: {' '.join(MODELS)}")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    from convcalc.train.measure import gpu_available

    load = os.getloadavg()
    rows = [measure(name, args.steps, args.warmup) for name in args.models]
    gpu = gpu_available()
    if args.json:
        print(json.dumps({"load_average": load, "gpu": gpu, "rows": rows}, indent=2))
        return
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs; device {rows[0]['device']}")
    print(
        f"batch {BATCH}, input 1x32x32; predicted FLOPs per step in the 'flops' convention (paddle convention beside)"
    )
    head = (
        f"{'model':<20} {'predicted FLOPs':>16} {'(paddle conv.)':>15} {'median s/step':>14} {'GFLOP/s':>8}"
        f" {'matmul GFLOP/s':>14} {'ratio':>6}"
    )
    if gpu:
        head += f" {'pred. peak MiB':>14} {'GPU peak MiB':>12} {'ratio':>6}"
    print(head)
    for r in rows:
        line = (
            f"{r['model']:<20} {r['predicted_flops']:>16,} {r['predicted_paddle']:>15,} {r['median_seconds']:>14.4f} "
            f"{r['achieved_gflops']:>8.2f} {r['matmul_gflops']:>14.2f} "
            f"{r['achieved_gflops'] / r['matmul_gflops']:>6.2f}"
        )
        if gpu:
            line += (
                f" {r['predicted_peak_bytes'] / 2**20:>14.1f} {r['measured_peak_bytes'] / 2**20:>12.1f}"
                f" {r['peak_ratio']:>6.2f}"
            )
        print(line)
    print(f"load average at the end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
