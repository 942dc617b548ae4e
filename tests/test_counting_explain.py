"""``explain`` for the new layer kinds agrees with Paddle's shapes and with the report on a real layer."""

from __future__ import annotations

import paddle
import paddle.nn as nn
import pytest

from convcalc.analysis.engine import analyze
from convcalc.explain.layers import explain_layer
from convcalc.render.report import group_totals
from convcalc.trace.build import trace_model

CONVENTIONS = ("paddle", "macs", "flops")


def report(model, shape, convention):
    model.eval()
    return analyze(model, shape, convention=convention, trace=trace_model(model, shape))


@pytest.mark.parametrize("cfg", [
    dict(out_channels=8, kernel=2, stride=2),
    dict(out_channels=6, kernel=3, stride=2, padding=1, output_padding=1, groups=2),
    dict(out_channels=4, kernel=3, stride=3, padding=2, dilation=2, bias=False),
])
def test_conv_transpose2d_explain_matches_paddle_and_report(cfg):
    c, h, w = 4, 5, 6
    d = explain_layer("conv_transpose2d", (c, h, w), **cfg)
    layer = nn.Conv2DTranspose(c, cfg["out_channels"], cfg["kernel"], stride=cfg.get("stride", 1),
                               padding=cfg.get("padding", 0), output_padding=cfg.get("output_padding", 0),
                               dilation=cfg.get("dilation", 1), groups=cfg.get("groups", 1),
                               bias_attr=None if cfg.get("bias", True) else False)
    model = nn.Sequential(layer)
    assert tuple(int(v) for v in d.step("output_shape").result) == tuple(model(paddle.rand([1, c, h, w])).shape[1:])
    assert int(d.step("params").result) == sum(int(p.size) for p in layer.parameters())
    for cv in CONVENTIONS:
        assert int(d.step(f"flops_{cv}").result) == int(report(model, (1, c, h, w), cv).totals.flops), cv


def test_attention_explain_equals_the_multihead_attention_row():
    class SelfAttention(nn.Layer):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiHeadAttention(16, 4)

        def forward(self, x):
            return self.attn(x, x, x)

    d = explain_layer("attention", (7, 16), heads=4)
    model = SelfAttention()
    assert int(d.step("params").result) == sum(int(p.size) for p in model.parameters())
    for cv in CONVENTIONS:
        assert int(d.step(f"flops_{cv}").result) == group_totals(report(model, (1, 7, 16), cv))["attn"][1], cv


@pytest.mark.parametrize("kind,shape,cfg,layer", [
    ("layernorm", (5, 16), {}, lambda: nn.LayerNorm(16)),
    ("layernorm", (5, 16), {"normalized_dims": 2}, lambda: nn.LayerNorm([5, 16])),
    ("softmax", (3, 7), {"axis": 0}, lambda: nn.Softmax(axis=1)),
])
def test_norm_and_softmax_explain_equal_the_report(kind, shape, cfg, layer):
    d = explain_layer(kind, shape, **cfg)
    model = nn.Sequential(layer())
    for cv in CONVENTIONS:
        assert int(d.step(f"flops_{cv}").result) == int(report(model, (1, *shape), cv).totals.flops), cv


@pytest.mark.parametrize("mode,cls", [("lstm", nn.LSTMCell), ("gru", nn.GRUCell), ("rnn_tanh", nn.SimpleRNNCell)])
def test_rnn_cell_explain_equals_the_report(mode, cls):
    class Cell(nn.Layer):
        def __init__(self):
            super().__init__()
            self.cell = cls(8, 16)

        def forward(self, x):
            out, _ = self.cell(x)
            return out

    d = explain_layer("rnn_cell", (8,), hidden_size=16, mode=mode)
    model = Cell()
    assert int(d.step("params").result) == sum(int(p.size) for p in model.parameters())
    for cv in CONVENTIONS:
        assert int(d.step(f"flops_{cv}").result) == int(report(model, (1, 8), cv).totals.flops), cv


def test_explain_new_kinds_from_the_command_line(capsys):
    from convcalc.cli import main

    assert main(["explain", "attention", "--input", "197x768", "--heads", "12"]) == 0
    out = capsys.readouterr().out
    assert "524,391,936" in out  # 4*T*D^2 + 2*T^2*D multiply-accumulates
    assert main(["explain", "conv_transpose2d", "--input", "16x6x6", "--out-channels", "8", "--kernel", "2",
                 "--stride", "2"]) == 0
    assert "18,432" in capsys.readouterr().out
