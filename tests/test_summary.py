"""``convcalc.summary`` as a drop-in for ``paddle.summary`` and torchinfo's ``summary`` (issue 22, Deliver 1).

torchinfo is not installed (it needs torch); what it does is read from its source and its golden outputs at
TylerYep/torchinfo commit 5c4164f (v1.8.0), cited per test: ``torchinfo/torchinfo.py`` (``summary``,
``validate_user_params``, ``get_input_tensor``), ``torchinfo/enums.py``, ``torchinfo/formatting.py``,
``torchinfo/layer_info.py`` and ``tests/test_output/*.out`` (the tables its own tests compare against).
paddle.summary is Paddle's own, called here beside convcalc with the same arguments.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest
from paddle.static import InputSpec

import convcalc
from convcalc.errors import ConvcalcError, InputSpecError, InvalidParameterError
from convcalc.models.book import Paddle_LeNet

TORCHINFO = "TylerYep/torchinfo@5c4164f"


class SingleInputNet(nn.Layer):
    """torchinfo's tests/fixtures/models.py SingleInputNet, in Paddle (x.view(-1, 320) -> reshape)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(1, 10, 5)
        self.conv2 = nn.Conv2D(10, 20, 5)
        self.conv2_drop = nn.Dropout2D(0.3)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.reshape([-1, 320])
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), axis=1)


class Reuse(nn.Layer):
    """One Linear called three times (torchinfo's recursive layers)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.fc(self.fc(x)))


class LeNetListInput(nn.Layer):
    """paddle.summary's docstring example 3: forward takes ONE list."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2D(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2, 2),
                                      nn.Conv2D(6, 16, 5), nn.ReLU(), nn.MaxPool2D(2, 2))
        self.fc = nn.Sequential(nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10))

    def forward(self, inputs):
        x = paddle.flatten(self.features(inputs[0]), 1)
        return self.fc(x + inputs[1])


class LeNetDictInput(LeNetListInput):
    """paddle.summary's docstring example 4: forward takes ONE dict."""

    def forward(self, inputs):
        x = paddle.flatten(self.features(inputs["x1"]), 1)
        return self.fc(x + inputs["x2"])


class TwoInputs(nn.Layer):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(300, 50), nn.Linear(300, 50)

    def forward(self, x1, x2):
        return paddle.concat([self.a(x1), self.b(x2)], axis=0)


def _rows(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(("│", "|"))]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("│|").split("│" if "│" in line else "|")]


# ------------------------------------------------------------------ torchinfo's habits
def test_verbose_default_prints_in_a_script_and_not_at_a_prompt(capsys, monkeypatch):
    # torchinfo/torchinfo.py summary(): `verbose = 0 if hasattr(sys, "ps1") and sys.ps1 else 1`, then
    # `if verbose > Verbosity.QUIET: print(results)`
    model = Paddle_LeNet(in_channels=1)
    monkeypatch.delattr(sys, "ps1", raising=False)
    s = convcalc.summary(model, (1, 1, 32, 32))
    printed = capsys.readouterr().out
    assert printed.count("Total params: 61,706") == 1 and "conv1 (Conv2D)" in printed
    monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)  # python -i, IPython and Jupyter kernels set it
    convcalc.summary(model, (1, 1, 32, 32))
    assert capsys.readouterr().out == ""
    # ModelStatistics.__repr__ is the whole table (model_statistics.py): what a prompt shows for `s`
    assert repr(s) == str(s) and "conv1 (Conv2D)" in repr(s) and "Total params: 61,706" in repr(s)
    assert printed.rstrip("\n") == repr(s).rstrip("\n")


def test_verbose_0_is_silent_and_2_adds_one_row_per_parameter(capsys):
    # formatting.py layer_info_to_row: with Verbosity.VERBOSE each inner layer (parameter) gets a row, its count
    # in the Param # column as ├─n / └─n (tests/test_output/lstm.out: "└─weight ... └─6,000")
    model = Paddle_LeNet(in_channels=1)
    convcalc.summary(model, (1, 1, 32, 32), verbose=0)
    assert capsys.readouterr().out == ""
    convcalc.summary(model, (1, 1, 32, 32), verbose=2)
    out = capsys.readouterr().out
    rows = _rows(out)
    weight = next(i for i, r in enumerate(rows) if "└─weight" in r)
    assert "conv1 (Conv2D)" in rows[weight - 1] and "[6, 1, 5, 5]" in rows[weight] and "├─150" in rows[weight]
    assert "└─bias" in rows[weight + 1] and "└─6" in rows[weight + 1]
    assert sum("└─weight" in r for r in rows) == 5  # conv1, conv3, conv5, linear6, linear7


