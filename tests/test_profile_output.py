"""``convcalc profile``'s output on a made-up profile with fixed numbers: golden text, CSV, JSON, the HTML roofline
(also in a real Chromium, with a screenshot).

The golden files (``tests/data/profile/made_up.txt`` and ``.md``) are regenerated with
``python tests/test_profile_output.py --write`` after a change to the output was read and meant.
"""

from __future__ import annotations

import csv
import html.parser
import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from convcalc.profiling.records import Bound, Ceilings, Profile, ProfileRow, Reason, TrainingStep

DATA = Path(__file__).resolve().parent / "data" / "profile"

CEIL = Ceilings(device="Test CPU", dtype="float32", threads=1, peak_flops=4e10, bandwidth=8e9,
                curve=((262144.0, 4e10), (4194304.0, 3e10), (1073741824.0, 8e9)), call_floor=5e-6, op_floor=3e-6,
                fault_cost=8e-6, paddle="3.3.1", measured_at="2026-01-01T00:00:00",
                kernels={"matmul_n": 2048, "stream_mib": 512}, source="cache")


def _row(index, path, kind, median, share, flops, nbytes, klass, *, functional=False, reason="", faults=0.0,
         scope=None, kernel=None, backward=None):
    t_c = None if flops is None else flops / CEIL.peak_flops
    t_m = nbytes / CEIL.bandwidth_at(nbytes)
    bound = max(t_c or 0.0, t_m)
    return ProfileRow(index=index, path=path, kind=kind, is_functional=functional, call=0,
                      times=(median * 0.9, median, median * 1.2), median=median, iqr=median * 0.15, best=median * 0.9,
                      share=share, flops=flops, bytes=nbytes, t_compute=t_c, t_memory=t_m, bound=bound,
                      efficiency=bound / median, bound_class=klass, reason=reason,
                      source="container, split by profiler" if functional else "hooks",
                      faults=None if functional else faults, profiler_scope=scope, profiler_kernel=kernel,
                      backward=backward)


def made_up(training: bool = False) -> Profile:
    rows = (
        _row(0, "conv", "Conv2D", 2e-3, 0.5, 60_000_000, 1_572_864, Bound.COMPUTE, scope=2.1e-3, kernel=1.9e-3,
             backward=4e-3 if training else None),
        _row(1, "bn", "BatchNorm2D", 1e-3, 0.25, 1_000_000, 4_194_304, Bound.MEMORY, scope=1.1e-3, kernel=0.8e-3,
             backward=1e-3 if training else None),
        _row(2, "dw", "Conv2D", 6e-4, 0.15, 200_000, 65_536, Bound.OVERHEAD, reason=Reason.SLOW_KERNEL,
             scope=6.5e-4, kernel=5e-4, backward=1e-3 if training else None),
        _row(3, "mine", "Wobble", 2e-4, 0.05, None, 8_192, Bound.OVERHEAD, reason=Reason.PER_CALL, scope=2.2e-4,
             kernel=1e-4, backward=2e-4 if training else None),
        _row(4, ":add", "add", 1e-4, 0.025, 0, 12_288, Bound.OVERHEAD, functional=True, reason=Reason.PER_CALL,
             backward=5e-5 if training else None),
    )
    return Profile(
        model="made_up", input_shapes=((1, 3, 32, 32),), dtype="float32", threads=1, repeat=3, warmup=1, seed=0,
        allocator="default", ceilings=CEIL, rows=rows, measured=4e-3, hooked=4.1e-3, unhooked=3.9e-3,
        unhooked_iqr=1e-4, outside=1e-4, prediction=sum(r.bound for r in rows), flops_total=61_200_000,
        flops_complete=False, overhead_sum=4e-3 / 3.9e-3 - 1, overhead_paired=0.03, faults_per_forward=12.0,
        profiler_forward=4.3e-3, profiler_kernels=3.3e-3,
        training=TrainingStep(forward=4.2e-3, backward=6.3e-3, optimizer=1e-4, step_unhooked=1.05e-2,
                              backward_on_rows=6.25e-3, backward_unclaimed=5e-5, backward_flops=120_000_000)
        if training else None,
        rows_without_rule=("mine",), flops_time_rank=0.9, kernel_rank=1.0,
        classes=((Bound.COMPUTE, 1, 0.5, 0.98), (Bound.MEMORY, 1, 0.25, 0.016), (Bound.OVERHEAD, 3, 0.225, 0.003)),
        misleading=((0, 0.5, 0.98), (1, 0.25, 0.016), (2, 0.15, 0.003)), started="2026-01-01T00:00:01",
        load_before=(0.5, 0.4, 0.3), load_after=(0.6, 0.4, 0.3),
    )


def text(p: Profile) -> str:
    from rich.console import Console

    from convcalc.render.profile import profile_renderables

    console = Console(record=True, width=220, file=io.StringIO())
    for item in profile_renderables(p, cores=2):
        console.print(item)
    return console.export_text()


def markdown(p: Profile) -> str:
    from convcalc.render.profile import profile_markdown

    return profile_markdown(p, cores=2)


GOLDEN = {"made_up.txt": lambda: text(made_up()), "made_up.md": lambda: markdown(made_up()),
          "made_up_training.md": lambda: markdown(made_up(training=True))}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_output(name):
    want = (DATA / name).read_text(encoding="utf-8")
    assert GOLDEN[name]() == want, f"changed: if meant, run python tests/test_profile_output.py --write ({name})"


