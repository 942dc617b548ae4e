"""Validation: convcalc checked against Paddle on the whole zoo, and receptive fields by gradients.

Two independent checks, both returning plain data (rendering lives in
:mod:`convcalc.render.validation`):

Zoo cross-check (:func:`validate_zoo`)
    Every zoo model at three input sizes (the default, a small one, an odd
    non-square one; models that cannot take a size are listed with the reason,
    never skipped silently).  Per size: the concrete report against
    ``paddle.summary`` (shapes, parameters) and ``paddle.flops`` (paddle
    convention), through :func:`convcalc.checks.crosscheck.compare`; and the
    symbolic report, traced once at the model's default size, evaluated at
    this size and compared row by row with the concrete report.

Receptive fields by gradient (:func:`convcalc.checks.gradient_fields.rf_crosscheck`)
    A second, independent method for the fields (see :mod:`convcalc.checks.gradient_fields`).

The custom-model corpus (:mod:`convcalc.checks.corpus`) and the training cost
against Paddle's backward program (:mod:`convcalc.checks.training_cost`) run beside
them; :func:`run_validation` runs everything in isolated workers.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from convcalc.checks.gradient_fields import (
    FIELD_CASES,
    RF_MODELS,
    RF_MODELS_FAST,
    FieldCheck,
    RFModelResult,
    rf_crosscheck,
    two_branch_model,
)
from convcalc.checks.property_counts import PropertyCounts, property_test_counts
from convcalc.checks.workers import CRASHED_TWICE, Progress, run_isolated
from convcalc.checks.workers import one_line as _one_line
from convcalc.checks.workers import quiet as _quiet
from convcalc.errors import ConvcalcError

__all__ = [
    "SizeCase",
    "CaseResult",
    "ModelSizes",
    "FieldCheck",
    "RFModelResult",
    "PropertyCounts",
    "ValidationRun",
    "FAST_MODELS",
    "RF_MODELS",
    "RF_MODELS_FAST",
    "sizes_for",
    "validate_case",
    "validate_model",
    "validate_zoo",
    "rf_crosscheck",
    "property_test_counts",
    "run_validation",
    "two_branch_model",
]

FAST_MODELS = (
    "book_lenet",
    "book_lenet_vectorized",
    "book_paddle_lenet",
    "book_resnet18",
    "book_resnet18_plain",
    "resnet18",
    "mobilenet_v2",
)
"""The CI subset (``--fast``): the book's models, resnet18 and mobilenet_v2, default + one odd size."""


_BOOK_LENETS = ("book_lenet", "book_lenet_vectorized", "book_paddle_lenet")
_SQUEEZE_REASON = (
    "the model squeezes axes 2 and 3 after conv5, which must be 1x1: only heights and widths 32..35 work"
)
_VISION_LENET_REASON = "Linear(400) after flatten fixes the last map at 16x5x5: only 28x28 inputs work"


# ------------------------------------------------------------------ data
@dataclass(frozen=True)
class SizeCase:
    """One input size for one model; ``shape`` is None when the model cannot take it (``reason``)."""

    label: str
    shape: tuple[int, ...] | None
    reason: str = ""


@dataclass(frozen=True)
class CaseResult:
    """One model at one size: the Paddle cross-check and the symbolic evaluation."""

    model: str
    label: str
    shape: tuple[int, ...]
    rows_checked: int = 0
    mismatches: int = 0
    symbolic_rows: int = 0
    symbolic_mismatches: int = 0
    symbolic_form: str = ""
    seconds: float = 0.0
    refused: str = ""  # the model (or Paddle) refused this size: the reason
    details: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.refused and self.mismatches == 0 and self.symbolic_mismatches == 0


@dataclass(frozen=True)
class ModelSizes:
    """All sizes of one model, plus the symbolic report's status."""

    model: str
    cases: tuple[CaseResult, ...]
    not_taken: tuple[SizeCase, ...] = ()
    symbolic_note: str = ""
    seconds: float = 0.0
    error: str = ""  # the checks themselves failed (counted as a mismatch)


AxisTuple = "tuple[Fraction, Fraction, Fraction] | str"  # (size, jump, start), or "whole"


