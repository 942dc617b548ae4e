"""Hints that name the right mistake (issue 11 point 4): one planted mistake per test.

Each answer below is worked by hand under the mistake named in its comment;
the test checks that exactly that mistake is named first.
"""

from __future__ import annotations

import pytest

from convcalc.homework import grade_homework, parse_text
from convcalc.homework.grading.misconceptions import CATALOGUE

MODEL_CACHE: dict = {}


def hint(inp: str, layer: str, answer: str, name: str, extra: str = "") -> str:
    text = f'[[question]]\nid = "q"\ninput = "{inp}"\nlayer = {layer}\n{extra}[question.answer]\n{answer}\n'
    result = grade_homework(parse_text(text, "a.toml"), model_cache=MODEL_CACHE)
    f = next(f for f in result.questions[0].fields if f.name == name)
    assert f.status == "wrong", (f.status, f.expected, f.given)
    return f.hint


CONV6 = '{ kind = "conv2d", out_channels = 6, kernel = 3 }'  # on 3x32x32: 6x30x30, params 168, flops 151200


PLANTED = [
    # (id, input, layer, answer, field, the hint must start with)
    # ceil_mode=True, 7x7, k2 s2: ceil(5/2)+1 = 4; floor gives 3.
    (
        "ceil_mode_ignored",
        "1x7x7",
        '{ kind = "pool2d", kernel = 2, stride = 2, ceil_mode = true }',
        "output_shape = [1, 3, 3]",
        "output_shape",
        "ceil_mode ignored",
    ),
    # ceil_mode=False, 7x7, k2 s2: floor(5/2)+1 = 3; rounding up gives 4.
    (
        "ceil_instead_of_floor",
        "1x7x7",
        '{ kind = "pool2d", kernel = 2, stride = 2 }',
        "output_shape = [1, 4, 4]",
        "output_shape",
        "rounded up where Paddle rounds down",
    ),
    # 32x32, k3, p1: 32; padding on one side only: 32+1-3+1 = 31.
    (
        "padding_once",
        "3x32x32",
        '{ kind = "conv2d", out_channels = 6, kernel = 3, padding = 1 }',
        "output_shape = [6, 31, 31]",
        "output_shape",
        "padding counted on one side only",
    ),
    # 32x32, k5, p2: 32; padding ignored: 32-5+1 = 28.
    (
        "padding_ignored",
        "3x32x32",
        '{ kind = "conv2d", out_channels = 6, kernel = 5, padding = 2 }',
        "output_shape = [6, 28, 28]",
        "output_shape",
        "padding ignored",
    ),
    # LeNet S4: avg pool on 16x10x10 is 16*5*5 = 400 paddle FLOPs; 0 treats it like max pooling.
    (
        "avgpool_flops_zero",
        "16x10x10",
        '{ kind = "pool2d", kernel = 2, stride = 2, mode = "avg" }',
        "flops = 0",
        "flops",
        "average-pooling FLOPs given as 0",
    ),
    # LeNet F6: 120*84 + 84 = 10164; without the bias 10080.
    (
        "linear_bias_forgotten",
        "120",
        '{ kind = "linear", out_features = 84 }',
        "params = 10080",
        "params",
        "bias forgotten: a fully connected layer has one bias per output feature",
    ),
    # 6*3*3*3 + 6 = 168; without the bias 162.
    ("conv_bias_forgotten", "3x32x32", CONV6, "params = 162", "params", "bias forgotten: each of the P kernels"),
    # Without bias: MACs 30*30*6*27 = 145800; 2 x MACs = 291600 (paddle: 145800; the 'flops' convention
    # 5400 fewer adds: 286200). With a bias, 2 x MACs *is* the 'flops' count, so the bias is off here.
    (
        "two_macs",
        "3x32x32",
        '{ kind = "conv2d", out_channels = 6, kernel = 3, bias = false }',
        "flops = 291600",
        "flops",
        "FLOPs given as 2 x MACs",
    ),
    # 6 output maps; the 3 input channels used instead: [3, 30, 30].
    (
        "input_channels_for_output_shape",
        "3x32x32",
        CONV6,
        "output_shape = [3, 30, 30]",
        "output_shape",
        "input channels used for the output channels",
    ),
    # ... and in the parameter count: 3*3*3*3 + 3 = 84.
    (
        "input_channels_for_output_params",
        "3x32x32",
        CONV6,
        "params = 84",
        "params",
        "input channels used for the output channels",
    ),
    # 28x28 output maps written without their 6 channels.
    (
        "channels_left_out",
        "1x32x32",
        '{ kind = "conv2d", out_channels = 6, kernel = 5 }',
        "output_shape = [28, 28]",
        "output_shape",
        "the channels are missing",
    ),
    # 8x8, k3, s2, no padding: floor(5/2)+1 = 3; stride ignored: 8-3+1 = 6.
    (
        "stride_ignored",
        "1x8x8",
        '{ kind = "conv2d", out_channels = 1, kernel = 3, stride = 2 }',
        "output_shape = [1, 6, 6]",
        "output_shape",
        "stride ignored",
    ),
    # batch 4: 4*151200 = 604800; the batch not multiplied in: 151200.
    ("batch_not_multiplied", "4x3x32x32", CONV6, "flops = 151200", "flops", "the batch size was not multiplied in"),
    # 3x28x32, k3: [6, 26, 30]; swapped [6, 30, 26].
    (
        "height_width_swapped",
        "3x28x32",
        CONV6,
        "output_shape = [6, 30, 26]",
        "output_shape",
        "height and width swapped",
    ),
    # groups ignored: 8x14x14, 16 kernels 3x3, groups 4: 16*(8/4)*9+16 = 304; with groups 1: 16*8*9+16 = 1168.
    (
        "groups_ignored",
        "8x14x14",
        '{ kind = "conv2d", out_channels = 16, kernel = 3, padding = 1, groups = 4 }',
        "params = 1168",
        "params",
        "groups ignored",
    ),
    # a linear layer 120 -> 84, paddle FLOPs = 120*84 = 10080; counting the bias add too: 10080 + 84 = 10164.
    (
        "linear_bias_flops",
        "120",
        '{ kind = "linear", out_features = 84 }',
        "flops = 10164",
        "flops",
        "the bias add counted",
    ),
    # rounded: 3x25x21, 12 kernels 3x3: FLOPs 23*19*12*(27+1) = 146832; written 1.47e5.
    (
        "rounded",
        "3x25x21",
        '{ kind = "conv2d", out_channels = 12, kernel = 3 }',
        "flops = 1.47e5",
        "flops",
        "rounded: the answer is an exact count",
    ),
]


