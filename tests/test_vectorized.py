"""The vectorised book operators (issue 14): tensor ops only, the loops' numbers, Paddle's gradients.

Truth: Paddle's own ``nn.Conv2D`` / ``nn.MaxPool2D`` / ``nn.AvgPool2D`` with
copied weights (values and gradients), the loop operators, Paddle's static
program (which ops actually run), ``paddle.flops`` and the book's 61,706.
"""

from __future__ import annotations

import numpy as np
import paddle
import pytest
from paddle import nn

from convcalc.errors import ShapeError
from convcalc.models.book import Model_LeNet, Paddle_LeNet, VectorizedConv2D, VectorizedPool2D

# Every Paddle kernel that convolves or pools.  ``unfold`` (im2col: it copies windows into columns, multiplying
# and adding nothing) is allowed, as issue 14 says: the convolution is then the operator's own matmul.
KERNEL_WORDS = ("conv", "pool")


def _assign(value: np.ndarray) -> paddle.ParamAttr:
    return paddle.ParamAttr(initializer=nn.initializer.Assign(np.asarray(value, "float32")))


# ------------------------------------------------------------- no Paddle kernel


def _static_op_names(make_layer, shape: list[int]) -> set[str]:
    """Op names of the forward *and* backward program Paddle builds for ``make_layer()``."""
    main, startup = paddle.static.Program(), paddle.static.Program()
    paddle.enable_static()
    try:
        with paddle.static.program_guard(main, startup):
            x = paddle.static.data("x", shape, "float32")
            x.stop_gradient = False
            loss = paddle.mean(make_layer()(x))
            paddle.static.append_backward(loss)
        return {op.name() for op in main.global_block().ops}
    finally:
        paddle.disable_static()


@pytest.mark.parametrize(
    ("make_layer", "shape"),
    [
        (lambda: VectorizedConv2D(3, 4, 3, stride=2, padding=1), [2, 3, 9, 8]),
        (lambda: VectorizedConv2D(2, 2, 1, bias_attr=False), [1, 2, 5, 5]),
        (lambda: VectorizedPool2D((2, 2), "max", 2), [2, 3, 8, 8]),
        (lambda: VectorizedPool2D((3, 2), "avg", 1), [2, 3, 7, 6]),
        (lambda: Model_LeNet(1, 10, vectorized=True), [4, 1, 32, 32]),
    ],
)
def test_no_paddle_conv_or_pool_kernel_forward_or_backward(make_layer, shape) -> None:
    names = _static_op_names(make_layer, shape)
    assert any(n.endswith("_grad") for n in names)  # the backward is really there
    assert any("matmul" in n or "max" in n or "mean" in n for n in names)
    assert not [n for n in names if any(w in n for w in KERNEL_WORDS)]


def test_the_kernel_check_can_fail_on_paddle_layers() -> None:
    names = _static_op_names(lambda: Paddle_LeNet(1), [2, 1, 32, 32])
    assert {"pd_op.conv2d", "pd_op.pool2d", "pd_op.conv2d_grad", "pd_op.pool2d_grad"} <= names


