"""Functional ops, attention and gaps: counted by hand, never a silent zero.

MACs are counted by hand from the shapes the eager forward produces; the
paddle convention is compared with ``paddle.flops`` (which hooks layers only,
so functional ops are 0 there).
"""

from __future__ import annotations

import contextlib
import io
import json

import paddle
import paddle.nn as nn
import paddle.nn.functional as PF
import pytest

from convcalc.analysis.engine import analyze
from convcalc.render.report import group_totals, report_csv, report_dict, report_markdown, totals_text
from convcalc.trace.build import trace_model


def report(model, shape, convention):
    model.eval()
    return analyze(model, shape, convention=convention, trace=trace_model(model, shape))


def paddle_flops(model, shape) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return int(paddle.flops(model, list(shape), print_detail=False))


class FunctionalNet(nn.Layer):
    """A model that calls the functional forms, as people write them."""

    def __init__(self):
        super().__init__()
        self.conv_w = self.create_parameter([8, 3, 3, 3])
        self.fc_w = self.create_parameter([8, 5])
        self.fc_b = self.create_parameter([5], is_bias=True)

    def forward(self, x):                                    # x: [2, 3, 10, 10]
        y = PF.conv2d(x, self.conv_w, padding=1)             # [2, 8, 10, 10]
        y = y.mean(axis=[2, 3])                              # [2, 8]
        z = PF.linear(y, self.fc_w, self.fc_b)               # [2, 5]
        g = paddle.matmul(z, z, transpose_y=True)            # [2, 2]
        e = paddle.einsum("bi,bj->bij", z, z)                # [2, 5, 5]
        b = paddle.bmm(e, e)                                 # [2, 5, 5]
        a = paddle.addmm(g, g, g)                            # [2, 2]
        m = paddle.mm(z, z.t())                              # [2, 2]
        return a.sum() + b.sum() + m.sum()


def test_functional_forms_counted_by_hand():
    model = FunctionalNet()
    rep = report(model, (2, 3, 10, 10), "macs")
    got = {r.kind: int(r.flops) for r in rep.records if r.is_functional and int(r.flops)}
    conv = 2 * 8 * 10 * 10 * (3 * 3 * 3)
    linear = 2 * 5 * 8
    gram = 2 * 2 * 5
    einsum = 2 * 5 * 5            # an outer product: one multiply per output
    bmm = 2 * 5 * 5 * 5
    addmm = 2 * 2 * 2
    mm = 2 * 2 * 5
    assert got["conv2d"] == conv and got["einsum"] == einsum and got["bmm"] == bmm and got["addmm"] == addmm
    assert sorted(int(r.flops) for r in rep.records if r.kind == "matmul") == sorted([linear, gram, mm])
    assert int(rep.totals.flops) == conv + linear + gram + einsum + bmm + addmm + mm
    assert rep.gaps.flops_complete


def test_functional_forms_flops_by_hand():
    model = FunctionalNet()
    rep = report(model, (2, 3, 10, 10), "flops")
    by_kind: dict = {}
    for r in rep.records:
        if r.is_functional:
            by_kind.setdefault(r.kind, []).append(int(r.flops))
    assert by_kind["conv2d"] == [2 * 8 * 10 * 10 * (2 * 27 - 1)]       # bias-free F.conv2d: K mults, K-1 adds
    assert by_kind["mean"] == [2 * 8 * 100]                            # 99 adds and one divide per mean
    assert by_kind["einsum"] == [2 * 5 * 5]
    assert by_kind["addmm"] == [2 * 2 * (2 * 2 - 1) + 2 * 2]            # matmul, then + input
    assert 2 * 5 in by_kind["add"]                                     # F.linear's bias add


def test_functional_ops_are_zero_in_paddle_convention_like_paddle_flops():
    model = FunctionalNet()
    assert int(report(model, (2, 3, 10, 10), "paddle").totals.flops) == paddle_flops(model, (2, 3, 10, 10)) == 0


# ------------------------------------------------------------------ gaps
class Sorted(nn.Layer):
    """A leaf without a rule of its own whose forward runs an op no rule counts (a leaf that only runs counted
    ops, such as nn.LocalResponseNorm, is counted through them: no gap)."""

    def forward(self, x):
        return paddle.sort(x, axis=1)


class Gappy(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3)
        self.lrn = Sorted()

    def forward(self, x):
        y = self.lrn(self.conv(x))
        return paddle.cumsum(y, axis=1)


