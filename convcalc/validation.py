"""Validation: convcalc checked against Paddle on the whole zoo, and receptive fields by gradients.

Two independent checks, both returning plain data (rendering lives in
:mod:`convcalc.render.validation`):

Zoo cross-check (:func:`validate_zoo`)
    Every zoo model at three input sizes (the default, a small one, an odd
    non-square one; models that cannot take a size are listed with the reason,
    never skipped silently).  Per size: the concrete report against
    ``paddle.summary`` (shapes, parameters) and ``paddle.flops`` (paddle
    convention), through :func:`convcalc.analysis.crosscheck.compare`; and the
    symbolic report, traced once at the model's default size, evaluated at
    this size and compared row by row with the concrete report.

Receptive fields by gradient (:func:`rf_crosscheck`)
    A second, independent method: in a copy of the model whose
    weights are positive constants (BatchNorm with identity statistics, biases
    zero, input positive, so every ReLU passes and nothing cancels), the input
    pixels with a non-zero gradient of one output unit are exactly that unit's
    receptive field.  Their extent gives the size, the centre the start, and
    the shift of the centre between two neighbouring units the jump.  Max
    pooling routes the gradient to one pixel per window, so in the copy every
    max pooling is replaced by average pooling of the same geometry (kernel,
    stride, padding, ceil mode); the field is a property of the geometry only.
    The forward pass stops right after the layer being checked, so the input
    can be larger than the model's head accepts (the book's LeNet squeezes).
    float32 is enough: a gradient is a sum of positive path products (no
    cancellation), the smallest, ``(1/9)**depth`` at a field's corner, stays far
    above float32's underflow for these depths, and an underflow would show up
    as a disagreement, never as a false agreement.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from convcalc.errors import ConvcalcError
from convcalc.property_counts import PropertyCounts, property_test_counts
from convcalc.workers import CRASHED_TWICE, run_isolated

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

RF_MODELS = ("book_lenet_vectorized", "two_branch", "book_resnet18", "resnet18", "mobilenet_v2")
RF_MODELS_FAST = ("book_lenet_vectorized", "two_branch", "book_resnet18")

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


@dataclass(frozen=True)
class FieldCheck:
    """convcalc's field of one layer beside the gradient-measured one, per axis (h, w)."""

    model: str
    path: str
    kind: str
    occurrence: int
    input_size: tuple[int, int]
    units: tuple[tuple[int, int], tuple[int, int]]
    ours: tuple[tuple[Fraction, Fraction, Fraction], tuple[Fraction, Fraction, Fraction]]
    measured: tuple[tuple[Fraction, Fraction, Fraction], tuple[Fraction, Fraction, Fraction]] | None
    note: str = ""

    def agrees(self, what: str) -> bool:
        """``what`` is ``"size"``, ``"jump"`` or ``"start"``; both axes must agree."""
        if self.measured is None:
            return False
        i = ("size", "jump", "start").index(what)
        return all(self.ours[a][i] == self.measured[a][i] for a in (0, 1))

    @property
    def ok(self) -> bool:
        return self.measured is not None and all(self.agrees(w) for w in ("size", "jump", "start"))


@dataclass(frozen=True)
class RFModelResult:
    model: str
    checks: tuple[FieldCheck, ...]
    not_checked: tuple[str, ...] = ()  # layers with no numeric field (whole input, unknown), by path
    seconds: float = 0.0
    note: str = ""
    error: str = ""

    def count(self, what: str) -> int:
        return sum(c.agrees(what) for c in self.checks)

    @property
    def ok(self) -> bool:
        return not self.error and all(c.ok for c in self.checks)


