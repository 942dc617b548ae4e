"""Per-axis receptive fields on tiny hand-built graphs (any rank, channel-last layouts, norms, reductions).

Every expected value is worked by hand from the recurrences of book §5.1.4:
``r_out = r_in + (k_eff - 1) j_in``, ``j_out = j_in s``, ``start_out = start_in + ((k_eff - 1)/2 - p) j_in``.
"""

from __future__ import annotations

from fractions import Fraction

from convcalc.analysis.receptive import GraphView, propagate
from convcalc.trace.graph import OpNode


def field(state, axis):
    a = state.axis(axis)
    f = a.field
    if f is None:
        return None
    return "whole" if f.whole else (int(f.size), int(f.jump), Fraction(str(f.start)))


def g(ops, shapes, x_shape, constants=None):
    base = {"x": x_shape}
    base.update(shapes)
    return GraphView(ops, base, constants or {}, "x")


def conv(i, x, w, out, strides, paddings, algorithm="EXPLICIT", fmt="NCHW", dil=None, name="pd_op.conv2d"):
    return OpNode(i, name, (x, w), (out,), {"strides": strides, "paddings": paddings,
                                            "dilations": dil or [1] * len(strides), "padding_algorithm": algorithm,
                                            "groups": 1, "data_format": fmt})


def test_conv1d_is_unsqueeze_conv2d_squeeze():
    """Paddle's Conv1D(4, 8, 5, stride=2, padding=2) on (1, 4, 64): L gets r 5, j 2, start 0 (pad 2 = (5-1)/2)."""
    ops = [
        OpNode(0, "pd_op.unsqueeze", ("x", "ax"), ("u",)),
        conv(1, "u", "w", "c", [1, 2], [0, 2]),
        OpNode(2, "pd_op.squeeze", ("c", "ax"), ("y",)),
    ]
    shapes = {"u": (1, 4, 1, 64), "w": (8, 4, 1, 5), "c": (1, 8, 1, 32), "y": (1, 8, 32)}
    fields = propagate(g(ops, shapes, (1, 4, 64), {"ax": [-2]}))
    y = fields.get("y")
    assert [a.axis for a in y.axes] == ["L"]
    assert field(y, "L") == (5, 2, 0)
    assert y.axis("L").dim == 2


def test_nhwc_same_padding_on_an_odd_input():
    """NHWC 15x15, k 4, s 2, SAME: out ceil(15/2) = 8, total pad (8-1)*2 + 4 - 15 = 3, before 1:
    r 4, j 2, start 0 + (3/2 - 1) = 1/2.  Reading H/W from dims 2, 3 (as NCHW) would give the wrong start."""
    ops = [conv(0, "x", "w", "y", [2, 2], [0, 0], "SAME", "NHWC")]
    fields = propagate(g(ops, {"w": (8, 3, 4, 4), "y": (1, 8, 8, 8)}, (1, 15, 15, 3)))
    y = fields.get("y")
    assert [(a.axis, a.dim) for a in y.axes] == [("H", 1), ("W", 2)]
    assert field(y, "H") == field(y, "W") == (4, 2, Fraction(1, 2))


def test_conv3d_per_axis():
    """Conv3D k (3, 5, 5), s (1, 2, 2), p (1, 2, 2): D r 3 j 1; H/W r 5 j 2; all starts 0."""
    ops = [conv(0, "x", "w", "y", [1, 2, 2], [1, 2, 2], fmt="NCDHW", name="pd_op.conv3d")]
    fields = propagate(g(ops, {"w": (4, 2, 3, 5, 5), "y": (1, 4, 6, 8, 8)}, (1, 2, 6, 16, 16)))
    y = fields.get("y")
    assert [a.axis for a in y.axes] == ["D", "H", "W"]
    assert field(y, "D") == (3, 1, 0) and field(y, "H") == field(y, "W") == (5, 2, 0)


