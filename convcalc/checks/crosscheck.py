"""Ours beside Paddle's own counters: ``paddle.summary`` and ``paddle.flops``, per layer.

``paddle.summary`` only prints its per-layer table, so its rows are read back
from ``summary_string`` (Paddle's own function).  ``paddle.flops`` only prints
per-layer numbers too; instead of parsing that, it is run with ``custom_ops``
that wrap Paddle's *own* count functions (``dynamic_flops.register_hooks``)
and remember each layer's total, plus convcalc's rules for custom layers
(which Paddle would otherwise count as zero).  The total compared is the
value ``paddle.flops`` returns.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from typing import Any

from convcalc.analysis.records import Report
from convcalc.errors import DependencyError, ModelLoadError

_ROW = re.compile(r"^\s*(\S+)\s+(\[\[.*?\]\]|\[\])\s+(\[.*\]|\[\])\s+([\d,]+)\s*$")


@dataclass(frozen=True)
class RowComparison:
    """One ``paddle.summary`` row beside ours."""

    key: str
    path: str
    ours_input: str
    ours_output: str
    ours_params: int | None
    paddle_input: str
    paddle_output: str
    paddle_params: int
    ours_flops: int | None = None
    paddle_flops: int | None = None
    known: str = ""  # why paddle.summary's parameter count differs here (a known Paddle blind spot)

    @property
    def exact(self) -> bool:
        """Every number equal."""
        return self.ok and self.ours_params == self.paddle_params

    @property
    def ok(self) -> bool:
        """Equal, or the parameters differ only by a known Paddle difference."""
        return (
            self.ours_input == self.paddle_input
            and self.ours_output == self.paddle_output
            and (self.ours_params == self.paddle_params or bool(self.known))
            and self.ours_flops == self.paddle_flops
        )


@dataclass(frozen=True)
class KnownDifference:
    """A number where ``paddle.summary`` is wrong in a known way: both values and the reason."""

    where: str  # "row Linear-2 (b)", "total params", "trainable params"
    ours: int
    paddle: int
    reason: str


@dataclass(frozen=True)
class LayerFlops:
    """One conv/linear layer of a program: 2 x convcalc's multiply-adds beside Paddle's cost formula for its op."""

    path: str
    kind: str
    op: str
    ours: int  # 2 x the layer's count in the macs convention (bias excluded)
    paddle: int  # paddle.utils.flops of the op (conv2d: 2 x MACs, matmul_v2: 2 x MACs)


@dataclass(frozen=True)
class Comparison:
    model: str
    input_shape: tuple
    rows: tuple[RowComparison, ...]
    ours_params: int
    paddle_params: int
    ours_flops: int
    paddle_flops: int
    missing_in_ours: tuple[str, ...] = ()
    ours_trainable: int = 0
    paddle_trainable: int = 0
    known: tuple[KnownDifference, ...] = ()
    flops_not_compared: str = ""  # why Paddle has no FLOPs to compare with (an exported program)
    layer_flops: tuple[LayerFlops, ...] = ()  # an exported program's conv/linear layers vs paddle.utils.flops

    def _explained(self, where: str) -> bool:
        return any(k.where == where for k in self.known)

    @property
    def mismatches(self) -> int:
        """Differences no known Paddle blind spot explains."""
        totals = (
            (self.ours_params != self.paddle_params and not self._explained("total params"))
            + (self.ours_flops != self.paddle_flops and not self.flops_not_compared)
            + (self.ours_trainable != self.paddle_trainable and not self._explained("trainable params"))
        )
        layers = sum(r.ours != r.paddle for r in self.layer_flops)
        return sum(not r.ok for r in self.rows) + totals + len(self.missing_in_ours) + layers

    @property
    def ok(self) -> bool:
        return self.mismatches == 0


def check_numpy() -> None:
    """paddle.flops (Paddle 3.3.1) calls int() on one-element tensors, which numpy >= 2.4 refuses."""
    import numpy

    major, minor = (int(x) for x in numpy.__version__.split(".")[:2])
    if (major, minor) >= (2, 4):
        raise DependencyError(
            f"paddle.flops in this Paddle crashes with numpy {numpy.__version__} (>= 2.4)",
            "install a supported numpy: pip install 'numpy<2.4' (convcalc's own pin)",
        )


def summary_rows(
    model: Any, input_shape: tuple, dtypes: tuple[str, ...] | None = None, more: tuple[tuple, ...] = ()
) -> tuple[list[tuple[str, str, str, int]], dict]:
    """Rows ``(key, input_shape, output_shape, params)`` of ``paddle.summary`` and its totals.

    ``more`` are the shapes of the model's further inputs; ``dtypes`` one
    dtype per input (float32 when None).
    """
    from paddle.hapi.model_summary import summary_string

    shapes = [tuple(input_shape), *(tuple(s) for s in more)]
    was_training = model.training
    model.eval()  # as convcalc's trace and paddle.flops run it (a training-only branch must not run here)
    try:
        text, info = summary_string(model, shapes, list(dtypes or ("float32",) * len(shapes)))
    finally:
        if was_training:
            model.train()
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if m and m.group(1) != "Layer":
            rows.append((m.group(1), m.group(2), m.group(3), int(m.group(4).replace(",", ""))))
    return rows, {k: int(v) for k, v in info.items()}


def flops_per_layer(
    model: Any, input_shape: tuple, dtypes: tuple[str, ...] | None = None, more: tuple[tuple, ...] = ()
) -> tuple[dict[int, int], int]:
    """``paddle.flops`` total and each leaf layer's count (by ``id(layer)``).

    ``paddle.flops`` feeds one float32 input; a model with integer or several
    inputs goes through ``paddle.flops``'s own counter (``dynamic_flops``)
    with inputs of the right dtypes instead.
    """
    import paddle
    from paddle.hapi.dynamic_flops import dynamic_flops, register_hooks

    from convcalc.rules.layers import paddle_custom_ops

    check_numpy()
    per_layer: dict[int, int] = {}

    def recording(fn):
        def hook(m, x, y):
            fn(m, x, y)
            per_layer[id(m)] = int(m.total_ops.numpy().reshape(-1)[0])

        return hook

    custom = {cls: recording(fn) for cls, fn in register_hooks.items()}
    custom.update({cls: recording(fn) for cls, fn in paddle_custom_ops().items()})
    shapes = [tuple(input_shape), *(tuple(s) for s in more)]
    dtypes = tuple(dtypes or ("float32",) * len(shapes))
    with contextlib.redirect_stdout(io.StringIO()):
        if len(shapes) == 1 and dtypes[0] == "float32":
            total = paddle.flops(model, list(input_shape), custom_ops=custom, print_detail=False)
        else:
            from convcalc.trace.eager import example_values
            from convcalc.trace.inputs import ModelInput

            values = example_values([ModelInput(tuple(int(d) for d in s), t) for s, t in zip(shapes, dtypes)])
            total = dynamic_flops(_unpacked(model), values, custom_ops=custom, print_detail=False)
    return per_layer, int(total)


def _unpacked(model: Any) -> Any:
    """``model`` inside a layer that spreads a list of inputs as arguments (``dynamic_flops`` passes one)."""
    from paddle import nn

    class Unpacked(nn.Layer):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, values):
            return self.inner(*values)

    return Unpacked(model)


def _flat_shapes(text: str) -> list[list[int]]:
    """``paddle.summary``'s output shape, possibly nested (``[[2, 12, 64], [[4, 2, 32], [4, 2, 32]]]``), flattened."""
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []

    def flat(v):
        if isinstance(v, list) and all(isinstance(d, int) for d in v):
            return [v]
        return [s for item in v for s in flat(item)] if isinstance(v, list) else []

    return flat(value)


