"""``convcalc diff`` aligns structure, not paths (issue 22, Deliver 3).

Each case is a pair of models built here whose one difference is known by construction (one layer
inserted, removed, replaced, moved or renamed); the truth is that difference, read from the models
themselves (``named_sublayers``, ``parameters()``), never from the diff under test.
"""

from __future__ import annotations

import contextlib
import io
import json
from math import prod

import paddle
import paddle.nn as nn
import pytest

from convcalc.analysis import analyze
from convcalc.analysis.diff import diff_reports
from convcalc.render.diff import diff_dict, diff_renderables
from convcalc.render.report import report_dict

S28 = (1, 1, 28, 28)


def _report(model, shape=S28) -> dict:
    return report_dict(analyze(model, shape))


def _diff(a, b, shape=S28):
    return diff_reports(_report(a, shape), _report(b, shape))


def _seq(*, bn_at: int | None = None, pool: type = nn.MaxPool2D) -> nn.Sequential:
    """conv relu pool conv relu pool flatten linear; optionally a BatchNorm2D inserted at ``bn_at``."""
    layers = [nn.Conv2D(1, 8, 3, padding=1), nn.ReLU(), pool(2), nn.Conv2D(8, 16, 3, padding=1), nn.ReLU(),
              nn.MaxPool2D(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 10)]
    if bn_at is not None:
        layers.insert(bn_at, nn.BatchNorm2D(8))
    return nn.Sequential(*layers)


def _leaves(model) -> dict[str, nn.Layer]:
    return {p: layer for p, layer in model.named_sublayers() if not layer.sublayers()}


def _not_same(d) -> list:
    return [r for r in d.rows if r.status != "same"]


def _params(layer) -> int:
    return sum(prod(p.shape) for p in layer.parameters())


def test_insert_one_layer_is_one_inserted_row():
    """The issue's finding 3: by path this was '1 same, 7 changed, 1 inserted'."""
    a, b = _seq(), _seq(bn_at=1)
    d = _diff(a, b)
    only_b = set(_leaves(b)) - set(_leaves(a))  # by construction: index 8 is new, BN sits at 1
    assert len(_leaves(b)) == len(_leaves(a)) + 1 and "8" in only_b
    (row,) = _not_same(d)
    assert (row.status, row.path, row.kind_b) == ("inserted", "1", type(b[1]).__name__)
    assert row.params_delta == _params(b[1]) == 32  # BN: gamma, beta + running mean, variance (8 each)
    assert row.memory_delta == 8 * 28 * 28 * 4  # its float32 output, counted once
    assert d.counts == {"same": len(_leaves(a)), "changed": 0, "inserted": 1, "removed": 0, "moved": 0}
    # every other row pairs a layer of A with the same layer of B, one index further
    shifted = {(r.path_a, r.path_b) for r in d.rows if r.status == "same"}
    assert shifted == {(str(i), str(i + 1 if i >= 1 else i)) for i in range(len(a))}


def test_delete_one_layer_is_one_removed_row():
    d = _diff(_seq(bn_at=1), _seq())
    (row,) = _not_same(d)
    assert (row.status, row.path, row.kind_a) == ("removed", "1", "BatchNorm2D")
    assert row.params_delta == -32


def test_replace_is_one_changed_row_whatever_its_index():
    a = _seq()
    same_place = _diff(a, _seq(pool=nn.AvgPool2D))
    (row,) = _not_same(same_place)
    assert (row.status, row.path, row.kind_a, row.kind_b) == ("changed", "2", "MaxPool2D", "AvgPool2D")
    # after an insertion the replaced pool sits one index further: still one row for it
    moved_on = _diff(a, _seq(bn_at=1, pool=nn.AvgPool2D))
    rows = {(r.status, r.path_a, r.path_b, r.kind_a, r.kind_b) for r in _not_same(moved_on)}
    assert rows == {("inserted", None, "1", None, "BatchNorm2D"), ("changed", "2", "3", "MaxPool2D", "AvgPool2D")}


