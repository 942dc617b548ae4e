"""The book's operators and models (book §5.1.2, 5.1.6, 5.2.1.2, 5.2.2, 5.3.2, 5.4.1).

Expected numbers come from the book's printed outputs or from Paddle's own
layers run in the test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import paddle
import pytest
from paddle import nn
from paddle.nn import functional as F

from convcalc.errors import InvalidParameterError
from convcalc.models.book import (
    Conv2D,
    Model_LeNet,
    Model_ResNet18,
    Paddle_LeNet,
    Pool2D,
    ResBlock,
    SimpleConv2D,
    VectorizedConv2D,
    VectorizedPool2D,
)

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_10223b0b9583064c.txt"
CONVS = [Conv2D, VectorizedConv2D]
POOLS = [Pool2D, VectorizedPool2D]


def _assign(value: np.ndarray) -> paddle.ParamAttr:
    return paddle.ParamAttr(initializer=nn.initializer.Assign(np.asarray(value, "float32")))


# --------------------------------------------------------------- seed examples


def test_simple_conv_seed_5_1_2_and_5_1_6() -> None:
    x = paddle.to_tensor([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
    conv = SimpleConv2D(kernel_size=2, weight_attr=_assign([[0.0, 1.0], [2.0, 3.0]]))
    np.testing.assert_array_equal(conv(x).numpy(), [[[25.0, 31.0], [43.0, 49.0]]])
    inputs = paddle.randn([2, 8, 8])
    assert list(SimpleConv2D(kernel_size=3, padding=1)(inputs).shape) == [2, 8, 8]
    assert list(SimpleConv2D(kernel_size=3, stride=2, padding=1)(inputs).shape) == [2, 4, 4]
    reference = F.conv2d(inputs.unsqueeze(1), paddle.ones([1, 1, 3, 3]), stride=2, padding=1)
    np.testing.assert_allclose(SimpleConv2D(3, stride=2, padding=1)(inputs).numpy(), reference.numpy()[:, 0], atol=1e-5)


@pytest.mark.parametrize("cls", CONVS)
def test_single_channel_conv_seed_5_1_2(cls: type) -> None:
    x = paddle.to_tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])
    conv = cls(1, 1, kernel_size=2, weight_attr=_assign([[[[0.0, 1.0], [2.0, 3.0]]]]))
    np.testing.assert_array_equal(conv(x).numpy(), [[[[25.0, 31.0], [43.0, 49.0]]]])


@pytest.mark.parametrize("cls", CONVS)
def test_multi_channel_conv_seed_5_2_1_2(cls: type) -> None:
    x = paddle.to_tensor(
        [[[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]]
    )
    conv = cls(in_channels=2, out_channels=3, kernel_size=2)  # book defaults: w=1, b=0
    assert list(conv.weight.shape) == [3, 2, 2, 2]
    assert list(conv.bias.shape) == [3, 1]
    out = conv(x).numpy()
    assert out.shape == (1, 3, 2, 2)
    for p in range(3):
        np.testing.assert_array_equal(out[0, p], [[20.0, 28.0], [44.0, 52.0]])
    reference = nn.Conv2D(
        2,
        3,
        2,
        weight_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(1.0)),
        bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)),
    )
    np.testing.assert_array_equal(out, reference(x).numpy())


@pytest.mark.parametrize("cls", POOLS)
@pytest.mark.parametrize(
    ("mode", "expected", "reference"),
    [
        ("max", [[6.0, 8.0], [14.0, 16.0]], nn.MaxPool2D),
        ("avg", [[3.5, 5.5], [11.5, 13.5]], nn.AvgPool2D),
    ],
)
def test_pool_seed_5_2_2(cls: type, mode: str, expected: list, reference: type) -> None:
    x = paddle.arange(1, 17, dtype="float32").reshape([1, 1, 4, 4])
    pool = cls(size=(2, 2), mode=mode, stride=2)
    out = pool(x).numpy()
    np.testing.assert_allclose(out, [[expected]])
    np.testing.assert_allclose(out, reference(kernel_size=(2, 2), stride=2)(x).numpy())


@pytest.mark.parametrize("cls", CONVS)
@pytest.mark.parametrize(("stride", "size"), [(1, 8), (2, 4)])
def test_padding_and_stride_shapes_seed_5_1_6(cls: type, stride: int, size: int) -> None:
    x = paddle.randn([2, 1, 8, 8])
    conv = cls(1, 1, kernel_size=3, stride=stride, padding=1)
    assert list(conv(x).shape) == [2, 1, size, size]


def test_attributes_other_code_reads() -> None:
    conv = Conv2D(3, 4, 5, stride=2, padding=1)
    assert (conv.in_channels, conv.out_channels, conv.stride, conv.padding) == (3, 4, 2, 1)
    assert list(conv.weight.shape) == [4, 3, 5, 5] and list(conv.bias.shape) == [4, 1]
    pool = Pool2D(size=(2, 3), mode="avg", stride=2)
    assert (pool.mode, pool.h, pool.w, pool.stride) == ("avg", 2, 3, 2)
    assert Conv2D(1, 2, 3, bias_attr=False).bias is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: Conv2D(0, 1, 3),
        lambda: Conv2D(1, 1, 3, stride=0),
        lambda: Conv2D(1, 1, 3, padding=-1),
        lambda: Pool2D(mode="min"),
        lambda: Pool2D(size=2),
        lambda: Pool2D(stride=0),
    ],
)
def test_bad_arguments_raise_with_fix(make) -> None:
    with pytest.raises(InvalidParameterError, match="pass|use"):
        make()


# ------------------------------------------------------- loop vs vectorised


CONV_CONFIGS = [
    # in, out, k, stride, padding, H, W
    (1, 1, 3, 1, 0, 5, 5),
    (2, 3, 2, 1, 1, 4, 5),
    (3, 2, 3, 2, 1, 7, 6),
    (2, 2, 1, 3, 2, 5, 4),
    (1, 2, 4, 2, 0, 8, 7),
]


@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_vectorized_conv_matches_loop_values_and_gradients(config: tuple) -> None:
    cin, cout, k, s, p, h, w = config
    rng = np.random.default_rng(sum(config))
    weight = rng.standard_normal((cout, cin, k, k)).astype("float32")
    bias = rng.standard_normal((cout, 1)).astype("float32")
    x_np = rng.standard_normal((2, cin, h, w)).astype("float32")
    results = []
    for cls in CONVS:
        conv = cls(cin, cout, k, stride=s, padding=p, weight_attr=_assign(weight), bias_attr=_assign(bias))
        x = paddle.to_tensor(x_np, stop_gradient=False)
        out = conv(x)
        ramp = paddle.to_tensor(np.arange(out.size, dtype="float32").reshape(out.shape))
        (out * ramp).sum().backward()
        grads = (x.grad.numpy(), conv.weight.grad.numpy(), conv.bias.grad.numpy())
        results.append((out.numpy(), *grads))
    (loop, loop_dx, loop_dw, loop_db), (vec, vec_dx, vec_dw, vec_db) = results
    np.testing.assert_allclose(vec, loop, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(vec_dx, loop_dx, atol=1e-4, rtol=1e-5)
    np.testing.assert_allclose(vec_dw, loop_dw, atol=1e-4, rtol=1e-5)
    np.testing.assert_allclose(vec_db, loop_db, atol=1e-4, rtol=1e-5)
    assert loop_db.shape == (cout, 1)


@pytest.mark.parametrize("config", CONV_CONFIGS)
def test_conv_matches_paddle_conv2d_with_copied_weights(config: tuple) -> None:
    cin, cout, k, s, p, h, w = config
    x = paddle.randn([2, cin, h, w])
    ours = Conv2D(
        cin,
        cout,
        k,
        stride=s,
        padding=p,
        weight_attr=paddle.ParamAttr(),
        bias_attr=_assign(np.random.default_rng(1).standard_normal((cout, 1))),
    )
    theirs = nn.Conv2D(cin, cout, k, stride=s, padding=p)
    theirs.weight.set_value(ours.weight.numpy())
    theirs.bias.set_value(ours.bias.numpy().reshape(-1))
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize(("size", "stride", "h", "w"), [((2, 2), 2, 6, 6), ((3, 2), 1, 5, 6), ((2, 3), 2, 7, 8)])
def test_vectorized_pool_matches_loop_values_and_gradients(mode: str, size: tuple, stride: int, h: int, w: int) -> None:
    x_np = np.random.default_rng(h * w).standard_normal((2, 3, h, w)).astype("float32")
    results = []
    for cls in POOLS:
        x = paddle.to_tensor(x_np, stop_gradient=False)
        out = cls(size=size, mode=mode, stride=stride)(x)
        (out * out).sum().backward()
        results.append((out.numpy(), x.grad.numpy()))
    (loop, loop_dx), (vec, vec_dx) = results
    np.testing.assert_allclose(vec, loop, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(vec_dx, loop_dx, atol=1e-5, rtol=1e-5)
    # size is (height, width), as in paddle.nn.MaxPool2D
    reference = (nn.MaxPool2D if mode == "max" else nn.AvgPool2D)(size, stride)
    np.testing.assert_allclose(loop, reference(paddle.to_tensor(x_np)).numpy(), atol=1e-6)


# ----------------------------------------------------------------- models


def _summary_rows(model: nn.Layer, shape: tuple, capsys: pytest.CaptureFixture) -> tuple:
    info = paddle.summary(model, shape)
    text = capsys.readouterr().out
    return _parse_rows(text), info


_ROW = re.compile(r"^\s*([A-Za-z0-9]+)-\d+\s+(\[\[.*?\]\])\s+(\[.*?\])\s+([\d,]+)\s*$")


def _parse_rows(text: str) -> list[tuple[str, str, str, int]]:
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            kind, shape_in, shape_out, params = match.groups()
            rows.append((kind, shape_in, shape_out, int(params.replace(",", ""))))
    return rows


def _seed_table(after: str) -> list[tuple[str, str, str, int]]:
    """The first paddle.summary table printed in the book after the line ``after``."""
    text = SEED.read_text(encoding="utf-8")
    start = text.index(after)
    table = text[start : text.index("Total params", start)]
    return _parse_rows(table)


@pytest.fixture(scope="module")
def seed_available() -> None:
    if not SEED.exists():
        pytest.skip(f"seed not found at {SEED}")


def test_paddle_lenet_summary_equals_seed(capsys, seed_available) -> None:
    rows, info = _summary_rows(Paddle_LeNet(in_channels=1, num_classes=10), (1, 1, 32, 32), capsys)
    seed = _seed_table("params_info = paddle.summary(model, (1, 1, 32, 32))")
    assert len(seed) == 7
    assert rows == seed
    assert int(info["total_params"]) == 61706


def test_model_lenet_rows_and_parameter_shapes_seed_5_3_2(capsys, seed_available) -> None:
    model = Model_LeNet(in_channels=1, num_classes=10, vectorized=True)
    rows, info = _summary_rows(model, (1, 1, 32, 32), capsys)
    seed = _seed_table("params_info = paddle.summary(model, (1, 1, 32, 32))")
    # same shapes and parameter counts as the book's Paddle_LeNet table, row by row
    assert [r[1:] for r in rows] == [r[1:] for r in seed]
    assert int(info["total_params"]) == 61706
    # the book's printout of Model_LeNet's weights (5.3.2): [out, in, k, k] and [out, 1]
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert shapes["conv1.weight"] == [6, 1, 5, 5] and shapes["conv1.bias"] == [6, 1]
    assert shapes["conv3.weight"] == [16, 6, 5, 5] and shapes["conv3.bias"] == [16, 1]
    assert shapes["conv5.weight"] == [120, 16, 5, 5] and shapes["conv5.bias"] == [120, 1]
    assert shapes["linear6.weight"] == [120, 84] and shapes["linear7.bias"] == [10]


def test_loop_and_vectorized_lenet_share_state_and_outputs() -> None:
    loop = Model_LeNet(1, 10)
    fast = Model_LeNet(1, 10, vectorized=True)
    assert list(loop.state_dict()) == list(fast.state_dict())
    fast.set_state_dict(loop.state_dict())
    x = paddle.randn([1, 1, 32, 32])
    np.testing.assert_allclose(fast(x).numpy(), loop(x).numpy(), atol=1e-5, rtol=1e-5)
    assert isinstance(fast.conv1, Conv2D) and isinstance(fast.pool2, Pool2D)


def test_model_resnet18_summary_equals_seed_row_by_row(capsys, seed_available) -> None:
    rows, info = _summary_rows(Model_ResNet18(1, 10), (1, 1, 32, 32), capsys)
    seed = _seed_table("model = Model_ResNet18(in_channels=1, num_classes=10, use_residual=True)")
    assert len(seed) == 53
    assert rows == seed
    assert int(info["total_params"]) == 11185034 == sum(r[3] for r in seed)


def test_resnet18_without_residual_has_same_layers() -> None:
    plain, residual = Model_ResNet18(1, 10, use_residual=False), Model_ResNet18(1, 10)
    assert list(plain.state_dict()) == list(residual.state_dict())
    x = paddle.randn([2, 1, 32, 32])
    plain.eval()
    assert list(plain(x).shape) == [2, 10]


def test_resblock_shortcut_only_when_shape_changes() -> None:
    same, down = ResBlock(8, 8), ResBlock(8, 16, stride=2)
    assert not same.use_1x1conv and not hasattr(same, "shortcut")
    assert down.use_1x1conv and list(down.shortcut.weight.shape) == [16, 8, 1, 1]
    assert list(down(paddle.randn([1, 8, 6, 6])).shape) == [1, 16, 3, 3]
