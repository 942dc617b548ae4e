"""Pictures and notebooks (issue 13): diff, the notebook API, --format html, convcalc rf.

Truth is independent of the code under test: layer paths and parameter counts
come from the Paddle models themselves (``named_sublayers``, ``parameters()``),
and the effective receptive field is Paddle's own input gradient.
"""

from __future__ import annotations

import html.parser
import json
import shutil
import subprocess
import sys
from math import prod
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"


def run_cli(*argv):
    """The CLI in this process (fast: paddle is imported once); the subprocess test below covers the real one."""
    import contextlib
    import io

    from convcalc.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return subprocess.CompletedProcess(list(argv), code, out.getvalue(), err.getvalue())


def test_real_command_line_diff_is_one_line_on_bad_input():
    proc = subprocess.run([sys.executable, "-m", "convcalc", "diff", "resnet18"], capture_output=True, text=True,
                          timeout=300)
    assert "two models" in one_line_error(proc)


def one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ------------------------------------------------------------------ diff
def _leaf_paths(model) -> list[str]:
    return [p for p, layer in model.named_sublayers() if not layer.sublayers()]


def test_diff_resnet18_vs_resnet34_against_the_models_themselves():
    import paddle.vision.models as M

    proc = run_cli("diff", "resnet18", "resnet34", "--input", "3x64x64", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    r18, r34 = M.resnet18(), M.resnet34()
    only_34 = set(_leaf_paths(r34)) - set(_leaf_paths(r18))
    inserted_layers = {r["path"] for r in d["layers"] if r["status"] == "inserted" and ":" not in r["path"]}
    assert inserted_layers == only_34
    assert not [r for r in d["layers"] if r["status"] == "removed"]
    n18 = sum(prod(p.shape) for p in r18.parameters())
    n34 = sum(prod(p.shape) for p in r34.parameters())
    assert d["totals"]["params"] == {"a": n18, "b": n34, "delta": n34 - n18}


def test_diff_one_model_at_two_inputs_scales_conv_flops_with_area():
    proc = run_cli("diff", "resnet18", "-i", "3x32x32", "-i", "3x64x64", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    conv1 = next(r for r in d["layers"] if r["path"] == "conv1")
    # conv1: 7x7, stride 2, padding 3, 64 kernels on 3 channels, no bias: M'N'P*D*U*V (book 5.21)
    assert conv1["flops"]["a"] == 16 * 16 * 64 * 3 * 49
    assert conv1["flops"]["b"] == 32 * 32 * 64 * 3 * 49
    assert conv1["output_shape"] == {"a": [1, 64, 16, 16], "b": [1, 64, 32, 32]}
    assert conv1["memory_bytes"]["delta"] == 4 * 64 * (32 * 32 - 16 * 16)
    assert d["totals"]["params"]["delta"] == 0  # adaptive pooling: the same weights at any size
    same = {r["path"] for r in d["layers"] if r["status"] == "same"}
    assert "fc" in same and "conv1" not in same  # after global pooling nothing depends on the size


def test_diff_saved_reports_equals_diff_of_models(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run_cli("report", "book_resnet18", "--format", "json", "-o", str(a)).returncode == 0
    assert run_cli("report", "book_resnet18_plain", "--format", "json", "-o", str(b)).returncode == 0
    saved = run_cli("diff", str(a), str(b), "--format", "json")
    live = run_cli("diff", "book_resnet18", "book_resnet18_plain", "--format", "json")
    assert saved.returncode == live.returncode == 0
    ds, dl = json.loads(saved.stdout), json.loads(live.stdout)
    assert ds["totals"] == dl["totals"] and ds["layers"] == dl["layers"]
    removed = {r["path"] for r in ds["layers"] if r["status"] == "removed"}
    # without residuals the adds (and the shortcut convs that never run) are gone
    assert any(p.endswith(":add") for p in removed)


def test_diff_table_shows_marks_and_totals():
    proc = run_cli("diff", "resnet18", "resnet34", "-i", "3x32x32")
    assert proc.returncode == 0, proc.stderr
    assert "layer3.5.conv1" in proc.stdout and "inserted (+)" in proc.stdout
    assert "Total params: 11,699,112 → 21,814,696" in proc.stdout.replace("\u2192", "→")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("diff", "resnet18"), "two models"),
        (("diff", "missing.json", "resnet18"), "no report file"),
        (("diff", "resnet18", "resnet34", "-i", "3x32x32", "-i", "3x32x32", "-i", "3x32x32"), "--input given 3"),
    ],
)
def test_diff_bad_input_is_one_line(argv, needle):
    assert needle in one_line_error(run_cli(*argv))


