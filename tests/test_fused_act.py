"""``nn.BatchNorm(C, act=...)``: every activation name Paddle's eager forward accepts (issue 20, Deliver 6).

The names are the table of convcalc.rules.fused_act, enumerated once from Paddle 3.3.1 (every legacy op name,
one process each: the eager forward of ``nn.BatchNorm(4, act=name)`` ran and kept the shape).  Here each
name's eager forward runs again (the table never lists what Paddle refuses), and convcalc's three conventions
are checked: ``paddle`` against ``paddle.flops`` itself, ``flops`` against a count by hand (batch norm
``4*numel + 2*C``, plus the activation's operations per element, or a gap where they are unknown).
"""

from __future__ import annotations

import pytest

paddle = pytest.importorskip("paddle")
import paddle.nn as nn  # noqa: E402

from convcalc.analysis import analyze  # noqa: E402
from convcalc.analysis.engine import trace_for  # noqa: E402
from convcalc.errors import ConvcalcError  # noqa: E402
from convcalc.rules.fused_act import ACTS, RESHAPING  # noqa: E402

SHAPE = (1, 4, 2, 3)
NUMEL = 24

BY_HAND = {"relu": 1, "relu6": 2, "sigmoid": 4, "tanh": 1, "gelu": 5, "silu": 5, "swish": 5, "elu": 4, "celu": 4,
           "selu": 5, "mish": 5, "hard_swish": 5, "hard_sigmoid": 4, "hard_shrink": 2, "softshrink": 3,
           "softsign": 3, "tanh_shrink": 2, "logsigmoid": 5, "thresholded_relu": 1, "stanh": 3, "brelu": 2,
           "pow": 1, "scale": 0,
           "softmax": NUMEL // 3 * (3 * 3 - 1) / NUMEL, "log_softmax": NUMEL // 3 * (3 * 3) / NUMEL}


@pytest.mark.parametrize("act", sorted(ACTS))
def test_every_accepted_name(act):
    model = nn.Sequential(nn.BatchNorm(4, act=act))  # (as in a model: paddle.flops counts no bare root layer)
    model[0].weight.set_value(paddle.full([4], 0.5))  # values of 0.75 after the norm: valid for every op
    model[0].bias.set_value(paddle.full([4], 0.25))   # (bernoulli takes probabilities)
    model.eval()
    with paddle.no_grad():
        assert list(model(paddle.ones(list(SHAPE))).shape) == list(SHAPE)  # Paddle accepts it
    trace = trace_for(model, SHAPE)
    paddle_report = analyze(model, SHAPE, trace=trace)
    assert int(paddle_report.totals.flops) == 2 * NUMEL  # paddle.flops counts the norm only (2 per value)
    if ACTS[act][1] is not None:  # (paddle.flops feeds random values: bernoulli would refuse negative ones)
        assert paddle.flops(model, list(SHAPE), print_detail=False) == 2 * NUMEL
    assert int(analyze(model, SHAPE, convention="macs", trace=trace).totals.flops) == 0
    flops = analyze(model, SHAPE, convention="flops", trace=trace)
    per = BY_HAND.get(act, 1 if ACTS[act][1] is not None else None)
    if per is None:  # accepted, but no activation: a gap, never a guess
        assert not flops.gaps.flops_complete and flops.gaps.layers_without_rule == ("0",)
        assert int(flops.totals.flops) == 4 * NUMEL + 2 * 4
    else:
        assert flops.gaps.flops_complete
        assert int(flops.totals.flops) == 4 * NUMEL + 2 * 4 + int(per * NUMEL)


def test_a_name_paddle_refuses_gets_paddles_reason_not_a_crash():
    with pytest.raises(ConvcalcError, match="Paddle refuses|raised"):
        analyze(nn.BatchNorm(4, act="leaky_relu"), SHAPE)
    with pytest.raises(ConvcalcError, match="hardswish"):
        analyze(nn.BatchNorm(4, act="hardswish"), SHAPE)


def test_a_name_that_is_no_activation_is_refused_with_the_reason():
    assert "mean" in RESHAPING
    with pytest.raises(ConvcalcError, match="no activation"):
        analyze(nn.BatchNorm(4, act="mean"), SHAPE)