def _shapes_text(shapes: list[list[int]]) -> str:
    """One output: ``[1, 64]``; several: ``[1, 64] + [4, 2, 32]`` (any nesting flattened)."""
    return " + ".join(str(s) for s in shapes) if shapes else "[]"


def _shape_text(shapes) -> str:
    return str([[int(d) for d in s] for s in shapes])


def compare(model: Any, report: Report) -> Comparison:
    """Compare a concrete paddle-convention report with Paddle's counters on the same model.

    A model Paddle's counters cannot run raises
    :class:`~convcalc.errors.ModelLoadError` (the comparison cannot run:
    exit 2, not "numbers differ").
    """
    shape = tuple(int(d) for d in report.input_shape)
    more = tuple(tuple(int(d) for d in s) for s in report.input_shapes[1:])
    dtypes = tuple(report.input_dtypes) or None
    try:
        rows, paddle_totals = summary_rows(model, shape, dtypes, more)
        per_layer, paddle_total = flops_per_layer(model, shape, dtypes, more)
    except DependencyError:
        raise
    except Exception as err:  # noqa: BLE001 - Paddle's own counters failing on this model
        text = " ".join(str(err).split())[:240]
        raise ModelLoadError(
            f"paddle.summary/paddle.flops cannot run on {report.model}: {type(err).__name__}: {text}",
            "use `convcalc report` (it does not need them)",
        ) from None

    by_key: dict[str, Any] = {}
    for r in report.records:
        if r.summary_name:
            by_key[r.summary_name] = r  # the last call wins, as in paddle.summary's dict
    layers = dict(model.named_sublayers())
    ours_flops_by_path: dict[str, int] = {}
    for r in report.records:
        if r.is_leaf and not r.is_functional:
            ours_flops_by_path[r.path] = ours_flops_by_path.get(r.path, 0) + int(r.flops)

    ours_params_by_path: dict[str, int] = {}
    for r in report.records:
        if not r.is_functional:
            ours_params_by_path[r.path] = ours_params_by_path.get(r.path, 0) + int(r.params)

    out, missing = [], []
    known: list[KnownDifference] = []
    for key, p_in, p_out, p_params in rows:
        rec = by_key.get(key)
        if rec is None:
            missing.append(key)
            continue
        ours_flops = paddle_flops = None
        if rec.is_leaf:
            ours_flops = ours_flops_by_path.get(rec.path, 0)
            paddle_flops = per_layer.get(id(layers.get(rec.path)), 0)
        ours_params = ours_params_by_path.get(rec.path, 0)
        reason = ""
        if ours_params != p_params:
            extra, reason = _summary_extra(report, rec.path)
            if not reason or ours_params + extra != p_params:
                reason = ""
            else:
                known.append(KnownDifference(f"row {key} ({rec.path})", ours_params, p_params, reason))
        out.append(
            RowComparison(
                key=key,
                path=rec.path,
                ours_input=_shape_text(rec.input_shapes),
                ours_output=_shapes_text([[int(d) for d in o] for o in (rec.output_shapes or (rec.output_shape,))]),
                ours_params=ours_params,
                paddle_input=p_in,
                paddle_output=_shapes_text(_flat_shapes(p_out)),
                paddle_params=p_params,
                ours_flops=ours_flops,
                paddle_flops=paddle_flops,
                known=reason,
            )
        )
    summarised = {by_key[k].path for k, *_ in rows if k in by_key}
    for trainable in (False, True):
        where = "trainable params" if trainable else "total params"
        ours = int(report.totals.params_trainable if trainable else report.totals.params)
        theirs = paddle_totals["trainable_params" if trainable else "total_params"]
        if ours != theirs:
            delta, reasons = _total_reasons(report, summarised, trainable)
            if reasons and ours + delta == theirs:
                known.append(KnownDifference(where, ours, theirs, "; ".join(reasons)))
    return Comparison(
        model=report.model,
        input_shape=shape,
        rows=tuple(out),
        ours_params=int(report.totals.params),
        paddle_params=paddle_totals["total_params"],
        ours_flops=int(report.totals.flops),
        paddle_flops=paddle_total,
        missing_in_ours=tuple(missing),
        ours_trainable=int(report.totals.params_trainable),
        paddle_trainable=paddle_totals["trainable_params"],
        known=tuple(known),
    )