def test_diff_refuses_json_that_is_not_a_report(tmp_path):
    f = tmp_path / "x.json"
    f.write_text('{"a": 1}')
    assert "not a convcalc report" in one_line_error(run_cli("diff", str(f), str(f)))


# ------------------------------------------------------------------ notebook API
@pytest.fixture(scope="module")
def lenet_summary():
    import convcalc
    from convcalc.models.book import Paddle_LeNet

    return convcalc.summary(Paddle_LeNet(in_channels=1, num_classes=10), input_size=(1, 1, 32, 32))


def test_summary_views(lenet_summary):
    s = lenet_summary
    text = str(s)
    assert "Total params: 61,706" in text and "423,344" in text  # the book's paddle.summary / paddle.flops
    assert repr(s) == text  # the table, as torchinfo's result (tests/test_summary.py)
    d = s.to_dict()
    assert d["totals"]["params"] == 61706 and d["totals"]["flops"] == 423344
    assert "| conv1 (Conv2D)" in s.to_markdown().replace("&nbsp;", "")
    csv_lines = s.to_csv().splitlines()
    assert csv_lines[0].startswith("index,path") and csv_lines[-1].split(",")[1] == "TOTAL"
    frag = s._repr_html_()
    assert frag.startswith("<div") and "<details open" not in frag and "<script" not in frag  # LeNet: no container
    assert 'data-path="conv1"' in frag
    page = s.to_html()
    assert page.startswith("<!DOCTYPE html>") and "61,706" in page


def test_summary_accepts_what_paddle_summary_users_pass():
    import paddle

    import convcalc
    from convcalc.models.book import Paddle_LeNet

    model = Paddle_LeNet(in_channels=1, num_classes=10)
    a = convcalc.summary(model, input_size=(1, 32, 32)).to_dict()["totals"]
    b = convcalc.summary(model, input_spec=paddle.static.InputSpec([1, 1, 32, 32], "float32")).to_dict()["totals"]
    c = convcalc.summary(model, input_data=paddle.zeros([1, 1, 32, 32])).to_dict()["totals"]
    assert a == b == c


def test_library_use_prints_no_paddle_log_lines(capfd):
    import paddle

    import convcalc

    convcalc.summary(paddle.vision.models.LeNet(), input_size=(1, 1, 28, 28))
    convcalc.analyze(paddle.vision.models.LeNet(), (1, 1, 28, 28))
    err = capfd.readouterr().err
    assert "not support input out tensor" not in err and "eager_utils.cc" not in err


def test_report_repr_is_short():
    import convcalc
    from convcalc.models.book import Paddle_LeNet

    report = convcalc.analyze(Paddle_LeNet(in_channels=1, num_classes=10), (1, 32, 32))
    assert len(repr(report)) < 300 and "61,706" in repr(report)