def test_eager_forward_and_backward_call_no_conv_or_pool_function(monkeypatch) -> None:
    from paddle import _C_ops
    from paddle.nn import functional as F

    def refuse(*args, **kwargs):
        raise AssertionError("a Paddle conv/pool kernel was called")

    for module in (_C_ops, F):
        for name in dir(module):
            if any(w in name.lower() for w in KERNEL_WORDS) and callable(getattr(module, name)):
                monkeypatch.setattr(module, name, refuse)
    with pytest.raises(AssertionError, match="kernel was called"):
        Paddle_LeNet(1)(paddle.randn([1, 1, 32, 32]))  # the patch does bite
    model = Model_LeNet(1, 10, vectorized=True)
    x = paddle.randn([2, 1, 32, 32])
    x.stop_gradient = False
    model(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


# ------------------------------------------------------- Paddle's own layers


CONV_CONFIGS = [
    # in, out, k, stride, padding, bias, H, W
    (1, 6, 5, 1, 0, True, 32, 32),
    (3, 8, 3, 1, 1, True, 9, 11),
    (4, 5, 3, 2, 1, False, 10, 7),
    (2, 3, 2, 3, 2, True, 8, 9),
    (6, 16, 5, 1, 0, True, 14, 14),
    (5, 4, 1, 2, 0, True, 6, 5),
    (2, 2, 4, 2, 3, False, 5, 5),
    (16, 12, 5, 1, 0, True, 5, 5),  # the kernel covers the whole input (LeNet's conv5)
    (3, 4, 3, 2, 1, True, 1, 1),  # ... the whole padded input
]


@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_conv_equals_paddle_conv2d_values_and_gradients(config: tuple) -> None:
    cin, cout, k, s, p, has_bias, h, w = config
    rng = np.random.default_rng(sum(config))
    weight = rng.standard_normal((cout, cin, k, k)).astype("float32")
    bias = rng.standard_normal((cout, 1)).astype("float32")
    x_np = rng.standard_normal((3, cin, h, w)).astype("float32")
    ours = VectorizedConv2D(cin, cout, k, stride=s, padding=p, weight_attr=_assign(weight),
                            bias_attr=_assign(bias) if has_bias else False)
    theirs = nn.Conv2D(cin, cout, k, stride=s, padding=p, weight_attr=_assign(weight),
                       bias_attr=_assign(bias.reshape(-1)) if has_bias else False)
    results = []
    for layer in (ours, theirs):
        x = paddle.to_tensor(x_np, stop_gradient=False)
        out = layer(x)
        ramp = paddle.to_tensor(np.linspace(-1, 1, out.size, dtype="float32").reshape(out.shape))
        (out * ramp).sum().backward()
        grads = [x.grad.numpy(), layer.weight.grad.numpy()]
        if has_bias:
            grads.append(layer.bias.grad.numpy().reshape(-1))
        results.append((out.numpy(), *grads))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)
    assert (ours.bias is None) == (not has_bias)
    if has_bias:
        assert list(ours.bias.shape) == [cout, 1]  # the book's bias shape is kept


POOL_CONFIGS = [
    # size, stride, H, W
    ((2, 2), 2, 8, 8),
    ((2, 2), 2, 7, 9),  # windows tile the input, the odd last row/column is dropped
    ((3, 3), 3, 10, 11),
    ((3, 2), 1, 5, 6),
    ((2, 3), 2, 7, 8),
    ((3, 3), 2, 9, 9),
]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_pool_equals_paddle_pool_values_and_gradients(mode: str, config: tuple) -> None:
    size, stride, h, w = config
    x_np = np.random.default_rng(h * w + stride).standard_normal((2, 4, h, w)).astype("float32")
    reference = (nn.MaxPool2D if mode == "max" else nn.AvgPool2D)(size, stride)
    results = []
    for layer in (VectorizedPool2D(size, mode, stride), reference):
        x = paddle.to_tensor(x_np, stop_gradient=False)
        out = layer(x)
        (out * out).sum().backward()
        results.append((out.numpy(), x.grad.numpy()))
    (vec, vec_dx), (ref, ref_dx) = results
    assert vec.shape == ref.shape
    np.testing.assert_allclose(vec, ref, atol=1e-6)
    np.testing.assert_allclose(vec_dx, ref_dx, atol=1e-5)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_pool_without_gradient_equals_paddle_pool(mode: str, config: tuple) -> None:
    # inference (no_grad, or an input that needs no gradient) takes a shorter path for tiling max windows
    size, stride, h, w = config
    x = paddle.to_tensor(np.random.default_rng(h + w).standard_normal((3, 2, h, w)).astype("float32"))
    reference = (nn.MaxPool2D if mode == "max" else nn.AvgPool2D)(size, stride)(x).numpy()
    with paddle.no_grad():
        np.testing.assert_allclose(VectorizedPool2D(size, mode, stride)(x).numpy(), reference, atol=1e-6)
    np.testing.assert_allclose(VectorizedPool2D(size, mode, stride)(x).numpy(), reference, atol=1e-6)


