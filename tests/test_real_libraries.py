"""The real-library corpus (convcalc/checks/real_libraries): its parts here, its CI subset where the libraries are.

The CI subset (``FAST``: PaddleSeg's UNet, FastSCNN, SegFormer-B0, PP-LiteSeg; PaddleClas's ResNet18,
MobileNetV3-small, HRNet-W18) runs in the environment that has PaddleClas 2.6.0 and PaddleSeg 2.8.0
(``$CONVCALC_REAL_LIBRARIES_PYTHON``, which ``.ci/run`` sets when it could create
``.venv-real-libraries``); without it those tests skip and say why.  Each model must be right, or
wrong only while the cause its :mod:`~convcalc.checks.real_libraries.known` entry names is still visible.
The other tests need only Paddle: the hand counts, the comparison catching planted errors, the
documented environment, the docs section.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from convcalc.checks.real_libraries import models as M
from convcalc.checks.real_libraries.known import KNOWN, Known, accepted, cause_present
from convcalc.checks.real_libraries.run import ENV_VARIABLE, environment_commands

ROOT = Path(__file__).resolve().parents[1]
CI_VENV = ".venv-real-libraries"


def _library_python() -> tuple[str, str]:
    """(interpreter, "") of the environment with the libraries, or ("", why there is none)."""
    python = os.environ.get(ENV_VARIABLE) or str(ROOT / CI_VENV / "bin" / "python")
    skip_file = ROOT / f"{CI_VENV}.skip"
    if not Path(python).is_file():
        why = skip_file.read_text().strip() if skip_file.is_file() else (
            f"no environment with PaddleClas and PaddleSeg (set {ENV_VARIABLE}, or let .ci/run create {CI_VENV})")
        return "", why
    from convcalc.checks.real_libraries.run import environment_problem

    problem = environment_problem(python)
    return ("", problem) if problem else (python, "")


# ------------------------------------------------------------------ the CI subset (needs the libraries)
@pytest.fixture(scope="session")
def fast_outcomes():
    python, why = _library_python()
    if not python:
        pytest.skip(f"real-library subset not run: {why}")
    from convcalc.checks.real_libraries.run import run_corpus

    run = run_corpus(M.FAST, python, timeout=900, jobs=2, timing=False)
    return {o["model"]: o for o in run.outcomes}


@pytest.mark.parametrize("name", M.FAST)
def test_fast_subset(name, fast_outcomes):
    outcome = fast_outcomes[name]
    detail = outcome.get("differences") or outcome.get("reason", "")
    assert outcome["verdict"] not in ("convcalc crashed", "crashed", "timeout", "check failed"), detail
    assert accepted(outcome), f"{name}: {outcome['verdict']}: {detail}"


# ------------------------------------------------------------------ the parts (Paddle only)
def test_known_cause_must_still_show():
    """A known entry excuses only its own cause: gone, the model must be right."""
    known = Known("x", "y", "-1 size")
    wrong = {"model": "UNet", "verdict": "wrong", "differences": [{"what": "-1 size", "count": 4, "first": "a"}]}
    assert cause_present(known, wrong)
    assert not accepted(wrong)  # UNet is no longer known to be wrong: its -1 sizes are fixed
    other = {"model": "UNet", "verdict": "wrong", "differences": [{"what": "MACs total", "count": 1, "first": "a"}]}
    assert not cause_present(known, other)
    assert not accepted(other)
    assert not accepted({"model": "ResNet18", "verdict": "wrong", "differences": other["differences"]})
    assert not accepted({"model": "ResNet18", "verdict": "convcalc crashed", "reason": "KeyError"})
    refused = Known("x", "y", "refused: branches on (or reads) tensor values")
    assert cause_present(refused, {"verdict": "refused by convcalc", "reason": "the forward of PPLiteSeg branches "
                                   "on (or reads) tensor values (first in PPLiteSeg) ..."})
    assert not cause_present(refused, {"verdict": "refused by convcalc", "reason": "something else"})
    weights = KNOWN["SVTR_tiny"]  # only its own difference: the interpolation of a parameter, nothing more
    alone = {"what": "MACs total", "count": 1, "first": "7910803456 vs hand 7914014720 (-0.0%); "
             "functional_interp: 0 vs hand 3211264"}
    assert cause_present(weights, {"verdict": "wrong", "differences": [alone]})
    assert not cause_present(weights, {"verdict": "wrong", "differences": [alone, other["differences"][0]]})
    assert not cause_present(weights, {"verdict": "wrong", "differences": other["differences"]})
    assert accepted({"model": "SVTR_tiny", "verdict": "wrong", "differences": [alone]})
    assert set(M.FAST) <= set(M.all_models()) and set(KNOWN) <= set(M.all_models())


def test_environment_is_documented_once():
    """The commands that create the environment are the same in the code, `--help`, .ci/run and the docs."""
    from convcalc.cli import build_parser

    parser = build_parser()
    validate = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "validate")[1]
    epilog = validate.epilog
    for line in environment_commands():
        shown = line.replace("install -e .", "install -e .      (from the repository root)")
        assert shown in epilog or line in epilog, line
    ci = (ROOT / ".ci" / "run").read_text()
    for line in environment_commands(CI_VENV):
        assert line in ci, f".ci/run does not create the environment as documented: {line}"
    docs = (ROOT / "docs" / "validation.md").read_text()
    from convcalc.render.real_libraries import BEGIN

    if BEGIN in docs:
        for line in environment_commands():
            assert line in docs, line


def test_missing_environment_is_one_line(tmp_path):
    """Without the libraries the command says so in one line, with the commands that fix it (exit 2)."""
    proc = subprocess.run([sys.executable, "-m", "convcalc", "validate", "--real-libraries", "--fast",
                           "--python", sys.executable, "-q"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode == 0:  # this interpreter has the libraries: nothing to refuse
        pytest.skip("this interpreter can import PaddleClas and PaddleSeg")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "cannot import the libraries' networks" in lines[0]
    assert "pip install --no-deps paddleclas==2.6.0 paddleseg==2.8.0" in lines[0]


def test_unknown_model_name():
    proc = subprocess.run([sys.executable, "-m", "convcalc", "validate", "--real-libraries", "--models", "UNett"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert "did you mean 'UNet'" in proc.stderr and "Traceback" not in proc.stderr


def test_section_is_replaced_and_kept():
    """The real-library section replaces only itself, and the zoo run's rewrite keeps it."""
    from convcalc.render.real_libraries import BEGIN, END, kept_section, with_section

    section = f"{BEGIN}\n\n## Real libraries\n\nold\n{END}\n"
    doc = with_section("# Validation\n\nzoo\n", section)
    assert doc.startswith("# Validation\n\nzoo\n") and doc.count(BEGIN) == 1
    new = with_section(doc, section.replace("old", "new"))
    assert "new" in new and "old" not in new and new.count(END) == 1
    assert kept_section(new) == section.replace("old", "new")
    assert with_section("# Validation\n\nzoo regenerated\n", kept_section(new)).endswith(section.replace("old", "new"))
    assert kept_section("# no section\n") == ""


