"""``convcalc rf`` for every model, anywhere (issue 22, Deliver 4).

Truth: receptive fields counted by hand from the layers' kernels and strides (book 5.1.4), gradients
taken with Paddle by hand through the model's own layers, radii of hand-built gradient maps, and the
figure's own text boxes as matplotlib lays them out.  "No MNIST" is an empty CONVCALC_DATA_DIR and (in
a subprocess) an empty HOME, so neither Paddle's cache nor the shared data can be found.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest
from test_pictures import run_cli  # the CLI in this process, kept once

from convcalc.analysis import analyze
from convcalc.analysis.effective import default_layer, level_layers, noise_inputs, radius_holding, unit_field
from convcalc.models.book import Paddle_LeNet

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"
needs_matplotlib = pytest.mark.skipif(__import__("importlib").util.find_spec("matplotlib") is None,
                                      reason="matplotlib not installed (pip install 'convcalc[plot]')")


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    """Where pictures are kept for a reader: $CONVCALC_ARTEFACTS if set, else a pytest temporary folder."""
    folder = Path(os.environ.get("CONVCALC_ARTEFACTS") or tmp_path_factory.mktemp("artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def resnet18_224():
    paddle.seed(0)
    return analyze(paddle.vision.models.resnet18(), (1, 3, 224, 224), name="resnet18")


@pytest.fixture(scope="module")
def lenet32():
    paddle.seed(0)
    model = Paddle_LeNet(in_channels=1, num_classes=10)
    return model, analyze(model, (1, 1, 32, 32), name="book_paddle_lenet")


# ------------------------------------------------------------------ which layers
def test_default_layer_is_the_deepest_whose_field_is_smaller_than_the_input(resnet18_224, lenet32):
    # resnet18 by hand: conv1 7 (jump 2), maxpool 11 (4), layer1's four 3x3 convs +8 each: 43; layer2: 51, 67,
    # then +16 twice: 99; layer3: 115, 147, +32 twice: 211; layer4.0.conv1: 211 + 2*16 = 243 >= 224.
    # So the last row before 243 with the largest field: layer3.1's closing ReLU (its second call), 211.
    rec = default_layer(resnet18_224)
    assert (rec.path, int(rec.rf_h.size), int(rec.rf_h.jump)) == ("layer3.1.relu", 211, 16)
    assert rec is [r for r in resnet18_224.records if r.path == "layer3.1.relu"][-1]
    # LeNet on 32x32: conv1 5, pool2 6 (jump 2), conv3 14, pool4 16 (jump 4), conv5 16 + 4*4 = 32 = the input
    rec = default_layer(lenet32[1])
    assert (rec.path, int(rec.rf_h.size), int(rec.rf_h.jump)) == ("pool4", 16, 4)


def test_layers_all_is_the_deepest_layer_of_each_resolution_level(resnet18_224, lenet32):
    # the last main-path row of each jump: 2 after conv1 (its relu), 4, 8, 16, 32 (the values above;
    # layer4 ends at 211 + 2*16 + 32 + 2*64 = 435... counted as 243, 307, then +64 twice)
    got = [(r.path, int(r.rf_h.size), int(r.rf_h.jump)) for r in level_layers(resnet18_224)]
    assert got == [("relu", 7, 2), ("layer1.1.relu", 43, 4), ("layer2.1.relu", 99, 8),
                   ("layer3.1.relu", 211, 16), ("layer4.1.relu", 435, 32)]
    assert [(r.path, int(r.rf_h.size)) for r in level_layers(lenet32[1])] == [("conv1", 5), ("conv3", 14),
                                                                              ("conv5", 32)]


# ------------------------------------------------------------------ the effective field
def _hand_gradient(model, x: np.ndarray, through) -> np.ndarray:
    """|d out[0, :, 2, 3].sum() / d x| summed over channels, with ``through`` applying the layers by hand."""
    t = paddle.to_tensor(x[None], stop_gradient=False)
    through(t)[0, :, 2, 3].sum().backward()
    return np.abs(t.grad.numpy()[0]).sum(0)


def test_the_effective_field_is_the_mean_over_samples_of_each_samples_gradient(lenet32):
    model, report = lenet32
    model.eval()
    inputs = noise_inputs((1, 1, 32, 32), 11, seed=5)  # 11: more than one pass of 8
    uf = unit_field(model, report, "conv3", (2, 3), inputs)

    def through(t):
        return model.conv3(model.pool2(paddle.nn.functional.relu(model.conv1(t))))

    expected = np.mean([_hand_gradient(model, x, through) for x in inputs], axis=0)
    np.testing.assert_allclose(uf.gradient, expected, rtol=1e-5, atol=1e-7)
    assert uf.samples == 11 and uf.outside == 0.0
    # conv3's unit (2, 3): 14x14 at rows 4..17 and columns 6..19 (5 + 1 + 4*2 = 14, jump 2); the mass inside
    assert uf.size == (14, 14) and uf.box == (4.0, 17.0, 6.0, 19.0)
    assert 0 < uf.radius <= 6.5  # the square can never exceed the box, whose half-width is 6.5


def test_a_layer_called_twice_gives_the_gradient_of_the_call_asked_for():
    """A ReLU reused in a block: its second call's row is the second call's field and gradient."""

    class Twice(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv1 = paddle.nn.Conv2D(1, 2, 3, padding=1)
            self.conv2 = paddle.nn.Conv2D(2, 2, 3, padding=1)
            self.relu = paddle.nn.ReLU()

        def forward(self, x):
            return self.relu(self.conv2(self.relu(self.conv1(x))))

    paddle.seed(2)
    model = Twice()
    model.eval()
    report = analyze(model, (1, 1, 10, 10))
    first, second = [r for r in report.records if r.path == "relu"]
    x = noise_inputs((1, 1, 10, 10), 1, seed=3)[0]
    for rec, through, size in ((first, lambda t: model.relu(model.conv1(t)), 3),
                               (second, lambda t: model.relu(model.conv2(model.relu(model.conv1(t)))), 5)):
        uf = unit_field(model, report, rec, (2, 3), x)
        assert uf.size == (size, size)
        np.testing.assert_allclose(uf.gradient, _hand_gradient(model, x, through), rtol=1e-6)
    assert unit_field(model, report, "relu", (2, 3), x).size == (5, 5)  # by path: the last call


def test_seeded_inputs_repeat_and_differ(lenet32):
    model, report = lenet32
    a = unit_field(model, report, "pool4", None, noise_inputs((1, 1, 32, 32), 4, seed=0)).gradient
    b = unit_field(model, report, "pool4", None, noise_inputs((1, 1, 32, 32), 4, seed=0)).gradient
    c = unit_field(model, report, "pool4", None, noise_inputs((1, 1, 32, 32), 4, seed=1)).gradient
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("filled", "centre", "radius"),
    [
        ((4, 5, 4, 5), (4.0, 4.0), 0.0),  # one pixel: a 1x1 square
        ((2, 7, 2, 7), (4.0, 4.0), 2.0),  # a uniform 5x5 square: 95% needs every ring, side 5
        ((3, 7, 3, 7), (4.5, 4.5), 1.5),  # uniform 4x4 between pixels: side 4 (r steps from 0.5)
        ((0, 9, 0, 9), (4.0, 4.0), 4.0),  # the whole 9x9 map
    ],
)
def test_radius_on_hand_built_gradients(filled, centre, radius):
    g = np.zeros((9, 9))
    r0, r1, c0, c1 = filled
    g[r0:r1, c0:c1] = 1.0
    assert radius_holding(g, centre) == radius


def test_radius_stops_at_95_percent():
    g = np.zeros((11, 11))
    g[5, 5] = 95.0  # 95% at the centre, the other 5% on the border ring
    g[0, 0] = 5.0
    assert radius_holding(g, (5.0, 5.0)) == 0.0
    g[5, 5] = 94.0
    assert radius_holding(g, (5.0, 5.0)) == 5.0


# ------------------------------------------------------------------ the command, without MNIST
@needs_matplotlib
def test_rf_resnet18_on_a_machine_without_mnist(tmp_path, artefacts):
    """The issue's 'done when': a useful rf picture for resnet18 with no MNIST anywhere (exit 2 before)."""
    env = {**os.environ, "CONVCALC_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(ROOT)}
    (tmp_path / "data").mkdir()
    (tmp_path / "home").mkdir()
    out = tmp_path / "rf_resnet18.png"
    proc = subprocess.run([sys.executable, "-m", "convcalc", "rf", "resnet18", "-o", str(out)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "note:" not in proc.stderr  # an RGB 224x224 model never wanted a digit
    # the default layer and its box by hand (see above): 211x211, unit 7,7 of a 14x14 map centred at 7*16 + 0
    assert "resnet18 layer3.1.relu unit 7,7: theoretical field 211x211 (rows 7..217, columns 7..217" in proc.stdout
    assert "gradient outside it 0.0%" in proc.stdout and "input neutral picture" in proc.stdout
    side = int(proc.stdout.split("95% of the gradient within ")[1].split("x")[0])
    assert 1 <= side <= 211  # the gradient never leaves the theoretical box, so neither does its 95% square
    shutil.copy(out, artefacts / "rf_resnet18_no_mnist.png")
    from PIL import Image

    with Image.open(out) as img:
        assert img.format == "PNG" and img.size[0] > 1200 and img.size[1] > 400


@needs_matplotlib
def test_rf_lenet_without_mnist_draws_on_a_neutral_picture_with_one_note(tmp_path, artefacts):
    """A fresh machine (empty home: no MNIST, no matplotlib font cache): one line on stderr, the note."""
    (tmp_path / "data").mkdir()
    (tmp_path / "home").mkdir()
    env = {**os.environ, "CONVCALC_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(ROOT)}
    out = tmp_path / "rf.png"
    proc = subprocess.run([sys.executable, "-m", "convcalc", "rf", "book_paddle_lenet",
                           "--layers", "all", "-o", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"note: no MNIST test images in {tmp_path / 'data'}: drawn on a neutral picture (--data-dir "
                     "or CONVCALC_DATA_DIR for a digit, or --image FILE)"]
    assert "book_paddle_lenet pool4 unit 2,2: theoretical field 16x16" in proc.stdout
    # --layers all: the deepest layer of each jump (1, 2, 4), and the unit shown (pool4) among them
    assert ("theoretical fields drawn: conv1: 5x5, jump 1; conv3: 14x14, jump 2; pool4: 16x16, jump 4; "
            "conv5: 32x32, jump 4") in proc.stdout
    shutil.copy(out, artefacts / "rf_book_paddle_lenet_no_mnist_layers_all.png")


@needs_matplotlib
def test_the_same_seed_draws_the_same_picture(tmp_path):
    pictures = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        out = tmp_path / f"{name}.png"
        proc = run_cli("rf", "book_paddle_lenet", "--image", str(ROOT / "examples" / "shapes.png"),
                       "--samples", "4", "--seed", seed, "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        pictures.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert pictures[0] == pictures[1] != pictures[2]


@pytest.mark.parametrize(("argv", "needle"), [
    (("--samples", "0"), "--samples must be a whole number >= 1"),
    (("--seed", "-1"), "--seed must be a whole number"),
    (("--layers", "nosuch"), "unknown layer 'nosuch'"),
    (("--layers", "linear6"), "no finite spatial receptive field"),
])
def test_rf_new_options_refuse_bad_values_in_one_line(tmp_path, argv, needle):
    proc = run_cli("rf", "book_paddle_lenet", "--image", str(ROOT / "examples" / "shapes.png"), *argv,
                   "-o", str(tmp_path / "rf.png"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert not (tmp_path / "rf.png").exists()


# ------------------------------------------------------------------ nothing clipped
@needs_matplotlib
def test_no_text_leaves_the_figure_when_the_field_is_larger_than_the_input(artefacts):
    """Finding 4e: a title wider than its panel was cut by the figure's edge."""
    from paddle import nn

    from convcalc.analysis.effective import nearest_unit, unit_box
    from convcalc.render.pictures import unit_field_figure

    paddle.seed(0)
    model = nn.Sequential()
    model.add_sublayer("a_rather_long_attribute_name_for_the_first_convolution", nn.Conv2D(3, 4, 7, padding=3))
    model.add_sublayer("and_an_even_longer_one_for_the_second_convolution_of_this_model", nn.Conv2D(4, 4, 7, padding=3))
    report = analyze(model, (1, 3, 12, 12), name="a_model_with_a_long_name_to_test_the_wrapping_of_titles")
    records = [r for r in report.records if r.is_leaf]
    uf = unit_field(model, report, records[0], None, noise_inputs((1, 3, 12, 12), 2, seed=0))
    boxes = (uf, unit_box(records[1], nearest_unit(records[1], uf.centre)))  # 13x13 on a 12x12 input
    assert boxes[1].larger_than(12, 12)
    source = "/home/someone/pictures/holidays/2024/an_image_with_a_very_long_file_name_indeed.png"
    fig = unit_field_figure(uf, np.zeros((3, 12, 12), "float32"), report, boxes=boxes, seed=0, source=source)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        frame = fig.bbox
        texts = [t for t in fig.findobj(match=lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent"))
                 if t.get_text().strip() and t.get_visible()]
        assert len(texts) > 10
        titles = [ax.title for ax in fig.axes if ax.get_title()] + [fig._suptitle]
        assert all(t in texts for t in titles) and len(titles) == 4
        boxes = [t.get_window_extent(renderer) for t in titles]
        for k, a in enumerate(boxes):  # no title runs into another
            assert not any(a.overlaps(b) for b in boxes[k + 1:]), titles[k].get_text()
        for t in texts:
            box = t.get_window_extent(renderer)
            assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1, t.get_text()
            assert box.y0 >= frame.y0 - 1 and box.y1 <= frame.y1 + 1, t.get_text()
        fig.savefig(artefacts / "rf_long_names_larger_than_input.png", dpi=90)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