@dataclass(frozen=True)
class ValidationRun:
    models: tuple[ModelSizes, ...]
    rf: tuple[RFModelResult, ...]
    properties: PropertyCounts | None
    fast: bool
    seconds: float
    environment: dict = field(default_factory=dict)
    corpus: Any = None  # convcalc.corpus.check.CorpusRun, or None when not run

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
        return self.mismatches == 0 and self.rf_disagreements == 0 and corpus_ok


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


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
    from convcalc.analysis.symbolic import SymbolicUnsupportedError

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
    from convcalc.analysis.crosscheck import compare
    from convcalc.analysis.symbolic import H, W

    assert case.shape is not None
    t0 = time.perf_counter()
    refusal = ""
    if sym is not None and sym.exact is not None:
        refusal = _empty_output(sym.exact, case.shape, name) or _eager_refusal(model, case.shape)
    if refusal:
        return CaseResult(name, case.label, case.shape, refused=refusal, seconds=time.perf_counter() - t0)
    try:
        concrete = _analyze(model, case.shape, name)
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
    from convcalc.analysis.symbolic import H, W

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


def _eager_refusal(model: Any, shape: tuple) -> str:
    """Why the model's plain (eager) forward refuses ``shape``, or ``""`` when it runs.

    Checked before tracing because in Paddle 3.3.1 a ``to_static`` build that
    raises can leave the process in a state where the next build crashes
    (SIGSEGV in ``Conv2dOp::InferMeta``; googlenet after its 64x64 input was
    refused), so a size the model cannot take is never traced.  Only called
    once the exact symbolic report has shown that no output is empty: an
    eager conv whose output would be empty corrupts Paddle's heap
    ("malloc(): unsorted double linked list corrupted") instead of raising.
    """
    import paddle

    from convcalc.analysis.engine import normalise_input

    full = normalise_input(tuple(int(d) for d in shape))
    try:
        with paddle.no_grad():
            model(paddle.zeros(list(full), dtype="float32"))
    except Exception as err:  # noqa: BLE001 - any refusal is reported, with its message
        text = _one_line(f"{type(err).__name__}: {err}")
        where = "x".join(map(str, shape))
        return _one_line(f"the forward pass at {where} raises {text}")
    return ""


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 240 else text[:237] + "..."


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
    from convcalc.analysis import analyze
    from convcalc.analysis.engine import normalise_input, trace_for

    if _TRACES is None:
        return analyze(model, shape, name=name, **kwargs)
    key = (id(model), normalise_input(tuple(int(d) for d in shape)))
    if key not in _TRACES:
        _TRACES[key] = trace_for(model, shape, name)
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


