"""Every worked number in the book chapter comes out of ``convcalc.formulas``.

Expected values are the book's own (section or equation number in each test),
or hand-worked from the book's definitions where noted.
"""

from __future__ import annotations

import pytest
import sympy

from convcalc import formulas as f
from convcalc.errors import InvalidParameterError, MisalignedBranchesError, ShapeError
from convcalc.explain.layers import explain_layer


# --------------------------------------------------------------- 5.1.1 - 5.1.3
def test_3x3_input_2x2_kernel_gives_2x2():  # 5.2/5.3 (figure 5.2, output [1, 2, 2])
    assert f.narrow_conv_output_size(3, 2) == 2
    assert f.conv_output_size(3, 2) == 2


def test_fully_connected_neuron_vs_kernel_params():  # 5.1.3
    assert f.linear_params(32 * 32, 1) == 1025
    assert f.kernel_params(3) == 9


def test_3x3_kernel_on_32x32_flops():  # 5.4: 30 x 30 x 3 x 3 = 8100
    out = f.narrow_conv_output_size(32, 3)
    assert out == 30
    assert f.conv_flops(out, out, 1, 1, 3, bias=False) == 8100


# --------------------------------------------------------------- 5.1.5 - 5.1.6
@pytest.mark.parametrize("stride, expected", [(1, 8), (2, 4)])
def test_stride_and_padding_shapes(stride, expected):  # 5.1.6: [2, 8, 8] -> [2, 8, 8] / [2, 4, 4]
    assert f.conv_output_size(8, 3, stride=stride, padding=1) == expected


def test_5_8_flops_with_stride_and_padding():  # 5.8 = M' N' U V
    m_out = f.conv_output_size(8, 3, stride=2, padding=1)
    assert f.conv_flops(m_out, m_out, 1, 1, 3, bias=False) == 4 * 4 * 3 * 3