@dataclass(frozen=True)
class ValidationRun:
    models: tuple[ModelSizes, ...]
    rf: tuple[RFModelResult, ...]
    properties: PropertyCounts | None
    fast: bool
    seconds: float
    environment: dict = field(default_factory=dict)
    corpus: Any = None  # convcalc.checks.corpus.check.CorpusRun, or None when not run
    training: tuple = ()  # convcalc.checks.training_cost.TrainingCheck per model (the backward-program check)

    @property
    def training_mismatches(self) -> int:
        return sum(not t.ok for t in self.training)

    @property
    def mismatches(self) -> int:
        return sum(c.mismatches + c.symbolic_mismatches for m in self.models for c in m.cases) + sum(
            bool(m.error) for m in self.models)

    @property
    def rf_disagreements(self) -> int:
        return sum(not c.ok for r in self.rf for c in r.checks) + sum(bool(r.error) for r in self.rf)

    @property
    def ok(self) -> bool:
        corpus_ok = self.corpus is None or self.corpus.wrong == 0
        return self.mismatches == 0 and self.rf_disagreements == 0 and corpus_ok and self.training_mismatches == 0



# ------------------------------------------------------------------ sizes
def sizes_for(name: str, default: Sequence[int], fast: bool = False) -> list[SizeCase]:
    """The default, a small and an odd non-square size for zoo model ``name``.

    Models that cannot take a size get a :class:`SizeCase` with ``shape=None``
    and the reason; the book's LeNets and paddle.vision's LeNet get a batch of
    2 instead of the small size.  ``fast`` keeps the default and the odd size.
    """
    default = tuple(int(d) for d in default)
    c = default[0]
    if name in _BOOK_LENETS:
        cases = [
            SizeCase("default", default),
            SizeCase("small", None, _SQUEEZE_REASON),
            SizeCase("batch 2", (2, *default)),
            SizeCase("odd", (c, 33, 35)),
        ]
    elif name == "lenet":
        cases = [
            SizeCase("default", default),
            SizeCase("small", None, _VISION_LENET_REASON),
            SizeCase("batch 2", (2, *default)),
            SizeCase("odd", None, _VISION_LENET_REASON),
        ]
    else:
        small = 16 if default[1] <= 32 else (75 if name == "inception_v3" else 64)
        cases = [
            SizeCase("default", default),
            SizeCase("small", (c, small, small)),
            SizeCase("odd", (c, 97, 131)),
        ]
    if fast:
        cases = [s for s in cases if s.label in ("default", "odd")]
    return cases


# ------------------------------------------------------------------ one case
def _record_key(r) -> tuple:
    return (
        r.path,
        tuple(tuple(int(d) for d in s) for s in r.input_shapes),
        tuple(int(d) for d in r.output_shape),
        int(r.params),
        int(r.flops),
    )


def _symbolic_diff(evaluated, concrete) -> tuple[int, int, list[str]]:
    """(rows compared, mismatches, first differences) between two concrete reports."""
    details: list[str] = []
    bad = 0
    a, b = list(evaluated.records), list(concrete.records)
    if len(a) != len(b):
        bad += 1
        details.append(f"symbolic report has {len(a)} rows, concrete {len(b)}")
    for ra, rb in zip(a, b):
        try:
            ka = _record_key(ra)
        except TypeError:  # a symbol left over: not evaluable at this size
            ka = ("unevaluated", ra.path)
        if ka != _record_key(rb):
            bad += 1
            if len(details) < 3:
                details.append(f"symbolic {rb.path}: {ka[2:]} vs concrete {_record_key(rb)[2:]}")
    for attr in ("params", "flops"):
        ta, tb = getattr(evaluated.totals, attr), getattr(concrete.totals, attr)
        if ta != tb:
            bad += 1
            details.append(f"symbolic total {attr} {ta} vs concrete {tb}")
    return min(len(a), len(b)), bad, details


@dataclass
class _Symbolic:
    """The symbolic reports of one model, traced at its default size."""

    divisible: Any = None  # report simplified for H, W divisible by the total stride
    stride: tuple[int, int] | None = None
    exact: Any = None  # exact floor() expressions
    unsupported: str = ""


_STRIDE_NOTE = re.compile(r"H divisible by (\d+) and W divisible by (\d+)")


def _symbolic_reports(model: Any, shape: tuple, name: str) -> _Symbolic:
    from convcalc.checks.subject import SymbolicUnsupportedError

    out = _Symbolic()
    try:
        out.divisible = _analyze(model, shape, name, symbolic=True)
    except SymbolicUnsupportedError as err:
        out.unsupported = str(err)
        return out
    for note in out.divisible.notes:
        m = _STRIDE_NOTE.search(note)
        if m:
            out.stride = (int(m.group(1)), int(m.group(2)))
    if out.stride is None:
        out.exact, out.divisible = out.divisible, None
    else:
        out.exact = _analyze(model, shape, name, symbolic=True, assume_divisible=False)
    return out