# ------------------------------------------------------------------ receptive fields by gradient
def two_branch_model() -> Any:
    """A small hand-made network with a residual add and a concat whose branches differ in geometry.

    Branch A: 3x3/2 conv then a dilated 3x5 conv (start 0); branch B: 2x2/2
    max pool then a 9x1 conv (start 1/2, wider in height), merged by an add followed by an
    ``nn.ReLU`` layer (so the merged field is a layer's field); then a conv
    with a non-square kernel and stride, a concat of a conv and an avg pool,
    a depthwise conv and a 2x2/2 max pool.  Inputs: 3 channels, H and W
    multiples of 8.
    """
    import paddle
    from paddle import nn

    class TwoBranch(nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2D(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2D(8)
            self.relu = nn.ReLU()
            self.a1 = nn.Conv2D(8, 8, 3, stride=2, padding=1)
            self.a2 = nn.Conv2D(8, 8, (3, 5), padding=(2, 4), dilation=2)
            self.b1 = nn.MaxPool2D(2, stride=2)
            self.b2 = nn.Conv2D(8, 8, (9, 1), padding=(4, 0))
            self.merge = nn.ReLU()
            self.c = nn.Conv2D(8, 8, (5, 3), stride=(1, 2), padding=(2, 1))
            self.d1 = nn.Conv2D(8, 4, 3, padding=1)
            self.d2 = nn.AvgPool2D(3, stride=1, padding=1)
            self.joined = nn.ReLU6()
            self.dw = nn.Conv2D(12, 12, 3, stride=2, padding=1, groups=12)
            self.pool = nn.MaxPool2D(2, 2)

        def forward(self, x):
            x = self.relu(self.bn(self.stem(x)))
            a = self.a2(self.a1(x))
            b = self.b2(self.b1(x))
            x = self.merge(a + b)
            x = self.c(x)
            x = self.joined(paddle.concat([self.d1(x), self.d2(x)], axis=1))
            return self.pool(self.dw(x))

    model = TwoBranch()
    model.eval()
    return model


def _positive_copy(build: Callable[[], Any], dtype: str = "float32") -> Any:
    """A fresh model whose weights cannot cancel: positive constants, zero biases, identity BN."""
    import paddle
    from paddle import nn

    model = build()
    model.eval()
    model.to(dtype=dtype)
    with paddle.no_grad():
        for layer in model.sublayers(include_self=True):
            if isinstance(layer, nn.layer.norm._BatchNormBase):
                for attr, value in (("weight", 1.0), ("bias", 0.0), ("_mean", 0.0), ("_variance", 1.0)):
                    p = getattr(layer, attr, None)
                    if p is not None:
                        p.set_value(paddle.full(p.shape, value, dtype=p.dtype))
                continue
            for pname, p in layer.named_parameters(include_sublayers=False):
                if "bias" in pname or len(p.shape) <= 1:
                    p.set_value(paddle.zeros(p.shape, dtype=p.dtype))
                else:
                    fan_in = 1
                    for d in p.shape[1:]:
                        fan_in *= int(d)
                    p.set_value(paddle.full(p.shape, 1.0 / fan_in, dtype=p.dtype))
    return model


@contextlib.contextmanager
def _max_as_avg_pooling() -> Iterator[None]:
    """Within the block, ``F.max_pool2d`` (and adaptive) compute average pooling of the same geometry."""
    import paddle.nn.functional as F

    saved = F.max_pool2d, F.adaptive_max_pool2d

    def max_pool2d(x, kernel_size, stride=None, padding=0, return_mask=False, ceil_mode=False,
                   data_format="NCHW", name=None):
        if return_mask:
            raise NotImplementedError("max_pool2d(return_mask=True) in the gradient check")
        return F.avg_pool2d(x, kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                            exclusive=True, data_format=data_format)

    def adaptive_max_pool2d(x, output_size, return_mask=False, name=None):
        return F.adaptive_avg_pool2d(x, output_size)

    F.max_pool2d, F.adaptive_max_pool2d = max_pool2d, adaptive_max_pool2d
    try:
        yield
    finally:
        F.max_pool2d, F.adaptive_max_pool2d = saved


class _Stop(Exception):
    """Raised by a forward hook once the deepest layer of interest has run."""


def _frac(x: Any) -> Fraction:
    return Fraction(str(x))


def _field_tuple(f) -> tuple[Fraction, Fraction, Fraction]:
    return (_frac(f.size), _frac(f.jump), _frac(f.start))


def _unit_for(field_: tuple[Fraction, Fraction, Fraction]) -> tuple[int, int]:
    """(first unit whose field and its neighbour's lie inside the image, the image size needed)."""
    size, jump, start = field_
    half = (size - 1) / 2
    i = 0
    while start + i * jump - half < 0:
        i += 1
    need = start + (i + 1) * jump + half + 1
    return i, int(-(-need // 1))


_LADDER = (32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 448, 512, 576, 640, 768, 1024)


def _extent(mask_1d) -> tuple[int, int] | None:
    import numpy as np

    idx = np.nonzero(mask_1d)[0]
    if idx.size == 0:
        return None
    return int(idx[0]), int(idx[-1])


def _forward_until(model: Any, sub: dict, wanted: set, channels: int, size: int,
                   dtype: str = "float32") -> tuple[Any, dict]:
    """Run ``model`` on a small positive input until every wanted (path, call) has run.

    The input is 1e-6 everywhere: small enough that no activation reaches a
    saturating region (ReLU6 caps at 6, and residual sums grow block by block).

    Returns the input (it needs gradients) and the wanted layers' outputs.
    """
    import paddle

    outputs: dict = {}
    counts: dict[str, int] = {}

    def hook_for(path: str):
        def hook(layer, inputs, output):
            occ = counts.get(path, 0)
            counts[path] = occ + 1
            if (path, occ) in wanted:
                outputs[(path, occ)] = output
                if len(outputs) == len(wanted):
                    raise _Stop

        return hook

    handles = [sub[path].register_forward_post_hook(hook_for(path)) for path in {p for p, _ in wanted}]
    x = paddle.full([1, channels, size, size], 1e-6, dtype=dtype)
    x.stop_gradient = False
    try:
        with _max_as_avg_pooling():
            try:
                model(x)
            except _Stop:
                pass
    finally:
        for h in handles:
            h.remove()
    return x, outputs


def rf_crosscheck(name: str, build: Callable[[], Any] | None = None, input_shape: Sequence[int] | None = None,
                  max_size: int = 1024, progress: Progress = _quiet, dtype: str = "float32") -> RFModelResult:
    """Every layer with a numeric field in convcalc's report of ``name``, against the gradient method.

    ``build`` makes a fresh model (default: the zoo's factory); convcalc's
    fields come from the report at ``input_shape`` (default: the zoo's
    default input).  The gradient input is the smallest size in a ladder that
    holds the checked unit's field and its neighbour's without clipping.
    """
    import numpy as np
    import paddle

    from convcalc.analysis import analyze

    t0 = time.perf_counter()
    if build is None:
        if name == "two_branch":
            build, input_shape = two_branch_model, input_shape or (3, 32, 32)
        else:
            from convcalc.models.zoo import get_entry

            entry = get_entry(name)
            build, input_shape = entry.factory, input_shape or entry.default_input
    assert input_shape is not None
    shape = tuple(int(d) for d in input_shape)[-3:]
    reference = build()
    reference.eval()
    report = analyze(reference, shape, name=name)
    layers = dict(reference.named_sublayers())
    del reference

    # Targets: (path, occurrence) of leaf layer calls with a numeric field on both axes.
    targets = []
    not_checked = []
    seen: dict[str, int] = {}
    for rec in report.records:
        if not rec.is_leaf or rec.is_functional:
            continue
        occ = seen.get(rec.path, 0)
        seen[rec.path] = occ + 1
        h, w = rec.rf_h, rec.rf_w
        if h is None or w is None or h.whole or w.whole or rec.path not in layers:
            not_checked.append(rec.path)
            continue
        if "Adaptive" in rec.kind:  # its field depends on the input size
            not_checked.append(rec.path)
            continue
        fh, fw = _field_tuple(h), _field_tuple(w)
        (ih, need_h), (iw, need_w) = _unit_for(fh), _unit_for(fw)
        need = max(need_h, need_w)
        size = next((s for s in _LADDER if s >= need), None)
        targets.append((rec.path, rec.kind, occ, (fh, fw), (ih, iw), size))

    checks: list[FieldCheck] = []
    by_size: dict[int | None, list] = {}
    for t in targets:
        by_size.setdefault(t[5] if t[5] is not None and t[5] <= max_size else None, []).append(t)
    for path, kind, occ, fields, units, _ in by_size.pop(None, []):
        checks.append(FieldCheck(name, path, kind, occ, (0, 0), (units, units), fields, None,
                                 f"field larger than the largest input tried ({max_size})"))

    model = _positive_copy(build, dtype)
    sub = dict(model.named_sublayers())
    channels = shape[0]
    for size in sorted(by_size):
        group = by_size[size]
        progress(f"receptive fields {name}: {len(group)} layer(s) at {size}x{size}")
        wanted = {(p, o) for p, _, o, _, _, _ in group}
        x, outputs = _forward_until(model, sub, wanted, channels, size, dtype)
        for path, kind, occ, fields, (ih, iw), _ in group:
            out = outputs.get((path, occ))
            if out is None:
                checks.append(FieldCheck(name, path, kind, occ, (size, size), ((ih, iw), (ih, iw)), fields, None,
                                         "the layer did not run"))
                continue
            ho, wo = out.shape[2], out.shape[3]
            if ih + 1 >= ho or iw + 1 >= wo:
                checks.append(FieldCheck(name, path, kind, occ, (size, size), ((ih, iw), (ih + 1, iw + 1)), fields,
                                         None, f"output {ho}x{wo} has no unit ({ih + 1}, {iw + 1})"))
                continue
            grads = []
            for uh, uw in ((ih, iw), (ih + 1, iw + 1)):
                (g,) = paddle.grad(out[:, :, uh, uw].sum(), x, retain_graph=True)
                grads.append(np.abs(g.numpy()).sum(axis=(0, 1)) != 0)
            measured = []
            note = ""
            for axis, unit in ((0, ih), (1, iw)):
                ext = [_extent(m.any(axis=1 - axis)) for m in grads]
                if ext[0] is None or ext[1] is None:
                    note = "no input pixel has a non-zero gradient"
                    measured = None
                    break
                (lo, hi), (lo2, hi2) = ext
                centre, centre2 = Fraction(lo + hi, 2), Fraction(lo2 + hi2, 2)
                jump = centre2 - centre
                measured.append((Fraction(hi - lo + 1), jump, centre - unit * jump))
                if (lo == 0 or hi2 == size - 1) and measured[-1] != fields[axis]:
                    note = "the measured field touches the image border (it may be clipped)"
            checks.append(FieldCheck(name, path, kind, occ, (size, size), ((ih, iw), (ih + 1, iw + 1)), fields,
                                     tuple(measured) if measured else None, note))
        outputs.clear()
    order = {(p, o): i for i, (p, _, o, _, _, _) in enumerate(targets)}
    checks.sort(key=lambda c: order.get((c.path, c.occurrence), 0))
    progress(f"receptive fields {name}: {sum(c.ok for c in checks)}/{len(checks)} layers agree")
    note = f"max pooling replaced by average pooling of the same geometry in the {dtype} copy"
    return RFModelResult(name, tuple(checks), tuple(dict.fromkeys(not_checked)), time.perf_counter() - t0, note)


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
        return rf_crosscheck(name, progress=progress)
    except Exception as err:  # noqa: BLE001 - one model's failure must not end the whole run
        return _crashed(task, _one_line(f"{type(err).__name__}: {err}"))


def _crashed(task: tuple, reason: str) -> Any:
    kind, name = task[0], task[1]
    if reason == CRASHED_TWICE:
        reason += "; run it alone with --models to see"
    if kind == "zoo":
        return ModelSizes(name, (), (), error=reason)
    return RFModelResult(name, (), error=reason)


def _cost(task: tuple) -> int:
    kind, name = task[0], task[1]
    return _COST.get(name, 1) if kind == "zoo" else _RF_COST.get(name, 1)


def run_validation(models: Sequence[str] | None = None, fast: bool = False, rf: bool = True,
                   rf_models: Sequence[str] | None = None, progress: Progress = _quiet,
                   jobs: int = 1, corpus: bool | None = None) -> ValidationRun:
    """The zoo cross-check, the receptive-field cross-check, the custom-model corpus and the property-test counts.

    ``jobs`` > 1 runs models in that many worker processes (``progress`` must
    then be picklable, e.g. a module-level function).  ``corpus`` (default:
    when no ``models`` are named) also checks the custom-model corpus.
    """
    import paddle  # noqa: F401 - first: Ctrl-C during Paddle's own import gives its traceback, not ours

    from convcalc.analysis.crosscheck import check_numpy

    check_numpy()
    t0 = time.perf_counter()
    names = resolve_models(models, fast)
    if rf_models is None:
        rf_models = RF_MODELS_FAST if fast else RF_MODELS
        if models:
            rf_models = [m for m in rf_models if m in names]
    for m in rf_models:
        if m != "two_branch":
            from convcalc.models.zoo import get_entry

            get_entry(m)
    tasks = [("zoo", n, fast, progress) for n in names]
    tasks += [("rf", m, fast, progress) for m in (rf_models if rf else ())]
    done = run_isolated(tasks, _run_task, _crashed, jobs, _cost)
    corpus_run = None
    if corpus or (corpus is None and not models):
        from convcalc.corpus.check import run_corpus

        corpus_run = run_corpus(jobs=max(1, jobs), progress=progress)
    return ValidationRun(
        models=tuple(done[: len(names)]),
        rf=tuple(done[len(names):]),
        properties=property_test_counts(),
        fast=fast,
        seconds=time.perf_counter() - t0,
        environment=dict(_environment(), jobs=max(1, jobs)),
        corpus=corpus_run,
    )