@pytest.mark.parametrize("bad, message", [
    ({"verbose": 3}, "Verbose must be either 0 (quiet), 1 (default), or 2 (verbose)"),  # validate_user_params
    ({"col_names": ["output_sizes"]}, "'output_sizes' is not a valid"),  # enums.py ColumnSettings(StrEnum)
    ({"row_settings": ["var_name"]}, "'var_name' is not a valid"),  # enums.py RowSettings(StrEnum)
], ids=["verbose", "col_names", "row_settings"])
def test_invalid_options_raise_value_errors_as_torchinfo_does(bad, message):
    with pytest.raises(ValueError) as err:
        convcalc.summary(Paddle_LeNet(in_channels=1), (1, 1, 32, 32), **bad)
    assert message.lower() in str(err.value).lower() and isinstance(err.value, ConvcalcError)
    assert "\n" not in str(err.value)


def test_both_inputs_are_refused():
    # validate_user_params: RuntimeError("Only one of (input_data, input_size) should be specified.")
    with pytest.raises(InputSpecError, match="exactly one of"):
        convcalc.summary(Paddle_LeNet(in_channels=1), (1, 1, 32, 32), input_data=paddle.ones([1, 1, 32, 32]))


def test_the_columns_of_torchinfos_single_input_all_cols_table():
    # tests/test_output/single_input_all_cols.out (test_single_input_all_cols: SingleInputNet, input_data (7, 1,
    # 28, 28), depth=1, every ColumnSettings): the layer rows' Kernel Shape, Groups, Input/Output Shape, Param #,
    # Param % and Trainable; the header order is col_names' order
    golden = {  # layer: (kernel, groups, input, output, params, percent, trainable)
        "Conv2D (conv1)": ("[5, 5]", "1", "[7, 1, 28, 28]", "[7, 10, 24, 24]", "260", "1.19%", "True"),
        "Conv2D (conv2)": ("[5, 5]", "1", "[7, 10, 12, 12]", "[7, 20, 8, 8]", "5,020", "22.99%", "True"),
        "Dropout2D (conv2_drop)": ("-", "-", "[7, 20, 8, 8]", "[7, 20, 8, 8]", "0", "-", "-"),
        "Linear (fc1)": ("-", "-", "[7, 320]", "[7, 50]", "16,050", "73.49%", "True"),
        "Linear (fc2)": ("-", "-", "[7, 50]", "[7, 10]", "510", "2.34%", "True"),
    }
    cols = ["kernel_size", "groups", "input_size", "output_size", "num_params", "params_percent", "trainable"]
    s = convcalc.summary(SingleInputNet(), input_data=paddle.randn([7, 1, 28, 28]), depth=1, col_names=cols,
                         row_settings=["var_names"], verbose=0)
    header = _cells(next(ln for ln in str(s).splitlines() if ln.startswith("┃")).replace("┃", "│"))
    assert header == ["Layer (type (var_name))", "Kernel shape", "Groups", "Input shape", "Output shape", "Params",
                      "Param %", "Trainable"]
    got = {c[0].lstrip("├─"): tuple(c[1:]) for c in map(_cells, _rows(str(s)))}
    for layer, want in golden.items():
        assert got[layer] == want, layer
    assert s.total_params == 21_840 == s["total_params"] and s.trainable_params == 21_840


def test_batch_dim_inserts_a_batch_of_one():
    # get_input_tensor: `input_tensor.unsqueeze(dim=batch_dim)`; tests/test_output/single_input_batch_dim.out
    # (input_size=(1, 28, 28), batch_dim=0) shows Input Shape [1, 1, 28, 28]
    s = convcalc.summary(SingleInputNet(), (1, 28, 28), batch_dim=0, verbose=0)
    assert s.report.input_shape == (1, 1, 28, 28)
    full = convcalc.summary(SingleInputNet(), (1, 1, 28, 28), verbose=0)
    assert s.report.totals == full.report.totals
    with pytest.raises(InputSpecError, match="batch_dim"):
        convcalc.summary(SingleInputNet(), input_data=paddle.ones([1, 1, 28, 28]), batch_dim=0)


