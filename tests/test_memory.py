"""One memory model (issue 22, Deliver 2): tensor liveness on the traced graph, checked against measurement.

* Hand-built graphs with hand-counted bytes: views and in-place ops are one buffer, a layer call's
  arguments stay alive until it returns, unread results live during their op, outputs to the end.
* Measured on CPU by this test, never by convcalc: Paddle's host allocator counters
  (``paddle.base.core.host_memory_stat_current_value("Allocated", 0)``, exact bytes, no padding), read at
  every layer's forward pre/post hook and, in a training step, at every gradient hook (each layer
  output's and each trainable parameter's ``register_hook``: a parameter's fires while its new weight
  gradient exists), plus the allocator's own peak (``host_memory_stat_peak_value``) over the call.
  Inference also reads a second, independent figure: the bytes of the tensors the hooks have seen that
  are still alive (``weakref``; views counted once by ``data_ptr``).
  ``paddle.autograd.saved_tensors_hooks`` is not used: in Paddle 3.3.1 even identity hooks keep every saved
  tensor alive after ``backward()``, so it would change what it measures.
* What a graph cannot see: a forward that keeps a tensor in a Python variable after its last reader holds
  it longer (docs/formulas.md, "Memory"): on such a model the model is a lower bound at every hook.
"""

from __future__ import annotations

import gc
import weakref

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest
from paddle.base import core

from convcalc.analysis import analyze
from convcalc.analysis.engine import trace_for
from convcalc.analysis.memory import Liveness, bytes_per_value, inference_peak
from convcalc.analysis.training import training_cost
from convcalc.render.units import format_bytes, format_bytes_delta
from convcalc.trace.graph import LayerCall, OpNode, Trace


# ------------------------------------------------------------------ hand-built graphs
def _trace(ops, shapes, calls=(), inputs=("x",), dtypes=None) -> Trace:
    nodes = [OpNode(i, name, tuple(ins), tuple(outs)) for i, (name, ins, outs) in enumerate(ops)]
    return Trace(shapes[inputs[0]], inputs[0], nodes, shapes, {}, list(calls), [],
                 input_shapes=tuple(shapes[v] for v in inputs), input_values=tuple(inputs),
                 input_dtypes=tuple("float32" for _ in inputs), dtypes=dict(dtypes or {}))


def _call(path, inputs, outputs, start, end) -> LayerCall:
    return LayerCall(0, 0, path, "Layer", 1, "", True, tuple(inputs), tuple(outputs), start, end, path, True, None)


def test_a_view_is_its_operands_buffer_and_the_peak_is_the_largest_op():
    # x [1, 4] (16 B) -> relu a (16 B) -> flatten b (a view of a) -> matmul with w: c [1, 2] (8 B)
    t = _trace([("pd_op.data", (), ("x",)), ("builtin.parameter", (), ("w",)), ("pd_op.relu", ("x",), ("a",)),
                ("pd_op.flatten", ("a",), ("b",)), ("pd_op.matmul", ("b", "w"), ("c",))],
               {"x": (1, 4), "w": (4, 2), "a": (1, 4), "b": (4,), "c": (1, 2)})
    live = Liveness(t)
    assert live.root("b") == "a" and "b" not in live.buffers and "w" not in live.buffers
    assert live.profile() == [(2, 32), (3, 32), (4, 40)]  # x + a; x + a (no new buffer); x + a + c
    peak = inference_peak(t)
    assert (peak.bytes, peak.op, peak.input_bytes) == (40, 4, 16)


def test_in_place_results_and_batch_norm_statistics_share_their_operands():
    # conv y (32 B), relu_ in place, batch_norm_: out (new, 32 B), running mean/var in place, saved stats (8 B
    # each, unread: alive during their op only)
    t = _trace([("pd_op.data", (), ("x",)), ("builtin.parameter", (), ("m",)), ("builtin.parameter", (), ("v",)),
                ("pd_op.conv2d", ("x",), ("y",)), ("pd_op.relu_", ("y",), ("y2",)),
                ("pd_op.batch_norm_", ("y2", "m", "v"), ("o", "m2", "v2", "s1", "s2")),
                ("pd_op.relu", ("o",), ("r",))],
               {"x": (1, 2, 2, 2), "y": (1, 2, 2, 2), "y2": (1, 2, 2, 2), "m": (2,), "v": (2,), "o": (1, 2, 2, 2),
                "m2": (2,), "v2": (2,), "s1": (2,), "s2": (2,), "r": (1, 2, 2, 2)})
    live = Liveness(t)
    assert live.root("y2") == "y" and live.root("m2") == "m" and live.root("v2") == "v"
    assert "o" in live.buffers and "m2" not in live.buffers
    # x 32 throughout; conv: + y; relu_: same; batch_norm_: x + y + o + s1 + s2; relu: x + o + r (r: an output)
    assert live.profile() == [(3, 64), (4, 64), (5, 112), (6, 96)]


