"""Model questions: expected per-layer rows and totals from the analysis engine.

A model named in a homework file is a zoo name (``book_lenet``,
``resnet18``, ...) or, only with ``allow_code=True``, a ``path/file.py:Name``
resolved next to the homework file: answer files never run code on their
own.  Imports paddle (through the analysis engine) only when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convcalc.errors import AnswerFileError
from convcalc.homework import compute
from convcalc.homework.grading.marking import mark_field, mark_invalid
from convcalc.homework.grading.match import values_match
from convcalc.homework.grading.misconceptions import HINTS
from convcalc.homework.grading.results import FieldResult
from convcalc.homework.spec import LayerSpec, Question, Tolerance

__all__ = [
    "ExpectedRow",
    "ModelExpected",
    "expected_model_values",
    "grade_model_fields",
    "total_hint",
    "resolve_model_spec",
]


@dataclass(frozen=True)
class ExpectedRow:
    """One leaf layer of the model as the analysis engine sees it."""

    layer: str
    kind: str
    input_shape: tuple
    values: dict
    formula: str
    out_channels: int | None = None
    spec: LayerSpec | None = None
    summary_name: str = ""  # paddle.summary's row name in a fresh process: Conv2D-1, ReLU-1, ...


@dataclass(frozen=True)
class ModelExpected:
    """Everything a model question can ask, computed once per (model, input, convention)."""

    model: str
    input_shape: tuple
    convention: str
    values: dict
    rows: tuple[ExpectedRow, ...]
    notes: tuple[str, ...] = ()
    other_totals: dict = field(default_factory=dict)  # convention -> total FLOPs (filled lazily)
    built_model: Any = field(default=None, repr=False, compare=False)
    spec: str = field(default="", compare=False)  # the resolved model spec (to rebuild it for a hint)
    cache_key: str = field(default="", compare=False)

    def row(self, layer: str) -> ExpectedRow | None:
        for r in self.rows:
            if r.layer == layer:
                return r
        return None

    def index(self, layer: str) -> int:
        return next(i for i, r in enumerate(self.rows) if r.layer == layer)

    def derivation(self, name: str) -> str:
        lines = [f"{self.model} on input {_shape_text(self.input_shape)}, {self.convention} convention:"]
        attr = {"params": "params", "params_trainable": "params_trainable", "flops": "flops"}.get(name)
        if attr:
            parts = [(r.layer, r.values[attr]) for r in self.rows if r.values.get(attr)]
            lines.extend(f"    {layer:<20} {value:>14,}" for layer, value in parts)
            lines.append(f"    {'total ' + name:<20} {self.values[name]:>14,}  (the sum of the rows above)")
        elif name == "output_shape":
            last = self.rows[-1] if self.rows else None
            lines.append(
                f"    the model's output: {_shape_text(self.values['output_shape'])}"
                + (f" (after {last.layer})" if last else "")
            )
        return "\n".join(lines)


def _shape_text(shape: tuple) -> str:
    return "x".join(str(v) for v in shape)


def resolve_model_spec(spec: str, base_dir: str, allow_code: bool) -> str:
    """A zoo name as is; a ``file.py:Name`` made absolute, and only when code is allowed."""
    from convcalc.models import zoo

    if spec in zoo.ZOO:
        return spec
    looks_like_file = ":" in spec or spec.endswith(".py") or "/" in spec or "\\" in spec
    if not looks_like_file:
        zoo.get_entry(spec)  # raises UnknownNameError with close names
        return spec
    if not allow_code:
        raise AnswerFileError(
            f"the model {spec!r} is Python code, and a homework file never runs code by itself",
            "use a zoo name (see `convcalc models`), or pass --allow-code if you trust the file",
        )
    path_text, _, name = spec.rpartition(":") if ":" in spec else (spec, "", "")
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    return f"{path}:{name}" if name else str(path)


def _layer_spec(layer: Any) -> LayerSpec | None:
    """The explain configuration of a built-in or book layer, when it can be read off it."""
    try:
        import paddle.nn as nn

        from convcalc.models import book

        def one(v: Any) -> Any:
            if isinstance(v, (list, tuple)):
                return int(v[0]) if len(set(v)) == 1 else tuple(int(x) for x in v)
            return int(v)

        if isinstance(layer, nn.Conv2D) and isinstance(layer._padding, int):
            return LayerSpec(
                "conv2d",
                (
                    ("out_channels", int(layer._out_channels)),
                    ("kernel", one(layer._kernel_size)),
                    ("stride", one(layer._stride)),
                    ("padding", int(layer._padding)),
                    ("dilation", one(layer._dilation)),
                    ("groups", int(layer._groups)),
                    ("bias", layer.bias is not None),
                ),
            )
        if isinstance(layer, book.Conv2D):
            return LayerSpec(
                "conv2d",
                (
                    ("out_channels", int(layer.out_channels)),
                    ("kernel", int(layer.kernel_size)),
                    ("stride", int(layer.stride)),
                    ("padding", int(layer.padding)),
                    ("bias", layer.bias is not None),
                ),
            )
        if isinstance(layer, (nn.MaxPool2D, nn.AvgPool2D)) and isinstance(layer.padding, int):
            mode = "max" if isinstance(layer, nn.MaxPool2D) else "avg"
            stride = layer.stride if layer.stride is not None else layer.ksize
            return LayerSpec(
                "pool2d",
                (
                    ("kernel", one(layer.ksize)),
                    ("stride", one(stride)),
                    ("padding", int(layer.padding)),
                    ("mode", mode),
                    ("ceil_mode", bool(layer.ceil_mode)),
                ),
            )
        if isinstance(layer, book.Pool2D):
            return LayerSpec(
                "pool2d",
                (
                    ("kernel", one((layer.h, layer.w))),
                    ("stride", int(layer.stride)),
                    ("mode", layer.mode),
                ),
            )
        if isinstance(layer, nn.Linear):
            return LayerSpec(
                "linear",
                (("out_features", int(layer.weight.shape[1])), ("bias", layer.bias is not None)),
            )
        if isinstance(layer, nn.BatchNorm2D):
            return LayerSpec("batchnorm", ())
    except Exception:  # pragma: no cover - an unusual layer: fall back to the rule's formula
        return None
    return None


def _rf_value(rec: Any) -> Any:
    """The row's receptive-field size, one value per spatial axis (L; H, W; D, H, W), as compute writes it:
    one number where the axes agree, "whole" when an axis sees the whole input, None when unknown."""
    fields = [a.field for a in rec.rf or ()]
    if not fields or any(f is None for f in fields):
        return None
    if any(f.whole for f in fields):
        return "whole"
    sizes = tuple(compute.to_number(f.size) for f in fields)
    return sizes[0] if all(v == sizes[0] for v in sizes) else sizes


def expected_model_values(question: Question, base_dir: str, allow_code: bool, cache: dict) -> ModelExpected:
    """Analyse the question's model once (cached across questions and files)."""
    from convcalc.homework.grading import model_cache

    spec = resolve_model_spec(question.model or "", base_dir, allow_code)
    key = (spec, tuple(question.input_shape), question.convention)
    if key in cache:
        return cache[key]
    disk_key = model_cache.cache_key(spec, tuple(question.input_shape), question.convention)
    found = model_cache.load(disk_key)
    if found is not None:  # computed by an earlier run: no paddle, no trace
        try:
            cache[key] = _from_cache(found, spec, disk_key)
            return cache[key]
        except (KeyError, TypeError, ValueError, IndexError):
            pass  # another layout: compute it again
    from convcalc.analysis import analyze
    from convcalc.models.zoo import build_model

    built = build_model(spec)
    shape = tuple(question.input_shape) or tuple(built.default_input or ())
    if not shape:
        raise AnswerFileError(
            f"question {question.id!r}: the model {question.model!r} has no default input",
            'add input = "1x3x32x32"',
        )
    report = analyze(built.model, shape, convention=question.convention, name=built.name)
    layers = dict(built.model.named_sublayers())
    rows = []
    per_class: dict[str, int] = {}
    for rec in report.leaves:
        layer = layers.get(rec.path)
        class_name = type(layer).__name__ if layer is not None else rec.kind
        per_class[class_name] = per_class.get(class_name, 0) + 1
        out = tuple(compute.to_number(v) for v in rec.output_shape)
        ins = tuple(compute.to_number(v) for v in rec.input_shapes[0]) if rec.input_shapes else ()
        rows.append(
            ExpectedRow(
                layer=rec.path,
                kind=rec.kind,
                input_shape=ins,
                values={
                    "output_shape": out,
                    "params": int(rec.params),
                    "params_trainable": int(rec.params_trainable),
                    "flops": int(rec.flops),
                    "rf": _rf_value(rec),
                },
                formula=rec.formula,
                out_channels=out[1] if len(out) >= 2 else None,
                spec=_layer_spec(layer),
                summary_name=f"{class_name}-{per_class[class_name]}",
            )
        )
    final = report.records[-1].output_shape if report.records else ()
    values = {
        "output_shape": tuple(compute.to_number(v) for v in final),
        "params": int(report.totals.params),
        "params_trainable": int(report.totals.params_trainable),
        "flops": int(report.totals.flops),
    }
    notes = tuple(report.notes)
    if report.gaps.layers_without_rule:
        notes += ("layers without a rule (FLOPs unknown): " + ", ".join(report.gaps.layers_without_rule),)
    expected = ModelExpected(
        built.name,
        tuple(report.input_shape),
        question.convention,
        values,
        tuple(rows),
        notes,
        built_model=built.model,
        spec=spec,
        cache_key=disk_key,
    )
    model_cache.store(disk_key, expected)
    cache[key] = expected
    return expected


