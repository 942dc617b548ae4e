"""Training cost checked against Paddle's own backward program (the training table of ``convcalc validate``).

Per model: :func:`convcalc.analysis.training.training_cost`'s rows (macs and
flops conventions) beside :func:`convcalc.checks.backward_program.backward_program`'s
count of the grad ops Paddle built, per layer (functional ops summed per
``parent:op``): input-gradient and weight-gradient counts, which gradients
exist, and the bytes of the forward values the backward reads.  Plain data;
rendering lives in :mod:`convcalc.render.validation`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

__all__ = ["TRAINING_MODELS", "TRAINING_MODELS_FAST", "TRAINING_CASES", "TrainingCheck", "check_training",
           "frozen_resnet18", "token_classifier", "mixed_layers", "shared_layer"]

TRAINING_MODELS_FAST = ("book_lenet", "book_paddle_lenet", "book_resnet18", "resnet18", "mobilenet_v2",
                        "frozen_resnet18", "token_classifier", "mixed_layers", "shared_layer")
"""The CI subset: the book's models, resnet18, mobilenet_v2, a model with frozen layers, one whose first layer is
not a conv."""


def frozen_resnet18() -> Any:
    """resnet18 fine-tuned the usual way: the stem and ``layer1`` frozen (``stop_gradient``), the rest trained."""
    import paddle.vision.models as M

    model = M.resnet18(pretrained=False, num_classes=10)
    for layer in (model.conv1, model.bn1, model.layer1):
        for p in layer.parameters():
            p.stop_gradient = True
    return model


def token_classifier() -> Any:
    """Token ids -> Embedding -> LayerNorm -> Linear -> GELU -> mean over tokens -> Linear: no conv first."""
    import paddle
    import paddle.nn as nn

    class TokenClassifier(nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(1000, 64)
            self.norm = nn.LayerNorm(64)
            self.mix = nn.Linear(64, 128)
            self.act = nn.GELU()
            self.drop = nn.Dropout(0.1)
            self.head = nn.Linear(128, 5)

        def forward(self, ids):
            x = self.drop(self.act(self.mix(self.norm(self.embed(ids)))))
            return self.head(paddle.mean(x, axis=1))

    return TokenClassifier()


def mixed_layers() -> Any:
    """Many layer kinds in one small net: grouped/dilated/depthwise/transposed convs, 'SAME' padding, norms,
    pools with padding, activations, a residual multiply, softmax, Conv1D."""
    import paddle
    import paddle.nn as nn

    class MixedLayers(nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2D(3, 8, 3, stride=2, padding="SAME")
            self.gn = nn.GroupNorm(2, 8)
            self.grouped = nn.Conv2D(8, 8, 3, padding=2, dilation=2, groups=2)
            self.depthwise = nn.Conv2D(8, 8, 3, padding=1, groups=8, bias_attr=False)
            self.inorm = nn.InstanceNorm2D(8)
            self.pool = nn.AvgPool2D(3, stride=2, padding=1)
            self.up = nn.Conv2DTranspose(8, 4, 3, stride=2, padding=1, output_padding=1, groups=2)
            self.act = nn.LeakyReLU(0.1)
            self.gate = nn.Sigmoid()
            self.line = nn.Conv1D(4, 6, 3, padding=1)
            self.ln = nn.LayerNorm(6)
            self.head = nn.Linear(6, 5)

        def forward(self, x):
            x = self.gn(self.stem(x))
            x = self.grouped(x) * self.gate(self.depthwise(x))
            x = self.up(self.pool(self.inorm(x)))
            x = self.act(x)
            n, c, h, w = x.shape
            y = self.line(paddle.reshape(x, [n, c, h * w]))
            y = self.ln(paddle.transpose(y, [0, 2, 1]))
            return paddle.nn.functional.softmax(self.head(paddle.tanh(y)), axis=-1)

    return MixedLayers()


def shared_layer() -> Any:
    """One Linear called twice (its weight gets two gradients, summed), then a head."""
    import paddle.nn as nn
    import paddle.nn.functional as F

    class SharedLayer(nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(16, 16)
            self.out = nn.Linear(16, 4)

        def forward(self, x):
            return self.out(F.relu(self.fc(F.relu(self.fc(x)))))

    return SharedLayer()


TRAINING_CASES: dict[str, tuple[Any, tuple, str]] = {
    "shared_layer": (shared_layer, ((3, 16), "float32"), "one Linear called twice: its gradients summed"),
    "mixed_layers": (mixed_layers, ((2, 3, 16, 16), "float32"),
                     "grouped, dilated, depthwise, transposed and 1-D convs, SAME padding, three norms, ..."),
    "frozen_resnet18": (frozen_resnet18, ((2, 3, 64, 64), "float32"), "resnet18 with conv1, bn1, layer1 frozen"),
    "token_classifier": (token_classifier, ((2, 16), "int64"), "Embedding first (int64 ids), no conv"),
}


@dataclass(frozen=True)
class TrainingCheck:
    """One model: convcalc's training rows against Paddle's backward program."""

    model: str
    input: str
    rows_checked: int = 0
    grad_ops: int = 0
    step_flops: int = 0  # convcalc's forward + backward in the flops convention
    backward_flops: int = 0
    activations_ours: int = 0
    activations_paddle: int = 0
    mismatches: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not self.mismatches


def TRAINING_MODELS() -> list[str]:  # noqa: N802 - reads like the constant it stands for
    """Every zoo model and the training cases (the full ``convcalc validate``)."""
    from convcalc.models.zoo import list_entries

    return [e.name for e in list_entries()] + [n for n in TRAINING_CASES]


def _model_and_inputs(name: str, batch: int, sample: tuple | None = None):
    from convcalc.trace.inputs import ModelInput

    if name in TRAINING_CASES:
        build, (shape, dtype), _ = TRAINING_CASES[name]
        return build(), [ModelInput(tuple(shape), dtype, "")]
    from convcalc.models.zoo import build_model
    from convcalc.trace.input_forms import model_inputs

    built = build_model(name)
    inputs, _ = model_inputs(built.model, (batch, *(sample or built.default_input)))
    return built.model, inputs


def _base(path: str) -> str:
    """A functional row's name without its ``#n`` (the oracle sums each ``parent:op`` kind)."""
    return path.split("#", 1)[0] if ":" in path else path


