"""Real training steps, timed (and on a GPU, their peak memory): what the predictions are measured against.

:func:`time_training_steps` runs ``warmup`` + ``steps`` training steps of a model
(forward, cross-entropy, backward, optimizer step, ``clear_grad``) on one fixed
random batch, so no data loading or download is involved, and returns every
timed step's seconds.  On a GPU it also reads
``paddle.device.cuda.max_memory_allocated`` over the timed steps, after
resetting it once the model, its gradients and the optimizer state exist.

``benchmarks/training_cost.py`` prints these beside
:func:`convcalc.analysis.training.training_cost`'s predictions; the GPU memory
test uses :func:`gpu_available` and :func:`time_training_steps` too.

Library code: returns dataclasses, never prints.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["StepTiming", "gpu_available", "time_training_steps"]


@dataclass(frozen=True)
class StepTiming:
    """Seconds of each timed step; ``peak_bytes`` is the GPU's figure (None on a CPU)."""

    batch: int
    device: str
    seconds: tuple[float, ...]
    peak_bytes: int | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def gpu_available() -> bool:
    """True when Paddle is built with CUDA and sees a device."""
    import paddle

    return bool(paddle.device.is_compiled_with_cuda()) and paddle.device.cuda.device_count() > 0


def _sync(on_gpu: bool) -> None:
    import paddle

    if on_gpu:  # CPU kernels of eager Paddle return when done; GPU ones are queued
        paddle.device.synchronize()


def time_training_steps(
    model: Any,
    input_shape: tuple[int, ...] | list[int],
    *,
    classes: int = 10,
    steps: int = 10,
    warmup: int = 3,
    lr: float = 0.01,
    optimizer: str = "sgd",
    seed: int = 0,
) -> StepTiming:
    """Time ``steps`` training steps of ``model`` on one random batch of ``input_shape`` (after ``warmup``).

    The model is moved to the current device (``paddle.get_device()``).  ``optimizer``
    is one of the trainer's (:data:`convcalc.train.runner.OPTIMIZERS`).
    """
    import paddle
    import paddle.nn.functional as F

    from convcalc.errors import InvalidParameterError
    from convcalc.train.runner import make_optimizer

    if steps < 1 or warmup < 0:
        raise InvalidParameterError(f"need steps >= 1 and warmup >= 0, got {steps} and {warmup}", "e.g. --steps 10")
    on_gpu = paddle.get_device().startswith("gpu")
    paddle.seed(seed)  # the random batch (paddle.randn draws from the global generator)
    x = paddle.randn(list(input_shape), dtype="float32")
    y = paddle.randint(0, classes, [int(input_shape[0]), 1], dtype="int64")
    opt = make_optimizer(optimizer, lr, model.parameters())
    model.train()

    def one_step() -> None:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.clear_grad()

    for _ in range(warmup):
        one_step()
    _sync(on_gpu)
    if on_gpu:
        paddle.device.cuda.reset_max_memory_allocated()
    seconds = []
    for _ in range(steps):
        begin = time.perf_counter()
        one_step()
        _sync(on_gpu)
        seconds.append(time.perf_counter() - begin)
    peak = int(paddle.device.cuda.max_memory_allocated()) if on_gpu else None
    return StepTiming(int(input_shape[0]), paddle.get_device(), tuple(seconds), peak)