def test_reorder_is_one_moved_row():
    def model(swap: bool):
        k3, k1 = nn.Conv2D(8, 8, 3, padding=1), nn.Conv2D(8, 8, 1)
        return nn.Sequential(nn.Conv2D(1, 8, 3, padding=1), *((k1, k3) if swap else (k3, k1)), nn.ReLU())

    d = _diff(model(False), model(True))
    (row,) = _not_same(d)
    assert row.status == "moved" and row.kind_a == row.kind_b == "Conv2D"
    assert {row.path_a, row.path_b} == {"1", "2"} and row.params_delta == 0
    assert d.counts["same"] == 3


class _Named(nn.Layer):
    """conv -> relu -> block(conv, relu) -> head(pool, flatten, linear), the block's attribute named ``block_name``."""

    def __init__(self, block_name: str):
        super().__init__()
        self.stem = nn.Conv2D(1, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.block_name = block_name
        setattr(self, block_name, nn.Sequential(nn.Conv2D(8, 8, 3, padding=1), nn.ReLU()))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(8, 10))

    def forward(self, x):
        return self.head(getattr(self, self.block_name)(self.act(self.stem(x))))


def test_renamed_child_with_the_same_contents_matches():
    a, b = _Named("block"), _Named("body")
    d = _diff(a, b)
    assert d.aligned_by == "structure"
    renamed = {(r.path_a, r.path_b) for r in d.rows if r.renamed}
    assert renamed == {("block.0", "body.0"), ("block.1", "body.1")}
    assert d.counts == {"same": len(_leaves(a)), "changed": 0, "inserted": 0, "removed": 0, "moved": 0}
    assert {r.path for r in d.notable} == {"block.0 → body.0", "block.1 → body.1"}  # shown without --all


def test_every_child_renamed_aligns_the_leaf_sequence():
    def model(names):
        s = nn.Sequential()
        for name, layer in zip(names, [nn.Conv2D(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2D(1),
                                       nn.Flatten(), nn.Linear(8, 10)]):
            s.add_sublayer(name, layer)
        return s

    d = _diff(model("abcde"), model(["conv", "act", "gap", "flat", "fc"]))
    assert d.aligned_by == "structure (flat)"
    assert [(r.status, r.path) for r in d.rows] == [
        ("same", "a → conv"), ("same", "b → act"), ("same", "c → gap"), ("same", "d → flat"), ("same", "e → fc")]


def _nested(width: int = 16, extra: bool = False) -> nn.Sequential:
    body = [nn.Conv2D(8, width, 3, padding=1), nn.ReLU()]
    if extra:
        body.append(nn.Conv2D(width, width, 3, padding=1))
    return nn.Sequential(nn.Sequential(nn.Conv2D(1, 8, 3, padding=1), nn.ReLU()), nn.Sequential(*body),
                         nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(width, 10)))


def test_nested_sequentials_an_insertion_stays_inside_its_block():
    a, b = _nested(), _nested(extra=True)
    d = _diff(a, b)
    (row,) = _not_same(d)
    assert set(_leaves(b)) - set(_leaves(a)) == {"1.2"}
    assert (row.status, row.path, row.params_delta) == ("inserted", "1.2", _params(b[1][2]))
    # the head block keeps its paths: nothing after the insertion shifts
    assert {r.path for r in d.rows if r.path.startswith("2.")} == {"2.0", "2.1", "2.2"}


def test_nested_sequentials_a_wider_block_changes_what_follows():
    d = _diff(_nested(16), _nested(32))
    changed = {r.path for r in d.rows if r.status == "changed"}
    # conv 1.0 (8 -> 16 or 32 kernels), relu 1.1 and the head read the wider map; block 0 does not
    assert changed == {"1.0", "1.1", "2.0", "2.1", "2.2"}
    assert {r.path for r in d.rows if r.status == "same"} == {"0.0", "0.1"}