# ------------------------------------------------------------------ known Paddle differences
def _summary_extra(report: Report, path: str, trainable: bool = False) -> tuple[int, str]:
    """What ``paddle.summary`` adds on the row of ``path`` beyond ours, and why."""
    extra, reasons = 0, []
    for p, tied in _summary_extras(report, path, trainable):
        extra += p.numel
        reasons.append(_extra_reason(p, tied))
    return extra, "; ".join(reasons)


def _summary_extras(report: Report, path: str, trainable: bool) -> list[tuple[Any, bool]]:
    """(parameter, tied?) that paddle.summary counts on the row of ``path`` and we do not.

    paddle.summary counts every parameter a layer holds (``layer._parameters``):
    a weight tied to another layer again on each holder, and parameters no op
    reads.  Ours counts each parameter once, on one row, when it is used.
    """
    return [(p, p.row != path and p.read) for p in report.parameters
            if path in p.holders and not (p.row == path and p.read) and (p.trainable or not trainable)]


def _extra_reason(p: Any, tied: bool, where: str = "this row") -> str:
    if tied:
        return (f"{p.name} ({p.numel:,}) is tied to {p.row or 'the root model'}; paddle.summary counts it again "
                f"on {where}")
    return f"{p.name} ({p.numel:,}) is never read by the forward pass; paddle.summary counts it on {where}"


