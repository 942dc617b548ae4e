"""Sizes a forward reads at run time (issue 20, Deliver 1 and 2): concrete, resolved by a run, or marked unknown.

The models are written the way real segmentation code is (PaddleSeg): a size taken with
``paddle.shape`` for ``F.interpolate`` or a reshape, asserts and branches on ``x.shape``,
tensor arithmetic on a shape (ISANet), a size that depends on values (``paddle.nonzero``), a
legal empty slice (SVTR).  The truth is Paddle's own eager forward (every leaf layer's output
shape, through hooks) and hand counts; never convcalc's own numbers.
"""

from __future__ import annotations

import dataclasses

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest
import sympy

from convcalc.analysis import analyze
from convcalc.analysis.engine import trace_for
from convcalc.analysis.records import UNKNOWN, LayerRecord
from convcalc.errors import InternalCheckError
from convcalc.trace.graph import OpNode
from convcalc.trace.sizes import ShapeList, size_dependence


def eager_leaf_shapes(model: nn.Layer, shape) -> dict[str, list]:
    """Paddle's eager forward: every leaf layer call's output shape, by path (in call order)."""
    seen: dict[str, list] = {}
    handles = []
    for path, layer in model.named_sublayers():
        if not layer.sublayers():
            handles.append(layer.register_forward_post_hook(
                lambda lay, args, out, path=path: seen.setdefault(path, []).append(list(out.shape))))
    model.eval()
    try:
        with paddle.no_grad():
            model(paddle.ones(list(shape)))
    finally:
        for h in handles:
            h.remove()
    return seen