def _after_conv(extra_ops, extra_shapes, constants=None):
    ops = [conv(0, "x", "w", "a", [1, 1], [1, 1]), *extra_ops]
    shapes = {"w": (4, 3, 3, 3), "a": (1, 4, 8, 16)}
    shapes.update(extra_shapes)
    return propagate(g(ops, shapes, (1, 3, 8, 16), constants))


def test_layer_norm_over_w_only_makes_w_whole():
    fields = _after_conv([OpNode(1, "pd_op.layer_norm", ("a", "s", "b"), ("y", "m", "v"), {"begin_norm_axis": 3})],
                         {"y": (1, 4, 8, 16)})
    y = fields.get("y")
    assert field(y, "H") == (3, 1, 0) and field(y, "W") == "whole"


def test_layer_norm_over_chw_makes_both_whole():
    fields = _after_conv([OpNode(1, "pd_op.layer_norm", ("a", "s", "b"), ("y", "m", "v"), {"begin_norm_axis": 1})],
                         {"y": (1, 4, 8, 16)})
    assert fields.get("y").whole


def test_group_and_instance_norm_whole_batch_norm_pointwise():
    fields = _after_conv([
        OpNode(1, "pd_op.batch_norm_", ("a", "m", "v", "s", "b"), ("bn",), {"is_test": True, "data_format": "NCHW"}),
        OpNode(2, "pd_op.group_norm", ("bn", "s", "b"), ("gn",), {"groups": 2, "data_format": "NCHW"}),
        OpNode(3, "pd_op.instance_norm", ("bn", "s", "b"), ("in",), {}),
    ], {"bn": (1, 4, 8, 16), "gn": (1, 4, 8, 16), "in": (1, 4, 8, 16)})
    assert field(fields.get("bn"), "H") == (3, 1, 0)
    assert fields.get("gn").whole and fields.get("in").whole


def test_softmax_along_h_makes_only_h_whole():
    fields = _after_conv([OpNode(1, "pd_op.softmax", ("a",), ("y",), {"axis": 2})], {"y": (1, 4, 8, 16)})
    y = fields.get("y")
    assert field(y, "H") == "whole" and field(y, "W") == (3, 1, 0)


def test_mean_over_h_without_keepdim_moves_w():
    fields = _after_conv([OpNode(1, "pd_op.mean", ("a", "axes"), ("y",), {"keepdim": False})], {"y": (1, 4, 16)},
                         {"axes": [2]})
    y = fields.get("y")
    assert field(y, "H") == "whole" and y.axis("H").dim is None
    assert field(y, "W") == (3, 1, 0) and y.axis("W").dim == 2


def test_mean_over_h_then_broadcast_add_back():
    """x + mean(x, H): the sum at (h, w) reads the whole column w, so H is whole, W keeps 3."""
    fields = _after_conv([OpNode(1, "pd_op.mean", ("a", "axes"), ("m",), {"keepdim": True}),
                          OpNode(2, "pd_op.add", ("a", "m"), ("y",))],
                         {"m": (1, 4, 1, 16), "y": (1, 4, 8, 16)}, {"axes": [2]})
    y = fields.get("y")
    assert field(y, "H") == "whole" and field(y, "W") == (3, 1, 0)


def test_transpose_to_channel_last_and_concat_along_w():
    """perm [0, 2, 3, 1] moves H to dim 1 and W to dim 2; a concat along dim 2 (W) leaves W unknown."""
    fields = _after_conv([
        OpNode(1, "pd_op.transpose", ("a",), ("t",), {"perm": [0, 2, 3, 1]}),
        OpNode(2, "builtin.combine", ("t", "t"), ("tt",)),
        OpNode(3, "pd_op.concat", ("tt", "axis"), ("c",)),
    ], {"t": (1, 8, 16, 4), "c": (1, 8, 32, 4)}, {"axis": 2})
    t, c = fields.get("t"), fields.get("c")
    assert (t.axis("H").dim, t.axis("W").dim) == (1, 2)
    assert field(c, "H") == (3, 1, 0) and field(c, "W") is None