def _total_reasons(report: Report, summarised: set[str], trainable: bool) -> tuple[int, list[str]]:
    """paddle.summary's total minus ours, as the sum of its known blind spots, with the reasons."""
    delta = 0
    rows_of: dict[str, list[str]] = {}
    info: dict[str, tuple[Any, bool]] = {}
    for path in sorted(summarised):
        for p, tied in _summary_extras(report, path, trainable):
            delta += p.numel
            rows_of.setdefault(p.name, []).append(path)
            info[p.name] = (p, tied)
    reasons = [_extra_reason(p, tied, "the row" + ("s " if len(rows_of[n]) > 1 else " ") + ", ".join(rows_of[n]))
               for n, (p, tied) in info.items()]
    dropped = [p for p in report.parameters
               if p.read and p.row not in summarised and (p.trainable or not trainable)]
    if dropped:
        delta -= sum(p.numel for p in dropped)
        owners = sorted({p.row or "the root model" for p in dropped})
        reasons.append(
            ", ".join(f"{p.name} ({p.numel:,})" for p in dropped[:6]) + (", ..." if len(dropped) > 6 else "")
            + f" {'is' if len(dropped) == 1 else 'are'} owned by {', '.join(owners)}, which paddle.summary gives "
            "no row (it hooks neither the root model nor a Sequential/LayerList), so it leaves "
            + ("it out" if len(dropped) == 1 else "them out")
        )
    return delta, reasons


# ------------------------------------------------------------------ exported programs
PROGRAM_FLOPS_NOTE = (
    "paddle.flops has no count function for a loaded program (it counts a TranslatedLayer as 0 FLOPs); "
    "the conv and linear layers are checked one by one against paddle.utils.flops instead"
)


def _paddle_op_flops(op: Any, shapes: dict) -> int | None:
    """``paddle.utils.flops`` (Paddle's cost-model table) of a conv2d / depthwise_conv2d / matmul op, else None."""
    from paddle.utils.flops import flops

    from convcalc.trace.op_names import op_key

    key = op_key(op.name)

    def shape(i: int) -> list[int]:
        return [int(d) for d in shapes[op.inputs[i]]]

    a = op.attrs
    if key in ("conv2d", "depthwise_conv2d"):  # a depthwise conv is a grouped conv2d: the same formula
        if len(a.get("paddings") or ()) != 2 or a.get("padding_algorithm", "EXPLICIT") != "EXPLICIT":
            return None  # a form the table's formula does not read (four paddings, SAME/VALID)
        attrs = {k: a.get(k) for k in ("paddings", "strides", "dilations", "groups")}
        return int(flops("conv2d", {"Input": [shape(0)], "Filter": [shape(1)], "Bias": []}, attrs))
    if key == "matmul":
        attrs = {"trans_x": bool(a.get("transpose_x")), "trans_y": bool(a.get("transpose_y"))}
        return int(flops("matmul_v2", {"X": [shape(0)], "Y": [shape(1)]}, attrs))
    return None