def test_a_layer_calls_arguments_live_until_it_returns():
    # a block reads its argument a twice: b = conv(a), c = add(b, ...), but a's last reader is op 3 while the
    # block's call ends after op 4: eager Python holds a (the caller's variable) until then
    ops = [("pd_op.data", (), ("x",)), ("pd_op.relu", ("x",), ("a",)), ("pd_op.conv2d", ("a",), ("b",)),
           ("pd_op.conv2d", ("a",), ("c",)), ("pd_op.relu", ("b",), ("d",)), ("pd_op.add", ("d", "c"), ("e",))]
    shapes = {v: (1, 1, 2, 2) for v in "xabcde"}  # 16 B each
    plain = Liveness(_trace(ops, shapes))
    held = Liveness(_trace(ops, shapes, calls=[_call("block", ["a"], ["e"], 2, 6)]))
    assert plain.buffers["a"].dies == 3 and held.buffers["a"].dies == 5
    assert [b for _, b in plain.profile()] == [32, 48, 64, 64, 64]
    assert [b for _, b in held.profile()] == [32, 48, 64, 80, 80]
    assert Liveness(_trace(ops, shapes), hold_call_inputs=False).buffers["a"].dies == 3


def test_widths_follow_the_traced_dtypes():
    t = _trace([("pd_op.data", (), ("x",)), ("pd_op.embedding", ("x",), ("e",))], {"x": (2, 3), "e": (2, 3, 4)},
               dtypes={"x": "int64", "e": "float16"})
    t.input_dtypes = ("int64",)
    assert inference_peak(t).bytes == 2 * 3 * 8 + 2 * 3 * 4 * 2
    assert Liveness(t, width=4).value_bytes("e") == 96 and Liveness(t, width=4).value_bytes("x") == 48
    assert [bytes_per_value(d) for d in ("float32", "int64", "bfloat16", "bool", "paddle.float16", None)] == \
        [4, 8, 2, 1, 2, 4]


