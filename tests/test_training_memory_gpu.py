"""Predicted peak training memory beside the GPU's own figure (issue 12, point 4).

``paddle.device.cuda.max_memory_allocated`` over real training steps of the
book's LeNet and ResNet18 (batch 64, 1x32x32, SGD) is the truth; it skips
without a GPU.  What the allocator holds at the peak is at least the
parameters, their gradients and the optimizer state (all predicted exactly),
and the prediction (those plus the activations saved for backward) must be
within a factor of two of the measured peak (the allocator also holds
temporaries of the kernels, e.g. cuDNN workspaces, which no model predicts).
benchmarks/training_cost.py prints the same ratio.
"""

from __future__ import annotations

import paddle
import pytest

from convcalc.train.measure import gpu_available

pytestmark = pytest.mark.skipif(not gpu_available(), reason="no GPU: paddle.device.cuda has nothing to measure")


@pytest.mark.parametrize("name", ["book_lenet", "book_resnet18"])
def test_predicted_peak_memory_against_the_gpu(name):
    from convcalc.analysis.training import training_cost
    from convcalc.train import models
    from convcalc.train.measure import time_training_steps

    spec = models.resolve(name)
    shape = [64, 1, 32, 32]
    t = training_cost(models.build(spec), shape, optimizer="sgd").totals
    paddle.device.set_device("gpu")
    try:
        measured = time_training_steps(models.build(spec), shape, steps=2, warmup=1, lr=spec.book_lr).peak_bytes
    finally:
        paddle.device.set_device("cpu")
    assert measured is not None and measured > 0
    assert measured >= t.params_bytes + t.grads_bytes + t.optimizer_bytes
    ratio = t.peak_bytes / measured
    assert 0.5 <= ratio <= 2.0, f"{name}: predicted {t.peak_bytes:,} B, GPU {measured:,} B (ratio {ratio:.2f})"
