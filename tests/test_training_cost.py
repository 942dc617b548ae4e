"""Training cost: LeNet's backward by hand, frozen and first-layer semantics by Paddle's own backward program,
memory by the real optimizer's state and the parameter objects.

Truth here never comes from convcalc: the per-layer counts are worked out by
hand from the definitions in docs/formulas.md ("Backward"); which gradients
exist is read from the grad ops Paddle builds (``append_backward``) in the
test itself; the optimizer state from ``paddle.optimizer`` after one step.
"""

from __future__ import annotations

import math

import pytest

paddle = pytest.importorskip("paddle")
import paddle.nn as nn  # noqa: E402
import paddle.nn.functional as F  # noqa: E402

from convcalc.analysis.training import training_cost  # noqa: E402
from convcalc.errors import ConvcalcError  # noqa: E402
from convcalc.models.book import Paddle_LeNet  # noqa: E402

B = 2  # batch


def _rows(tc) -> dict:
    return {r.path: r for r in tc.rows}


# ------------------------------------------------------------------ LeNet by hand
# (path, (dx MACs, dx FLOPs), (dW MACs, dW FLOPs)) at batch 2, input 1x32x32.  A conv's dx/dW MACs are
# B*P*(D/g)*pairs (pairs: output position x tap landing inside the input); dx FLOPs 2*MACs - the input values
# reached, dW FLOPs 2*MACs - the weights, a bias's gradient B*P*M'*N' - P adds; a linear's dx 2*B*in*out - B*in,
# dW 2*B*in*out - in*out, its bias B*out - out; relu 1 per value; max pool 1 per output; avg pool (windows
# tiling the input) 1 divide per output.
LENET_BY_HAND = [
    ("conv1", (0, 0), (B * 6 * 1 * 28 * 5 * 28 * 5, 2 * (B * 6 * 1 * 28 * 5 * 28 * 5) - 6 * 25 + (B * 6 * 784 - 6))),
    (":relu", (0, B * 6 * 28 * 28), (0, 0)),
    ("pool2", (0, B * 6 * 14 * 14), (0, 0)),
    ("conv3", (B * 16 * 6 * 50 * 50, 2 * (B * 16 * 6 * 50 * 50) - B * 6 * 14 * 14),
     (B * 16 * 6 * 50 * 50, 2 * (B * 16 * 6 * 50 * 50) - 16 * 6 * 25 + (B * 16 * 100 - 16))),
    (":relu#2", (0, B * 16 * 10 * 10), (0, 0)),
    ("pool4", (0, B * 16 * 5 * 5), (0, 0)),
    ("conv5", (B * 120 * 16 * 5 * 5, 2 * (B * 120 * 16 * 5 * 5) - B * 16 * 5 * 5),
     (B * 120 * 16 * 5 * 5, 2 * (B * 120 * 16 * 5 * 5) - 120 * 16 * 25 + (B * 120 - 120))),
    (":relu#3", (0, B * 120), (0, 0)),
    (":squeeze", (0, 0), (0, 0)),
    ("linear6", (B * 120 * 84, 2 * B * 120 * 84 - B * 120), (B * 120 * 84, 2 * B * 120 * 84 - 120 * 84 + 84)),
    (":relu#4", (0, B * 84), (0, 0)),
    ("linear7", (B * 84 * 10, 2 * B * 84 * 10 - B * 84), (B * 84 * 10, 2 * B * 84 * 10 - 84 * 10 + 10)),
]

# bytes of the float32 values each row's backward reads (conv/linear: their input; relu: its output;
# max/avg pool: input and output)
F32 = 4
LENET_SAVED = {
    "conv1": B * 32 * 32 * F32, ":relu": B * 6 * 784 * F32, "pool2": (B * 6 * 784 + B * 6 * 196) * F32,
    "conv3": B * 6 * 196 * F32, ":relu#2": B * 1600 * F32, "pool4": (B * 1600 + B * 400) * F32,
    "conv5": B * 400 * F32, ":relu#3": B * 120 * F32, ":squeeze": 0, "linear6": B * 120 * F32,
    ":relu#4": B * 84 * F32, "linear7": B * 84 * F32,
}


@pytest.fixture(scope="module")
def lenet_costs():
    paddle.seed(0)
    model = Paddle_LeNet(in_channels=1, num_classes=10)
    return {c: training_cost(model, (B, 1, 32, 32), convention=c) for c in ("paddle", "macs", "flops")}