def _from_cache(data: dict, spec: str, key: str) -> ModelExpected:
    rows = tuple(
        ExpectedRow(
            layer=r["layer"],
            kind=r["kind"],
            input_shape=r["input_shape"],
            values=r["values"],
            formula=r["formula"],
            out_channels=r["out_channels"],
            spec=None if r["spec"] is None else LayerSpec(r["spec"][0], r["spec"][1]),
            summary_name=r["summary_name"],
        )
        for r in data["rows"]
    )
    return ModelExpected(
        data["model"],
        data["input_shape"],
        data["convention"],
        data["values"],
        rows,
        data["notes"],
        other_totals=data["other_totals"],
        spec=spec,
        cache_key=key,
    )


def _other_convention_total(expected: ModelExpected, convention: str) -> int | None:
    if convention in expected.other_totals:
        return expected.other_totals[convention]
    from convcalc.analysis import analyze
    from convcalc.homework.grading import model_cache

    try:
        model = expected.built_model
        if model is None:  # read from the cache: build it now (a wrong total's hint needs it once)
            from convcalc.models.zoo import build_model

            model = build_model(expected.spec).model
        report = analyze(model, expected.input_shape, convention=convention, name=expected.model)
        value = int(report.totals.flops)
    except Exception:  # a hint is a courtesy; never fail grading over it
        value = None
    expected.other_totals[convention] = value
    if expected.cache_key:
        model_cache.store(expected.cache_key, expected)  # the next run needs no paddle for this hint
    return value