def leaf_shapes(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in report.records:
        if r.is_leaf and not r.is_functional:
            out.setdefault(r.path, []).append([int(d) for d in r.output_shape])
    return out


def row(report, path):
    return next(r for r in report.records if r.path == path)


# ---------------------------------------------------------------- paddle.shape in interpolate and reshape
class SegLike(nn.Layer):
    """An upsample to a size read with paddle.shape, a reshape with the batch read the same way."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2D(3, 8, 3, stride=2, padding=1)
        self.fuse = nn.Conv2D(16, 8, 1)
        self.proj = nn.Linear(8, 4)

    def forward(self, x):
        y = self.down(x)
        up = F.interpolate(y, paddle.shape(x)[2:], mode="bilinear")
        z = self.fuse(paddle.concat([up, F.interpolate(y, scale_factor=2.0, mode="bilinear")], axis=1))
        n = paddle.shape(x)[0]
        t = z.flatten(2).transpose([0, 2, 1]).reshape([n, -1, 8])
        return self.proj(t)


@pytest.mark.parametrize("batch", [1, 2])
def test_sizes_read_with_paddle_shape_are_the_real_ones(batch):
    model = SegLike()
    shape = (batch, 3, 32, 32)
    macs = analyze(model, shape, convention="macs")
    assert leaf_shapes(macs) == eager_leaf_shapes(model, shape)
    up = row(macs, ":bilinear_interp")
    assert [int(d) for d in up.output_shape] == [batch, 8, 32, 32]
    assert int(up.flops) == batch * 8 * 32 * 32 * 4  # 4 taps per output value
    assert [int(d) for d in row(macs, ":reshape").output_shape] == [batch, 1024, 8]
    assert int(row(macs, "proj").flops) == batch * 1024 * 8 * 4
    assert macs.gaps.flops_complete and not macs.gaps.misaligned_merges
    assert up.rf_h.jump == sympy.Rational(1) and up.rf_h.size == 3 + 2  # bilinear 2x of a stride-2 3x3 conv
    paddle_conv = analyze(model, shape)
    assert int(paddle_conv.totals.flops) == paddle.flops(model, list(shape), print_detail=False)


class UAFMLike(nn.Layer):
    """PP-LiteSeg's UAFM: asserts on x.shape after an upsample to a size read at run time."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode
        self.low = nn.Conv2D(3, 8, 3, stride=2, padding=1)
        self.high = nn.Conv2D(8, 8, 3, stride=2, padding=1)
        self.out = nn.Conv2D(8, 8, 3, padding=1)

    def forward(self, x):
        low = self.low(x)
        high = self.high(low)
        high = F.interpolate(high, paddle.shape(high)[2:], mode="bilinear")
        x_h, x_w = low.shape[2:]
        y_h, y_w = high.shape[2:]
        if self.mode == "assert":
            assert x_h >= y_h and x_w >= y_w
        elif y_h < x_h:  # a Python branch on sizes
            high = F.interpolate(high, [x_h, x_w], mode="bilinear")
        return self.out(low + F.interpolate(high, paddle.shape(low)[2:], mode="bilinear"))


@pytest.mark.parametrize("mode", ["assert", "branch"])
def test_asserts_and_branches_on_x_shape_are_followed(mode):
    model = UAFMLike(mode)
    report = analyze(model, (1, 3, 32, 32), convention="macs")
    assert leaf_shapes(report) == eager_leaf_shapes(model, (1, 3, 32, 32))
    interps = [r for r in report.records if r.kind == "bilinear_interp"]
    want = [[1, 8, 8, 8], [1, 8, 16, 16]] if mode == "assert" else [[1, 8, 8, 8], [1, 8, 16, 16], [1, 8, 16, 16]]
    assert [[int(d) for d in r.output_shape] for r in interps] == want
    assert report.gaps.flops_complete


class Doubled(nn.Layer):
    """``paddle.shape(x)[2:] * 2`` is a tensor product (16, 16) -> (32, 32), never a repeated list."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.out = nn.Conv2D(4, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        return self.out(F.interpolate(y, paddle.shape(y)[2:] * 2, mode="nearest"))


def test_arithmetic_on_a_shape_is_elementwise_like_a_tensor():
    model = Doubled()
    report = analyze(model, (1, 3, 16, 16))
    assert leaf_shapes(report) == eager_leaf_shapes(model, (1, 3, 16, 16)) == {
        "conv": [[1, 4, 16, 16]], "out": [[1, 4, 32, 32]]}
    s = ShapeList([1, 4, 16, 16])
    assert s[2:] * 2 == (32, 32) and s[2:] + s[2:] == (32, 32) and 64 // s[2:] == (4, 4)
    assert isinstance(s[2:], ShapeList) and s[0] == 1


class CeilPad(nn.Layer):
    """ISANet's pattern: tensor arithmetic on paddle.shape (paddle.ceil, astype) decides a size."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.out = nn.Conv2D(4, 4, 1)

    def forward(self, x):
        x = self.conv(x)
        s = paddle.shape(x)
        q = paddle.ceil(s[2] / 3).astype("int32")
        pad = (q * 3 - s[2]).astype("int32")
        return self.out(F.interpolate(x, size=[s[2] + pad, s[3] + pad], mode="bilinear"))


def test_a_size_computed_by_tensor_ops_is_read_from_a_run_of_the_program():
    model = CeilPad()
    report = analyze(model, (1, 3, 16, 16), convention="macs")
    assert leaf_shapes(report) == eager_leaf_shapes(model, (1, 3, 16, 16)) == {
        "conv": [[1, 4, 16, 16]], "out": [[1, 4, 18, 18]]}
    assert [int(d) for d in row(report, ":bilinear_interp").output_shape] == [1, 4, 18, 18]
    assert int(report.totals.flops) == 16 * 16 * 4 * 27 + 18 * 18 * 4 * 4 + 18 * 18 * 4 * 4
    assert report.gaps.flops_complete


# ---------------------------------------------------------------- sizes that depend on values
class Selected(nn.Layer):
    """A size that depends on tensor values: the positions ``paddle.nonzero`` selects."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        t = self.conv(x).flatten(2).transpose([0, 2, 1]).reshape([-1, 4])
        idx = paddle.nonzero(t[:, 0] > 0)
        return self.fc(paddle.gather(t, idx.squeeze(-1))).sum()


def test_a_size_that_depends_on_values_is_unknown_and_the_total_a_lower_bound():
    model = Selected()
    report = analyze(model, (1, 3, 8, 8), convention="macs")
    fc = row(report, "fc")
    assert fc.size_unknown and UNKNOWN in fc.output_shape and fc.flops == 0
    assert any("cannot be known" in n for n in fc.notes)
    assert not report.gaps.flops_complete and "fc" in report.gaps.unknown_sizes
    assert not row(report, "conv").size_unknown
    # A lower bound: the conv is counted; the Linear on at most 64 selected rows is left out.
    assert int(report.totals.flops) == 8 * 8 * 4 * 27
    assert int(report.totals.flops) <= 8 * 8 * 4 * 27 + 64 * 4 * 2
    from convcalc.render.report import report_dict

    data = report_dict(report)
    assert data["complete"] is False and "fc" in data["gaps"]["unknown_sizes"]
    assert next(r for r in data["layers"] if r["path"] == "fc")["output_shape"] == ["?", 2]


def test_which_sizes_follow_from_values_hand_built_graph():
    """shape64 of a known value -> deterministic; nonzero -> from values; inherited downstream."""
    ops = [
        OpNode(0, "pd_op.data", (), ("x",)),
        OpNode(1, "pd_op.shape64", ("x",), ("s",)),
        OpNode(2, "pd_op.slice", ("s", "a", "b"), ("hw",)),
        OpNode(3, "pd_op.bilinear_interp", ("x", "", "hw", ""), ("up",)),
        OpNode(4, "pd_op.nonzero", ("x",), ("nz",)),
        OpNode(5, "pd_op.cast", ("nz",), ("nzf",)),
        OpNode(6, "pd_op.sum", ("x",), ("n",)),
        OpNode(7, "pd_op.reshape", ("x", "n"), ("r",)),
    ]
    shapes = {"x": (1, 3, 4, 4), "s": (4,), "hw": (2,), "up": (1, 3, -1, -1), "nz": (-1, 4), "nzf": (-1, 4),
              "r": (-1,), "n": ()}
    dtypes = {"x": "float32", "s": "int64", "hw": "int64", "up": "float32", "nz": "int64", "nzf": "float32",
              "r": "float32", "n": "float32"}
    deterministic, by_values = size_dependence(ops, shapes, dtypes, ("x",))
    assert deterministic == ["up"]
    assert set(by_values) == {"nz", "nzf", "r"}
    assert "counts tensor values" in by_values["nz"] and by_values["nzf"] == by_values["nz"]
    assert "computed from tensor values" in by_values["r"]


# ---------------------------------------------------------------- legal empty tensors (SVTR)
class EmptyExtra(nn.Layer):
    """SVTR's resize_pos_embed: ``pos[:, :0]`` is an empty [1, 0, C] slice, then a concat: legal Paddle."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 4, stride=4)
        self.pos = self.create_parameter([1, 16, 8])

    def forward(self, x):
        t = self.conv(x).flatten(2).transpose([0, 2, 1])
        extra = self.pos[:, :0]
        return t + paddle.concat([extra, self.pos[:, 0:]], axis=1)


def test_an_empty_intermediate_that_paddle_runs_is_not_refused():
    model = EmptyExtra()
    report = analyze(model, (1, 3, 16, 16))
    assert leaf_shapes(report) == eager_leaf_shapes(model, (1, 3, 16, 16))
    assert [int(d) for d in report.records[-1].output_shape] == [1, 16, 8]


# ---------------------------------------------------------------- the record boundary
def test_a_minus_one_planted_in_a_trace_never_reaches_a_report():
    model = SegLike()
    trace = trace_for(model, (1, 3, 32, 32))
    planted = dataclasses.replace(trace, shapes=dict(trace.shapes))
    call = next(c for c in trace.calls if c.path == "fuse")
    n, c, h, w = planted.shapes[call.outputs[0]]
    planted.shapes[call.outputs[0]] = (n, c, -1, w)
    with pytest.raises(InternalCheckError, match=r"row fuse \(Conv2D\)"):
        analyze(model, (1, 3, 32, 32), trace=planted)


@pytest.mark.parametrize("field, value", [
    ("output_shape", (1, sympy.Integer(-1))),
    ("output_shape", (1, sympy.Rational(9, 2))),
    ("flops", sympy.Integer(-5)),
    ("params_trainable", sympy.Rational(1, 2)),
    ("flops", 3 * UNKNOWN),
])
def test_the_record_refuses_impossible_numbers(field, value):
    zero = sympy.Integer(0)
    good = LayerRecord(0, "x", "Conv2D", 1, "", True, False, ((1, 3, 4, 4),), (1, 8, 4, 4), zero, zero, zero, "")
    with pytest.raises(InternalCheckError, match="row x"):
        dataclasses.replace(good, **{field: value})


class Flat(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        y = self.conv(x)
        return self.act(y.reshape([paddle.shape(y)[0], -1]))


def test_a_size_answered_wrongly_while_building_is_caught_by_the_eager_forward(monkeypatch):
    """The safety net of answering paddle.shape with numbers: if list semantics ever changed what a forward
    does, the layers' static shapes disagree with Paddle's eager forward and the program is built as Paddle
    builds it (the -1 then read from a run).  Planted: a ShapeList that doubles the batch."""
    import convcalc.trace.sizes as sizes

    real = sizes.ShapeList.__getitem__
    monkeypatch.setattr(sizes.ShapeList, "__getitem__",
                        lambda self, i: real(self, i) * 2 if i == 0 else real(self, i))
    model = Flat()
    report = analyze(model, (1, 3, 8, 8))
    assert leaf_shapes(report) == eager_leaf_shapes(model, (1, 3, 8, 8)) == {
        "conv": [[1, 8, 8, 8]], "act": [[1, 512]]}