def check_training(name: str, batch: int = 2, sample: tuple | None = None) -> TrainingCheck:
    """Compare convcalc's training cost of zoo model (or training case) ``name`` with Paddle's backward program.

    ``sample``: one sample's shape instead of the zoo model's default input (e.g. ``(3, 64, 64)``).
    """
    from convcalc.checks.backward_program import backward_program
    from convcalc.checks.subject import analyze, trace_for, training_from_report

    t0 = time.perf_counter()
    model, inputs = _model_and_inputs(name, batch, sample)
    shown = " + ".join("x".join(str(d) for d in i.shape) + ("" if "float" in i.dtype else f":{i.dtype}")
                       for i in inputs)
    trace = trace_for(model, inputs, name)
    ours: dict[str, dict] = {}
    for conv in ("macs", "flops"):
        report = analyze(model, convention=conv, name=name, trace=trace,
                         input_size=[i.shape for i in inputs] if len(inputs) > 1 else inputs[0].shape)
        tc = training_from_report(report, trace, model)
        for r in tc.rows:
            row = ours.setdefault(_base(r.path), defaultdict(int))
            row[f"input_{conv}"] += r.backward_input
            row[f"weight_{conv}"] += r.backward_weight
            if conv == "flops":
                row["input_grad"] |= r.input_grad
                row["weight_grad"] |= r.weight_grad
                row.setdefault("saved", {}).update(dict.fromkeys(r.saved, 0))
        if conv == "flops":
            flops_tc = tc
    saved_bytes = _saved_bytes(flops_tc)
    paddle_side = backward_program(model, inputs)
    mismatches: list[str] = []
    names = sorted(set(ours) | set(paddle_side.rows))
    checked = 0
    for n in names:
        mine = ours.get(n, {})
        theirs = paddle_side.rows.get(n)
        mine_any = any(mine.get(k) for k in ("input_macs", "input_flops", "weight_macs", "weight_flops",
                                             "input_grad", "weight_grad")) or saved_bytes.get(n, 0)
        if theirs is None:
            if mine_any:
                mismatches.append(f"{n or '(root)'}: convcalc counts a backward, Paddle builds no grad op for it")
            continue
        checked += 1
        pairs = (
            ("input-gradient MACs", mine.get("input_macs", 0), theirs.backward_input["macs"]),
            ("input-gradient FLOPs", mine.get("input_flops", 0), theirs.backward_input["flops"]),
            ("weight-gradient MACs", mine.get("weight_macs", 0), theirs.backward_weight["macs"]),
            ("weight-gradient FLOPs", mine.get("weight_flops", 0), theirs.backward_weight["flops"]),
            ("input gradient computed", bool(mine.get("input_grad")), theirs.input_grad),
            ("weight gradient computed", bool(mine.get("weight_grad")), theirs.weight_grad),
            ("saved bytes", saved_bytes.get(n, 0), theirs.saved_bytes),
        )
        for what, a, b in pairs:
            if a != b:
                mismatches.append(f"{n}: {what} convcalc {a:,} vs Paddle {b:,}" if not isinstance(a, bool)
                                  else f"{n}: {what}: convcalc {a}, Paddle {b}")
    t = flops_tc.totals
    if t.activations_bytes != paddle_side.activations_bytes:
        mismatches.append(f"activations saved for backward: convcalc {t.activations_bytes:,} bytes vs "
                          f"Paddle {paddle_side.activations_bytes:,}")
    notes = []
    if paddle_side.unattributed:
        mismatches.append("grad ops attributed to no forward op: " + ", ".join(sorted(set(paddle_side.unattributed))))
    if paddle_side.ops_without_rule or flops_tc.ops_without_rule:
        notes.append("no backward rule: " + ", ".join(sorted(set(paddle_side.ops_without_rule)
                                                            | {k for k, _ in flops_tc.ops_without_rule})))
    if paddle_side.unknown_size:
        notes.append("saved values of unknown size (not counted): " + ", ".join(paddle_side.unknown_size))
    return TrainingCheck(
        model=name, input=shown, rows_checked=checked, grad_ops=paddle_side.grad_op_count,
        step_flops=t.step, backward_flops=t.backward_input + t.backward_weight,
        activations_ours=t.activations_bytes, activations_paddle=paddle_side.activations_bytes,
        mismatches=tuple(mismatches), notes=tuple(notes), seconds=time.perf_counter() - t0,
    )


def _saved_bytes(tc) -> dict[str, int]:
    """Bytes of the values each row's backward reads, per row name (a value read twice under one name once)."""
    per: dict[str, dict] = defaultdict(dict)
    sizes = dict(tc.saved_values)
    for r in tc.rows:
        for v in r.saved:
            per[_base(r.path)][v] = sizes.get(v, 0)
    return {n: sum(vs.values()) for n, vs in per.items()}