def test_a_program_against_its_model(tmp_path):
    """B exported with paddle.jit.save (rows named by its name scopes) against A (named by attributes)."""
    from paddle.static import InputSpec

    from convcalc.cli import main

    a, b = _seq(), _seq(bn_at=1)
    b.eval()
    paddle.jit.save(b, str(tmp_path / "inference"), input_spec=[InputSpec(list(S28), "float32", "x")])
    model_file = tmp_path / "models.py"
    model_file.write_text("import paddle.nn as nn\n\ndef A():\n    return nn.Sequential(\n"
                          "        nn.Conv2D(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2),\n"
                          "        nn.Conv2D(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2),\n"
                          "        nn.Flatten(), nn.Linear(16 * 7 * 7, 10))\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["diff", f"{model_file}:A", str(tmp_path / "inference.json"), "-i", "1x28x28",
                     "--format", "json"])
    assert code == 0
    d = json.loads(out.getvalue())
    assert d["aligned_by"] == "structure (flat)"
    assert d["counts"] == {"same": len(_leaves(a)), "changed": 0, "inserted": 1, "removed": 0, "moved": 0}
    (row,) = [r for r in d["layers"] if r["status"] != "same"]
    assert row["type"]["b"] == "BatchNorm2D" and row["params"]["delta"] == _params(b[1])


def test_a_saved_report_without_configurations_still_aligns(tmp_path):
    """A JSON report of an older convcalc has no 'config': both sides are compared without it."""
    ra, rb = _report(_seq()), _report(_seq(bn_at=1))
    old = {**ra, "layers": [{k: v for k, v in row.items() if k != "config"} for row in ra["layers"]]}
    d = diff_reports(old, rb)
    assert [(r.status, r.path) for r in _not_same(d)] == [("inserted", "1")]


def test_the_configuration_is_paddles_own_and_tells_equal_shapes_apart():
    model = _seq()
    rows = {r["path"]: r for r in _report(model)["layers"]}
    for path, layer in _leaves(model).items():
        assert rows[path]["config"] == " ".join(layer.extra_repr().split())
    # the same shapes, parameters, FLOPs and field but another slope: only the configuration tells them apart
    a = nn.Sequential(nn.Conv2D(1, 4, 3, padding=1), nn.LeakyReLU(0.1))
    b = nn.Sequential(nn.Conv2D(1, 4, 3, padding=1), nn.LeakyReLU(0.2))
    d = _diff(a, b)
    (row,) = _not_same(d)
    assert row.path == "1" and row.status == "changed"
    assert (row.config_a, row.config_b) == (a[1].extra_repr(), b[1].extra_repr()) != ("", "")
    assert row.shape_a == row.shape_b and row.params_delta == row.flops_delta == 0 and row.rf_a == row.rf_b


def test_table_and_json_show_the_one_change():
    d = _diff(_seq(), _seq(bn_at=1))
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    for item in diff_renderables(d):
        console.print(item)
    text = console.export_text()
    assert "9 layers aligned by structure: 8 same, 0 changed, 1 inserted (+), 0 removed (-), 0 moved (>)" in text
    assert "BatchNorm2D" in text and "Conv2D" not in text  # only the inserted row is listed
    assert "+24.5 KiB" in text  # 8x28x28 float32 = 25,088 B = 24.5 KiB
    data = diff_dict(d)
    assert data["counts"]["inserted"] == 1 and data["aligned_by"] == "structure"
    assert sum(r["memory_bytes"]["delta"] for r in data["layers"]) == 25_088


@pytest.mark.parametrize("key", ["exact", "typed"])
def test_alignment_keeps_the_order_of_both_sides(key):
    """Rows come out in B's order for B's layers and A's order for A's (no row twice, none lost)."""
    a, b = _seq(), _seq(bn_at=1, pool=nn.AvgPool2D) if key == "typed" else _seq(bn_at=3)
    d = _diff(a, b)
    seen_a = [r.path_a for r in d.rows if r.path_a is not None]
    seen_b = [r.path_b for r in d.rows if r.path_b is not None]
    assert seen_a == [str(i) for i in range(len(a))] and seen_b == [str(i) for i in range(len(b))]
