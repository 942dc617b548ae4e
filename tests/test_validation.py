"""`convcalc validate`: the CI subset has zero mismatches; receptive fields agree with gradients.

The full run (every zoo model at three sizes, six models' receptive fields)
generates docs/validation.md; here the fast subset and the small models run,
the rest is marked slow.
"""

from __future__ import annotations

import datetime
import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

paddle = pytest.importorskip("paddle")

from convcalc.checks import validation as V  # noqa: E402
from convcalc.cli import main  # noqa: E402
from convcalc.render.validation import validation_dict, validation_from_dict, validation_markdown  # noqa: E402

# The CI subset without book_lenet, whose loop Conv2D makes paddle.summary's forward slow
# (its vectorised twin runs the same checks); book_lenet runs in the slow test below.
STAMP = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
FAST = [m for m in V.FAST_MODELS if m != "book_lenet"]


@pytest.mark.parametrize("name", FAST)
def test_fast_subset_has_zero_mismatches(name):
    result = V.validate_model(name, fast=True)
    taken = [c for c in result.cases if not c.refused]
    assert [c.label for c in taken] == ["default", "odd"]
    for case in taken:
        assert case.mismatches == 0, case.details
        assert case.symbolic_mismatches == 0, case.details
        assert case.rows_checked > 0 and case.symbolic_rows > 0
    assert not result.not_taken


@pytest.mark.slow
def test_book_lenet_loop_operators_have_zero_mismatches():
    result = V.validate_model("book_lenet", fast=True)
    assert all(c.ok for c in result.cases), [c.details for c in result.cases]


def test_sizes_not_taken_are_listed_with_a_reason():
    lenet = V.sizes_for("lenet", (1, 28, 28))
    refused = {s.label: s.reason for s in lenet if s.shape is None}
    assert set(refused) == {"small", "odd"} and all("28x28" in r for r in refused.values())
    assert (2, 1, 28, 28) in [s.shape for s in lenet]
    book = V.sizes_for("book_paddle_lenet", (1, 32, 32))
    assert [s.shape for s in book] == [(1, 32, 32), None, (2, 1, 32, 32), (1, 33, 35)]
    assert "32..35" in book[1].reason
    assert [s.shape for s in V.sizes_for("resnet18", (3, 224, 224))] == [(3, 224, 224), (3, 64, 64), (3, 97, 131)]
    assert [s.label for s in V.sizes_for("resnet18", (3, 224, 224), fast=True)] == ["default", "odd"]


def test_a_size_the_model_refuses_is_reported_not_raised():
    from convcalc.models.zoo import build_model

    built = build_model("book_paddle_lenet")
    tiny = V.SizeCase("tiny", (1, 8, 8))
    result = V.validate_case(built.model, "book_paddle_lenet", tiny, None)  # refused by the trace
    assert "too small" in result.refused and not result.ok
    symbolic = V._symbolic_reports(built.model, (1, 32, 32), "book_paddle_lenet")
    result = V.validate_case(built.model, "book_paddle_lenet", tiny, symbolic)  # by the exact formulas
    assert result.refused.endswith("layer conv3 (Conv2D) would produce an empty output [1, 16, -2, -2]")


def test_property_counts_are_read_from_the_formula_tests():
    counts = V.property_test_counts()
    assert counts is not None
    rows = {name: (default, long) for name, default, long in counts.rows}
    assert len(rows) == 4
    text = (Path(__file__).parent / "test_formulas_paddle.py").read_text()
    conv = re.search(r"^DEFAULT_CONV, DEFAULT_POOL = ([\d_]+), ([\d_]+)", text, re.M)
    assert rows["conv output size == Paddle's conv2d shape"][0] == int(conv.group(1))
    assert rows["max-pool output size == Paddle's max_pool2d"][0] == int(conv.group(2))
    assert all(0 < default <= long for default, long in rows.values())


# ------------------------------------------------------------------ receptive fields
@pytest.mark.parametrize("name", ["two_branch", "book_lenet_vectorized"])
def test_receptive_fields_agree_with_gradients(name):
    result = V.rf_crosscheck(name)
    assert result.checks and result.ok, [c for c in result.checks if not c.ok]
    for what in ("size", "jump", "start"):
        assert result.count(what) == len(result.checks)