# ------------------------------------------------------------------ the truth and the comparison
def _mixed_model():
    import paddle
    import paddle.nn.functional as F
    from paddle import nn

    class Mixed(nn.Layer):
        """Conv and linear leaves, a functional matmul, a bilinear upsample, a transposed conv."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 4, 3, padding=1)
            self.up = nn.Conv2DTranspose(4, 2, 4, stride=2, padding=1)
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            y = self.conv(x)  # [1, 4, 8, 8]
            z = F.interpolate(y, scale_factor=2, mode="bilinear")  # [1, 4, 16, 16]
            a = paddle.matmul(z, z, transpose_y=True)  # [1, 4, 16, 16], K = 16
            return self.fc(a), self.up(y)  # [1, 4, 16, 5], [1, 2, 16, 16]

    return Mixed()


def test_hand_counts():
    """counts_for against multiply-adds worked out here."""
    paddle = pytest.importorskip("paddle")
    from convcalc.checks.real_libraries.counts import counts_for, paddle_flops_total

    model = _mixed_model()
    counts = counts_for(model, [paddle.ones([1, 3, 8, 8])])
    conv = 1 * 4 * 8 * 8 * 3 * 9
    fc = 1 * 4 * 16 * 5 * 16
    # transposed conv k4 s2 p1, 8 -> 16: per axis 8 inputs x 4 taps, less the first input's first tap and the
    # last input's last tap, which the padding crops (2i - 1 + k outside 0..15): 30 pairs land
    up = 1 * 4 * 2 * 30 * 30
    assert counts.macs_by_layer == {"conv": conv, "fc": fc, "up": up}
    assert counts.macs_by_kind["functional_interp"] == 4 * 16 * 16 * 4
    assert counts.macs_by_kind["functional_matmul"] == 4 * 16 * 16 * 16
    assert counts.paddle_flops == paddle_flops_total(model, (1, 3, 8, 8))


def test_comparison_catches_planted_errors():
    """A right report has no difference; a wrong size, a wrong FLOP count and a wrong MAC count are each caught
    (a -1 size cannot even be put in a record)."""
    pytest.importorskip("paddle")
    from dataclasses import replace

    import sympy

    from convcalc.checks.corpus import Case
    from convcalc.checks.corpus.truth import make_inputs, truth_for
    from convcalc.checks.real_libraries.child import analysis
    from convcalc.checks.real_libraries.compare import differences
    from convcalc.checks.real_libraries.counts import counts_for, paddle_flops_total
    from convcalc.errors import InternalCheckError

    model = _mixed_model()
    case = Case.one_input("mixed", "test", lambda: model, (1, 3, 8, 8))
    inputs = make_inputs(case)
    truth, counts = truth_for(case, model), counts_for(model, inputs)
    total = paddle_flops_total(model, (1, 3, 8, 8))
    report, trace = analysis(model, (1, 3, 8, 8), inputs)
    macs, _ = analysis(model, (1, 3, 8, 8), inputs, convention="macs", trace=trace)
    assert differences(report, macs, truth, counts, total) == []

    rows = list(report.records)
    i = next(i for i, r in enumerate(rows) if r.path == "conv")
    with pytest.raises(InternalCheckError, match="size -1 in row conv"):  # the record boundary refuses a -1
        replace(rows[i], output_shape=(1, 4, -1, 8), output_shapes=((1, 4, -1, 8),))
    off = replace(rows[i], output_shape=(1, 4, 7, 8), output_shapes=((1, 4, 7, 8),))
    found = differences(replace(report, records=tuple(rows[:i] + [off] + rows[i + 1:])), macs, truth, counts, total)
    assert found[0]["what"] == "shapes" and "conv" in found[0]["first"], found
    flops = replace(rows[i], flops=rows[i].flops + 1)
    found = differences(replace(report, records=tuple(rows[:i] + [flops] + rows[i + 1:])), macs, truth, counts, total)
    assert found[0]["what"] == "paddle FLOPs per layer" and found[0]["first"].startswith("conv:")
    mrows = list(macs.records)
    j = next(j for j, r in enumerate(mrows) if r.kind == "matmul")
    wrong = replace(macs, records=tuple(mrows[:j] + [replace(mrows[j], flops=sympy.Integer(0))] + mrows[j + 1:]),
                    totals=replace(macs.totals, flops=macs.totals.flops - mrows[j].flops))
    found = differences(report, wrong, truth, counts, total)
    assert found[0]["what"] == "MACs total" and "functional_matmul: 0" in found[0]["first"]


def test_a_child_imports_this_convcalc_from_any_folder(tmp_path, monkeypatch):
    """Run from another checkout's folder, a model's process still imports this convcalc (``python -m`` puts the
    current folder before PYTHONPATH: two trees compared in turns measured one tree twice)."""
    from convcalc.checks.real_libraries.run import run_one

    other = tmp_path / "convcalc"
    other.mkdir()
    (other / "__init__.py").write_text("raise ImportError('the convcalc of another checkout')\n")
    monkeypatch.chdir(tmp_path)
    outcome = run_one("ResNet18", sys.executable, 300, timing=False)
    assert "another checkout" not in str(outcome), outcome
    assert outcome["model"] == "ResNet18"