def test_flatten_and_squeeze_of_the_map_are_whole_keepdim_map_keeps_its_field():
    ops = [
        conv(0, "x", "w", "a", [1, 1], [0, 0]),
        OpNode(1, "pd_op.flatten", ("a",), ("f",), {"start_axis": 1, "stop_axis": -1}),
        OpNode(2, "pd_op.squeeze", ("a", "axes"), ("s",)),
    ]
    fields = propagate(g(ops, {"w": (4, 3, 3, 3), "a": (1, 4, 1, 1), "f": (1, 4), "s": (1, 4)}, (1, 3, 3, 3),
                         {"axes": [2, 3]}))
    assert fields.get("f").whole and fields.get("s").whole
    a = fields.get("a")
    assert field(a, "H") == field(a, "W") == (3, 1, 1)  # the one 3x3 window, centred on pixel 1


def test_linear_contracts_features_not_positions():
    """``x @ W`` on a (N, C, H, W) map contracts W (the last dim): W whole, H untouched."""
    fields = _after_conv([OpNode(1, "pd_op.matmul", ("a", "weight"), ("y",), {"transpose_x": False,
                                                                               "transpose_y": False})],
                         {"weight": (16, 5), "y": (1, 4, 8, 5)})
    y = fields.get("y")
    assert field(y, "H") == (3, 1, 0) and field(y, "W") == "whole"


def test_rank_two_input_has_no_spatial_axes():
    ops = [OpNode(0, "pd_op.relu", ("x",), ("y",))]
    fields = propagate(g(ops, {"y": (1, 12)}, (1, 12)))
    assert fields.get("y").axes == ()


def _record(rf):
    import sympy

    from convcalc.analysis.records import LayerRecord

    zero = sympy.Integer(0)
    return LayerRecord(0, "x", "Conv2D", 1, "", True, False, (), (1, 1, 4, 4), zero, zero, zero, "", rf=rf)


def test_table_and_json_show_axes_where_they_differ():
    from convcalc.formulas import Field
    from convcalc.formulas.receptive import AxisField
    from convcalc.render.report import field_text, record_dict

    same = _record((AxisField("H", Field(5, 2, 0), 2), AxisField("W", Field(5, 2, 0), 3)))
    mixed = _record((AxisField("H", Field(whole=True), 2), AxisField("W", Field(5, 1, 2), 3)))
    three = _record(tuple(AxisField(a, Field(k, 1, 0), d) for a, k, d in (("D", 3, 2), ("H", 5, 3), ("W", 5, 4))))
    unknown = _record((AxisField("L", None, 2),))
    assert field_text(same) == ("5", "2", "0")
    assert field_text(mixed) == ("whole x 5", "- x 1", "- x 2")
    assert field_text(three) == ("3x5x5", "1", "0")
    assert field_text(unknown) == ("?", "", "")
    assert record_dict(mixed)["receptive_field"] == {"h": "whole", "w": {"size": 5, "jump": 1, "start": 2}}
    assert record_dict(unknown)["receptive_field"] == {"l": None}
    assert mixed.rf_h.whole and mixed.rf_axis("W").size == 5 and three.rf_axis("D").size == 3


def test_channel_last_input_transposed_in_forward():
    """An HWC image transposed to NCHW in forward: H is input dim 1, W dim 2, found through the transpose.
    Conv k (3, 5), s 2, p (1, 2): H r 3 j 2 start 0; W r 5 j 2 start 0."""
    ops = [OpNode(0, "pd_op.transpose", ("x",), ("t",), {"perm": [0, 3, 1, 2]}),
           conv(1, "t", "w", "y", [2, 2], [1, 2])]
    graph = g(ops, {"t": (1, 3, 8, 16), "w": (4, 3, 3, 5), "y": (1, 4, 4, 8)}, (1, 8, 16, 3))
    fields = propagate(graph)
    assert fields.input_dims == {"H": 1, "W": 2}
    y = fields.get("y")
    assert field(y, "H") == (3, 2, 0) and field(y, "W") == (5, 2, 0)
    assert [(a.axis, a.dim) for a in fields.get("t").axes] == [("H", 2), ("W", 3)]