def validate_case(model: Any, name: str, case: SizeCase, sym: _Symbolic | None) -> CaseResult:
    """Cross-check one model at one size (``case.shape`` must be set)."""
    from convcalc.checks.crosscheck import compare
    from convcalc.checks.subject import H, W

    assert case.shape is not None
    t0 = time.perf_counter()
    refusal = ""
    if sym is not None and sym.exact is not None:
        refusal = _empty_output(sym.exact, case.shape, name) or _eager_refusal(model, case.shape, name)
    if refusal:
        return CaseResult(name, case.label, case.shape, refused=refusal, seconds=time.perf_counter() - t0)
    try:
        concrete = _analyze(model, case.shape, name, eager_checked=sym is not None and sym.exact is not None)
    except ConvcalcError as err:
        return CaseResult(name, case.label, case.shape, refused=_one_line(str(err)),
                          seconds=time.perf_counter() - t0)
    result = compare(model, concrete)
    details = [
        f"{r.key} {r.path}: out {r.ours_output}|{r.paddle_output} params {r.ours_params}|{r.paddle_params} "
        f"flops {r.ours_flops}|{r.paddle_flops}"
        for r in result.rows if not r.ok
    ][:3]
    if result.ours_params != result.paddle_params:
        details.append(f"total params {result.ours_params} vs paddle.summary {result.paddle_params}")
    if result.ours_flops != result.paddle_flops:
        details.append(f"total FLOPs {result.ours_flops} vs paddle.flops {result.paddle_flops}")
    if result.missing_in_ours:
        details.append("paddle.summary rows not found: " + ", ".join(result.missing_in_ours[:5]))

    sym_rows = sym_bad = 0
    form = ""
    if sym is not None:
        if sym.unsupported:
            form = "unsupported"
        else:
            h, w = case.shape[-2], case.shape[-1]
            divisible = sym.stride is not None and h % sym.stride[0] == 0 and w % sym.stride[1] == 0
            symbolic = sym.divisible if divisible else sym.exact
            form = f"H/{sym.stride[0]}, W/{sym.stride[1]}" if divisible else "exact floors"
            if int(concrete.input_shape[0]) != int(symbolic.input_shape[0]):
                # another batch: the symbolic report of this batch (same trace as the concrete one)
                symbolic = _analyze(model, case.shape, name, symbolic=True, assume_divisible=divisible)
            if symbolic is not None:
                evaluated = symbolic.subs({H: h, W: w})
                sym_rows, sym_bad, sym_details = _symbolic_diff(evaluated, concrete)
                details += sym_details
    return CaseResult(
        model=name,
        label=case.label,
        shape=tuple(int(d) for d in concrete.input_shape),
        rows_checked=len(result.rows),
        mismatches=result.mismatches,
        symbolic_rows=sym_rows,
        symbolic_mismatches=sym_bad,
        symbolic_form=form,
        seconds=time.perf_counter() - t0,
        details=tuple(details),
    )


def _empty_output(exact: Any, shape: tuple, name: str) -> str:
    """The first layer whose output the exact symbolic report says is empty at ``shape``, as a reason."""
    from convcalc.checks.subject import H, W

    h, w = int(shape[-2]), int(shape[-1])
    for r in exact.records:
        dims = [sympy_int(d, {H: h, W: w}) for d in r.output_shape]
        if any(d is not None and d <= 0 for d in dims):
            where = "x".join(map(str, shape))
            return (f"input {where} is too small for {name}: layer {r.path} ({r.kind}) would produce an empty "
                    f"output {dims}")
    return ""


def sympy_int(expr: Any, values: dict) -> int | None:
    """``expr`` evaluated at ``values`` as an int (None if it is not a number)."""
    import sympy

    value = sympy.sympify(sympy.sympify(expr).xreplace(values))
    return int(value) if value.is_number else None


def _eager_refusal(model: Any, shape: tuple, name: str) -> str:
    """Why the model's plain (eager) forward refuses ``shape``, or ``""`` when it runs.

    Checked before tracing because in Paddle 3.3.1 a ``to_static`` build that
    raises can leave the process in a state where the next build crashes
    (SIGSEGV in ``Conv2dOp::InferMeta``; googlenet after its 64x64 input was
    refused), so a size the model cannot take is never traced.  Only called
    once the exact symbolic report has shown that no output is empty: an
    eager conv whose output would be empty corrupts Paddle's heap
    ("malloc(): unsorted double linked list corrupted") instead of raising.
    This is the case's one eager forward: the trace that follows does not
    run it again (``eager_checked``).
    """
    from convcalc.checks.subject import normalise_input, rule_static_forward
    from convcalc.errors import ConvcalcError
    from convcalc.trace.eager import eager_check
    from convcalc.trace.inputs import ModelInput

    full = normalise_input(tuple(int(d) for d in shape))
    try:
        eager_check(model, [ModelInput(full)], rule_static_forward, name=name)
    except ConvcalcError as err:  # Paddle's refusal (its reason and the layer), or the model's own error
        return _one_line(err.problem)
    return ""


