"""Every zoo model: per-layer shapes/params equal paddle.summary, paddle FLOPs equal paddle.flops.

CI runs the light set (book models, lenet, resnet18, mobilenet_v2, vgg11) at the
default input and at one other size; the rest of the zoo is marked slow.
"""

from __future__ import annotations

import pytest

paddle = pytest.importorskip("paddle")

from convcalc.analysis import analyze  # noqa: E402
from convcalc.analysis.symbolic import H, W  # noqa: E402
from convcalc.checks.crosscheck import compare  # noqa: E402
from convcalc.models.zoo import build_model, list_entries  # noqa: E402

# Another size each model accepts (book LeNets squeeze axes 2 and 3, so they need 32..35).
OTHER_SIZE = {"book_lenet": (1, 33, 33), "book_lenet_vectorized": (1, 34, 34), "book_paddle_lenet": (1, 35, 35),
              "lenet": (2, 1, 28, 28), "inception_v3": (3, 331, 331),
              # fixed-size flatten before their classifiers: vary the batch instead
              "alexnet": (2, 3, 224, 224), "googlenet": (2, 3, 224, 224),
              # learned position embeddings fix the number of patches
              "deit_tiny": (2, 3, 224, 224), "vit_b_16": (2, 3, 224, 224)}
LIGHT = [e.name for e in list_entries() if not e.heavy]
HEAVY = [e.name for e in list_entries() if e.heavy]


# every test here calls paddle.flops (through compare): stop with one line on a numpy it crashes with
pytestmark = pytest.mark.usefixtures("flops_numpy")


def sizes(entry_name: str, default):
    other = OTHER_SIZE.get(entry_name, (default[0], 97, 131))
    return [tuple(default), other]


def check(name: str) -> None:
    built = build_model(name)
    for shape in sizes(name, built.default_input):
        report = analyze(built.model, shape, name=name)
        result = compare(built.model, report)
        bad = [r for r in result.rows if not r.ok]
        assert result.ok, (shape, bad[:3], result.missing_in_ours, result.ours_flops, result.paddle_flops)
        assert len(result.rows) > 0


@pytest.mark.parametrize("name", LIGHT)
def test_light_zoo_matches_paddle(name):
    check(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", HEAVY)
def test_heavy_zoo_matches_paddle(name):
    check(name)


@pytest.mark.parametrize("name, size", [("book_resnet18", 64), ("resnet18", 224), ("book_paddle_lenet", 32)])
def test_symbolic_report_evaluates_to_the_concrete_one(name, size):
    built = build_model(name)
    channels = built.default_input[0]
    symbolic = analyze(built.model, (channels, size, size), name=name, symbolic=True)
    assert symbolic.symbols == (H, W)
    assert symbolic.totals.flops.free_symbols  # really an expression
    for h, w in [(size, size), (2 * size, size)] if name != "book_paddle_lenet" else [(size, size)]:
        concrete = analyze(built.model, (channels, h, w), name=name)
        evaluated = symbolic.subs({H: h, W: w})
        assert evaluated.totals.flops == concrete.totals.flops
        assert evaluated.totals.params == concrete.totals.params
        got = [(tuple(r.output_shape), r.flops) for r in evaluated.records]
        want = [(tuple(r.output_shape), r.flops) for r in concrete.records]
        assert got == want


def test_symbolic_resnet18_is_simplified():
    built = build_model("resnet18")
    report = analyze(built.model, (3, 224, 224), symbolic=True)
    head = [r for r in report.records if r.kind == "AdaptiveAvgPool2D"][0]
    # the 7x7 map before the head is H/32 x W/32; no floor() survives under divisibility
    assert tuple(head.input_shapes[0][2:]) == (H / 32, W / 32)
    assert "floor" not in str(report.totals.flops)


@pytest.mark.parametrize("convention", ["macs", "flops"])
def test_other_conventions_on_book_lenet(convention):
    """Hand-worked MACs and FLOPs of the book's LeNet at 1x32x32."""
    built = build_model("book_paddle_lenet")
    report = analyze(built.model, (1, 32, 32), convention=convention)
    conv_macs = 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 120 * 400
    linear_macs = 120 * 84 + 84 * 10
    if convention == "macs":
        assert int(report.totals.flops) == conv_macs + linear_macs
    else:
        # every conv/linear output: K multiplies, K-1 adds, one bias add = 2K, twice its MACs
        relus = 6 * 28 * 28 + 16 * 10 * 10 + 120 + 84
        maxpool = 6 * 14 * 14 * 3  # 3 comparisons per 2x2 window
        avgpool = 16 * 5 * 5 * 4  # 3 adds and a divide per 2x2 window
        assert int(report.totals.flops) == 2 * (conv_macs + linear_macs) + relus + maxpool + avgpool