@pytest.mark.parametrize("path, dx, dw", LENET_BY_HAND, ids=[p for p, _, _ in LENET_BY_HAND])
def test_lenet_backward_by_hand(lenet_costs, path, dx, dw):
    macs, flops = _rows(lenet_costs["macs"])[path], _rows(lenet_costs["flops"])[path]
    assert (macs.backward_input, flops.backward_input) == dx
    assert (macs.backward_weight, flops.backward_weight) == dw
    assert flops.saved_bytes == LENET_SAVED[path]


def test_lenet_paddle_convention_is_the_forward_per_gradient(lenet_costs):
    rows = _rows(lenet_costs["paddle"])
    conv1 = B * 28 * 28 * 6 * (25 + 1)  # paddle.flops's conv: numel(out) * (D*U*V + bias)
    assert (rows["conv1"].forward, rows["conv1"].backward_input, rows["conv1"].backward_weight) == (conv1, 0, conv1)
    conv3 = B * 10 * 10 * 16 * (6 * 25 + 1)
    assert (rows["conv3"].backward_input, rows["conv3"].backward_weight) == (conv3, conv3)
    avg = B * 16 * 5 * 5  # AvgPool2D: numel(out); no weights
    assert (rows["pool4"].backward_input, rows["pool4"].backward_weight) == (avg, 0)


def test_lenet_totals(lenet_costs):
    t = lenet_costs["flops"].totals
    by_hand = sum(dx[1] + dw[1] for _, dx, dw in LENET_BY_HAND)
    assert t.backward_input + t.backward_weight == by_hand
    assert t.step == t.forward + by_hand
    # every buffer saved once: the input, the relu outputs, the pool outputs; squeeze's output (read by
    # linear6) is a view of relu#3's output, one buffer (eager Paddle: same data_ptr, 0 bytes allocated)
    values = B * (32 * 32 + 6 * 784 + 6 * 196 + 1600 + 400 + 120 + 84)
    assert t.activations_bytes == values * F32


# ------------------------------------------------------------------ which gradients Paddle builds
def _paddle_grads(model, shape):
    """{forward op index: (grad op name, {result name: built?})} read straight from Paddle's backward program."""
    from paddle.static import InputSpec

    model.train()
    static = paddle.jit.to_static(model, input_spec=[InputSpec(list(shape), "float32", name="x", stop_gradient=True)],
                                  full_graph=True)
    cp = static.forward.concrete_program
    program = cp.main_program
    paddle.enable_static()
    try:
        with paddle.static.program_guard(program):
            paddle.static.append_backward(paddle.mean(cp.outputs[0]))
    finally:
        paddle.disable_static()
    out = []
    for op in program.global_block().ops:
        if op.name() in ("pd_op.conv2d_grad", "pd_op.matmul_grad"):
            built = {}
            for name, r in zip(op.get_output_names(), op.results()):
                built[name] = bool(r.initialized())
            out.append((op.name(), built))
    return out[::-1]  # forward order