def total_hint(question: Question, name: str, given: Any, want: Any, tol: Tolerance, expected: ModelExpected) -> str:
    """The likely mistake behind a wrong model total."""
    if name == "output_shape":
        shape = tuple(want)
        if len(shape) >= 3 and tuple(given) in (shape[-2:], shape[2:]):
            return HINTS["no_channels"]
        return ""
    if name == "params":
        conv = sum(r.out_channels or 0 for r in expected.rows if r.kind in _CONV_KINDS and r.values["params"])
        linear = sum(r.out_channels or 0 for r in expected.rows if r.kind == "Linear" and r.values["params"])
        for missing, hint in (
            (conv + linear, HINTS["conv_no_bias"] + "; " + HINTS["linear_no_bias"]),
            (conv, HINTS["conv_no_bias"]),
            (linear, HINTS["linear_no_bias"]),
        ):
            if missing and values_match(name, given, want - missing, tol)[0]:
                return hint
        if (
            want != expected.values["params_trainable"]
            and values_match(name, given, expected.values["params_trainable"], tol)[0]
        ):
            return HINTS["bn_trainable"]
    if name == "flops":
        for other in ("macs", "paddle", "flops"):
            if other == question.convention:
                continue
            total = _other_convention_total(expected, other)
            if total is not None and total != want and values_match(name, given, total, tol)[0]:
                return HINTS[other]
        macs = _other_convention_total(expected, "macs") if question.convention != "macs" else want
        if macs and values_match(name, given, 2 * macs, tol)[0] and 2 * macs != want:
            return HINTS["two_macs"]
    return ""


_CONV_KINDS = ("Conv2D", "VectorizedConv2D")


def grade_model_fields(question: Question, expected: ModelExpected, share: float, cache: dict) -> list[FieldResult]:
    """The totals and the per-layer table of a model question."""
    from convcalc.homework.grading.rows import grade_rows

    fields = []
    for name in question.ask:
        if name == "rows":
            invalid = question.invalid_for("rows")
            if question.rows is None and invalid is not None:
                fields.append(mark_invalid(question, "rows", None, share, invalid))
            else:
                fields.append(grade_rows(question, expected, share, cache))
            continue
        want, given = expected.values.get(name), question.answer_for(name)
        tol = question.tolerance_for(name)
        fields.append(
            mark_field(
                question,
                name,
                want,
                given,
                share,
                batched=True,
                hint=lambda n=name, g=given, w=want, t=tol: total_hint(question, n, g, w, t, expected),
                derivation=lambda n=name: expected.derivation(n),
            )
        )
    return fields
