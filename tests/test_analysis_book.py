"""The book's models reproduce the book's paddle.summary / paddle.flops tables row by row."""

from __future__ import annotations

import contextlib
import io

import pytest

paddle = pytest.importorskip("paddle")

from convcalc.analysis import analyze  # noqa: E402
from convcalc.checks.crosscheck import compare  # noqa: E402
from convcalc.models import book  # noqa: E402
from convcalc.rules.layers import paddle_custom_ops  # noqa: E402

# Seed 5.3.2: LeNet per-layer parameters and FLOPs (paddle.summary / paddle.flops tables).
LENET_ROWS = [
    # (kind, output shape, params, flops)
    ("Conv2D", [1, 6, 28, 28], 156, 122_304),
    ("MaxPool", [1, 6, 14, 14], 0, 0),
    ("Conv2D", [1, 16, 10, 10], 2_416, 241_600),
    ("AvgPool", [1, 16, 5, 5], 0, 400),
    ("Conv2D", [1, 120, 1, 1], 48_120, 48_120),
    ("Linear", [1, 84], 10_164, 10_080),
    ("Linear", [1, 10], 850, 840),
]

# Seed 5.4.1: paddle.summary of Model_ResNet18(1, 10) at 1x1x32x32 (leaf rows, in order).
RESNET_SUMMARY = [
    ([1, 64, 16, 16], 3200), ([1, 64, 16, 16], 256), ([1, 64, 16, 16], 0), ([1, 64, 8, 8], 0),
    ([1, 64, 8, 8], 36864), ([1, 64, 8, 8], 256), ([1, 64, 8, 8], 36864), ([1, 64, 8, 8], 256),
    ([1, 64, 8, 8], 36864), ([1, 64, 8, 8], 256), ([1, 64, 8, 8], 36864), ([1, 64, 8, 8], 256),
    ([1, 128, 4, 4], 73728), ([1, 128, 4, 4], 512), ([1, 128, 4, 4], 147456), ([1, 128, 4, 4], 512),
    ([1, 128, 4, 4], 8192), ([1, 128, 4, 4], 512),
    ([1, 128, 4, 4], 147456), ([1, 128, 4, 4], 512), ([1, 128, 4, 4], 147456), ([1, 128, 4, 4], 512),
    ([1, 256, 2, 2], 294912), ([1, 256, 2, 2], 1024), ([1, 256, 2, 2], 589824), ([1, 256, 2, 2], 1024),
    ([1, 256, 2, 2], 32768), ([1, 256, 2, 2], 1024),
    ([1, 256, 2, 2], 589824), ([1, 256, 2, 2], 1024), ([1, 256, 2, 2], 589824), ([1, 256, 2, 2], 1024),
    ([1, 512, 1, 1], 1179648), ([1, 512, 1, 1], 2048), ([1, 512, 1, 1], 2359296), ([1, 512, 1, 1], 2048),
    ([1, 512, 1, 1], 131072), ([1, 512, 1, 1], 2048),
    ([1, 512, 1, 1], 2359296), ([1, 512, 1, 1], 2048), ([1, 512, 1, 1], 2359296), ([1, 512, 1, 1], 2048),
    ([1, 512, 1, 1], 0), ([1, 512], 0), ([1, 10], 5130),
]
# Seed 5.4.1: paddle.flops per conv, in the order the book's ResBlock runs them
# (conv1, conv2, shortcut), and the BN / pool / linear counts.
RESNET_CONV_FLOPS = [
    819200,
    2359296, 2359296, 2359296, 2359296,
    1179648, 2359296, 131072, 2359296, 2359296,
    1179648, 2359296, 131072, 2359296, 2359296,
    1179648, 2359296, 131072, 2359296, 2359296,
]


def leaf_rows(report):
    return [r for r in report.records if r.is_leaf and not r.is_functional]


@pytest.fixture(scope="module")
def lenets():
    paddle.seed(0)
    return book.Model_LeNet(in_channels=1, num_classes=10), book.Paddle_LeNet(in_channels=1, num_classes=10)


@pytest.mark.parametrize("which", [0, 1], ids=["Model_LeNet", "Paddle_LeNet"])
def test_lenet_matches_seed_tables(lenets, which):
    report = analyze(lenets[which], (1, 32, 32))
    rows = leaf_rows(report)
    assert len(rows) == len(LENET_ROWS)
    for rec, (_, shape, params, flops) in zip(rows, LENET_ROWS, strict=True):
        assert [int(d) for d in rec.output_shape] == shape
        assert int(rec.params) == params
        assert int(rec.flops) == flops
    assert int(report.totals.params) == 61_706
    assert int(report.totals.flops) == 423_344
    # Invariant: rows add up to the totals.
    assert sum(int(r.flops) for r in report.records if r.is_leaf) == int(report.totals.flops)
    assert sum(int(r.params) for r in rows) == int(report.totals.params)