class TwoConvs(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2D(8, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 4)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.fc(paddle.flatten(x, 1))


def _freeze(layer):
    for p in layer.parameters():
        p.stop_gradient = True


@pytest.mark.parametrize("frozen", ["conv2", "conv1", "conv1+conv2"])
def test_frozen_and_first_layer_semantics_match_paddles_grad_ops(frozen):
    paddle.seed(1)
    model = TwoConvs()
    for name in frozen.split("+"):
        _freeze(getattr(model, name))
    shape = (B, 3, 8, 8)
    grads = _paddle_grads(model, shape)
    model.eval()
    rows = _rows(training_cost(model, shape, convention="flops"))
    by_layer = {"conv1": None, "conv2": None, "fc": None}
    convs = [g for g in grads if g[0] == "pd_op.conv2d_grad"]
    # Paddle builds a conv2d_grad only for convs on a path from a trainable parameter to the loss
    layers_with_grad = [n for n in ("conv1", "conv2") if n not in frozen.split("+") or
                        (n == "conv2" and "conv1" not in frozen.split("+"))]
    assert len(convs) == len(layers_with_grad)
    for name, (_, built) in zip(layers_with_grad, convs):
        by_layer[name] = built
    by_layer["fc"] = next(b for n, b in grads if n == "pd_op.matmul_grad")
    for name, built in by_layer.items():
        row = rows[name]
        if built is None:
            assert (row.backward_input, row.backward_weight, row.input_grad, row.weight_grad) == (0, 0, False, False)
            continue
        x_grad = built.get("input_grad", built.get("x_grad"))
        w_grad = built.get("filter_grad", built.get("y_grad"))
        assert row.input_grad == x_grad, name
        assert (row.backward_input > 0) == x_grad, name
        assert row.weight_grad == w_grad, name


def test_first_layer_not_a_conv_gets_no_input_gradient():
    class MLP(nn.Layer):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(20, 30)
            self.l2 = nn.Linear(30, 5)

        def forward(self, x):
            return self.l2(F.tanh(self.l1(x)))

    rows = _rows(training_cost(MLP(), (4, 20), convention="flops"))
    assert not rows["l1"].input_grad and rows["l1"].backward_input == 0
    assert rows["l1"].backward_weight == (2 * 4 * 20 * 30 - 20 * 30) + (4 * 30 - 30)
    assert rows[":tanh"].backward_input == 3 * 4 * 30  # dy * (1 - y*y)
    assert rows["l2"].input_grad and rows["l2"].backward_input == 2 * 4 * 30 * 5 - 4 * 30


# ------------------------------------------------------------------ memory
def _one_step(model, optimizer, shape):
    model.train()
    x = paddle.randn(list(shape))
    loss = paddle.mean(model(x))
    loss.backward()
    optimizer.step()
    return optimizer


def _accumulator_bytes(optimizer) -> int:
    total = 0
    for per_param in optimizer._accumulators.values():
        for t in per_param.values():
            total += int(math.prod(t.shape)) * t.element_size()
    return total


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adamw"])
def test_optimizer_state_is_the_real_optimizers(name):
    paddle.seed(2)
    model = Paddle_LeNet(in_channels=1)
    _freeze(model.conv1)
    make = {"sgd": paddle.optimizer.SGD, "momentum": paddle.optimizer.Momentum, "adam": paddle.optimizer.Adam,
            "adamw": paddle.optimizer.AdamW}[name]
    opt = _one_step(model, make(parameters=model.parameters()), (B, 1, 32, 32))
    model.eval()
    tc = training_cost(model, (B, 1, 32, 32), optimizer=name)
    assert tc.totals.optimizer_bytes == _accumulator_bytes(opt)
    assert sum(r.optimizer_bytes for r in tc.rows) == tc.totals.optimizer_bytes


def test_params_and_grads_by_parameter_objects():
    paddle.seed(3)
    model = Paddle_LeNet(in_channels=1)
    _freeze(model.conv3)
    model.train()
    paddle.mean(model(paddle.randn([B, 1, 32, 32]))).backward()
    params = sum(int(math.prod(p.shape)) * 4 for p in model.parameters())
    grads = sum(int(math.prod(p.grad.shape)) * 4 for p in model.parameters() if p.grad is not None)
    model.eval()
    tc = training_cost(model, (B, 1, 32, 32), optimizer="adam", samples=1000)
    t = tc.totals
    assert (t.params_bytes, t.grads_bytes, t.master_bytes) == (params, grads, 0)
    assert t.peak_bytes == t.persistent_bytes + t.batch_bytes + t.in_flight_bytes
    assert t.persistent_bytes == t.params_bytes + t.grads_bytes + t.optimizer_bytes + t.master_bytes
    assert t.batch_bytes == B * 32 * 32 * 4 and t.in_flight_bytes >= t.activations_bytes - t.batch_bytes
    assert (t.steps_per_epoch, t.epoch) == (500, 500 * t.step)
    assert not _rows(tc)["conv3"].weight_grad and _rows(tc)["conv3"].input_grad


def test_dtype_halves_values_and_adds_master_weights():
    model = Paddle_LeNet(in_channels=1)
    full = training_cost(model, (B, 1, 32, 32)).totals
    half = training_cost(model, (B, 1, 32, 32), dtype="bfloat16", optimizer="momentum").totals
    trainable = sum(int(math.prod(p.shape)) for p in model.parameters())
    assert half.params_bytes * 2 == full.params_bytes and half.grads_bytes * 2 == full.grads_bytes
    assert half.activations_bytes * 2 == full.activations_bytes  # no fixed-width statistics in LeNet
    assert half.master_bytes == 4 * trainable and half.optimizer_bytes == 4 * trainable


def test_bad_options_name_the_choices():
    model = Paddle_LeNet(in_channels=1)
    with pytest.raises(ConvcalcError, match="adam"):
        training_cost(model, (1, 1, 32, 32), optimizer="adagrad")
    with pytest.raises(ConvcalcError, match="float16"):
        training_cost(model, (1, 1, 32, 32), dtype="int8")
    with pytest.raises(ConvcalcError, match="samples"):
        training_cost(model, (1, 1, 32, 32), samples=0)