# ------------------------------------------------------------------ html
class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.folds, self.external, self.svgs = [], 0, [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and "row" in (a.get("class") or "").split() and "data-path" in a:
            self.rows.append(a["data-path"])
        if tag == "details":
            self.folds += 1
        if tag == "svg":
            self.svgs += 1
        for key in ("src", "href"):
            if a.get(key):
                self.external.append(a[key])


@pytest.fixture(scope="module")
def html_page(tmp_path_factory):
    path = tmp_path_factory.mktemp("html") / "book_resnet18.html"
    proc = run_cli("report", "book_resnet18", "--format", "html", "-o", str(path))
    assert proc.returncode == 0, proc.stderr
    return path


def test_html_is_self_contained_with_every_row(html_page):
    import paddle

    from convcalc.models.book import Model_ResNet18

    page = _Page()
    page.feed(html_page.read_text(encoding="utf-8"))
    assert not page.external, page.external  # no network, no CDN
    model = Model_ResNet18(in_channels=1, num_classes=10)
    sublayers = {p for p, _ in model.named_sublayers()}
    assert sublayers - {"net.4.0.shortcut"} <= set(page.rows) | {p for p in sublayers if "shortcut" in p}
    assert page.folds >= 1 + 4 + 8  # root, 4 stages and 8 ResBlocks at least
    assert page.svgs == 4  # FLOPs, params, memory, receptive-field growth
    del paddle


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_html_in_a_real_browser(html_page, tmp_path):
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium installed (apt-get install chromium); see README, 'Pictures'")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=browser_path,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(html_page.as_uri())
            assert page.locator("script").count() == 0  # folding is the browser's own (<details>)
            rows = page.locator(".row[data-path]")
            total = rows.count()

            def shown() -> int:
                return page.locator(".row[data-path]:visible").count()

            assert shown() == total
            stage = page.locator('details[data-path="net.1"] > summary')
            stage.click()
            folded = shown()
            # net.1 holds two ResBlocks of 7 rows each plus the blocks themselves
            assert folded == total - 16, (folded, total)
            page.locator('details[data-path="net"] > summary').click()
            assert shown() == 1
            page.locator('details[data-path="net"] > summary').click()
            assert shown() == folded  # net.1 stays folded inside
            stage.click()
            assert shown() == total
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size[0] == 1300 and img.size[1] > 2000  # the table, three bar charts and the RF curve


# ------------------------------------------------------------------ rf pictures
needs_mnist = pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="no shared MNIST data")


@needs_mnist
def test_rf_picture_and_its_numbers(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "rf.png"
    proc = run_cli("rf", "book_lenet", "--layer", "conv3", "--unit", "2,3", "--data-dir", str(MNIST), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    # conv3 after conv1 (5x5) and pool2 (2x2, stride 2): 5 + 1*1 + 4*2 = 14, jump 2 (book 5.1.4);
    # its unit (2, 3) sees rows 4..17 and columns 6..19 of the 32x32 input
    assert "theoretical field 14x14 (rows 4..17, columns 6..19, jump 2x2)" in proc.stdout
    assert "gradient outside it 0.0%" in proc.stdout
    from PIL import Image

    with Image.open(out) as img:
        assert img.format == "PNG" and img.size[0] > 1200 and img.size[1] > 400


def test_effective_field_is_the_gradient_and_stays_inside_the_theoretical_box():
    import numpy as np
    import paddle

    from convcalc.analysis import analyze
    from convcalc.analysis.effective import unit_field
    from convcalc.models.book import Paddle_LeNet

    paddle.seed(3)
    model = Paddle_LeNet(in_channels=1, num_classes=10)
    image = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32)).astype("float32")
    report = analyze(model, (1, 32, 32))
    uf = unit_field(model, report, "conv3", (2, 3), image)
    # independent: the same gradient taken by hand through the first layers of Paddle_LeNet.forward
    x = paddle.to_tensor(image[None], stop_gradient=False)
    y = model.conv3(model.pool2(paddle.nn.functional.relu(model.conv1(x))))
    y[0, :, 2, 3].sum().backward()
    expected = np.abs(x.grad.numpy()[0]).sum(0)
    np.testing.assert_allclose(uf.gradient, expected, rtol=1e-6)
    rows, cols = np.nonzero(expected)
    assert rows.min() >= 4 and rows.max() <= 17 and cols.min() >= 6 and cols.max() <= 19
    assert uf.outside == 0.0


