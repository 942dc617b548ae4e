"""The worked derivation shown under a wrong answer of a layer question.

Each layer's steps are ``convcalc.explain.layers``'s, rendered by
``convcalc.render.derivation.to_text`` (the same text as ``convcalc
explain``), keeping only the steps that derive the field asked.  A stack
adds the sums over its layers and the receptive-field recurrence through
them (5.1.4).
"""

from __future__ import annotations

from dataclasses import replace

from convcalc.homework import compute
from convcalc.homework.spec import Question

__all__ = ["layer_derivation", "QUANTITIES"]

# Answer field -> the explain quantities that derive it.
QUANTITIES: dict[str, tuple[str, ...]] = {
    "output_shape": (
        "padding_height",
        "padding_width",
        "output_height",
        "output_width",
        "output_shape",
    ),
    "output_height": ("padding_height", "output_height"),
    "output_width": ("padding_width", "output_width"),
    "params": ("params",),
    "params_trainable": ("params_trainable", "params"),
    "flops": (),  # flops_<convention>, chosen per question
    "rf": ("rf_size",),
    "rf_jump": ("rf_jump",),
    "rf_start": ("rf_start",),
}
_RF_FIELDS = ("rf", "rf_jump", "rf_start")


def _shape_text(shape: tuple) -> str:
    return "x".join(str(v) for v in shape)


def _quantities(question: Question, name: str) -> tuple[str, ...]:
    if name == "flops":
        return (f"flops_{question.convention}",)
    return QUANTITIES.get(name, ())


def _layer_text(question: Question, index: int, res: compute.LayerResult, name: str) -> str:
    """One layer's explain text restricted to the steps of ``name``."""
    from convcalc.render.derivation import to_text

    spec = question.layers[index]
    batch, dims, has_batch = compute._split(res.input_shape, spec.kind)
    derivation = compute.explain(spec, dims)
    wanted = _quantities(question, name)
    steps = tuple(s for s in derivation.steps if s.quantity in wanted)
    if name == "params_trainable" and any(s.quantity == "params_trainable" for s in steps):
        steps = tuple(s for s in steps if s.quantity == "params_trainable")
    text = to_text(replace(derivation, steps=steps)).rstrip()
    if spec.kind == "linear" and len(dims) > 1:
        text = (
            f"(the {_shape_text(dims)} input is flattened to "
            f"{compute.explain_input('linear', dims)[0]} features)\n" + text
        )
    if name == "flops" and batch != 1:
        text += f"\n    x batch {batch} = {res.flops:,}"
    return text


def _rf_lines(question: Question, result: compute.StackResult) -> list[str]:
    """The receptive-field recurrence through the stack (5.1.4), height axis first."""
    lines = [
        "receptive field through the stack (book §5.1.4), from one input pixel r=1, j=1, start=0:",
        "    r = r_in + (k_eff - 1)*j_in,  j = j_in*s,  start = start_in + ((k_eff - 1)/2 - p)*j_in",
    ]
    prev = compute.formulas_field()
    for i, (spec, res) in enumerate(zip(question.layers, result.layers, strict=True), start=1):
        f = res.rf[0]
        if f.whole:
            lines.append(f"    layer {i} {spec.kind}: every output unit sees the whole input")
            break
        if spec.kind in ("conv2d", "pool2d"):
            k = compute._axis(spec.get("kernel"), 0)
            s = compute._axis(spec.get("stride", 1 if spec.kind == "conv2d" else spec.get("kernel")), 0)
            d = compute._axis(spec.get("dilation", 1), 0)
            keff = d * (k - 1) + 1
            lines.append(
                f"    layer {i} {spec.kind} (k={k}" + (f", d={d}: k_eff={keff}" if d != 1 else "") + f", s={s}):"
                f" r = {compute.to_number(prev.size)} + ({keff} - 1)*{compute.to_number(prev.jump)}"
                f" = {compute.to_number(f.size)},"
                f" j = {compute.to_number(prev.jump)}*{s} = {compute.to_number(f.jump)},"
                f" start = {compute.to_number(f.start)}"
            )
        else:
            lines.append(f"    layer {i} {spec.kind}: field unchanged (r = {compute.to_number(f.size)})")
        prev = f
    h, w = result.layers[-1].rf
    if not h.whole and h != w:
        lines.append(
            f"    width axis: r = {compute.to_number(w.size)}, j = {compute.to_number(w.jump)},"
            f" start = {compute.to_number(w.start)}"
        )
    return lines


def layer_derivation(question: Question, name: str) -> str:
    """Worked derivation of one answer field of a layer question."""
    result = compute.expected_layer_values(question)
    if name in _RF_FIELDS and len(question.layers) > 1:
        return "\n".join(_rf_lines(question, result))
    blocks = []
    many = len(question.layers) > 1
    for i, res in enumerate(result.layers):
        text = _layer_text(question, i, res, name)
        if many:
            text = f"layer {i + 1}: " + text
        blocks.append(text)
    if many and name in ("params", "params_trainable", "flops"):
        parts = [f"{getattr(r, name):,}" for r in result.layers]
        blocks.append(f"total {name} = " + " + ".join(parts) + f" = {result.values[name]:,}")
    return "\n\n".join(blocks)