def program_layer_flops(program: Any, shape: tuple) -> tuple[LayerFlops, ...]:
    """Each Conv2D / Linear layer of ``program``: 2 x convcalc's MACs beside ``paddle.utils.flops`` of its op."""
    from convcalc.checks.subject import analyze

    macs = analyze(program, shape, convention="macs", name=str(program.path))
    trace = program.convcalc_trace(shape)
    calls = {c.path: c for c in trace.calls if c.is_leaf}
    out = []
    for rec in macs.records:
        call = calls.get(rec.path)
        if rec.is_functional or rec.kind not in ("Conv2D", "Linear") or call is None or not rec.has_rule:
            continue
        for op in trace.ops[call.op_start : call.op_end]:
            theirs = _paddle_op_flops(op, trace.shapes)
            if theirs is not None:
                out.append(LayerFlops(rec.path, rec.kind, op.name, 2 * int(rec.flops), theirs))
                break
    return tuple(out)


def compare_program(program: Any, report: Report) -> Comparison:
    """An exported program's report beside what Paddle says of the program itself, loaded by ``paddle.jit.load``.

    Paddle sees a loaded program as one layer (a ``TranslatedLayer``, no
    sublayers), so the comparison is of totals, not rows: ``paddle.summary``
    on it gives the total and trainable parameters (from the loaded
    ``.pdiparams``) and the output shape (by running it); one row holds the
    whole program.  ``paddle.flops`` counts a loaded program as 0, so the
    total FLOPs are not compared (:data:`PROGRAM_FLOPS_NOTE`); per layer,
    every Conv2D and Linear layer's convolution or matrix product is checked
    against ``paddle.utils.flops``, Paddle's per-op cost formula (2 per
    multiply-add), as twice convcalc's ``macs`` count for the layer.
    """
    import paddle

    from convcalc.trace.native_logs import quiet_native_logs

    shape = tuple(int(d) for d in report.input_shape)
    path = str(program.path)
    json_program = path.lower().endswith(".json")
    prefix = path[: -len(".json")] if json_program else path[: -len(".pdmodel")]
    try:
        # a .pdmodel is loaded by the older IR (with PIR on, paddle.jit.load looks for a .json only)
        guard = contextlib.nullcontext() if json_program else paddle.pir_utils.OldIrGuard()
        with contextlib.redirect_stdout(io.StringIO()), quiet_native_logs(), guard:
            paddle.disable_static()  # the guard leaves dynamic mode; paddle.jit.load runs only in it
            layer = paddle.jit.load(prefix)
            rows, totals = summary_rows(layer, shape)
    except Exception as err:  # noqa: BLE001 - Paddle failing to load or run the program
        text = " ".join(str(err).split())[:240]
        raise ModelLoadError(
            f"paddle.jit.load / paddle.summary cannot run the program {program.path}: {type(err).__name__}: {text}",
            "use `convcalc report` on it (it reads the program without running it)",
        ) from None
    key, p_in, p_out, p_params = rows[0] if rows else ("(no row)", "[]", "[]", 0)
    ours_out = _shapes_text([list(s) for s in program.output_shapes(shape[0])])
    row = RowComparison(
        key=key, path="(the whole program)", ours_input=_shape_text([shape]), ours_output=ours_out,
        ours_params=int(report.totals.params), paddle_input=p_in, paddle_output=_shapes_text(_flat_shapes(p_out)),
        paddle_params=p_params,
    )
    return Comparison(
        model=report.model, input_shape=shape, rows=(row,), ours_params=int(report.totals.params),
        paddle_params=totals["total_params"], ours_flops=int(report.totals.flops), paddle_flops=0,
        ours_trainable=int(report.totals.params_trainable), paddle_trainable=totals["trainable_params"],
        flops_not_compared=PROGRAM_FLOPS_NOTE + _gaps_note(report), layer_flops=program_layer_flops(program, shape),
    )


def _gaps_note(report: Report) -> str:
    """Layers with no rule are missing from our FLOPs total: say so beside it."""
    gaps = report.gaps.layers_without_rule
    if not gaps:
        return ""
    kinds = sorted({r.kind for r in report.records if r.path in gaps})
    return f"; ours leaves out {len(gaps)} layer(s) with no rule ({', '.join(kinds)})"
