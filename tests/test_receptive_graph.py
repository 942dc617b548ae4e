"""Receptive-field propagation on tiny hand-built graphs with hand-worked answers."""

from __future__ import annotations

import pytest

from convcalc.analysis.receptive import GraphView, Spatial, propagate
from convcalc.errors import MisalignedBranchesError
from convcalc.formulas import Field, merge_fields
from convcalc.formulas.receptive import AxisField
from convcalc.trace.graph import OpNode


def conv(i, x, w, out, stride=1, pad=0, dilation=1):
    return OpNode(i, "pd_op.conv2d", (x, w), (out,),
                  {"strides": [stride, stride], "paddings": [pad, pad], "dilations": [dilation, dilation],
                   "padding_algorithm": "EXPLICIT", "groups": 1})


def graph(ops, shapes, constants=None):
    base = {"x": (1, 1, 32, 32)}
    base.update(shapes)
    return GraphView(ops, base, constants or {}, "x")


def test_two_3x3_convs_give_5x5():
    """Seed 5.1.4, figure 5.5."""
    g = graph([conv(0, "x", "w1", "a"), conv(1, "a", "w2", "b")],
              {"w1": (1, 1, 3, 3), "w2": (1, 1, 3, 3), "a": (1, 1, 30, 30), "b": (1, 1, 28, 28)})
    f = propagate(g).get("b")
    assert (f.h.size, f.h.jump, f.h.start) == (5, 1, 2)


def test_sequential_stride_padding_dilation():
    # 7x7 s2 p3 -> r 7, j 2, start 0; then 3x3 dilation 2 p2 -> r 7 + 4*2 = 15, j 2, start 0
    g = graph([conv(0, "x", "w1", "a", stride=2, pad=3), conv(1, "a", "w2", "b", pad=2, dilation=2)],
              {"w1": (8, 1, 7, 7), "w2": (8, 8, 3, 3), "a": (1, 8, 16, 16), "b": (1, 8, 16, 16)})
    f = propagate(g).get("b")
    assert (f.h.size, f.h.jump, f.h.start) == (15, 2, 0)


def test_aligned_branches_merge_by_max():
    # branch A: 3x3 p1 then 3x3 p1 (r 5); branch B: 1x1 (r 1); both jump 1, start 0.
    ops = [
        conv(0, "x", "w3", "a1", pad=1), conv(1, "a1", "w3", "a2", pad=1), conv(2, "x", "w1", "b1"),
        OpNode(3, "pd_op.add", ("a2", "b1"), ("y",)),
    ]
    shapes = {"w3": (1, 1, 3, 3), "w1": (1, 1, 1, 1), "a1": (1, 1, 32, 32), "a2": (1, 1, 32, 32),
              "b1": (1, 1, 32, 32), "y": (1, 1, 32, 32)}
    fields = propagate(graph(ops, shapes))
    y = fields.get("y")
    assert (y.h.size, y.h.jump, y.h.start) == (5, 1, 0)
    assert not fields.misaligned


def test_misaligned_branches_are_reported_not_guessed():
    # branch A has stride 2 (jump 2), branch B stride 1 (jump 1): adding them is misaligned.
    ops = [conv(0, "x", "w3", "a", stride=2, pad=1), conv(1, "x", "w3", "b", pad=1),
           OpNode(2, "pd_op.add", ("a", "b"), ("y",)), OpNode(3, "pd_op.relu", ("y",), ("z",))]
    shapes = {"w3": (1, 1, 3, 3), "a": (1, 1, 16, 16), "b": (1, 1, 32, 32), "y": (1, 1, 16, 16),
              "z": (1, 1, 16, 16)}
    fields = propagate(graph(ops, shapes))
    assert fields.get("y").h is None and fields.get("y").w is None  # unknown, not guessed
    assert fields.get("z").h is None
    assert len(fields.misaligned) == 1 and "jump" in fields.misaligned[0]


def test_concat_merges_and_global_pool_is_whole_input():
    ops = [
        conv(0, "x", "w3", "a", pad=1), conv(1, "x", "w5", "b", pad=2),
        OpNode(2, "builtin.combine", ("a", "b"), ("ab",)),
        OpNode(3, "pd_op.full", (), ("axis",)),
        OpNode(4, "pd_op.concat", ("ab", "axis"), ("c",)),
        OpNode(5, "pd_op.full_int_array", (), ("k",)),
        OpNode(6, "pd_op.pool2d", ("c", "k"), ("p",), {"adaptive": True, "strides": [1, 1], "paddings": [0, 0]}),
        OpNode(7, "pd_op.flatten", ("p",), ("f",)),
    ]
    shapes = {"w3": (1, 1, 3, 3), "w5": (1, 1, 5, 5), "a": (1, 1, 32, 32), "b": (1, 1, 32, 32),
              "c": (1, 2, 32, 32), "p": (1, 2, 1, 1), "f": (1, 2)}
    fields = propagate(graph(ops, shapes, {"axis": 1, "k": [1, 1]}))
    c = fields.get("c")
    assert (c.h.size, c.h.jump) == (5, 1)
    assert fields.get("p").whole
    assert fields.get("f").whole


def test_unknown_op_is_listed():
    ops = [OpNode(0, "pd_op.mystery", ("x",), ("y",))]
    fields = propagate(graph(ops, {"y": (1, 1, 32, 32)}))
    assert not fields.get("y").known
    assert fields.unsupported_ops == ["pd_op.mystery"]


def test_merge_fields_rule():
    assert merge_fields([Field(7, 2, 0), Field(3, 2, 0)]) == Field(7, 2, 0)
    # Different centres, same jump: the covering field.
    merged = merge_fields([Field(3, 1, 0), Field(3, 1, 2)])
    assert (merged.size, merged.start) == (5, 1)
    with pytest.raises(MisalignedBranchesError):
        merge_fields([Field(3, 1, 1), Field(3, 2, 1)])


def test_spatial_state_dataclass():
    s = Spatial((AxisField("H", Field(3, 1, 1), 2), AxisField("W", Field(5, 1, 2), 3)))
    assert not s.whole and s.h == Field(3, 1, 1) and s.w.size == 5
    assert Spatial((AxisField("L", Field(whole=True), None),)).whole