@pytest.mark.parametrize("case", PLANTED, ids=[c[0] for c in PLANTED])
def test_planted_mistake_names_exactly_that_mistake(case):
    _, inp, layer, answer, name, expected = case
    got = hint(inp, layer, answer, name)
    assert got.startswith(expected), got
    assert "; or " not in got, got  # no second, wrong explanation


def test_receptive_field_without_jumps():
    # conv k3 s2 then conv k3: r = 1 + 2 = 3, j = 2, r = 3 + 2*2 = 7; without the jump 5.
    conv = '{ kind = "conv2d", out_channels = 1, kernel = 3'
    layers = f"[{conv}, stride = 2 }}, {conv} }}]"
    text = f'[[question]]\nid = "q"\ninput = "1x32x32"\nlayers = {layers}\n[question.answer]\nrf = 5\n'
    f = grade_homework(parse_text(text, "a.toml")).questions[0].fields[0]
    assert f.expected == 7 and f.hint.startswith("strides ignored in the receptive field")


def test_macs_given_for_paddle_flops_of_a_biased_conv():
    # params right (168), so the bias was not forgotten: 145800 are the MACs.
    assert hint("3x32x32", CONV6, "params = 168\nflops = 145800", "flops").startswith("MACs given")


def test_the_explanation_consistent_with_other_answers_comes_first():
    # 145800 is both the MACs and the paddle FLOPs without the 6 biases.
    # The student's params (162) also forgot the bias: that explanation comes first, alone.
    got = hint("3x32x32", CONV6, "params = 162\nflops = 145800", "flops")
    assert got.startswith("bias forgotten") and "MACs" not in got
    # With params right, the MACs come first, alone.
    got = hint("3x32x32", CONV6, "params = 168\nflops = 145800", "flops")
    assert got.startswith("MACs given") and "bias forgotten" not in got
    # With nothing else to go on, both are named.
    got = hint("3x32x32", CONV6, "flops = 145800", "flops")
    assert "bias forgotten" in got and "MACs given" in got


def test_model_rows_name_the_layer_kinds_own_mistakes():
    # LeNet linear6 (120 -> 84) without its bias: 10080; pool4 (avg) FLOPs as 0 (paddle: 400).
    text = """
[[question]]
id = "lenet"
model = "book_paddle_lenet"
input = "1x1x32x32"
ask = ["rows"]
row_fields = ["params", "flops"]
[[question.answer.rows]]
layer = "linear6"
params = 10080
flops = 10080
[[question.answer.rows]]
layer = "pool4"
params = 0
flops = 0
"""
    rows = grade_homework(parse_text(text, "a.toml"), model_cache=MODEL_CACHE).questions[0].fields[0]
    cells = {c.name: c for c in rows.cells}
    assert cells["linear6.params"].hint.startswith("bias forgotten: a fully connected layer")
    assert cells["pool4.flops"].hint.startswith("average-pooling FLOPs given as 0")


