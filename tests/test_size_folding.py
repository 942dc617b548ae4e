"""Sizes given to reshape / F.interpolate as tensors are folded to numbers while the program is built (issue 20,
speed): no ``-1``, so no run of the whole program to read them back.

The truth is Paddle's: its executor's run of the same integer chains (the values the folded numbers stand for),
and its eager forward's leaf shapes for the models, written as real code writes them (PaddleClas' CSWin
``B = paddle.to_tensor(n // windows, "int32")``; ``paddle.cast(paddle.shape(x)[2], "int32") // 2``).
"""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

import convcalc.trace.build as build
from convcalc.analysis import analyze
from convcalc.trace.size_folding import evaluate


def _chains(x):
    """Integer chains as user code builds them; each is a value the executor can fetch."""
    s = paddle.shape(x)
    return {
        "to_tensor": paddle.to_tensor(x.shape[0] // 2, "int32"),
        "shape": s,
        "tail": s[2:],
        "one": s[1],
        "neg": s[-1:],
        "cast_div": paddle.cast(s[2], "int32") // 2,
        "scaled": s[1] * 3 + 1,
        "sum": s[2] + s[3],
        "mod": s[3] % 4,
        "stacked": paddle.stack([s[0], s[2] * 2]),
        "concat": paddle.concat([s[:2], paddle.to_tensor([7], "int64")]),
    }


def test_evaluated_chains_are_what_paddle_computes():
    from paddle.pir import Value

    raw = Value.shape.fget
    paddle.enable_static()
    try:
        main, startup = paddle.static.Program(), paddle.static.Program()
        with paddle.static.program_guard(main, startup):
            x = paddle.static.data("x", [4, 6, 10, 14], "float32")
            chains = _chains(x)
            got = {k: evaluate(v, raw) for k, v in chains.items()}
            values = paddle.static.Executor(paddle.CPUPlace()).run(
                main, feed={"x": np.ones([4, 6, 10, 14], "float32")}, fetch_list=list(chains.values()))
    finally:
        paddle.disable_static()
    for (k, folded), truth in zip(got.items(), values):
        assert folded is not None, k
        assert folded[0] == np.shape(truth) and folded[1] == np.ravel(truth).tolist(), k


def test_a_size_computed_from_values_is_not_folded():
    from paddle.pir import Value

    paddle.enable_static()
    try:
        with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
            x = paddle.static.data("x", [2, 3], "float32")
            counted = paddle.cast(x.sum(), "int64")  # a value, not a size
            picked = paddle.shape(paddle.nonzero(x))[0]  # a size that depends on values
            assert evaluate(counted, Value.shape.fget) is None
            assert evaluate(picked, Value.shape.fget) is None
            assert evaluate(paddle.shape(x)[0] + counted, Value.shape.fget) is None
    finally:
        paddle.disable_static()


class Windows(nn.Layer):
    """CSWin's windows2img: the batch of a reshape target given as a tensor made from a Python number."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2D(3, 8, 4, stride=4)
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        y = self.embed(x).flatten(2).transpose([0, 2, 1])  # [B, H*W, C]
        n, hw, c = y.shape
        windows = y.reshape([-1, 2, c])  # [B*H*W/2, 2, C]
        b = paddle.to_tensor(windows.shape[0] // (hw // 2), "int32")
        y = windows.reshape([b, hw, c])
        return self.fc(y)


class CastSize(nn.Layer):
    """A size made with tensor ops on paddle.shape (a list answer cannot be cast): interpolate and reshape."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.out = nn.Conv2D(4, 4, 1)

    def forward(self, x):
        s = paddle.shape(x)
        half = paddle.cast(s[2], "int32") // 2
        y = F.interpolate(self.conv(x), size=[half, half * 2], mode="bilinear")
        return self.out(y).reshape([paddle.cast(s[0], "int32"), 4, -1])


def _eager_leaf_shapes(model, shape):
    seen = {}
    handles = [layer.register_forward_post_hook(
        lambda lay, args, out, path=path: seen.setdefault(path, []).append(list(out.shape)))
        for path, layer in model.named_sublayers() if not layer.sublayers()]
    model.eval()
    try:
        with paddle.no_grad():
            out = model(paddle.ones(list(shape)))
    finally:
        for h in handles:
            h.remove()
    return seen, list(out.shape)


@pytest.mark.parametrize(("cls", "shape"), [(Windows, (2, 3, 16, 16)), (CastSize, (2, 3, 12, 12))])
def test_folded_sizes_are_the_eager_forwards_and_need_no_run(cls, shape, monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("the program was run to read sizes")

    monkeypatch.setattr(build, "run_for_sizes", no_run)
    model = cls()
    report = analyze(model, shape)
    leaves, out = _eager_leaf_shapes(model, shape)
    got = {}
    for r in report.records:
        if r.is_leaf and not r.is_functional:
            got.setdefault(r.path, []).append([int(d) for d in r.output_shape])
    assert got == leaves
    assert [int(d) for d in report.records[-1].output_shape] == out
    assert all(int(d) >= 0 for r in report.records for d in r.output_shape)


def test_without_folding_the_size_is_read_from_a_run(monkeypatch):
    """The folding is what spares the run: without it, the same model needs the program run (same shapes)."""
    import contextlib

    runs = []
    real = build.run_for_sizes
    monkeypatch.setattr(build, "run_for_sizes", lambda *a, **k: runs.append(1) or real(*a, **k))
    monkeypatch.setattr(build, "folded_sizes", lambda raw: contextlib.nullcontext())
    model = Windows()
    report = analyze(model, (2, 3, 16, 16))
    assert runs
    assert [int(d) for d in report.records[-1].output_shape] == _eager_leaf_shapes(model, (2, 3, 16, 16))[1]


def test_a_size_written_in_place_is_not_folded():
    """``s[0] = v`` and ``paddle.assign(v, output=s)`` build ops that write ``s``: its defining op no longer says
    its value (the executor's run shows the written values), so nothing is folded."""
    from paddle.pir import Value

    paddle.enable_static()
    try:
        main = paddle.static.Program()
        with paddle.static.program_guard(main, paddle.static.Program()):
            x = paddle.static.data("x", [2, 6, 8], "float32")
            s = paddle.shape(x)
            s[0] = 4
            t = paddle.shape(x)[1:]
            t[0] = paddle.cast(x.sum(), "int64")
            a = paddle.shape(x)
            paddle.assign(paddle.to_tensor([1, 2, 3], "int64"), output=a)
            got = [evaluate(v, Value.shape.fget) for v in (s, t, a)]
            truth = paddle.static.Executor(paddle.CPUPlace()).run(
                main, feed={"x": np.ones([2, 6, 8], "float32")}, fetch_list=[s, t, a])
    finally:
        paddle.disable_static()
    assert [v.tolist() for v in truth] == [[4, 6, 8], [96, 8], [1, 2, 3]]  # not the sizes of x
    assert got == [None, None, None]


class WrittenSize(nn.Layer):
    """A reshape target made by writing into paddle.shape's answer (or a cast of it): [N, C, H*W, 1]."""

    def __init__(self, cast: bool):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.cast = cast

    def forward(self, x):
        y = self.conv(x)
        s = paddle.cast(paddle.shape(y), "int32") if self.cast else paddle.shape(y)
        s[2] = s[2] * s[3]
        s[3] = 1
        return y.reshape(s)


@pytest.mark.parametrize("cast", [True, False])
def test_a_model_writing_its_sizes_gets_the_eager_forwards_shape(cast):
    """(cast: the fold must see the write; no cast: Paddle's own shape inference reads the unwritten shape64
    unless the forward is built with dy2static's rewrite of ``s[i] = v``)"""
    model = WrittenSize(cast)
    report = analyze(model, (1, 3, 6, 5))
    assert _eager_leaf_shapes(model, (1, 3, 6, 5))[1] == [1, 4, 30, 1]
    assert [int(d) for d in report.records[-1].output_shape] == [1, 4, 30, 1]


class AssignedSize(nn.Layer):
    """A size written by ``paddle.assign(..., output=s)``, then used by a reshape and a conv after it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.after = nn.Conv2D(4, 4, 3)

    def forward(self, x):
        y = self.conv(x)
        s = paddle.shape(y)
        paddle.assign(paddle.to_tensor([1, 4, 12, 5], dtype=s.dtype), output=s)
        return self.after(y.reshape(s))


class AddedSize(nn.Layer):
    """A size changed by an in-place ``add_`` and used as the reshape target of the model's output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        s = paddle.shape(y)
        s.add_(paddle.to_tensor([0, 0, 6, -5], dtype=s.dtype))
        return y.reshape(s)


class AddedSizeOutOfPlace(AddedSize):
    """The same forward written out of place (``s = s + t``): counted."""

    def forward(self, x):
        y = self.conv(x)
        s = paddle.shape(y)
        s = s + paddle.to_tensor([0, 0, 6, -5], dtype=s.dtype)
        return y.reshape(s)


def _eager_output_shape(model, shape) -> list[int]:
    model.eval()
    with paddle.no_grad():
        return list(model(paddle.ones(list(shape))).shape)


@pytest.mark.parametrize("model, where", [(AssignedSize, "layer after"), (AddedSize, "its output")])
def test_a_size_written_in_place_by_an_op_is_refused_not_counted_wrongly(model, where):
    """Paddle's static graph does ``assign(output=)`` and ``add_`` out of place, so its program keeps the old
    size (dy2static's too); the eager forward gives the new one.  A program that disagrees with the eager
    forward is refused, naming where, instead of counted."""
    from convcalc.errors import ModelLoadError

    m = model()
    assert _eager_output_shape(m, (1, 3, 6, 10)) in ([1, 4, 10, 3], [1, 4, 12, 5])  # Paddle runs it
    with pytest.raises(ModelLoadError, match=f"gives {where} the shape .*in place"):
        analyze(m, (1, 3, 6, 10))


def test_without_the_eager_comparison_the_written_size_would_be_counted_wrongly(monkeypatch):
    """The comparison is what stops it: switched off, the report silently keeps the old size."""
    monkeypatch.setattr(build, "first_disagreement", lambda *a, **k: None)
    m = AssignedSize()
    report = analyze(m, (1, 3, 6, 10))
    assert [int(d) for d in report.records[-1].output_shape] == [1, 4, 4, 8]
    assert _eager_output_shape(m, (1, 3, 6, 10)) == [1, 4, 10, 3]


def test_the_same_size_written_out_of_place_is_counted_with_the_eager_shape():
    m = AddedSizeOutOfPlace()
    report = analyze(m, (1, 3, 6, 10))
    assert [int(d) for d in report.records[-1].output_shape] == _eager_output_shape(m, (1, 3, 6, 10)) == [1, 4, 12, 5]