def test_two_branch_merge_covers_both_branches():
    """The add merges branch B's taller field (start 1/2) with branch A's wider one (start 0)."""
    result = V.rf_crosscheck("two_branch")
    merge = next(c for c in result.checks if c.path == "merge")
    assert merge.measured == merge.ours
    (size_h, jump_h, start_h), (size_w, jump_w, start_w) = merge.ours
    assert (size_h, jump_h, start_h) == (20, 2, Fraction(1, 2))
    assert (size_w, jump_w, start_w) == (21, 2, 0)


def test_gradient_method_catches_a_wrong_field(monkeypatch):
    """A pooling rule that forgets the stride must be caught."""
    from convcalc.analysis import receptive

    real = receptive.HANDLERS["pool2d"]

    def wrong(op, states, g):
        out = real(op, states, g)
        if isinstance(out, receptive.Spatial) and not out.whole:
            from dataclasses import replace

            from convcalc.formulas import Field

            h = next(a for a in out.axes if a.dim == 2)  # the height axis (NCHW)
            grown = replace(h, field=Field(h.field.size + 1, h.field.jump, h.field.start))
            return receptive.Spatial(tuple(grown if a is h else a for a in out.axes))
        return out

    monkeypatch.setitem(receptive.HANDLERS, "pool2d", wrong)
    result = V.rf_crosscheck("book_lenet_vectorized")
    assert not result.ok
    assert any(c.path == "pool2" and not c.agrees("size") and c.agrees("jump") for c in result.checks)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["book_resnet18", "resnet18", "mobilenet_v2"])
def test_receptive_fields_agree_on_branched_zoo_models(name):
    result = V.rf_crosscheck(name)
    assert result.checks and result.ok, [c for c in result.checks if not c.ok][:3]


# ------------------------------------------------------------------ the command
def test_validate_command_writes_markdown_and_json(tmp_path, capsys):
    target = tmp_path / "validation.md"
    code = main(["validate", "--models", "book_paddle_lenet", "--rf-models", "two_branch", "-q",
                 "--output", str(target)])
    out, err = capsys.readouterr()
    assert code == 0, err
    text = target.read_text()
    assert text.startswith("# Validation: convcalc against Paddle")
    assert "convcalc validate --output docs/validation.md" in text
    assert "| book_paddle_lenet | odd | 1x1x33x35 |" in text
    assert "32..35" in text  # the size it cannot take, with the reason
    assert "## Property tests of the formulas" in text and "| two_branch | 14 | 14/14 | 14/14 | 14/14 |" in text

    code = main(["validate", "--models", "book_paddle_lenet", "--no-rf", "--fast", "--json", "-q"])
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert code == 0 and data["ok"] and data["totals"]["mismatches"] == 0
    assert [c["size"] for c in data["models"][0]["cases"]] == ["default", "odd"]


def test_markdown_shows_differences_and_exit_code_one(monkeypatch, tmp_path, capsys):
    """A wrong FLOPs rule is counted as a mismatch, listed in the report, and exits 1."""
    from convcalc.rules import layers as rules

    real = rules.find_rule

    def wrong(layer):
        found = real(layer)
        if found and type(layer).__name__ == "Linear":
            cls, rule = found
            return cls, rules.Rule(lambda ctx: rules.Cost(flops=rule.cost(ctx).flops + 1, formula="wrong"))
        return found

    monkeypatch.setattr(rules, "find_rule", wrong)
    monkeypatch.setattr("convcalc.analysis.engine.find_rule", wrong)
    run = V.run_validation(models=["book_paddle_lenet"], fast=True, rf=False)
    assert run.mismatches > 0 and not run.ok
    text = validation_markdown(run)
    assert "### Differences" in text and "Linear" in text
    assert validation_dict(run)["ok"] is False
    again = validation_from_dict(json.loads(json.dumps(validation_dict(run))))
    assert validation_dict(again) == validation_dict(run)  # a saved run re-renders the same
    assert validation_markdown(again, when=STAMP).count("\n") == validation_markdown(run, when=STAMP).count("\n")
    target = tmp_path / "v.md"
    code = main(["validate", "--models", "book_paddle_lenet", "--fast", "--no-rf", "-q", "-o", str(target)])
    assert code == 1 and target.exists()
    capsys.readouterr()
