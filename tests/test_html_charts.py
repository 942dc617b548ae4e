"""The HTML page's charts people read (issue 22, Deliver 5): units that scale, axes, legends outside the data,
the receptive field along the main path with its side branches in a tooltip, the jump on its own axis.

Truth: byte counts of resnet18's outputs worked by hand (floats x 4 B), its side branches read from the model
itself (``named_sublayers``), and - in Chromium - the boxes the browser lays the SVG out in.  The screenshots
are kept in $CONVCALC_ARTEFACTS (or a pytest temporary folder) for a reader.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

UNIT_VALUE = re.compile(r"^(\d[\d,]*(?:\.\d+)?) (B|KiB|MiB|GiB)$")


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("CONVCALC_ARTEFACTS") or tmp_path_factory.mktemp("artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    from convcalc.cli import main

    path = tmp_path_factory.mktemp("html") / "report_resnet18.html"
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["report", "resnet18", "--format", "html", "-o", str(path)]) == 0, err.getvalue()
    return path


class _Charts(HTMLParser):
    """Each chart: its title, its SVG elements (tag, attributes, text) in order."""

    def __init__(self):
        super().__init__()
        self.charts: list[dict] = []
        self._in_h3 = False
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("class") == "chart":
            self.charts.append({"title": "", "elements": [], "caption": ""})
        elif self.charts and tag == "h3":
            self._in_h3 = True
        elif self.charts and tag in ("text", "polyline", "circle", "rect", "g", "title", "line", "p"):
            element = {"tag": tag, **a, "text": ""}
            self.charts[-1]["elements"].append(element)
            self._open.append(element)

    def handle_endtag(self, tag):
        if tag == "h3":
            self._in_h3 = False
        elif self._open and self._open[-1]["tag"] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._in_h3:
            self.charts[-1]["title"] += data
        elif self._open:
            self._open[-1]["text"] += data


def _charts(page: Path) -> dict[str, list[dict]]:
    parser = _Charts()
    parser.feed(page.read_text(encoding="utf-8"))
    return {c["title"]: c["elements"] for c in parser.charts}


def _chart(charts: dict, start: str) -> list[dict]:
    return next(v for k, v in charts.items() if k.startswith(start))


def test_output_sizes_scale_their_unit(page):
    """Finding 5a: avgpool and fc read '0.00 MB'."""
    memory = _chart(_charts(page), "Output size per layer")
    values = {e["text"] for e in memory if e["tag"] == "text" and e.get("class") == "value"}
    assert values and all(UNIT_VALUE.match(v) for v in values), values
    assert not any(float(UNIT_VALUE.match(v).group(1).replace(",", "")) == 0 for v in values)
    tips = {e["text"].split(": ")[0]: e["text"].split(": ")[1] for e in memory if e["tag"] == "title"}
    # by hand: avgpool [1, 512, 1, 1] = 2,048 B; fc [1, 1000] = 4,000 B = 3.9 KiB; conv1 [1, 64, 112, 112] x 4 B =
    # 3,211,264 B = 3.06 MiB; layer1 [1, 64, 56, 56] x 4 = 802,816 B = 784.0 KiB
    assert (tips["avgpool"], tips["fc"], tips["conv1"], tips["layer1.0.conv1"]) == (
        "2.0 KiB", "3.9 KiB", "3.06 MiB", "784.0 KiB")
    axis = [e["text"] for e in memory if e.get("class") == "axis"]
    assert axis == ["bytes of the layer's output (MiB)"]  # the largest bar is 3.06 MiB
    ticks = [float(e["text"]) for e in memory if e.get("class") == "tick"]
    assert ticks[0] == 0 and ticks[-1] >= 3.06 and len(ticks) >= 3


def test_bar_charts_have_a_scale_and_say_what_they_leave_out(page):
    charts = _charts(page)
    flops = _chart(charts, "FLOPs per layer")
    assert [e["text"] for e in flops if e.get("class") == "axis"] == ["FLOPs (paddle convention)"]
    assert [e["text"] for e in flops if e.get("class") == "tick"][:2] == ["0", "50M"]
    # paddle.flops counts ReLU, max pooling, the residual adds and the flatten as 0: by hand, 1 + 8 x 2 ReLU calls
    # (each BasicBlock calls its ReLU twice), 1 max pool, 8 adds and 1 flatten = 27 rows, said, not dropped silently
    captions = [e["text"] for e in flops if e["tag"] == "p"]
    assert captions == ["27 layers with 0 not shown."]


def test_rf_chart_follows_the_main_path_and_names_the_side_branches(page):
    """Findings 5b-5e: no x labels, legend on the line, jump flattened, dips at every 1x1 downsample."""
    import paddle

    rf = _chart(_charts(page), "Receptive field along the main path")
    plot = next(e for e in rf if e.get("class") == "plot")
    top, bottom = float(plot["y"]), float(plot["y"]) + float(plot["height"])

    def points(cls):
        line = next(e for e in rf if e["tag"] == "polyline" and cls in e.get("class", "").split())
        return [tuple(map(float, p.split(","))) for p in line["points"].split()]

    size = points("size")
    ys = [y for _, y in size]
    assert all(b <= a + 1e-9 for a, b in zip(ys, ys[1:])), "the field never shrinks along the main path"
    jump = [y for _, y in points("jump")]
    assert (max(jump) - min(jump)) / (bottom - top) > 0.5  # 2 .. 32 on its own 0 .. 40 axis: 75% of the height
    axis = [e["text"] for e in rf if e.get("class") == "axis"]
    assert "field size (input pixels)" in axis and "jump (input pixels)" in axis and len(axis) == 3
    xticks = [e["text"] for e in rf if e.get("class") == "xtick"]
    assert len(xticks) >= 4 and {"layer1", "layer2", "layer3", "layer4"} <= set(xticks)
    legend = next(e for e in rf if e.get("class") == "legend")
    legend_y = float(re.search(r"translate\([\d.]+,([\d.]+)\)", legend["transform"]).group(1))
    assert legend_y + 5 < top  # above the plot area, outside the data
    # the side branches are resnet18's downsample layers, read from the model: each named in a hollow point's tooltip
    downsample = {p for p, layer in paddle.vision.models.resnet18().named_sublayers()
                  if ".downsample." in p and not layer.sublayers()}
    tips = " ".join(e["text"] for e in rf if e["tag"] == "title")
    assert len(downsample) == 6 and all(f"{p} (" in tips for p in downsample)
    hollow = [e for e in rf if e["tag"] == "circle" and e.get("class") == "joined"]
    assert len(hollow) == 3  # one per stage with a downsample (layer2, 3, 4)


# ------------------------------------------------------------------ in Chromium
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def test_charts_in_chromium(page, artefacts):
    """Lay the page out in a real browser and check what a reader sees: nothing clipped, the legend off the data."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium; never a browser download)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto(page.as_uri())
            charts = tab.locator(".chart")
            assert charts.count() == 4
            names = ["flops_per_layer", "parameters_per_layer", "output_size_per_layer", "receptive_field"]
            for i, name in enumerate(names):
                charts.nth(i).screenshot(path=str(artefacts / f"report_resnet18_chart{i}_{name}.png"))
            layout = tab.evaluate("""() => [...document.querySelectorAll('.chart svg')].map(svg => {
                const box = r => { const b = r.getBoundingClientRect();
                                   return [b.left, b.top, b.right, b.bottom]; };
                return { svg: box(svg),
                         texts: [...svg.querySelectorAll('text')].map(t => [t.textContent, box(t),
                                                                            t.getAttribute('class')]),
                         legend: svg.querySelector('g.legend') ? box(svg.querySelector('g.legend')) : null,
                         plot: svg.querySelector('rect.plot') ? box(svg.querySelector('rect.plot')) : null,
                         points: [...svg.querySelectorAll('circle.point, circle.joined')].map(box) };
            })""")
        finally:
            browser.close()
    for chart in layout:
        left, top, right, bottom = chart["svg"]
        for text, (x0, y0, x1, y1), _ in chart["texts"]:  # no label cut by its chart's edge
            assert left - 0.5 <= x0 and x1 <= right + 0.5 and top - 0.5 <= y0 and y1 <= bottom + 0.5, text
    rf = layout[3]
    lx0, ly0, lx1, ly1 = rf["legend"]
    px0, py0, px1, py1 = rf["plot"]
    assert ly1 <= py0, "the legend sits above the plot area"
    for x0, y0, x1, y1 in rf["points"]:
        assert not (x0 < lx1 and lx0 < x1 and y0 < ly1 and ly0 < y1), "a point under the legend"
    ends = sorted(box[2] for _, box, cls in rf["texts"] if cls == "xtick")
    assert len(ends) >= 4
    # labels rotated by 45 degrees and ending at their tick: 15 px apart keeps parallel 10 px lines > 10 px apart
    assert all(b - a >= 15 for a, b in zip(ends, ends[1:])), ends
    from PIL import Image

    with Image.open(artefacts / "report_resnet18_chart3_receptive_field.png") as img:
        assert img.size[0] >= 700 and img.size[1] >= 300
