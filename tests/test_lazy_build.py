"""``convcalc report`` builds zoo models under ``paddle.LazyGuard`` (issue 23): no random initialisation.

The truth is the normal build: for each model and input, the lazy build's report (JSON, field for
field) or refusal (the one line) must equal the normal build's, each in its own interpreter.  The
inputs include refusals Paddle makes (wrong channel count, a too-small input); models whose
refusals depend on weight values show that a lazy build gets its real initial values before a
check that reads them (:mod:`convcalc.trace.weights`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

paddle = pytest.importorskip("paddle")

from test_stand_ins import EagerOnlyGuard  # noqa: E402 - the eager-only value check, kept once

from convcalc.analysis import analyze  # noqa: E402
from convcalc.checks.corpus import eager_checks  # noqa: E402
from convcalc.errors import ConvcalcError  # noqa: E402
from convcalc.models.zoo import build_model  # noqa: E402
from convcalc.trace.weights import lazy_parameters  # noqa: E402


def _built(name: str, lazy: bool):
    with paddle.utils.unique_name.guard():
        return build_model(name, lazy=lazy)


# One outcome per fresh interpreter: a refusal of the static build can poison the next build in a process
# (see tests/test_stand_ins.py), so no case may follow another in one process.
OUTCOME = """
import json, sys
import paddle
from convcalc.analysis import analyze
from convcalc.errors import ConvcalcError
from convcalc.models.zoo import build_model
from convcalc.render.report import report_dict
from convcalc.trace.inputs import cli_inputs, input_hint
from convcalc.trace.weights import lazy_parameters
name, text, batch, lazy = sys.argv[1], sys.argv[2], int(sys.argv[3]) or None, sys.argv[4] == "lazy"
with paddle.utils.unique_name.guard():
    model = build_model(name, lazy=lazy).model
was_lazy = bool(lazy_parameters(model))
try:
    inputs, notes = cli_inputs([text], batch, input_hint(model))
    out = json.dumps(report_dict(analyze(model, inputs, name=name)), sort_keys=True)
except ConvcalcError as err:
    out = "refused: " + str(err)
print(json.dumps({"lazy": was_lazy, "outcome": out}))
"""


def _outcome(name: str, text: str, batch: int | None, lazy: bool) -> dict:
    proc = subprocess.run([sys.executable, "-c", OUTCOME, name, text, str(batch or 0), "lazy" if lazy else "normal"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_lazy_zoo_build_initialises_no_weight():
    lazy, normal = _built("resnet18", True), _built("resnet18", False)
    params = lazy.model.parameters()
    assert params and not any(p._is_initialized() for p in params)
    assert len(lazy_parameters(lazy.model)) == len(params)
    assert all(p._is_initialized() for p in normal.model.parameters())
    assert lazy_parameters(normal.model) == []


# (model, input, batch): the default, an odd size at batch 2, the wrong channel count, too small
CASES = [
    ("resnet18", "3x224x224", None), ("resnet18", "3x97x131", 2), ("resnet18", "1x224x224", None),
    ("resnet18", "3x8x8", None),
    ("googlenet", "3x32x32", None),
    ("book_paddle_lenet", "1x32x32", None), ("book_paddle_lenet", "1x97x131", 2),
    ("book_paddle_lenet", "3x32x32", None), ("book_paddle_lenet", "1x28x28", None),
    ("deit_tiny", "3x224x224", 2), ("deit_tiny", "3x97x131", None),
]


def test_lazy_and_normal_builds_report_and_refuse_alike():
    jobs = [(case, lazy) for case in CASES for lazy in (False, True)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        got = dict(zip(jobs, pool.map(lambda job: _outcome(*job[0], job[1]), jobs)))
    refused = 0
    for case in CASES:
        normal, lazy = got[(case, False)], got[(case, True)]
        assert lazy["lazy"] and not normal["lazy"], case  # (the lazy build really was lazy)
        assert lazy["outcome"] == normal["outcome"], case
        refused += normal["outcome"].startswith("refused")
    assert 0 < refused < len(CASES), "the cases must include refusals and reports"


@pytest.mark.parametrize("make, shape, refusal", [
    (lambda: eager_checks.CodesFromConv(5), (1, 1, 6, 6), "got 9"),  # not value-free: the full check, real values
    (lambda: EagerOnlyGuard(), (1, 3, 8, 8), "activations blew up"),  # read on the crops: re-run with real values
])
def test_a_lazy_model_gets_real_values_where_a_refusal_reads_them(make, shape, refusal):
    with pytest.raises(ConvcalcError, match=refusal):
        analyze(make(), shape)  # the truth: built normally
    with paddle.LazyGuard():
        model = make()
    assert lazy_parameters(model)
    with pytest.raises(ConvcalcError, match=refusal):
        analyze(model, shape)
    assert all(p._is_initialized() for p in model.parameters())