def test_depth_hides_deeper_rows_and_row_settings_name_them_torchinfos_way():
    model = paddle.vision.models.resnet18(num_classes=10)
    # formatting.py layers_to_str: `if layer_info.depth > self.max_depth: continue`; get_layer_name: class name,
    # " (var_name)", ": depth-idx" (set_children_layers: a running index per depth); get_start_str: "├─" at
    # depth 1, "+ " with ascii_only (tests/test_output/resnet18_depth_consistency.out, ascii_only.out)
    s = convcalc.summary(model, (1, 3, 32, 32), depth=1, row_settings=["depth"], verbose=0)
    names = [_cells(r)[0] for r in _rows(str(s))]
    assert names[:5] == ["├─Conv2D: 1-1", "├─BatchNorm2D: 1-2", "├─ReLU: 1-3", "├─MaxPool2D: 1-4",
                         "├─Sequential: 1-5"]
    assert not any(n.startswith("│") for n in names)  # nothing deeper than 1
    text = str(convcalc.summary(model, (1, 3, 32, 32), depth=2, row_settings=["ascii_only", "depth"], verbose=0))
    assert "|    + BasicBlock: 2-1" in text and "+ Sequential: 1-5" in text
    assert not any(ch in text for ch in "─│┏┃")  # ascii only, the table's box too


def test_hide_recursive_layers_drops_repeated_calls():
    # tests/test_output/hide_recursive_layers.out: the rows of a module's 2nd+ call are "(recursive)" and
    # row_settings=("depth", "hide_recursive_layers") drops them
    shown = convcalc.summary(Reuse(), (2, 4), row_settings=["var_names"], verbose=0)
    hidden = convcalc.summary(Reuse(), (2, 4), row_settings=["var_names", "hide_recursive_layers"], verbose=0)
    def names(s):
        return [re.sub(r" \[\d+\]$", "", _cells(r)[0].lstrip("├─")) for r in _rows(str(s))]

    assert names(shown).count("Linear (fc)") == 3 and names(hidden).count("Linear (fc)") == 1


def test_dtypes_one_per_input_size_entry():
    # get_input_tensor: one dtype per input_size entry; an embedding's ids as paddle.int64
    model = nn.Sequential(nn.Embedding(100, 8), nn.Flatten(), nn.Linear(40, 2))
    s = convcalc.summary(model, (2, 5), dtypes=[paddle.int64], verbose=0)
    assert s.report.input_dtypes == ("int64",) and s.total_params == 100 * 8 + 40 * 2 + 2
    with pytest.raises(InputSpecError, match="one dtype per input"):
        convcalc.summary(TwoInputs(), [(1, 300), (1, 300)], dtypes=["float32"])


def test_input_data_list_and_dict_are_forwards_arguments():
    # forward_pass: list/tuple -> model(*x), dict -> model(**x) (tests/test_output/dict_input.out)
    a, b = paddle.rand([1, 300]), paddle.rand([1, 300])
    for data in ([a, b], {"x2": b, "x1": a}):
        s = convcalc.summary(TwoInputs(), input_data=data, verbose=0)
        assert s.total_params == 2 * (300 * 50 + 50) and s.report.input_shapes == ((1, 300), (1, 300))


def test_mult_adds_are_convcalcs_macs_and_total_mult_adds_answers():
    s = convcalc.summary(SingleInputNet(), (2, 1, 28, 28), col_names=["output_size", "mult_adds"], verbose=0)
    rows = {c[0]: c[2] for c in map(_cells, _rows(str(s)))}
    assert rows["conv1 (Conv2D)"] == f"{2 * 10 * 24 * 24 * 25:,}"  # MACs of the dot products (no bias)
    assert rows["fc1 (Linear)"] == f"{2 * 320 * 50:,}"
    assert s.total_mult_adds == 2 * (10 * 24 * 24 * 25 + 20 * 8 * 8 * 250 + 320 * 50 + 50 * 10)


# ------------------------------------------------------------------ paddle.summary's habits, beside the real one
def _both(capsys, net_factory, *args, **kwargs):
    paddle.seed(0)
    theirs = paddle.summary(net_factory(), *args, **kwargs)
    paddle_out = capsys.readouterr().out
    ours = convcalc.summary(net_factory(), *args, verbose=1, **kwargs)
    ours_out = capsys.readouterr().out
    return theirs, paddle_out, ours, ours_out