@needs_mnist
def test_rf_with_trained_weights_and_a_mismatched_file(tmp_path):
    pytest.importorskip("matplotlib")
    import paddle

    from convcalc.models.book import Model_LeNet, Paddle_LeNet

    good, bad = tmp_path / "lenet.pdparams", tmp_path / "other.pdparams"
    paddle.save(Model_LeNet(in_channels=1, num_classes=10).state_dict(), str(good))
    paddle.save(Paddle_LeNet(in_channels=3, num_classes=10).state_dict(), str(bad))
    out = tmp_path / "rf.svg"
    proc = run_cli("rf", "book_lenet", "--weights", str(good), "--data-dir", str(MNIST), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().lstrip().startswith("<?xml")
    assert "does not fit the model" in one_line_error(
        run_cli("rf", "book_lenet", "--weights", str(bad), "--data-dir", str(MNIST), "-o", str(tmp_path / "x.png")))


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--unit", "10,0"), "outside conv3's 10x10 output"),
        (("--layer", "linear6"), "no finite spatial receptive field"),
        (("--layer", "conv33"), "unknown layer 'conv33'"),
        (("--image", "nope.png"), "no image file"),
    ],
)
@needs_mnist
def test_rf_bad_input_is_one_line(tmp_path, extra, needle):
    argv = ["rf", "book_lenet", "--data-dir", str(MNIST), "-o", str(tmp_path / "rf.png")]
    if "--layer" not in extra:
        argv += ["--layer", "conv3"]
    line = one_line_error(run_cli(*argv, *extra))
    assert needle in line
    assert not (tmp_path / "rf.png").exists()


def test_rf_without_data_names_both_fixes(tmp_path):
    line = one_line_error(run_cli("rf", "book_lenet", "--data-dir", str(tmp_path), "-o", str(tmp_path / "rf.png")))
    assert "--data-dir" in line and "--image" in line


def test_rf_on_any_image(tmp_path):
    pytest.importorskip("matplotlib")
    import numpy as np
    from PIL import Image

    src = tmp_path / "photo.png"
    Image.fromarray((np.indices((50, 70)).sum(0) % 256).astype("uint8"), mode="L").convert("RGB").save(src)
    out = tmp_path / "rf.png"
    proc = run_cli("rf", "resnet18", "-i", "3x64x64", "--image", str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "gradient outside it 0.0%" in proc.stdout
    with Image.open(out) as img:
        assert img.size[0] > 1200


def test_the_readme_picture_is_there_and_whole():
    from PIL import Image

    path = ROOT / "docs" / "images" / "rf_book_lenet.png"
    assert "docs/images/rf_book_lenet.png" in (ROOT / "README.md").read_text(encoding="utf-8")
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] > 1200 and img.size[1] > 400


def test_rf_picture_box_after_upsampling_is_the_units_own_field():
    """After a 2x upsampling fields differ by position: the box of units 5 and 6 (of a 3x3 conv on the
    upsampled map) are each unit's own field, which the gradient fills exactly (a positive model)."""
    import numpy as np
    import paddle
    from paddle import nn

    from convcalc.analysis import analyze
    from convcalc.analysis.effective import unit_field

    model = nn.Sequential(nn.Conv2D(1, 2, 3, padding=1), nn.Upsample(scale_factor=2), nn.Conv2D(2, 2, 3, padding=1))
    with paddle.no_grad():
        for p in model.parameters():
            p.set_value(paddle.full(p.shape, 0.1))
    image = np.full((1, 12, 12), 0.5, dtype="float32")
    report = analyze(model, (1, 12, 12))
    for unit in ((5, 5), (6, 6)):
        uf = unit_field(model, report, "2", unit, image)
        rows, cols = np.nonzero(uf.gradient)
        # by hand: upsampled rows u-1..u+1 come from input rows (u-1)//2..(u+1)//2, widened by conv 1's 3 rows
        lo, hi = (unit[0] - 1) // 2 - 1, (unit[0] + 1) // 2 + 1
        assert (rows.min(), rows.max(), cols.min(), cols.max()) == (lo, hi, lo, hi)
        assert uf.box == (lo, hi, lo, hi) and uf.outside == 0.0