def test_narrow_wide_same():  # 5.9 - 5.14
    M, U = sympy.symbols("M U", positive=True, integer=True)
    assert f.narrow_conv_output_size(M, U) == M - U + 1
    assert f.wide_conv_output_size(M, U) == M + U - 1
    assert f.same_conv_output_size(M, 3) == M
    # the special cases are the general formula with S=1 and their paddings
    for m in (5, 8, 32):
        for u in (1, 3, 5):
            assert f.conv_output_size(m, u, 1, 0) == f.narrow_conv_output_size(m, u)
            assert f.conv_output_size(m, u, 1, u - 1) == f.wide_conv_output_size(m, u)
            assert f.conv_output_size(m, u, 1, (u - 1) // 2) == f.same_conv_output_size(m, u) == m
    with pytest.raises(InvalidParameterError):
        f.same_conv_output_size(32, 2)


def test_same_convolution_keeps_size_3x3_p1():  # 5.1.5.2: "3x3, S=1, P=1 keeps the size"
    assert f.conv_output_size(32, 3, 1, 1) == 32


# --------------------------------------------------------------- 5.1.4 receptive field
def test_two_3x3_convs_see_5x5():  # figure 5.5
    one = f.field_after(f.INPUT_FIELD, 3)
    two = f.field_after(one, 3)
    assert (one.size, two.size) == (3, 5)
    assert f.rf_size(f.rf_size(1, 1, 3), 1, 3) == 5


def test_merge_rule():
    assert f.merge_fields([f.Field(7, 2, 0), f.Field(3, 2, 0)]).size == 7
    with pytest.raises(MisalignedBranchesError):
        f.merge_fields([f.Field(3, 1, 1), f.Field(3, 2, 1)])


# --------------------------------------------------------------- 5.2.1.3 multi-channel conv
def test_six_3x3x3_kernels_on_3x32x32():  # 5.20 and 5.21
    assert f.conv_params(3, 6, 3) == 168
    out = f.conv_output_size(32, 3)
    assert f.conv_flops(out, out, 6, 3, 3) == 151200
    d = explain_layer("conv2d", (3, 32, 32), out_channels=6, kernel=3)
    assert d.step("params").result == 168
    assert d.step("flops_paddle").result == 151200


# --------------------------------------------------------------- 5.2.2 pooling
def test_pooling_output_sizes():  # 5.2.2 example [1,1,4,4] -> [1,1,2,2]; LeNet 28 -> 14, 10 -> 5
    assert f.pool_output_size(4, 2, 2) == 2
    assert f.pool_output_size(28, 2, 2) == 14
    assert f.pool_output_size(10, 2, 2) == 5
    assert f.pool_output_size(28, 2) == 14  # stride defaults to the kernel


# --------------------------------------------------------------- 5.3 LeNet-5
LENET = [  # (kind, in shape, config) following Paddle_LeNet at 1x1x32x32
    ("conv2d", (1, 32, 32), dict(out_channels=6, kernel=5)),
    ("pool2d", (6, 28, 28), dict(kernel=2, stride=2, mode="max")),
    ("conv2d", (6, 14, 14), dict(out_channels=16, kernel=5)),
    ("pool2d", (16, 10, 10), dict(kernel=2, stride=2, mode="avg")),
    ("conv2d", (16, 5, 5), dict(out_channels=120, kernel=5)),
    ("linear", (120,), dict(out_features=84)),
    ("linear", (84,), dict(out_features=10)),
]


def test_lenet_params_and_flops():  # 5.3.2 "参数量" and "计算量"
    derivations = [explain_layer(kind, shape, **cfg) for kind, shape, cfg in LENET]
    params = [int(d.step("params").result) for d in derivations]
    flops = [int(d.step("flops_paddle").result) for d in derivations]
    assert [p for p in params if p] == [156, 2416, 48120, 10164, 850]
    assert sum(params) == 61706
    # network order (the book lists the avg pool's 400 after the three convs)
    assert [x for x in flops if x] == [122304, 241600, 400, 48120, 10080, 840]
    assert sorted(x for x in flops if x) == sorted([122304, 241600, 48120, 400, 10080, 840])
    assert sum(flops) == 423344
    # each layer's output is the next layer's input, as in the summary table
    for d, (_, next_shape, _) in zip(derivations, LENET[1:]):
        out = d.step("output_shape").result
        assert tuple(out) == next_shape or (d.kind == "conv2d" and tuple(out) == (120, 1, 1))


def test_lenet_by_the_seed_arithmetic():  # the book's own products
    assert f.conv_params(1, 6, 5) == 6 * 1 * 5 * 5 + 6 == 156
    assert f.conv_params(6, 16, 5) == 16 * 6 * 5 * 5 + 16 == 2416
    assert f.conv_params(16, 120, 5) == 120 * 16 * 5 * 5 + 120 == 48120
    assert f.linear_params(120, 84) == 10164
    assert f.linear_params(84, 10) == 850
    assert f.conv_flops(28, 28, 6, 1, 5) == 122304
    assert f.conv_flops(10, 10, 16, 6, 5) == 241600
    assert f.conv_flops(1, 1, 120, 16, 5) == 48120
    assert f.avgpool_flops(16 * 5 * 5, 2) == 400
    assert f.linear_flops(120, 84) == 10080
    assert f.linear_flops(84, 10) == 840


# --------------------------------------------------------------- 5.4 ResNet18 table rows
def test_resnet18_rows_from_formulas():  # summary / flops tables of 5.4.1 at 1x1x32x32
    stem = explain_layer("conv2d", (1, 32, 32), out_channels=64, kernel=7, stride=2, padding=3)
    assert stem.step("output_shape").result == (64, 16, 16)
    assert stem.step("params").result == 3200
    assert stem.step("flops_paddle").result == 819200
    bn = explain_layer("batchnorm", (64, 16, 16))
    assert bn.step("params").result == 256
    assert bn.step("params_trainable").result == 128
    assert bn.step("flops_paddle").result == 32768
    pool = explain_layer("pool2d", (64, 16, 16), kernel=3, stride=2, padding=1)
    assert pool.step("output_shape").result == (64, 8, 8)
    conv = explain_layer("conv2d", (64, 8, 8), out_channels=64, kernel=3, padding=1, bias=False)
    assert conv.step("params").result == 36864
    assert conv.step("flops_paddle").result == 2359296
    down = explain_layer("conv2d", (64, 8, 8), out_channels=128, kernel=3, stride=2, padding=1, bias=False)
    assert down.step("output_shape").result == (128, 4, 4)
    assert (down.step("params").result, down.step("flops_paddle").result) == (73728, 1179648)
    short = explain_layer("conv2d", (64, 8, 8), out_channels=128, kernel=1, stride=2, bias=False)
    assert (short.step("params").result, short.step("flops_paddle").result) == (8192, 131072)
    assert f.conv_params(256, 512, 3, bias=False) == 1179648
    assert f.batchnorm_params(512) + f.batchnorm_running_stats(512) == 2048
    assert f.batchnorm_flops(512) == 1024
    assert f.adaptive_avgpool_flops(1, 1, 1, 1, 512) == 1024
    head = explain_layer("linear", (512,), out_features=10)
    assert (head.step("params").result, head.step("flops_paddle").result) == (5130, 5120)
    # the summary's 20 BatchNorm2D rows (4C each) add up to its 19,200 non-trainable
    bn_channels = [64] + [64] * 4 + [128] * 5 + [256] * 5 + [512] * 5
    assert sum(f.batchnorm_params(c) + f.batchnorm_running_stats(c) for c in bn_channels) == 19200


# --------------------------------------------------------------- bad values
@pytest.mark.parametrize(
    "call",
    [
        lambda: f.conv_output_size(2, 3),  # kernel larger than the input
        lambda: f.conv_output_size(4, 3, 1, 0, dilation=2),  # dilated kernel 5 > 4
        lambda: f.pool_output_size(1, 2, 1),
    ],
)
def test_kernel_larger_than_padded_input(call):
    with pytest.raises(ShapeError, match="larger than the padded input"):
        call()


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: f.conv_output_size(8, 3, stride=0), "stride must be >= 1"),
        (lambda: f.conv_output_size(8, 3, dilation=0), "dilation must be >= 1"),
        (lambda: f.conv_output_size(8, 3, padding=-1), "padding must be >= 0"),
        (lambda: f.conv_params(3, 6, 3, groups=2), "groups=2 does not divide in_channels=3"),
        (lambda: f.conv_output_size(8, 3, padding="full"), "unknown padding"),
        (lambda: f.conv_output_size(8.0, 3), "must be an integer"),
        (lambda: f.pool_output_size(8, 2, 2, "VALID", ceil_mode=True), "ceil_mode"),
    ],
)
def test_out_of_domain_values_raise(call, pattern):
    with pytest.raises(InvalidParameterError, match=pattern):
        call()


def test_symbolic_inputs_give_expressions():
    H = sympy.Symbol("H", positive=True, integer=True)
    d = explain_layer("conv2d", (3, H, H), out_channels=6, kernel=3, padding=1)
    assert d.step("output_shape").result == (6, H, H)
    assert sympy.expand(d.step("flops_paddle").result - 168 * H**2) == 0