_TRACES: dict | None = None


@contextlib.contextmanager
def _shared_traces() -> Iterator[None]:
    """Within the block, :func:`_analyze` traces each (model, input shape) once.

    The concrete report and the two symbolic reports at the default size read
    the same trace (tracing is most of the time a check takes).  The trace is
    plain data that ``analyze`` only reads.
    """
    global _TRACES
    _TRACES = {}
    try:
        yield
    finally:
        _TRACES = None


def _analyze(model: Any, shape: tuple, name: str, **kwargs: Any):
    """``analyze`` reusing the block's trace of (model, shape) when there is one."""
    from convcalc.checks.subject import analyze, normalise_input, trace_for

    checked = kwargs.pop("eager_checked", False)
    key = (id(model), normalise_input(tuple(int(d) for d in shape)))
    if _TRACES is None:
        return analyze(model, shape, name=name, trace=trace_for(model, shape, name, eager_checked=checked), **kwargs)
    if key not in _TRACES:
        _TRACES[key] = trace_for(model, shape, name, eager_checked=checked)
    return analyze(model, shape, name=name, trace=_TRACES[key], **kwargs)


def validate_model(name: str, fast: bool = False, progress: Progress = _quiet) -> ModelSizes:
    """One zoo model at its sizes (see :func:`sizes_for`)."""
    with _shared_traces():
        return _validate_model(name, fast, progress)


def _validate_model(name: str, fast: bool, progress: Progress) -> ModelSizes:
    from convcalc.models.zoo import build_model

    t0 = time.perf_counter()
    progress(f"{name}: building, tracing the symbolic report")
    built = build_model(name)
    sizes = sizes_for(name, built.default_input, fast)
    default = next(s.shape for s in sizes if s.label == "default")
    try:
        sym = _symbolic_reports(built.model, default, name)
    except ConvcalcError as err:
        sym = _Symbolic(unsupported=_one_line(str(err)))
    cases, not_taken = [], []
    for case in sizes:
        if case.shape is None:
            not_taken.append(case)
            continue
        progress(f"{name} {case.label} {'x'.join(map(str, case.shape))}")
        result = validate_case(built.model, name, case, sym)
        if result.refused:
            not_taken.append(SizeCase(case.label, case.shape, result.refused))
        cases.append(result)
    note = f"symbolic report unsupported: {sym.unsupported}" if sym.unsupported else ""
    result = ModelSizes(name, tuple(cases), tuple(not_taken), note, time.perf_counter() - t0)
    bad = sum(c.mismatches + c.symbolic_mismatches for c in cases)
    progress(f"{name}: done in {result.seconds:.0f} s, {bad} mismatch(es)")
    return result


def resolve_models(names: Sequence[str] | None, fast: bool) -> list[str]:
    """Zoo names to validate, in zoo order; unknown names raise :class:`UnknownNameError`."""
    from convcalc.models.zoo import ZOO, get_entry

    if names:
        return [get_entry(n).name for n in names]
    if fast:
        return list(FAST_MODELS)
    return list(ZOO)


def validate_zoo(names: Sequence[str] | None = None, fast: bool = False,
                 progress: Progress = _quiet) -> list[ModelSizes]:
    return [validate_model(n, fast, progress) for n in resolve_models(names, fast)]


# ------------------------------------------------------------------ everything
def _environment() -> dict:
    import platform

    import numpy
    import paddle
    import sympy

    return {
        "paddle": paddle.__version__,
        "numpy": numpy.__version__,
        "sympy": sympy.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPU(s)",
    }


# Relative cost of a model's checks, to start the longest first when running in parallel.
_COST = {"densenet264": 9, "densenet201": 6, "densenet169": 5, "densenet161": 6, "densenet121": 4,
         "resnext152_64x4d": 8, "resnext152_32x4d": 6, "resnext101_64x4d": 6, "resnext101_32x4d": 5,
         "resnet152": 5, "wide_resnet101_2": 5, "inception_v3": 5, "resnet101": 4, "vgg19_bn": 4,
         "vgg19": 3, "vgg16_bn": 3, "resnext50_64x4d": 3, "wide_resnet50_2": 3, "book_lenet": 3}