def test_lenet_inference_equals_training_mode_forward() -> None:
    model = Model_LeNet(1, 10, vectorized=True)
    x = paddle.randn([5, 1, 32, 32])
    with paddle.no_grad():
        fast = model(x).numpy()
    x.stop_gradient = False
    np.testing.assert_allclose(fast, model(x).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("size", "stride"), [((2, 2), 2), ((3, 3), 3), ((2, 2), 1), ((3, 2), 2)])
def test_max_pool_ties_get_the_loop_versions_gradient(size: tuple, stride: int) -> None:
    from convcalc.models.book import Pool2D

    # small integers: many ties, three of four in a window too (the loop's paddle.max shares the gradient)
    x_np = np.array([[3, 3, 1, 3, 2, 2], [3, 1, 3, 3, 2, 1], [0, 0, 1, 2, 1, 1], [0, 1, 2, 2, 0, 1],
                     [1, 1, 1, 1, 1, 1], [2, 0, 2, 1, 0, 2]], "float32").reshape(1, 1, 6, 6)
    results = []
    for cls in (Pool2D, VectorizedPool2D):
        x = paddle.to_tensor(x_np, stop_gradient=False)
        out = cls(size, "max", stride)(x)
        ramp = paddle.arange(1, out.size + 1, dtype="float32").reshape(out.shape)
        (out * ramp).sum().backward()
        results.append((out.numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(results[1][0], results[0][0])
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6)


@pytest.mark.parametrize(
    "make",
    [lambda: (VectorizedConv2D(1, 1, 5), [1, 1, 4, 4]), lambda: (VectorizedPool2D((3, 3), "max", 1), [1, 1, 2, 2])],
)
def test_too_small_input_is_a_shape_error(make) -> None:
    layer, shape = make()
    with pytest.raises(ShapeError, match="smaller than"):
        layer(paddle.zeros(shape))


# --------------------------------------------------------- convcalc's report


def test_report_of_vectorised_lenet_equals_paddle_lenets() -> None:
    from convcalc.analysis import analyze

    def rows(report):
        return [(r.output_shape, r.params_trainable + r.params_non_trainable, r.flops, r.rf_h, r.rf_w)
                for r in report.records]

    for convention in ("paddle", "macs", "flops"):
        ours = analyze(Model_LeNet(1, 10, vectorized=True), (1, 32, 32), convention=convention)
        theirs = analyze(Paddle_LeNet(1, 10), (1, 32, 32), convention=convention)
        assert [r.kind for r in ours.records][:3] == ["VectorizedConv2D", "relu", "VectorizedPool2D"]
        assert rows(ours) == rows(theirs)
        assert ours.totals.params == theirs.totals.params == 61706  # the book's total (5.3.2)
        assert ours.totals.flops == theirs.totals.flops
        if convention == "paddle":
            assert int(ours.totals.flops) == paddle.flops(Paddle_LeNet(1, 10), [1, 1, 32, 32])
    assert ours.records[4].rf_h is not None  # conv3 has a receptive field, not "unknown after slice"


def test_a_users_model_with_unfold_is_reported_with_unknown_fields_not_a_crash() -> None:
    # F.unfold changes the rank ([B, C, H, W] -> [B, C*k*k, L]); the field walk used to index a lost axis
    from convcalc.analysis import analyze

    class Patches(nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(27 * 64, 10)

        def forward(self, x):
            cols = nn.functional.unfold(x, [3, 3], strides=1, paddings=1)
            return self.fc(paddle.reshape(cols, [-1, 27 * 64]))

    model = Patches()
    report = analyze(model, (2, 3, 8, 8))
    assert int(report.totals.params) == sum(int(np.prod(p.shape)) for p in model.parameters())
    assert report.gaps.ops_without_rf_rule == ("pd_op.unfold",)
    assert not report.gaps.ops_without_rule  # unfold copies values: no arithmetic, counted as 0
    assert int(report.totals.flops) == paddle.flops(model, [2, 3, 8, 8])  # the Linear's, as Paddle counts
