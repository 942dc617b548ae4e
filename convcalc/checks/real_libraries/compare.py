"""convcalc's reports of a real-library model beside the truth: differences, and facts about the report.

The shapes, parameter and never-ran checks are the custom corpus's own
(:func:`convcalc.checks.corpus.check.compare_report`); added here: ``paddle.flops`` per leaf
layer (functional rows must be 0 in that convention) and in total, multiply-adds per conv/linear
leaf and by kind against the hand counts (:mod:`convcalc.checks.real_libraries.counts`), and the
facts no report may show: a ``-1`` or negative size, a fractional size, a negative count.
"""

from __future__ import annotations

from typing import Any

__all__ = ["report_facts", "differences"]


def _num(x: Any) -> int | float | str | None:
    """A quantity as int / float / str (``None`` stays ``None``: an unknown size); never raises."""
    if x is None:
        return None
    try:
        if isinstance(x, int) or getattr(x, "is_Integer", False):
            return int(x)
        if getattr(x, "is_number", False):
            return float(x)
    except Exception:  # noqa: BLE001 - anything else is shown as text
        pass
    return str(x)


def _bad_dim(d: Any) -> str:
    """'' for a whole size >= 0 (or an unknown one, ``None``), else what is wrong with it."""
    v = _num(d)
    if v is None:
        return ""
    if isinstance(v, int):
        return "" if v >= 0 else ("-1" if v == -1 else "negative")
    if isinstance(v, float):
        return "fractional"
    return "symbolic"


def report_facts(report: Any) -> dict:
    """Rows with a -1 (or negative) size, fractional sizes, negative counts, and the report's gaps."""
    minus, fractional, negative = [], [], []
    for r in report.records:
        shapes = [*r.input_shapes, r.output_shape, *(r.output_shapes or ())]
        kinds = {_bad_dim(d) for s in shapes for d in (s or ())} - {""}
        if kinds & {"-1", "negative"}:
            minus.append(r.path)
        if "fractional" in kinds:
            fractional.append(r.path)
        f = _num(r.flops)
        if isinstance(f, (int, float)) and f < 0:
            negative.append(f"{r.path}: {f}")
    t = report.totals
    for name in ("flops", "params"):
        v = _num(getattr(t, name))
        if isinstance(v, (int, float)) and v < 0:
            negative.append(f"total {name}: {v}")
    g = report.gaps
    return {
        "rows": len(report.records),
        "minus_one_rows": minus,
        "fractional_rows": fractional,
        "negative_counts": negative,
        "misaligned_merges": len(g.misaligned_merges),
        "complete": bool(g.flops_complete),
        "layers_without_rule": list(g.layers_without_rule),
        "ops_without_rule": [list(x) for x in g.ops_without_rule],
        "flops": _num(t.flops),
    }


def _grouped(lines: list[str]) -> dict[str, list[str]]:
    """The corpus check's lines by what they are about."""
    out: dict[str, list[str]] = {}
    for line in lines:
        what = ("shapes" if " output " in line or " call(s) in Paddle" in line else
                "never ran" if line.startswith("never ran") else "parameters")
        out.setdefault(what, []).append(line)
    return out