def test_every_misconception_in_the_catalogue_has_a_planted_test():
    planted = {
        "ceil_ignored",
        "ceil_not_floor",
        "padding_once",
        "no_padding",
        "pool_zero",
        "linear_no_bias",
        "conv_no_bias",
        "two_macs",
        "in_channels",
        "no_channels",
        "no_stride",
        "no_batch",
        "swap_hw",
        "rf_no_jump",
        "macs",
        "groups_ignored",
        "linear_bias_flops",
        "rf_no_dilation",  # below
        "stride_as_dilation",  # below
    }
    tested_elsewhere = {  # tests/test_homework.py
        "no_plus_one",
        "paddle",
        "rf_plus_one",
        "extra_one",
        "flops",
        "no_dilation",
        "input_size_flops",
        "bn_trainable",
        "bn_with_running",
    }
    assert set(CATALOGUE) <= planted | tested_elsewhere


def stack_hint(inp: str, layers: str, answer: str, name: str) -> str:
    text = f'[[question]]\nid = "q"\ninput = "{inp}"\nlayers = [{layers}]\n[question.answer]\n{answer}\n'
    result = grade_homework(parse_text(text, "a.toml"), model_cache=MODEL_CACHE)
    f = next(f for f in result.questions[0].fields if f.name == name)
    assert f.status == "wrong", (f.status, f.expected, f.given)
    return f.hint


def test_dilation_ignored_in_the_receptive_field():
    # 3x3 dilation 2 (k_eff 5) then 3x3: rf = 1 + 4 + 2 = 7; the undilated kernel: 1 + 2 + 2 = 5
    layers = (
        '{ kind = "conv2d", out_channels = 1, kernel = 3, dilation = 2 }, '
        '{ kind = "conv2d", out_channels = 1, kernel = 3 }'
    )
    got = stack_hint("1x20x20", layers, "rf = 5", "rf")
    assert got.startswith("dilation ignored in the receptive field"), got


def test_stride_used_as_dilation():
    # one 3x3 conv, stride 2, on 1x9x9: rf 3; stride read as dilation 2 (stride 1): k_eff 5 -> rf 5,
    # and output (9 - 5) + 1 = 5 instead of (9 - 3) // 2 + 1 = 4
    layer = '{ kind = "conv2d", out_channels = 1, kernel = 3, stride = 2 }'
    assert stack_hint("1x9x9", layer, "rf = 5", "rf").startswith("the stride used as a dilation")
    assert stack_hint("1x9x9", layer, "output_shape = [1, 5, 5]\nrf = 5", "output_shape").startswith(
        "the stride used as a dilation"
    )


def test_a_half_pixel_start_rounded():
    # a 2x2 pool (stride 2) on 1x8x8: start = (2-1)/2 = 0.5 on both axes; written 1
    got = hint("1x8x8", '{ kind = "pool2d", kernel = 2 }', "rf_start = 1", "rf_start")
    assert got.startswith("a start can be a half pixel"), got


def test_the_plus_one_forgotten_everywhere_is_named_in_every_question():
    # q1..q3 show the '+ 1' missing and nothing else; in q4 (P=1, S=1) "padding on one side" gives the
    # same number, but the file's other questions make the '+ 1' the likely mistake (by hand: 32+2-3 = 31
    # without the + 1; padding once: 32+1-3+1 = 31)
    text = ""
    for i, (inp, layer, shape) in enumerate(
        [
            ("3x32x32", '{ kind = "conv2d", out_channels = 6, kernel = 3 }', "[6, 29, 29]"),
            ("6x14x14", '{ kind = "conv2d", out_channels = 16, kernel = 5 }', "[16, 9, 9]"),
            ("1x7x7", '{ kind = "pool2d", kernel = 2 }', "[1, 2, 2]"),
            ("3x32x32", '{ kind = "conv2d", out_channels = 6, kernel = 3, padding = 1 }', "[6, 31, 31]"),
        ]
    ):
        text += (
            f'[[question]]\nid = "q{i}"\ninput = "{inp}"\nlayer = {layer}\n[question.answer]\noutput_shape = {shape}\n'
        )
    result = grade_homework(parse_text(text, "a.toml"), model_cache=MODEL_CACHE)
    hints = [q.fields[0].hint for q in result.questions]
    assert all(h.startswith("off by one") and "the '+ 1' is missing" in h for h in hints), hints
    assert "one side" not in hints[3]
