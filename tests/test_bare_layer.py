"""A bare layer analysed on its own (no model around it) is one row with its parameters and its cost."""

from __future__ import annotations

import paddle
import pytest
from paddle import nn

from convcalc.analysis import analyze


def _numel(layer) -> int:
    total = 0
    for p in layer.parameters():
        n = 1
        for d in p.shape:
            n *= int(d)
        total += n
    return total


@pytest.mark.parametrize("convention", ["paddle", "macs", "flops"])
def test_bare_conv_has_its_parameters_and_flops(convention):
    conv = nn.Conv2D(3, 8, 3)
    report = analyze(conv, [1, 3, 8, 8], convention=convention)
    out = conv(paddle.ones([1, 3, 8, 8])).shape  # eager forward: [1, 8, 6, 6]
    positions = out[0] * out[2] * out[3] * out[1]
    macs = positions * 3 * 3 * 3  # each output: 27 products
    by_hand = {"paddle": positions * (27 + 1), "macs": macs, "flops": positions * (27 + 26 + 1)}[convention]
    leaves = [r for r in report.records if r.is_leaf]
    assert len(leaves) == 1 and leaves[0].kind == "Conv2D" and not leaves[0].is_functional
    assert int(leaves[0].params_trainable) == _numel(conv) == 224
    assert int(report.totals.params) == 224
    assert int(leaves[0].flops) == int(report.totals.flops) == by_hand
    assert [int(a.field.size) for a in leaves[0].rf] == [3, 3]


def test_bare_linear_and_parameterless_layer():
    lin = nn.Linear(16, 4)
    report = analyze(lin, [2, 16], convention="macs")
    (row,) = [r for r in report.records if r.is_leaf]
    assert int(row.params_trainable) == _numel(lin) == 68
    assert int(row.flops) == 2 * 16 * 4
    relu = analyze(nn.ReLU(), [1, 4, 5, 5], convention="flops")
    (row,) = [r for r in relu.records if r.is_leaf]
    assert row.kind == "ReLU" and int(row.params_trainable) == 0 and int(row.flops) == 100
