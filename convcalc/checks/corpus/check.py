"""convcalc beside the independent truth, for every corpus case (isolated in spawned workers).

:func:`check_case` runs one case in this process: the truth
(:func:`convcalc.checks.corpus.truth.truth_for`), then convcalc's ``analyze`` on the
same model and inputs, and returns the differences as one-line strings.
:func:`run_corpus` runs many cases in spawned workers (a failed ``to_static``
build can make the next one in the same process segfault): cases Paddle
refuses one per worker, the others in small batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CaseOutcome", "CorpusRun", "check_case", "compare_report", "inputs_text", "run_analyze", "run_corpus"]

BATCH = 20  # cases per worker (each worker starts fresh)


@dataclass(frozen=True)
class CaseOutcome:
    """One case checked: the differences found (empty when convcalc is right)."""

    name: str
    kind: str
    mismatches: tuple[str, ...] = ()
    inputs: str = ""  # e.g. "1x3x16x16:float32"
    refused: str = ""  # Paddle's refusal, when the case is one
    seconds: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True)
class CorpusRun:
    outcomes: tuple[CaseOutcome, ...]
    seconds: float

    @property
    def wrong(self) -> int:
        return sum(not o.ok for o in self.outcomes)

    def kinds(self) -> dict[str, list[CaseOutcome]]:
        out: dict[str, list[CaseOutcome]] = {}
        for o in self.outcomes:
            out.setdefault(o.kind, []).append(o)
        return out


def run_analyze(model: Any, case: Any, inputs: list) -> Any:
    """convcalc's analysis of ``model`` at the case's inputs: the one place the corpus calls ``analyze``."""
    import inspect

    from convcalc.checks.subject import analyze

    if "input_data" in inspect.signature(analyze).parameters:
        return analyze(model, input_data=inputs[0] if len(inputs) == 1 else inputs, name=case.name)
    (shape, _dtype), = case.inputs  # until analyze takes any input: one float32 image batch
    return analyze(model, tuple(shape), name=case.name)


def _int_shape(shape) -> tuple[int, ...]:
    return tuple(int(d) for d in shape)


def compare_report(report: Any, truth: Any) -> list[str]:
    """Shapes of every leaf call, parameter totals and per-owner counts, never-run layers (one line each)."""
    bad: list[str] = []
    ours: dict[str, list] = {}
    for r in report.records:
        if r.is_leaf and not r.is_functional:
            shapes = getattr(r, "output_shapes", None) or (r.output_shape,)
            ours.setdefault(r.path, []).append(tuple(_int_shape(s) for s in shapes))
    for path, calls in truth.leaf_outputs.items():
        got = ours.get(path, [])
        if len(got) != len(calls):
            bad.append(f"{path}: {len(calls)} call(s) in Paddle, {len(got)} row(s) in convcalc")
            continue
        for i, (want, have) in enumerate(zip(calls, got)):
            if want != have:
                call = f" call {i + 1}" if len(calls) > 1 else ""
                bad.append(f"{path}{call}: output {[list(s) for s in have]} vs Paddle {[list(s) for s in want]}")
    t = report.totals
    for label, mine, theirs in (
        ("params in the model", int(t.params_in_model), truth.params_in_model),
        ("params", int(t.params), truth.params_used),
        ("trainable params", int(t.params_trainable), truth.params_used_trainable),
    ):
        if mine != theirs:
            bad.append(f"{label} {mine:,} vs Paddle's parameter objects {theirs:,}")
    shown: dict[str, int] = {}
    first: set[str] = set()
    for r in report.records:
        if r.is_functional or r.path in first:
            continue
        first.add(r.path)
        shown[r.path] = int(r.params)
    for owner, n in truth.params_by_owner.items():
        if shown.get(owner, 0) != n:
            bad.append(f"row {owner or 'root'}: {shown.get(owner, 0):,} params vs {n:,} owned")
    never = set(report.gaps.layers_never_called)
    if never != set(truth.never_ran):
        bad.append(f"never ran: {sorted(never)} vs Paddle's hooks {sorted(truth.never_ran)}")
    return bad


def check_case(case: Any) -> CaseOutcome:
    """Check one case in this process (see :func:`run_corpus` for isolation)."""
    from convcalc.checks.corpus.truth import make_inputs, truth_for
    from convcalc.errors import ConvcalcError

    t0 = time.perf_counter()
    bad: list[str] = []
    truth = truth_for(case)
    if case.refused and case.refused not in truth.refused_text:
        bad.append(f"Paddle's eager forward should refuse with {case.refused!r}; it "
                   + (f"said {truth.refused!r}" if truth.refused else "ran"))
    elif truth.refused and not case.refused:
        bad.append(f"Paddle's eager forward refused: {truth.refused}")
    model = case.build()
    report = None
    try:
        report = run_analyze(model, case, make_inputs(case))
    except ConvcalcError as err:
        if not truth.refused:
            bad.append(f"convcalc refused what Paddle runs: {err}")
        elif case.refused and case.refused not in str(err):
            bad.append(f"convcalc's refusal lacks Paddle's reason {case.refused!r}: {err}")
    except Exception as err:  # noqa: BLE001 - a crash is a wrong answer, reported as such
        bad.append(f"convcalc crashed: {type(err).__name__}: {' '.join(str(err).split())[:200]}")
    if report is not None:
        if truth.refused:
            bad.append(f"convcalc gave a report where Paddle refuses ({truth.refused})")
        else:
            bad += compare_report(report, truth)
            for check in case.checks:
                bad += check(report, truth)
    return CaseOutcome(case.name, case.kind, tuple(bad), inputs_text(case), truth.refused,
                       time.perf_counter() - t0, case.note)


def inputs_text(case: Any) -> str:
    """``"1x3x16x16:float32"``, one per model input."""
    return " ".join("x".join(str(d) for d in shape) + f":{dtype}" for shape, dtype in case.inputs)


# ------------------------------------------------------------------ isolation
def _where(case: Any) -> tuple[str, str]:
    """(module, case name): the corpus module whose ``CASES`` holds ``case`` (a worker imports it)."""
    import sys

    module = getattr(case.build, "__module__", "") or ""
    if any(c.name == case.name for c in getattr(sys.modules.get(module), "CASES", ())):
        return module, case.name
    return "convcalc.checks.corpus", case.name


def _find(module: str, name: str) -> Any:
    import importlib

    from convcalc.checks.corpus import all_cases

    cases = all_cases() if module == "convcalc.checks.corpus" else importlib.import_module(module).CASES
    return next(c for c in cases if c.name == name)


def _run_batch(items: tuple[tuple[str, str], ...]) -> list[CaseOutcome]:
    out = []
    for module, name in items:
        case = _find(module, name)
        try:
            out.append(check_case(case))
        except Exception as err:  # noqa: BLE001 - one case's failure must not end the run
            out.append(CaseOutcome(name, case.kind, (f"the check itself failed: {type(err).__name__}: {err}",),
                                   inputs_text(case), note=case.note))
    return out


def _crashed_batch(items: tuple[tuple[str, str], ...], reason: str) -> list[CaseOutcome]:
    names = ", ".join(name for _, name in items)
    out = []
    for module, name in items:
        case = _find(module, name)
        out.append(CaseOutcome(name, case.kind, (f"{reason} (worker: {names})",), inputs_text(case), note=case.note))
    return out


def run_corpus(cases: Sequence[Any] | None = None, jobs: int = 2,
               progress: Callable[[str], None] = lambda message: None) -> CorpusRun:
    """Every case (default: :func:`convcalc.checks.corpus.all_cases`) checked in spawned workers.

    Starting a worker (importing Paddle, the first trace) costs several
    seconds, so the cases are split into a few batches, one fresh worker
    each, with the cases Paddle refuses last in their batch (a refused build
    is what can poison a process).  A batch whose worker crashes is run
    again one case per worker, so a crash is pinned on the case that caused it.
    """
    from convcalc.checks.corpus import all_cases
    from convcalc.checks.workers import CRASHED_TWICE, run_isolated

    t0 = time.perf_counter()
    cases = list(all_cases() if cases is None else cases)
    ordered = [_where(c) for c in cases if not c.refused] + [_where(c) for c in cases if c.refused]
    n_tasks = max(1, min(len(ordered), max(jobs, -(-len(ordered) // BATCH))))
    tasks = [tuple(ordered[i::n_tasks]) for i in range(n_tasks)]
    progress(f"corpus: {len(cases)} cases in {len(tasks)} worker(s)")
    results = run_isolated(tasks, _run_batch, _crashed_batch, jobs, cost=len, tasks_per_child=1, inline=False)
    by_name = {o.name: o for batch in results for o in batch}
    where = {c.name: _where(c) for c in cases}
    crashed = [(where[o.name],) for o in by_name.values() if any(CRASHED_TWICE in m for m in o.mismatches)]
    if crashed:
        progress(f"corpus: a worker crashed; {len(crashed)} case(s) again, one per worker")
        alone = run_isolated(crashed, _run_batch, _crashed_batch, jobs, tasks_per_child=1, inline=False)
        by_name.update({o.name: o for batch in alone for o in batch})
    outcomes = tuple(by_name[c.name] for c in cases)
    progress(f"corpus: {sum(o.ok for o in outcomes)}/{len(outcomes)} cases right")
    return CorpusRun(outcomes, time.perf_counter() - t0)