def test_a_symbolic_peak_is_the_concrete_one_at_the_traced_size():
    import sympy

    model = nn.Sequential(nn.Conv2D(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2D(8, 8, 3, stride=2, padding=1),
                          nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(8, 2))
    symbolic = analyze(model, (1, 3, 32, 32), symbolic=True).totals
    H, W = sympy.symbols("H W", positive=True, integer=True)
    # by hand at 32x32, in the first conv's bias add: the input (3x32x32) and the conv and add results (8x32x32)
    assert symbolic.peak_activation_bytes.subs({H: 32, W: 32}) == 4 * (3 + 8 + 8) * 32 * 32
    for h, w in ((32, 32), (40, 48)):
        concrete = analyze(model, (1, 3, h, w)).totals
        assert symbolic.peak_activation_bytes.subs({H: h, W: w}) == concrete.peak_activation_bytes
        assert symbolic.input_bytes.subs({H: h, W: w}) == concrete.input_bytes == 4 * 3 * h * w


def test_bytes_read_in_binary_units():
    assert [format_bytes(n) for n in (0, 512, 1023, 1024, 2048, 602112, 3211264, 1024**3 + 1024**3 // 5)] == \
        ["0 B", "512 B", "1,023 B", "1.0 KiB", "2.0 KiB", "588.0 KiB", "3.06 MiB", "1.20 GiB"]
    assert [format_bytes_delta(n) for n in (0, 25088, -3211264)] == ["", "+24.5 KiB", "-3.06 MiB"]
    # a value that rounds up to 1,024 of one unit reads as 1 of the next (2**20 - 1 B is not "1,024.0 KiB")
    assert [format_bytes(n) for n in (2**20 - 1, 2**20 - 52, 2**30 - 1, -(2**20 - 1))] == \
        ["1.00 MiB", "1,023.9 KiB", "1.00 GiB", "-1.00 MiB"]


# ------------------------------------------------------------------ measured on CPU by this test
def _allocated() -> int:
    return int(core.host_memory_stat_current_value("Allocated", 0))


def _tensors(obj):
    if isinstance(obj, paddle.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)


class _Alive:
    """Bytes of the tensors the hooks have seen that are still alive (views counted once, by data pointer)."""

    def __init__(self):
        self.seen: dict[int, tuple] = {}

    def add(self, obj) -> None:
        for t in _tensors(obj):
            if t._is_initialized():
                self.seen[id(t)] = (weakref.ref(t), t.data_ptr(), int(t.numel()) * t.element_size())

    def total(self) -> int:
        ptrs: dict[int, int] = {}
        for ref, ptr, nbytes in list(self.seen.values()):
            if ref() is not None:
                ptrs[ptr] = max(ptrs.get(ptr, 0), nbytes)
        return sum(ptrs.values())


def measure_inference(model: nn.Layer, x: paddle.Tensor) -> dict:
    """Allocator bytes (from a baseline with model and ``x`` allocated, plus ``x``) at every layer hook."""
    model.eval()
    alive = _Alive()
    alive.add(x)
    x_bytes = int(x.numel()) * x.element_size()
    samples: list[tuple[str, str, int, int]] = []
    names = {id(layer): name for name, layer in model.named_sublayers(include_self=True)}
    handles = []
    base = 0

    def pre(layer, inputs):
        alive.add(inputs)
        samples.append((names[id(layer)], "pre", _allocated() - base + x_bytes, alive.total()))

    def post(layer, inputs, output):
        alive.add(output)
        samples.append((names[id(layer)], "post", _allocated() - base + x_bytes, alive.total()))

    for _, layer in model.named_sublayers(include_self=True):
        handles += [layer.register_forward_pre_hook(pre), layer.register_forward_post_hook(post)]
    try:
        with paddle.no_grad():
            gc.collect()
            base = _allocated()
            core.host_memory_stat_reset_peak_value("Allocated", 0)
            out = model(x)
            peak = int(core.host_memory_stat_peak_value("Allocated", 0)) - base + x_bytes
            del out
    finally:
        for h in handles:
            h.remove()
    return {"samples": samples, "allocator_peak": peak}


def predicted_at_leaf_hooks(live: Liveness) -> list[tuple[str, str, int]]:
    """The model's bytes at each leaf call's pre and post hook (what a hook can measure).

    pre: buffers alive before the call's first op; post: after its last op, the call's own arguments and
    outputs still held (the hook's arguments) and every buffer still needed later; unread results freed.
    """
    out = []
    for call in sorted((c for c in live.trace.calls if c.is_leaf and c.op_end > c.op_start),
                       key=lambda c: c.op_start):
        first, last = call.op_start, call.op_end - 1
        held = {live.root(v) for v in (*call.inputs, *call.outputs) if v}
        pre = sum(b.nbytes for b in live.buffers.values() if b.born < first <= b.dies or
                  (b.born < first and b.value in held))
        post = sum(b.nbytes for b in live.buffers.values()
                   if b.born <= last and (b.dies > last or b.value in held))
        out += [(call.path, "pre", pre), (call.path, "post", post)]
    return out


class _Inception(nn.Layer):
    """Three branches of one input joined by concat (the input is an argument: held while they run)."""

    def __init__(self, c: int):
        super().__init__()
        self.b1 = nn.Conv2D(c, 8, 1)
        self.b3 = nn.Sequential(nn.Conv2D(c, 8, 1), nn.ReLU(), nn.Conv2D(8, 16, 3, padding=1))
        self.bp = nn.Sequential(nn.MaxPool2D(3, stride=1, padding=1), nn.Conv2D(c, 8, 1))

    def forward(self, x):
        return paddle.concat([self.b1(x), self.b3(x), self.bp(x)], axis=1)


class _Residual(nn.Layer):
    def __init__(self, body: nn.Layer, shortcut: nn.Layer):
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


def branchy_blocks() -> nn.Layer:
    """Inception branches, a residual add with a 1x1 shortcut, a functional ReLU - built from blocks, as
    models usually are: every value read twice is a block's argument, no variable outlives its reader."""
    return nn.Sequential(
        nn.Conv2D(3, 16, 3, padding=1), nn.ReLU(),
        _Residual(nn.Sequential(_Inception(16), nn.BatchNorm2D(32)), nn.Conv2D(16, 32, 1)),
        nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(32, 10))


class BranchyLocals(nn.Layer):
    """The same layers in one forward with locals ``s`` and ``y`` that stay named after their last reader."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2D(3, 16, 3, padding=1)
        self.b1, self.b3a, self.b3b = nn.Conv2D(16, 8, 1), nn.Conv2D(16, 8, 1), nn.Conv2D(8, 16, 3, padding=1)
        self.pool, self.bp = nn.MaxPool2D(3, stride=1, padding=1), nn.Conv2D(16, 8, 1)
        self.short, self.bn, self.head = nn.Conv2D(16, 32, 1), nn.BatchNorm2D(32), nn.Linear(32, 10)

    def forward(self, x):
        s = F.relu(self.stem(x))
        y = paddle.concat([self.b1(s), self.b3b(F.relu(self.b3a(s))), self.bp(self.pool(s))], axis=1)
        y = F.relu(self.bn(y) + self.short(s))
        return self.head(paddle.flatten(F.adaptive_avg_pool2d(y, 1), 1))


def _inference(build, shape):
    paddle.seed(0)
    model = build()
    x = paddle.rand(shape)
    measured = measure_inference(model, x)
    trace = trace_for(model, tuple(shape))
    live = Liveness(trace)
    leaves = {c.path for c in trace.calls if c.is_leaf}
    got = [(p, w, b) for p, w, b, _ in measured["samples"] if p in leaves]
    return model, measured, live, got, predicted_at_leaf_hooks(live)


def test_inference_equals_the_allocator_at_every_hook_of_a_block_built_model():
    _, measured, live, got, want = _inference(branchy_blocks, (2, 3, 32, 32))
    assert len(got) == len(want) == 26
    assert got == want  # every leaf hook, to the byte
    assert all(a == w for _, _, a, w in measured["samples"])  # the allocator and the live tensors agree
    peak = inference_peak(live.trace)
    assert peak.bytes == measured["allocator_peak"] == 942_080  # reached inside the residual add: no hook there


def test_inference_peak_of_resnet18_against_the_allocator():
    model, measured, live, got, want = _inference(lambda: paddle.vision.models.resnet18(num_classes=10),
                                                  (1, 3, 64, 64))
    peak = inference_peak(live.trace)
    at_hooks = max(b for _, _, b in got)
    # the model's peak op is batch_norm's, whose two unread 64-float statistics (512 B) no hook outlives
    assert at_hooks <= peak.bytes <= at_hooks + 512
    assert peak.bytes <= measured["allocator_peak"]  # the allocator also holds the kernels' im2col buffers
    assert analyze(model, (1, 3, 64, 64)).totals.peak_activation_bytes == peak.bytes
    # paddle.vision's BasicBlock keeps `identity` named through its last ReLU: never below the model
    assert all(g >= w for (_, _, g), (_, _, w) in zip(got, want))


def test_a_forward_that_keeps_locals_holds_them_longer_than_any_graph_sees():
    _, measured, live, got, want = _inference(BranchyLocals, (2, 3, 32, 32))
    assert [(p, w) for p, w, _ in got] == [(p, w) for p, w, _ in want]
    over = [g - w for (_, _, g), (_, _, w) in zip(got, want)]
    assert min(over) >= 0 and max(over) == 2 * 16 * 32 * 32 * 4 + 2 * 32 * 32 * 32 * 4  # s and y, still named
    assert inference_peak(live.trace).bytes == 942_080  # the same graph as branchy_blocks: the same peak


def measure_step(build, shape, classes: int = 10) -> dict:
    """Allocator bytes over one Adam step (the second: gradients and optimizer state exist), from a baseline
    taken before the model is built; ``labels`` are the int64 labels' bytes (convcalc does not model them)."""
    gc.collect()
    base = _allocated()
    paddle.seed(0)
    model = build()
    model.train()
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    x, y = paddle.rand(shape), paddle.randint(0, classes, [shape[0]])

    def step():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.clear_grad()  # set_to_zero=True: the gradient buffers stay (the steady state)

    step()
    samples: list[int] = []
    handles = []

    def hook(*_):
        samples.append(_allocated() - base)

    def post(layer, inputs, output):
        hook()
        for t in _tensors(output):
            if not t.stop_gradient:
                t.register_hook(hook)

    for _, layer in model.named_sublayers(include_self=True):
        handles += [layer.register_forward_pre_hook(hook), layer.register_forward_post_hook(post)]
    handles += [p.register_hook(hook) for p in model.parameters() if not p.stop_gradient]
    try:
        gc.collect()
        core.host_memory_stat_reset_peak_value("Allocated", 0)
        step()
        peak = int(core.host_memory_stat_peak_value("Allocated", 0)) - base
    finally:
        for h in handles:
            h.remove()
    model.eval()
    return {"model": model, "hooks": max(samples), "allocator_peak": peak, "labels": shape[0] * 8}


@pytest.mark.parametrize("name, build, shape", [
    ("resnet18", lambda: paddle.vision.models.resnet18(num_classes=10), (2, 3, 64, 64)),
    ("branchy_blocks", branchy_blocks, (4, 3, 32, 32)),
], ids=["resnet18", "branchy_blocks"])
def test_training_step_peak_against_the_allocator(name, build, shape):
    m = measure_step(build, shape)
    t = training_cost(m["model"], shape, optimizer="adam").totals
    predicted = t.peak_bytes + m["labels"]
    # the hooks see moments inside the step; the allocator's peak adds the kernels' temporaries
    assert m["hooks"] <= predicted <= m["allocator_peak"], (name, m["hooks"], predicted, m["allocator_peak"])
    assert predicted / m["allocator_peak"] >= 0.99, (name, predicted, m["allocator_peak"])
    assert t.persistent_bytes < m["hooks"]