def differences(report: Any, macs: Any | None, truth: Any, counts: Any, paddle_total: int) -> list[dict]:
    """Every difference, ``{"what", "count", "first"}``, in the order a reader should see them.

    ``report`` is the paddle-convention report, ``macs`` the macs-convention one of the same trace
    (None when it failed: then a difference), ``truth`` the custom corpus's truth
    (:func:`convcalc.checks.corpus.truth.truth_for`), ``counts`` :func:`~.counts.counts_for`'s,
    ``paddle_total`` what ``paddle.flops`` returned.
    """
    from convcalc.checks.corpus.check import compare_report

    bad: list[dict] = []

    def add(what: str, items: list[str]) -> None:
        if items:
            bad.append({"what": what, "count": len(items), "first": items[0]})

    facts = report_facts(report)
    add("-1 size", facts["minus_one_rows"])
    add("fractional size", facts["fractional_rows"])
    add("negative count", facts["negative_counts"])
    try:
        lines = compare_report(report, truth)
    except Exception as err:  # noqa: BLE001 - a report the comparison cannot read is a difference too
        lines = [f"the comparison failed: {type(err).__name__}: {err}"]
    for what, items in _grouped(lines).items():
        add(what, items)

    per_layer: dict[str, Any] = {}
    functional = []
    for r in report.records:
        if not r.is_leaf:
            continue
        v = _num(r.flops)
        if r.is_functional:
            if v != 0:
                functional.append(f"{r.path}: {v}")
            continue
        prev = per_layer.get(r.path, 0)
        per_layer[r.path] = prev + v if isinstance(v, int) and isinstance(prev, int) else f"{prev} + {v}"
    add("paddle FLOPs per layer", [f"{p}: {per_layer.get(p, 0)} vs paddle {n}"
                                   for p, n in counts.paddle_flops_by_layer.items() if per_layer.get(p, 0) != n])
    add("paddle FLOPs of functional rows", functional)
    total = _num(report.totals.flops)
    if total != paddle_total:
        add("paddle FLOPs total", [f"{total} vs paddle.flops {paddle_total} ({_pct(total, paddle_total)})"])
    if counts.paddle_flops != paddle_total:
        add("truth disagrees with itself", [f"paddle.flops {paddle_total} vs its per-layer counts "
                                            f"{counts.paddle_flops}"])

    if macs is None:
        add("MACs", ["the macs-convention report failed"])
        return bad
    by_layer: dict[str, Any] = {}
    kinds = dict.fromkeys(counts.macs_by_kind, 0)
    kinds["other"] = 0
    for r in macs.records:
        if not r.is_leaf:
            continue
        v = _num(r.flops)
        if not isinstance(v, int):
            kinds["other"] = f"{kinds['other']} + {v}"
            continue
        kind = _mac_kind(r, counts.macs_by_layer)
        if kind in ("conv_linear_leaves", "other_leaves"):
            by_layer[r.path] = by_layer.get(r.path, 0) + v
        kinds[kind] = kinds[kind] + v if isinstance(kinds[kind], int) else f"{kinds[kind]} + {v}"
    add("MACs per conv/linear layer", [f"{p}: {by_layer.get(p)} vs hand {n}"
                                       for p, n in counts.macs_by_layer.items() if by_layer.get(p) != n])
    inside = counts.macs_inside_leaves
    add("MACs per other leaf (the ops it runs)", [f"{p}: {by_layer.get(p, 0)} vs hand {inside.get(p, 0)}"
                                                  for p in sorted(set(inside) | {p for p in by_layer
                                                                                 if p not in counts.macs_by_layer})
                                                  if by_layer.get(p, 0) != inside.get(p, 0)])
    by_kind = [f"{k}: {kinds.get(k)} vs hand {n}" for k, n in counts.macs_by_kind.items() if kinds.get(k) != n]
    if kinds["other"]:
        by_kind.append(f"other: {kinds['other']} (no hand count)")
    mt = _num(macs.totals.flops)
    if mt != counts.macs:
        add("MACs total", [f"{mt} vs hand {counts.macs} ({_pct(mt, counts.macs)}); " + "; ".join(by_kind[:3])])
    else:
        add("MACs by kind", by_kind)
    return bad


def _mac_kind(r: Any, leaves: dict) -> str:
    """Which hand-count bucket a macs-convention row belongs to."""
    if not r.is_functional:
        return "conv_linear_leaves" if r.path in leaves else "other_leaves"
    if r.kind in ("matmul", "bmm", "mm"):
        return "functional_matmul"
    if r.kind.endswith("_interp"):
        return "functional_interp"
    if r.kind in ("conv2d", "depthwise_conv2d", "conv3d"):
        return "functional_conv"
    return "functional_linear" if r.kind == "linear" else "other"


def _pct(a: Any, b: Any) -> str:
    try:
        return f"{(float(a) - float(b)) / float(b) * 100:+.1f}%"
    except Exception:  # noqa: BLE001 - text or zero
        return "?"
