"""The corpus of custom models: convcalc beside the truth Paddle itself gives (convcalc/corpus).

All cases run once per session in spawned worker processes (a failed
``to_static`` build can make the next build in the same process segfault);
each case is then its own test.  The truth (shapes from eager hooks, counts
from ``model.parameters()`` by identity, Paddle's refusals, hand counts) never
comes from convcalc: see convcalc/checks/corpus/truth.py.
"""

from __future__ import annotations

import pytest

pytest.importorskip("paddle")

from convcalc.checks.corpus import all_cases  # noqa: E402

CASES = all_cases()


@pytest.fixture(scope="session")
def corpus_outcomes():
    from convcalc.checks.corpus.check import run_corpus

    run = run_corpus(CASES, jobs=2)
    return {o.name: o for o in run.outcomes}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_matches_paddle(case, corpus_outcomes):
    outcome = corpus_outcomes[case.name]
    assert outcome.ok, "\n".join(outcome.mismatches)


def test_corpus_has_every_parameter_kind():
    names = {c.name for c in CASES if c.kind == "parameters"}
    assert len(names) >= 15
    for needed in ("tied_autoencoder", "conv_called_three_times", "frozen_stop_gradient", "frozen_paramattr",
                   "vit_root_embeddings", "container_functional_conv", "weight_norm", "lora_linear_subclass",
                   "conv2d_subclass_gain", "buffer_not_parameter"):
        assert needed in names


def test_check_finds_a_wrong_count():
    """The harness is not a rubber stamp: a report with a wrong parameter count is caught."""
    from dataclasses import replace

    from convcalc.checks.corpus import check
    from convcalc.checks.corpus.truth import make_inputs, truth_for

    case = next(c for c in CASES if c.name == "tied_autoencoder")
    model = case.build()
    report = check.run_analyze(model, case, make_inputs(case))
    truth = truth_for(case)
    assert check.compare_report(report, truth) == []
    wrong = replace(report, totals=replace(report.totals, params=report.totals.params + 64))
    assert any("params 368" in m for m in check.compare_report(wrong, truth))
    rows = list(report.records)
    i = next(i for i, r in enumerate(rows) if r.path == "dec")
    rows[i] = replace(rows[i], output_shape=(1, 9), output_shapes=((1, 9),))
    assert any(m.startswith("dec: output") for m in check.compare_report(replace(report, records=tuple(rows)), truth))


def test_validate_renders_the_corpus_table(corpus_outcomes):
    """docs/validation.md's second table: kinds x right/wrong, every case with its reason; JSON round trip."""
    import json

    from convcalc.checks.corpus.check import CaseOutcome, CorpusRun
    from convcalc.render.corpus import corpus_dict, corpus_from_dict, corpus_markdown

    outcomes = [corpus_outcomes[c.name] for c in CASES]
    broken = CaseOutcome("made_up", "parameters", ("params 1 vs Paddle's parameter objects 2",), "1x3x8x8:float32")
    run = CorpusRun(tuple(outcomes) + (broken,), 12.0)
    text = "\n".join(corpus_markdown(run))
    assert "## Custom-model corpus" in text
    n = sum(c.kind == "parameters" for c in CASES)
    assert f"| parameters | {n + 1} | {n} | **1** |" in text
    assert "| made_up | parameters | 1x3x8x8:float32 | **wrong** | params 1 vs Paddle's parameter objects 2 |" in text
    assert corpus_from_dict(json.loads(json.dumps(corpus_dict(run)))) == run


def test_validate_fast_includes_the_corpus_and_a_wrong_case_exits_1(monkeypatch, tmp_path, capsys):
    """`convcalc validate --fast` runs the corpus (stubbed here: the real run is the test above) and
    renders it as the second table; a wrong case makes the exit status 1.  `--no-corpus` leaves it out."""
    from convcalc.checks import validation as V
    from convcalc.checks.corpus import check
    from convcalc.checks.corpus.check import CaseOutcome, CorpusRun
    from convcalc.cli import main

    wrong = CorpusRun((CaseOutcome("tied_autoencoder", "parameters", ("params 368 vs 304",), "1x3x16x16:float32"),),
                      1.0)
    monkeypatch.setattr(V, "resolve_models", lambda names, fast: ["book_paddle_lenet"])
    monkeypatch.setattr(check, "run_corpus", lambda **kwargs: wrong)
    target = tmp_path / "validation.md"
    assert main(["validate", "--fast", "--no-rf", "-q", "-j", "1", "-o", str(target)]) == 1
    text = target.read_text()
    assert "## Custom-model corpus" in text and "| tied_autoencoder | parameters |" in text
    assert "1 right" not in text and "**1 wrong** (below)" in text
    assert main(["validate", "--fast", "--no-rf", "--no-corpus", "-q", "-j", "1", "-o", str(target)]) == 0
    assert "Custom-model corpus" not in target.read_text()
    capsys.readouterr()


def test_a_worker_that_dies_is_reported_not_fatal(monkeypatch):
    """The isolation the corpus relies on: a task that kills its worker (as a crash inside Paddle would) is
    reported; the tasks that ran beside it still run."""
    from pathlib import Path

    from convcalc.checks.workers import CRASHED_TWICE, run_isolated

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "data"))
    import crashing_tasks

    results = run_isolated([2, 1, 4], crashing_tasks.dies_on_odd, crashing_tasks.crashed, jobs=2,
                           tasks_per_child=1, paddle=False)
    assert results == ["ran 2", f"crashed 1: {CRASHED_TWICE}", "ran 4"]