@pytest.mark.parametrize("args, kwargs", [
    (((1, 1, 32, 32),), {}),
    (((None, 1, 32, 32),), {}),
    (((-1, 1, 32, 32),), {}),
    ((InputSpec([None, 1, 32, 32], "float32"),), {}),
    ((), {"input_size": (1, 1, 32, 32), "dtypes": "float32"}),
    ((), {"input": paddle.rand([1, 1, 32, 32])}),
], ids=["tuple", "None-batch", "-1-batch", "InputSpec", "dtypes-str", "input-tensor"])
def test_paddle_summary_calls_run_unchanged(capsys, args, kwargs):
    theirs, paddle_out, ours, ours_out = _both(capsys, lambda: Paddle_LeNet(in_channels=1), *args, **kwargs)
    assert theirs["total_params"] == ours["total_params"] == 61_706
    assert theirs["trainable_params"] == ours["trainable_params"]
    assert "61,706" in paddle_out and "Total params: 61,706" in ours_out  # both print
    assert ours.report.input_shape == (1, 1, 32, 32)


def test_paddle_summary_list_of_shapes_with_dtypes(capsys):
    theirs, _, ours, _ = _both(capsys, TwoInputs, [(1, 300), (1, 300)], dtypes=["float32", "float32"])
    assert theirs["total_params"] == ours["total_params"] and ours.report.input_shapes == ((1, 300), (1, 300))


@pytest.mark.parametrize("net, data", [
    (LeNetListInput, lambda: [paddle.rand([1, 1, 28, 28]), paddle.rand([1, 400])]),
    (LeNetDictInput, lambda: {"x1": paddle.rand([1, 1, 28, 28]), "x2": paddle.rand([1, 400])}),
], ids=["list", "dict"])
def test_paddle_summary_input_is_one_structured_argument(capsys, net, data):
    # paddle/hapi/model_summary.py summary_string: with `input`, `model(input)` - the list or dict is ONE argument
    theirs, _, ours, _ = _both(capsys, net, input=data())
    assert theirs["total_params"] == ours["total_params"] == 61_610
    assert ours.report.input_shapes == ((1, 1, 28, 28), (1, 400))


def test_a_third_positional_tensor_is_refused_with_the_keyword_to_use():
    with pytest.raises(InputSpecError, match="dtypes .*input_data="):
        convcalc.summary(Paddle_LeNet(in_channels=1), None, paddle.rand([1, 1, 32, 32]))


@pytest.mark.parametrize("kw, expect", [
    ({"colnames": ["output_size"]}, "nearest keyword convcalc has is col_names="),
    ({"input_sizes": (1, 1, 32, 32)}, "nearest keyword convcalc has is input_size="),
    ({"device": "cpu"}, "do not depend on the device"),
    ({"mode": "train"}, "eval mode"),
    ({"cache_forward_pass": True}, "no cache"),
    ({"col_width": 20}, "drop col_width="),
], ids=["colnames", "input_sizes", "device", "mode", "cache", "col_width"])
def test_a_keyword_convcalc_cannot_honour_gets_one_line_naming_the_nearest(kw, expect):
    with pytest.raises(InvalidParameterError) as err:
        convcalc.summary(Paddle_LeNet(in_channels=1), (1, 1, 32, 32), **kw)
    assert expect in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------ the Jupyter fragment folds, without scripts
CHROMIUM = "/usr/bin/chromium"


def test_fragment_folds_in_chromium_without_a_script(tmp_path):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"Chromium not found at {CHROMIUM}: the folding is checked in a real browser only")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    s = convcalc.summary(paddle.vision.models.resnet18(num_classes=10), (1, 3, 32, 32), verbose=0)
    fragment = s._repr_html_()
    assert "<script" not in fragment
    page_file = tmp_path / "fragment.html"
    page_file.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{fragment}</body></html>',
                         encoding="utf-8")
    inside_layer1 = sum(1 for r in s.report.records if r.path.startswith("layer1.")
                        or r.parent.startswith("layer1"))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(page_file.as_uri())
            assert page.locator("script").count() == 0
            rows = page.locator(".layers .row:visible")
            before = rows.count()
            assert before == len(s.report.records) + 1  # every row and the header
            page.locator('details[data-path="layer1"] > summary').click()
            assert rows.count() == before - inside_layer1  # exactly layer1's rows are hidden; its own stays
            page.locator('details[data-path="layer1"] > summary').click()
            assert rows.count() == before
        finally:
            browser.close()