def test_text_says_what_the_numbers_are_by_hand():
    out = text(made_up())
    assert "1.50 MiB" in out  # conv's 1,572,864 bytes
    assert "50.0%" in out and "unknown" in out and "overhead: slow kernel" in out
    assert "FLOPs >= 61,200,000" in out and "measurement overhead +3.0%" in out
    assert "load average 0.50 0.40 0.30 before" in out and "threads 1  seed 0  repeat 3 (warmup 1)" in out
    assert "warning" not in out  # load 0.5 on 2 cores; no row above efficiency 1.2


def test_warnings_for_a_busy_machine_and_low_ceilings():
    from dataclasses import replace

    from convcalc.render.profile import warning_lines

    p = made_up()
    fast = replace(p.rows[0], efficiency=1.5)
    view = replace(p.rows[4], efficiency=3.0)  # :add, no arithmetic: faster than moving its bytes
    w = warning_lines(replace(p, rows=(fast, *p.rows[1:4], view), load_before=(7.5, 7.0, 6.0)), cores=2)
    assert len(w) == 3 and "faster than the ceilings allow" in w[0] and "conv" in w[0] and ":add" not in w[0]
    assert "views or identities" in w[1] and ":add" in w[1] and "busy" in w[2]


def test_csv_has_plain_numbers_and_empty_unknowns():
    from convcalc.render.profile import CSV_FIELDS, profile_csv

    rows = list(csv.DictReader(io.StringIO(profile_csv(made_up()))))
    assert list(rows[0]) == list(CSV_FIELDS) and len(rows) == 5
    assert rows[0]["bytes"] == "1572864" and float(rows[0]["median"]) == 2e-3
    assert rows[0]["bound_class"] == "compute-bound"
    mine = rows[3]
    assert mine["flops"] == "" and mine["t_compute"] == "" and mine["reason"] == "per-call cost"


def test_json_schema():
    from convcalc.render.profile import profile_dict

    d = json.loads(json.dumps(profile_dict(made_up(training=True))))
    assert d["complete"] is False and d["rows"][3]["flops"] is None and d["rows_without_rule"] == ["mine"]
    assert {"ratio", "profiler_overhead", "ceilings", "classes", "misleading", "training", "units"} <= set(d)
    assert d["rows"][0]["bound_class"] == "compute-bound"
    assert d["rows"][0]["times"] == pytest.approx([1.8e-3, 2e-3, 2.4e-3])
    assert d["ceilings"]["ridge"] == 5.0 and d["training"]["backward_flops"] == 120_000_000
    assert d["allocator"] == "default" and d["ratio"] == pytest.approx(4e-3 / sum(r.bound for r in made_up().rows))


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.circles, self.titles, self.stack, self.scripts, self.links = [], 0, [], 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append((tag, a))
        if tag == "circle" and a.get("class") == "row":
            self.circles.append(a)
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            if k in a:
                self.links.append(a[k])

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "title" and len(self.stack) > 1 and self.stack[-2][0] == "circle" \
                and self.stack[-2][1].get("class") == "row":
            self.titles += 1


def test_html_has_one_hoverable_point_per_row_with_flops_and_no_script():
    from convcalc.render.roofline import profile_html

    page = profile_html(made_up(), cores=2)
    parser = _Page()
    parser.feed(page)
    assert len(parser.circles) == 3 == parser.titles  # conv, bn, dw; not mine (unknown) nor :add (0 FLOPs)
    assert parser.scripts == 0 and parser.links == [] and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "Not on the roofline (0 or unknown FLOPs): mine, :add" in page
    radii = {c["cx"]: float(c["r"]) for c in parser.circles}
    assert max(radii.values()) == pytest.approx(3 + 12 * 0.5**0.5, abs=0.05)  # conv: half the time


def _chromium() -> str | None:
    for path in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if path and Path(path).exists():
            return path
    return None


def test_the_roofline_renders_in_chromium(tmp_path):
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the roofline is checked in a real browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    from convcalc.render.roofline import profile_html

    page_file = tmp_path / "profile.html"
    page_file.write_text(profile_html(made_up(), cores=2), encoding="utf-8")
    errors, requests = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            assert page.locator("svg.roofline circle.row title").count() == 3
            chart = page.locator("svg.roofline").bounding_box()
            assert chart["width"] == 760 and chart["height"] == 460
            for i in range(3):  # every point is drawn inside the chart
                box = page.locator("svg.roofline circle.row").nth(i).bounding_box()
                assert chart["x"] <= box["x"] and box["x"] + box["width"] <= chart["x"] + chart["width"]
                assert chart["y"] <= box["y"] and box["y"] + box["height"] <= chart["y"] + chart["height"]
            assert page.locator("table tbody tr").count() == 5
            shot = tmp_path / "roofline.png"
            page.locator("svg.roofline").screenshot(path=str(shot))
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert [u for u in requests if not u.startswith("file:")] == []
    from PIL import Image

    with Image.open(shot) as img:
        assert abs(img.size[0] - 760) <= 1 and abs(img.size[1] - 460) <= 1
        colours = {img.getpixel((x, y))[:3] for x in range(0, 759, 7) for y in range(0, 459, 7)}
    assert len(colours) > 10  # drawn, not a blank box


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        for name, make in GOLDEN.items():
            (DATA / name).write_text(make(), encoding="utf-8")
    else:
        print(text(made_up()))
