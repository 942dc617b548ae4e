"""An analysis runs the model in eval mode and gives every layer its own mode back, and Paddle's global one.

A model being fine-tuned often freezes its batch norms (``bn.eval()`` under a training root); one
that is evaluated may keep a sublayer training on purpose.  ``model.train()`` after the analysis
would unfreeze the first and ``model.eval()`` would freeze the second.
"""

from __future__ import annotations

import pytest

paddle = pytest.importorskip("paddle")

from paddle import nn  # noqa: E402

from convcalc.analysis import analyze  # noqa: E402
from convcalc.trace.temporary import in_mode  # noqa: E402


def _modes(model) -> list[bool]:
    return [layer.training for _, layer in model.named_sublayers(include_self=True)]


def _tracer_training() -> bool:
    return paddle.base.framework._dygraph_tracer()._train_mode


def _net():
    return nn.Sequential(nn.Conv2D(3, 8, 3), nn.BatchNorm2D(8), nn.ReLU(), nn.Dropout(0.5), nn.Conv2D(8, 4, 3))


@pytest.mark.parametrize("symbolic", [False, True])
def test_a_frozen_batch_norm_stays_frozen(symbolic):
    model = _net()
    model.train()
    model[1].eval()  # fine-tuning with frozen statistics (Paddle's eval() also sets its global mode: to eval)
    paddle.base.framework._dygraph_tracer().train_mode()  # (and the training loop sets it back)
    before = _modes(model)
    analyze(model, (1, 3, 16, 16), symbolic=symbolic)
    assert _modes(model) == before == [True, True, False, True, True, True]
    assert _tracer_training()


def test_a_training_sublayer_under_an_eval_root_stays_training():
    model = _net()
    model.eval()
    model[3].train()  # e.g. Monte-Carlo dropout at evaluation
    before = _modes(model)
    paddle.base.framework._dygraph_tracer().train_mode()
    try:
        analyze(model, (2, 3, 12, 12))
        assert _modes(model) == before == [False, False, False, False, True, False]
        assert _tracer_training()  # (Paddle's global mode as it was, though the model's root is in eval mode)
    finally:
        paddle.base.framework._dygraph_tracer().train_mode()


def test_the_modes_come_back_when_the_block_raises():
    model = _net()
    model.train()
    model[1].eval()
    with pytest.raises(RuntimeError), in_mode(model, False):
        assert not any(_modes(model))
        raise RuntimeError("the forward failed")
    assert _modes(model) == [True, True, False, True, True, True]


class _OwnEval(nn.Sequential):
    """A model whose own ``eval()`` does more than set the modes (as some users' models do)."""

    calls = 0

    def eval(self):
        type(self).calls += 1
        return super().eval()


def test_a_models_own_eval_is_called_and_its_modes_come_back():
    model = _OwnEval(nn.Conv2D(3, 4, 3), nn.Dropout(0.5))
    model.train()
    analyze(model, (1, 3, 8, 8))
    assert _OwnEval.calls >= 1 and _modes(model) == [True, True, True]