@pytest.mark.usefixtures("flops_numpy")
def test_custom_lenet_handed_to_paddle_flops(lenets):
    """Paddle counts the book's loop Conv2D/Pool2D as 0; the rule hand-off makes both sides agree."""
    model = lenets[0]
    with contextlib.redirect_stdout(io.StringIO()):
        without = paddle.flops(model, [1, 1, 32, 32])
        with_rules = paddle.flops(model, [1, 1, 32, 32], custom_ops=paddle_custom_ops())
    assert without == 10_080 + 840  # only the two nn.Linear layers
    assert with_rules == 423_344


@pytest.fixture(scope="module")
def resnet():
    paddle.seed(0)
    return book.Model_ResNet18(in_channels=1, num_classes=10, use_residual=True)


def test_book_resnet18_matches_seed_summary(resnet):
    report = analyze(resnet, (1, 32, 32))
    rows = leaf_rows(report)
    assert [([int(d) for d in r.output_shape], int(r.params)) for r in rows] == RESNET_SUMMARY
    assert int(report.totals.params) == 11_185_034
    # The seed prints 11,165,834 trainable / 19,200 non-trainable: its older Paddle
    # counted BatchNorm's scale and shift as non-trainable too.  Paddle 3.3.1 (and
    # convcalc) count only the 2C running statistics per BatchNorm as non-trainable.
    with contextlib.redirect_stdout(io.StringIO()):
        info = paddle.summary(resnet, (1, 1, 32, 32))
    assert int(report.totals.params_trainable) == int(info["trainable_params"]) == 11_175_434
    assert int(report.totals.params_non_trainable) == 9_600  # 2 x (sum of BN channels = 4,800)
    assert int(report.totals.flops) == 35_529_728
    convs = [int(r.flops) for r in rows if r.kind == "Conv2D"]
    assert convs == RESNET_CONV_FLOPS
    bns = [int(r.flops) for r in rows if r.kind == "BatchNorm2D"]
    assert bns[:5] == [32768, 8192, 8192, 8192, 8192]
    assert [int(r.flops) for r in rows if r.kind in ("AdaptiveAvgPool2D", "Linear")] == [1024, 5120]


@pytest.mark.usefixtures("flops_numpy")
def test_book_resnet18_summary_rows_match_paddle(resnet):
    report = analyze(resnet, (1, 32, 32))
    result = compare(resnet, report)
    assert result.ok, [r for r in result.rows if not r.ok]
    # paddle.summary also lists the ResBlock containers: 45 leaves + 8 blocks.
    assert len(result.rows) == 45 + 8


@pytest.mark.usefixtures("flops_numpy")
def test_plain_resnet_reports_unused_shortcuts():
    paddle.seed(0)
    model = book.Model_ResNet18(in_channels=1, num_classes=10, use_residual=False)
    report = analyze(model, (1, 32, 32))
    assert int(report.totals.params) == 11_009_418  # what paddle.summary shows
    assert report.totals.params_in_model == 11_185_034
    assert report.totals.params_unused == 175_616
    assert "net.2.0.shortcut" in report.gaps.layers_never_called
    assert compare(model, report).ok


def test_shortcut_does_not_double_the_jump(resnet):
    """The 1x1 stride-2 shortcut reads the block input: the block's jump is 8, not 16."""
    report = analyze(resnet, (1, 32, 32))
    by_path = {r.path: r for r in report.records}
    stem = by_path["net.0.3"]  # max pool after the stride-2 stem conv
    assert (int(stem.rf_h.size), int(stem.rf_h.jump)) == (11, 4)
    block = by_path["net.2.0"]
    assert int(block.rf_h.jump) == 8
    shortcut = by_path["net.2.0.shortcut"]
    assert int(shortcut.rf_h.jump) == 8
    # A 1x1 conv adds nothing to the field of the block input (the output of net.1).
    assert int(shortcut.rf_h.size) == int(by_path["net.1"].rf_h.size) == 11 + 4 * 2 * 4
    # conv1 (3x3, s2) then conv2 (3x3): 43 + 2*4 + 2*8 = 67 on the residual branch
    assert int(by_path["net.2.0.conv2"].rf_h.size) == int(by_path["net.1.1"].rf_h.size) + 2 * 4 + 2 * 8
    assert int(block.rf_h.size) == int(by_path["net.2.0.conv2"].rf_h.size)
    head = by_path["net.7"]
    assert head.rf_h.whole