_RF_COST = {"resnet18": 10, "mobilenet_v2": 8, "book_resnet18": 4}


def _run_task(task: tuple) -> Any:
    """One unit of work (picklable, for a worker process)."""
    kind, name, fast, progress = task
    try:
        if kind == "zoo":
            return validate_model(name, fast, progress)
        if kind == "training":
            from convcalc.checks.training_cost import check_training

            result = check_training(name)
            progress(f"{name}: training cost against Paddle's backward program: {len(result.mismatches)} mismatch(es)")
            return result
        return _rf_task(name, progress)
    except Exception as err:  # noqa: BLE001 - one model's failure must not end the whole run
        return _crashed(task, _one_line(f"{type(err).__name__}: {err}"))


def _rf_task(name: str, progress: Progress):
    """The gradient check of a zoo model, ``two_branch`` or a ``fields`` corpus case (at the case's input)."""
    from convcalc.checks.corpus import fields as corpus_fields

    case = next((c for c in corpus_fields.CASES if c.name == name), None)
    if case is None:
        return rf_crosscheck(name, progress=progress)
    return rf_crosscheck(name, case.build, full_shape=case.inputs[0][0], progress=progress)


def _crashed(task: tuple, reason: str) -> Any:
    kind, name = task[0], task[1]
    if reason == CRASHED_TWICE:
        reason += "; run it alone with --models to see"
    if kind == "zoo":
        return ModelSizes(name, (), (), error=reason)
    if kind == "training":
        from convcalc.checks.training_cost import TrainingCheck

        return TrainingCheck(name, "", error=reason)
    return RFModelResult(name, (), error=reason)


def _cost(task: tuple) -> int:
    kind, name = task[0], task[1]
    return _COST.get(name, 1) if kind == "zoo" else _RF_COST.get(name, 1)


def run_validation(models: Sequence[str] | None = None, fast: bool = False, rf: bool = True,
                   rf_models: Sequence[str] | None = None, progress: Progress = _quiet,
                   jobs: int = 1, corpus: bool | None = None, training: bool = True) -> ValidationRun:
    """The zoo cross-check, the receptive-field cross-check, the custom-model corpus and the property-test counts.

    ``jobs`` > 1 runs models in that many worker processes (``progress`` must
    then be picklable, e.g. a module-level function).  ``corpus`` (default:
    when no ``models`` are named) also checks the custom-model corpus.  ``training`` checks the training cost
    against Paddle's backward program (:mod:`convcalc.checks.training_cost`) for the same models (``fast``: its CI
    subset; the full run adds its own cases: frozen layers, a model with no conv first).
    """
    import paddle  # noqa: F401 - first: Ctrl-C during Paddle's own import gives its traceback, not ours

    from convcalc.checks.crosscheck import check_numpy

    check_numpy()
    t0 = time.perf_counter()
    names = resolve_models(models, fast)
    if rf_models is None:
        rf_models = RF_MODELS_FAST if fast else RF_MODELS
        if models:
            rf_models = [m for m in rf_models if m in names]
    for m in rf_models:
        if m != "two_branch" and m not in FIELD_CASES:
            from convcalc.models.zoo import get_entry

            get_entry(m)
    tasks = [("zoo", n, fast, progress) for n in names]
    tasks += [("rf", m, fast, progress) for m in (rf_models if rf else ())]
    n_rf = len(tasks) - len(names)
    if training:
        from convcalc.checks.training_cost import TRAINING_MODELS, TRAINING_MODELS_FAST

        trained = names if models else list(TRAINING_MODELS_FAST if fast else TRAINING_MODELS())
        tasks += [("training", n, fast, progress) for n in trained]
    done = run_isolated(tasks, _run_task, _crashed, jobs, _cost)
    corpus_run = None
    if corpus or (corpus is None and not models):
        from convcalc.checks.corpus.check import run_corpus

        corpus_run = run_corpus(jobs=max(1, jobs), progress=progress)
    return ValidationRun(
        models=tuple(done[: len(names)]),
        rf=tuple(done[len(names):len(names) + n_rf]),
        training=tuple(done[len(names) + n_rf:]),
        properties=property_test_counts(),
        fast=fast,
        seconds=time.perf_counter() - t0,
        environment=dict(_environment(), jobs=max(1, jobs)),
        corpus=corpus_run,
    )
