"""Fine-tuning setups of paddle.vision's resnet18 (10 classes): frozen parameters, as users write them.

``stop_gradient = True`` on a parameter freezes it (Paddle's ``requires_grad=False``).

    convcalc report examples/finetune.py:resnet18_full --training
    convcalc report examples/finetune.py:resnet18_last_stages --training
    convcalc report examples/finetune.py:resnet18_head_only --training

docs/training-cost.md compares the training cost of these with the peers' rules.
"""

from __future__ import annotations

import paddle
from paddle.vision.models import resnet18

CONVCALC_INPUT = "3x224x224"


def _freeze_all_but(model: paddle.nn.Layer, trainable: tuple[str, ...]) -> paddle.nn.Layer:
    for name, param in model.named_parameters():
        if not name.startswith(trainable):
            param.stop_gradient = True
    return model


def resnet18_full() -> paddle.nn.Layer:
    """Nothing frozen: the same network trained from scratch (for comparison)."""
    return resnet18(num_classes=10)


def resnet18_last_stages() -> paddle.nn.Layer:
    """Stem, layer1 and layer2 frozen; layer3, layer4 and the classifier train."""
    return _freeze_all_but(resnet18(num_classes=10), ("layer3.", "layer4.", "fc."))


def resnet18_head_only() -> paddle.nn.Layer:
    """The whole backbone frozen; only the classifier (fc) trains (linear probing)."""
    return _freeze_all_but(resnet18(num_classes=10), ("fc.",))
