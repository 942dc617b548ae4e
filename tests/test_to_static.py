"""The static build runs forwards as written (convcalc/trace/to_static.py), and falls back to dy2static's rewrite.

The plain build must give the very program the rewritten build gives, for what the rewrite did
that matters: tensor truth values (from the eager forward's decisions), ``x.shape`` with sizes the
program does not know (tensors, as ``convert_shape``), custom ``PyLayer``s (the static ``pylayer``
op).  Where it cannot, the transformed build runs and the report is the same.  The truth here is
the report of the transformed build itself, made in the same test with the plain build switched off.
"""

from __future__ import annotations

import pytest

paddle = pytest.importorskip("paddle")

from paddle import nn  # noqa: E402

import convcalc.trace.build as build  # noqa: E402
from convcalc.analysis import analyze  # noqa: E402
from convcalc.trace.branches import Decisions  # noqa: E402
from convcalc.trace.inputs import ModelInput  # noqa: E402


@pytest.fixture
def builds(monkeypatch):
    """Which builds ran: ``True`` for a plain one, ``False`` for a transformed one, with how each ended."""
    seen: list[tuple[bool, str]] = []
    real = build._build_once

    def recording(*args, **kwargs):
        try:
            out = real(*args, **kwargs)
        except BaseException as err:
            seen.append((kwargs["plain"], type(err).__name__))
            raise
        seen.append((kwargs["plain"], "ok"))
        return out

    monkeypatch.setattr(build, "_build_once", recording)
    return seen


def _transformed_only(monkeypatch):
    """Every build the usual way (the plain one refused at once)."""
    real = build._build_once

    def transformed(*args, **kwargs):
        if kwargs["plain"]:
            raise build._Transform
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "_build_once", transformed)


def _rows(report) -> list:
    return [(r.path, r.kind, tuple(map(str, r.output_shape)), str(r.params), str(r.flops), r.formula, str(r.rf))
            for r in report.records]


class Branchy(nn.Layer):
    """A tensor-valued ``if`` and ``while``, a shape the program does not know, a PyLayer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.head = nn.Conv2D(8, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        if y.mean() > -1.0:  # true for an input of ones
            y = nn.functional.relu(y)
        else:
            y = y * 2
        n = paddle.to_tensor(0)
        while n < 2:  # two iterations
            y = y + 1
            n = n + 1
        size = paddle.shape(x)[2:]  # a size read at run time: -1 in the program
        z = nn.functional.interpolate(self.head(y), size=size, mode="nearest")
        h = z.shape[2]  # a tensor where the program has -1 (dy2static's convert_shape), an int in eager mode
        return Square.apply(z) * h


class Square(paddle.autograd.PyLayer):
    @staticmethod
    def forward(ctx, x):
        return x * x

    @staticmethod
    def backward(ctx, grad):
        return grad


def test_plain_build_gives_the_transformed_program(builds, monkeypatch):
    model = Branchy()
    plain = analyze(model, (1, 3, 8, 8))
    assert builds and all(p for p, _ in builds), builds  # probe and replay, both plain
    assert any(r.kind == "pylayer" for r in plain.records)
    assert plain.notes and "branches on tensor values" in plain.notes[0]
    _transformed_only(monkeypatch)
    transformed = analyze(model, (1, 3, 8, 8))
    assert _rows(plain) == _rows(transformed)
    assert plain.totals == transformed.totals


class NeedsRewrite(nn.Layer):
    """``float(tensor)`` of a value: only dy2static's rewrite (a cast) builds this."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3)

    def forward(self, x):
        y = self.conv(x)
        k = float(paddle.full([1], 4.0))
        return y * k


def test_falls_back_to_the_transformed_build(builds):
    report = analyze(NeedsRewrite(), (1, 3, 8, 8))
    assert builds[0][0] is True and builds[0][1] != "ok"
    assert (False, "ok") in builds
    assert report.records[0].output_shape == (1, 4, 6, 6)


def test_a_refusal_is_not_built_twice(builds):
    """Paddle refusing the input in the plain build is the answer: no second (transformed) build."""
    from convcalc.errors import ConvcalcError

    model = nn.Sequential(nn.Conv2D(3, 8, 3), nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(ConvcalcError):
        analyze(model, (1, 3, 8, 8))
    assert [p for p, _ in builds] == [True]


def test_op_ranges_by_identity_after_a_pylayer():
    """Op positions come from op identity: the ops of a PyLayer's forward, built in the program and then moved
    into its ``pylayer`` op, shift no later layer's range (counting ops gave the next conv the wrong range and a
    second, functional conv2d row)."""

    class AfterPyLayer(nn.Layer):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2D(3, 4, 3)
            self.b = nn.Conv2D(4, 4, 1)

        def forward(self, x):
            return self.b(Square.apply(self.a(x)))

    model = AfterPyLayer()
    inputs = [ModelInput((1, 3, 8, 8), "float32", "x")]
    paths = {id(layer): path for path, layer in model.named_sublayers(include_self=True)}
    program, finished, _, _, _ = build._build(model, inputs, lambda layer: None, "m", paths, Decisions(probe=True))
    ops = list(program.global_block().ops)
    for entry in finished:  # each conv: its own op and its bias add, nothing before or after
        names = [ops[i].name() for i in range(entry["start"], entry["end"])]
        assert names == ["pd_op.conv2d", "pd_op.full_int_array", "pd_op.reshape", "pd_op.add"], names
    assert [r.kind for r in analyze(model, (1, 3, 8, 8)).records] == ["Conv2D", "pylayer", "Conv2D"]


class Selfless(Branchy):
    """Branchy with its first argument called ``this`` (Paddle's eager forward runs it; to_static reads argument names
    from the function and drops the first only when it is called ``self``)."""

    def forward(this, x, scale=1.0):  # noqa: N805 - the point of the test
        return Branchy.forward(this, x) * scale


class Selfed(Branchy):
    """The same with ``self``: the reference."""

    def forward(self, x, scale=1.0):
        return Branchy.forward(self, x) * scale


@pytest.mark.parametrize("plain", [True, False])
def test_a_forward_whose_first_argument_is_not_called_self(plain, monkeypatch):
    model = Selfless()
    model.eval()
    with paddle.no_grad():
        truth = model(paddle.ones([1, 3, 8, 8]))  # Paddle runs it
    if not plain:
        _transformed_only(monkeypatch)
    reference = analyze(Selfed(), (1, 3, 8, 8), name="Selfless")
    report = analyze(model, (1, 3, 8, 8))
    assert report.records[-1].output_shape == tuple(truth.shape)
    assert _rows(report) == _rows(reference) and report.totals == reference.totals
    assert "forward" not in model.__dict__  # (left as it was)