@pytest.mark.parametrize("convention", ["paddle", "macs", "flops"])
def test_unknown_is_listed_and_the_total_is_a_lower_bound(convention):
    rep = report(Gappy(), (1, 3, 8, 8), convention)
    assert rep.gaps.layers_without_rule == ("lrn",)
    assert rep.gaps.ops_without_rule == (("cumsum", 1),)
    assert not rep.gaps.flops_complete
    total = f"{int(rep.totals.flops):,}"
    text = totals_text(rep).plain
    assert f"≥ {total}" in text and "Sorted ×1: lrn" in text and "cumsum ×1" in text
    assert f"≥ {total}" in report_markdown(rep)
    csv_text = report_csv(rep)
    assert f"≥{int(rep.totals.flops)}" in csv_text and "cumsum" in csv_text
    data = json.loads(json.dumps(report_dict(rep)))
    assert data["complete"] is False
    assert data["gaps"]["ops_without_rule"] == [{"op": "cumsum", "count": 1}]
    assert data["gaps"]["layers_without_rule"] == ["lrn"]


def test_complete_report_has_no_lower_bound():
    rep = report(nn.Sequential(nn.Conv2D(3, 4, 3), nn.ReLU()), (1, 3, 8, 8), "flops")
    assert rep.gaps.flops_complete and report_dict(rep)["complete"] is True
    assert "≥" not in totals_text(rep).plain and "≥" not in report_csv(rep)


