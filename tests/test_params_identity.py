"""Parameters from the parameter objects, and compare's known Paddle differences, against the real paddle.summary.

Truth: counts worked out by hand and ``model.parameters()`` by identity; Paddle's
own numbers come from running ``paddle.summary`` (``summary_string``) itself.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

paddle = pytest.importorskip("paddle")

from paddle.hapi.model_summary import summary_string  # noqa: E402

from convcalc.analysis import analyze  # noqa: E402
from convcalc.checks.corpus import _params_models as M  # noqa: E402
from convcalc.checks.crosscheck import compare  # noqa: E402
from convcalc.cli import main  # noqa: E402

MODELS = "convcalc/checks/corpus/_params_models.py"


def _summary(model, shape):
    model.eval()
    return summary_string(model, shape)[1]


def test_tied_weight_once_and_paddle_summary_known_difference():
    model = M.TiedAutoencoder()
    report = analyze(model, (3, 16, 16))
    unique = sum(int(p.numel()) for p in model.parameters())  # identity: the tied weight once
    assert int(report.totals.params) == unique == 224 + 72 + 8
    dec = next(r for r in report.records if r.path == "dec")
    assert int(dec.params) == 8 and any("tied to enc" in n for n in dec.notes)
    info = _summary(model, (1, 3, 16, 16))
    assert info["total_params"] == 304 + 64  # paddle.summary counts the tied 8x8 weight twice
    cmp = compare(model, report)
    assert cmp.ok and cmp.mismatches == 0
    assert cmp.paddle_params == info["total_params"] and cmp.ours_params == 304
    # a row is named by paddle.summary's key, which counts every Linear made in this process
    known = {k.where.split(" (")[-1] if k.where.startswith("row Linear-") else k.where: k for k in cmp.known}
    assert set(known) == {"dec)", "total params", "trainable params"}
    assert known["dec)"].paddle == 72 and known["dec)"].ours == 8
    assert "enc.weight (64) is tied to enc" in known["total params"].reason
    row = next(r for r in cmp.rows if r.path == "dec")
    assert row.ok and not row.exact and row.known


def test_root_owned_parameters_on_the_root_row_and_known_difference():
    model = M.TinyViT()
    report = analyze(model, (3, 32, 32))
    root = next(r for r in report.records if r.path == "")
    assert int(root.params) == 16 + 17 * 16  # cls_token + pos_embed
    assert int(report.totals.params) == sum(int(p.numel()) for p in model.parameters()) == 3578
    assert report.totals.params_unused == 0 and not any("never" in n for n in report.notes)
    info = _summary(model, (1, 3, 32, 32))
    assert info["total_params"] == 3578 - 288  # paddle.summary hooks no row for the root
    cmp = compare(model, report)
    assert cmp.ok
    total = next(k for k in cmp.known if k.where == "total params")
    assert (total.ours, total.paddle) == (3578, 3290)
    assert "owned by the root model" in total.reason


def test_a_real_difference_is_not_explained_away():
    model = M.TinyViT()
    report = analyze(model, (3, 32, 32))
    wrong = replace(report, totals=replace(report.totals, params=report.totals.params + 1))
    cmp = compare(model, wrong)
    assert not cmp.ok and not any(k.where == "total params" for k in cmp.known)


def test_frozen_both_ways_and_layer_called_twice():
    model = M.FrozenByParamAttr()
    report = analyze(model, (3, 16, 16))
    trainable = sum(int(p.numel()) for p in model.parameters() if not p.stop_gradient)
    assert int(report.totals.params_trainable) == trainable == 576
    backbone = M.FrozenBackbone()
    assert int(analyze(backbone, (3, 16, 16)).totals.params_trainable) == 85
    rec = M.RecurrentBlock()
    report = analyze(rec, (3, 8, 8))
    calls = [r for r in report.records if r.path == "block"]
    assert [int(r.params) for r in calls] == [2320, 0, 0]
    assert calls[1].notes == ("called 3 times: its parameters are counted on its first call",)
    assert calls[2].notes == ()  # said once, on the second call's row
    relu = paddle.nn.ReLU()  # one activation reused, as torchvision-style blocks do: nothing to count twice
    reused = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), relu, paddle.nn.Conv2D(4, 4, 3), relu)
    assert not any("called" in n for r in analyze(reused, (3, 8, 8)).records for n in r.notes)
    assert compare(rec, report).ok  # paddle.summary shows one row per layer too


def test_reparametrised_and_subclassed_layers_exact():
    for cls, shape, total in ((M.WeightNormNet, (3, 16, 16), 272), (M.LoRAClassifier, (3, 16, 16), 564),
                              (M.ScaledConvNet, (3, 16, 16), 816), (M.SpectralNormNet, (3, 16, 16), 297)):
        model = cls()
        report = analyze(model, shape)
        assert int(report.totals.params) == sum(int(p.numel()) for p in model.parameters()) == total, cls
        assert compare(model, report).mismatches == 0, cls


def test_never_ran_note_only_for_layers_that_never_ran():
    report = analyze(M.AuxHeadNet(), (3, 16, 16))
    assert report.gaps.layers_never_called == ("aux_head",)
    assert report.totals.params_unused == 18
    assert any("18 are in layers that never ran" in n for n in report.notes)
    functional = analyze(M.FunctionalNet(), (3, 16, 16))
    assert functional.totals.params_unused == 0 and not functional.gaps.layers_never_called


def test_plain_resnet_keeps_its_documented_counts():
    from convcalc.models import book

    paddle.seed(0)
    model = book.Model_ResNet18(in_channels=1, num_classes=10, use_residual=False)
    report = analyze(model, (1, 32, 32))
    assert int(report.totals.params) == 11_009_418 == _summary(model, (1, 1, 32, 32))["total_params"]
    assert report.totals.params_in_model == sum(int(p.numel()) for p in model.parameters()) == 11_185_034
    assert any("175,616 are in layers that never ran" in n for n in report.notes)
    cmp = compare(model, report)
    assert cmp.ok and not cmp.known


def test_cli_compare_reports_known_differences_exit_0(capsys):
    code = main(["compare", f"{MODELS}:TiedAutoencoder", "--input", "3x16x16"])
    out = capsys.readouterr().out
    assert code == 0
    assert "≈" in out and "Known Paddle differences" in out and "known Paddle difference" in out
    code = main(["compare", f"{MODELS}:TinyViT", "--input", "3x32x32", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["ok"] and data["mismatches"] == 0
    reasons = {k["where"]: k["reason"] for k in data["known_paddle_differences"]}
    assert "owned by the root model" in reasons["total params"]
    assert data["totals"]["params"] == {"ours": 3578, "paddle_summary": 3290}