# ------------------------------------------------------------------ attention
def _mha_macs(tokens: int, dim: int, heads: int, batch: int = 1) -> int:
    projections = 4 * batch * tokens * dim * dim                 # q, k, v, out
    scores = batch * heads * tokens * tokens * (dim // heads)    # q @ k^T per head
    mix = batch * heads * tokens * tokens * (dim // heads)       # weights @ v per head
    return projections + scores + mix


class SelfAttention(nn.Layer):
    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.attn = nn.MultiHeadAttention(dim, heads)

    def forward(self, x):
        return self.attn(x, x, x)


def test_multihead_attention_row_carries_its_full_cost():
    rep = report(SelfAttention(), (2, 5, 16), "macs")
    want = _mha_macs(5, 16, 2, batch=2)
    assert group_totals(rep)["attn"][1] == want
    assert int(rep.totals.flops) == want                           # leaves add up once, no double count
    assert sum(int(r.flops) for r in rep.records if r.is_leaf) == want


def test_multihead_attention_flops_include_softmax_and_scaling():
    rep = report(SelfAttention(), (1, 5, 16), "flops")
    softmax = [int(r.flops) for r in rep.records if r.kind == "softmax"]
    assert softmax == [2 * 5 * (3 * 5 - 1)]                        # 10 rows of 5: 5 exp, 4 add, 5 divide
    scale = [int(r.flops) for r in rep.records if r.kind == "scale"]
    assert scale == [1 * 2 * 5 * 8]                                 # q * head_dim**-0.5
    assert all(r.has_rule for r in rep.records)


def test_transformer_encoder_layer_row():
    class Encoder(nn.Layer):
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0)

        def forward(self, x):
            return self.layer(x)

    rep = report(Encoder(), (1, 5, 16), "macs")
    want = _mha_macs(5, 16, 2) + 5 * 16 * 32 + 5 * 32 * 16
    assert group_totals(rep)["layer"][1] == want == int(rep.totals.flops)
    assert group_totals(rep)["layer.self_attn"][1] == _mha_macs(5, 16, 2)
    assert rep.gaps.flops_complete


# ------------------------------------------------------------------ vision transformers
def _vit_macs(dim: int, depth: int, mlp: int, tokens: int = 197, patch_pixels: int = 3 * 16 * 16,
              classes: int = 1000) -> dict:
    """ViT MACs by hand, by kind of work: the patch conv, the linears, attention's two matmuls, the head."""
    return {
        "patch conv": (tokens - 1) * dim * patch_pixels,
        "projections": depth * 4 * tokens * dim * dim,           # q, k, v, out
        "mlp": depth * 2 * tokens * dim * mlp,
        "attention matmuls": depth * 2 * tokens * tokens * dim,   # q @ k^T and weights @ v, all heads
        "head": dim * classes,                                    # on the class token only
    }


def test_deit_tiny_parameters_and_macs_by_hand():
    from convcalc.models.zoo import build_model

    model = build_model("deit_tiny").model
    assert sum(int(p.size) for p in model.parameters()) == 5_717_416
    rep = analyze(model, (3, 224, 224), convention="macs")
    want = _vit_macs(192, 12, 768)
    got = {
        "conv": sum(int(r.flops) for r in rep.records if r.kind == "Conv2D"),
        "linear": sum(int(r.flops) for r in rep.records if r.kind == "Linear"),
        "matmul": sum(int(r.flops) for r in rep.records if r.kind == "matmul"),
    }
    assert got == {"conv": want["patch conv"], "linear": want["projections"] + want["mlp"] + want["head"],
                   "matmul": want["attention matmuls"]}
    assert int(rep.totals.flops) == sum(want.values()) and rep.gaps.flops_complete
    # every block's row carries its attention and MLP; the blocks and the rest add up to the total once
    groups = group_totals(rep)
    blocks = sum(groups[f"blocks.{i}"][1] for i in range(12))
    assert blocks + want["patch conv"] + want["head"] == int(rep.totals.flops)


def test_vit_b_16_has_the_papers_parameter_count():
    from convcalc.models.zoo import build_model

    model = build_model("vit_b_16").model
    assert sum(int(p.size) for p in model.parameters()) == 86_567_656


@pytest.mark.slow
def test_vit_b_16_macs_match_torchvisions_fvcore_count():
    """torchvision's table: 17.56 "GFLOPS" for ViT-B/16, counted by fvcore one per multiply-accumulate."""
    from convcalc.models.zoo import build_model

    rep = analyze(build_model("vit_b_16").model, (3, 224, 224), convention="macs")
    assert int(rep.totals.flops) == sum(_vit_macs(768, 12, 3072).values()) == 17_563_828_224


def test_deit_tiny_paddle_convention_is_paddle_flops():
    from convcalc.models.zoo import build_model

    model = build_model("deit_tiny").model
    assert int(analyze(model, (3, 224, 224), convention="paddle").totals.flops) == paddle_flops(model, (1, 3, 224, 224))


def test_a_container_with_a_gap_below_shows_a_lower_bound():
    class Block(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(4, 4, 3, padding=1)
            self.lrn = Sorted()  # a leaf whose op has no rule

        def forward(self, x):
            return self.lrn(self.conv(x))

    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.head = nn.Sequential(nn.Conv2D(4, 4, 1), nn.ReLU())

        def forward(self, x):
            return self.head(self.block(x))

    md = report_markdown(report(Net(), (1, 4, 6, 6), "macs"))
    block_macs, head_macs = 36 * 4 * 36, 36 * 4 * 4
    assert f"*≥ {block_macs:,}*" in md and f"*{head_macs:,}*" in md and f"*≥ {head_macs:,}*" not in md


class FunctionalOps(nn.Layer):
    """Transposed conv, resampling, norms, pooling and softmax called functionally."""

    def __init__(self):
        super().__init__()
        self.up_w = self.create_parameter([4, 2, 2, 2])          # C_in 4, C_out 2, 2x2
        self.ln_w = self.create_parameter([8])
        self.ln_b = self.create_parameter([8], is_bias=True)

    def forward(self, x):                                       # [1, 4, 4, 8]
        u = PF.conv2d_transpose(x, self.up_w, stride=2)          # [1, 2, 8, 16]
        b = PF.interpolate(x, scale_factor=2, mode="bilinear")   # [1, 4, 8, 16]
        n = PF.layer_norm(x, [8], self.ln_w, self.ln_b)          # [1, 4, 4, 8]
        p = PF.adaptive_avg_pool2d(x, 2)                         # [1, 4, 2, 2]
        m = PF.max_pool2d(x, 2)                                  # [1, 4, 2, 4]
        s = PF.softmax(x, axis=-1)                               # [1, 4, 4, 8]
        return u.sum() + b.sum() + n.sum() + p.sum() + m.sum() + s.sum()


def test_functional_ops_by_hand():
    model = FunctionalOps()
    flops = {}
    macs = {}
    for conv, out in (("flops", flops), ("macs", macs)):
        for r in report(model, (1, 4, 4, 8), conv).records:
            if r.is_functional:
                out[r.kind] = out.get(r.kind, 0) + int(r.flops)
    assert macs["conv2d_transpose"] == 4 * 4 * 8 * 2 * 4            # each input value meets 2 x 2x2 weights
    assert flops["conv2d_transpose"] == 2 * macs["conv2d_transpose"] - 2 * 8 * 16   # 1 product per output
    assert macs["bilinear_interp"] == 4 * 8 * 16 * 4 and flops["bilinear_interp"] == 4 * 8 * 16 * 7
    assert flops["layer_norm"] == 16 * (5 * 8 + 2 + 2 * 8)          # 16 rows of 8
    assert flops["pool2d"] == 4 * 4 * 2 * 4 + 4 * 2 * 4 * 3         # adaptive avg 2x4 windows; max 2x2 windows
    assert flops["softmax"] == 16 * (3 * 8 - 1)
    assert all(r.has_rule for r in report(model, (1, 4, 4, 8), "flops").records)
