"""One real-library model checked (and timed) in a process of its own; run by :mod:`.run` as

    python -m convcalc.checks.real_libraries.child MODEL RESULT.json [--no-timing | --speed]
    python -m convcalc.checks.real_libraries.child --cold RESULT.json

in the environment that has PaddleClas and PaddleSeg.  Writes one JSON object (see
:func:`check_model`, or with ``--speed`` :func:`time_model`, or :func:`cold_cost`); a crash inside Paddle ends only
this process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import sys
import time
import traceback
from typing import Any

__all__ = ["check_model", "time_model", "summary_and_flops", "tiny_model", "load"]


def load() -> float:
    return round(os.getloadavg()[0], 2)


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def tiny_model() -> Any:
    """The model whose analysis time is the fixed cost: conv, batch norm, ReLU, pool, flatten, linear."""
    import paddle.nn as nn

    return nn.Sequential(nn.Conv2D(3, 8, 3, padding=1), nn.BatchNorm2D(8), nn.ReLU(), nn.AdaptiveAvgPool2D(1),
                         nn.Flatten(), nn.Linear(8, 10))


TINY_INPUT = (1, 3, 32, 32)


def summary_and_flops(model: Any, shape: tuple) -> float:
    """Seconds of ``paddle.summary`` + ``paddle.flops`` on ``model`` (what convcalc is timed against)."""
    import paddle

    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        paddle.summary(model, input_size=tuple(shape))
        paddle.flops(model, list(shape), print_detail=False)
        return time.perf_counter() - t0


def analysis(model: Any, shape: tuple, values: list | None = None, convention: str = "paddle",
             trace: Any = None) -> tuple[Any, Any]:
    """convcalc's report of ``model`` (and the trace it made): what ``analyze`` does, the trace kept for reuse."""
    from convcalc.checks.subject import analyze, trace_for
    from convcalc.trace.inputs import ModelInput

    if trace is None:
        trace = trace_for(model, [ModelInput(tuple(shape), "float32")], type(model).__name__, values)
    data = {"input_data": values[0]} if values is not None else {"input_size": tuple(shape)}
    return analyze(model, convention=convention, trace=trace, **data), trace


def fixed_cost() -> dict:
    """The tiny model analysed twice (the second is the fixed cost of one analysis), and its summary+flops."""
    tiny = tiny_model()
    t0 = time.perf_counter()
    analysis(tiny, TINY_INPUT)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    analysis(tiny, TINY_INPUT)
    second = time.perf_counter() - t0
    return {"first_s": round(first, 3), "warm_s": round(second, 3),
            "summary_flops_s": round(summary_and_flops(tiny, TINY_INPUT), 3)}


def cold_cost() -> dict:
    """In a process that has imported paddle only (run first thing): the first analysis of the tiny model,
    importing convcalc included (the *cold* cost), then the second (the *fixed* cost)."""
    t0 = time.perf_counter()
    from convcalc.checks.subject import analyze

    analyze(tiny_model(), input_size=TINY_INPUT)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    analyze(tiny_model(), input_size=TINY_INPUT)
    warm = time.perf_counter() - t0
    return {"model": "tiny", "verdict": "analysed", "cold_s": round(cold, 3), "warm_s": round(warm, 3),
            "summary_flops_s": round(summary_and_flops(tiny_model(), TINY_INPUT), 3)}


ROUNDS = 3


def in_turns(ours: Any, theirs: Any, rounds: int = ROUNDS) -> tuple[float, float]:
    """Median seconds of ``ours()`` and of ``theirs()`` over ``rounds`` rounds taken in turns, both warm.

    The first call of each is not what a ratio should rest on.  MobileNetV3_large_x1_0, three processes:
    the first ``paddle.summary`` + ``paddle.flops`` right after convcalc's first analysis took 0.34-0.37 s,
    in turns after that 0.18 s (the analysis 0.15-0.21 s, then 0.15 s), so the first calls gave
    0.44-0.55x where the ratio in turns is 0.86x.  After the truth's forwards and a ``paddle.flops``
    (:func:`check_model`) the first calls erred the other way: 1.49-1.75x."""
    times = [(_seconds(ours), _seconds(theirs)) for _ in range(rounds)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def _seconds(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _ratio(out: dict, model: Any, shape: tuple, analyse: Any, analysed: bool) -> None:
    """After the first analysis (its seconds in ``out["analysis_s"]``): the first ``paddle.summary`` +
    ``paddle.flops``, then, where the analysis ran, both again :func:`in_turns`; the ratio is of those
    medians (the first calls kept as ``first_*``)."""
    out["first_analysis_s"] = out["analysis_s"]
    out["first_summary_flops_s"] = out["summary_flops_s"] = round(summary_and_flops(model, shape), 3)
    if analysed:
        ours, theirs = in_turns(analyse, lambda: summary_and_flops(model, shape))
        out["analysis_s"], out["summary_flops_s"] = round(ours, 3), round(theirs, 3)
    out["ratio"] = round(out["analysis_s"] / out["summary_flops_s"], 3)
    out["load_after"] = load()


def time_model(name: str) -> dict:
    """Only the timing of :func:`check_model`: one forward (Paddle's kernels warm), the fixed cost, one
    ``analyze(model, input_size=...)`` and one ``paddle.summary`` + ``paddle.flops`` (the first calls,
    kept as ``first_*``), then both again in turns (:func:`in_turns`): the ratio is of those medians."""
    import paddle

    from convcalc.checks.real_libraries.models import build, input_of, library_of
    from convcalc.checks.subject import analyze

    shape = input_of(name)
    out: dict = {"model": name, "library": library_of(name), "input": list(shape)}
    model = build(name)
    try:
        with paddle.no_grad():
            model(paddle.ones(list(shape)))
    except Exception as err:  # noqa: BLE001 - Paddle's refusal: nothing to time
        out.update(verdict="refused by Paddle", reason=one_line(err))
        return out
    out["fixed_cost"] = fixed_cost()
    out["load_before"] = load()
    t0 = time.perf_counter()
    try:
        analyze(model, input_size=tuple(shape))
        out["verdict"] = "analysed"
    except Exception as err:  # noqa: BLE001 - timed all the same, and said
        out.update(verdict="not analysed", reason=one_line(f"{type(err).__name__}: {err}"))
    out["analysis_s"] = round(time.perf_counter() - t0, 3)
    _ratio(out, model, shape, lambda: analyze(model, input_size=tuple(shape)), out["verdict"] == "analysed")
    return out


def check_model(name: str, timing: bool = True) -> dict:
    """Build ``name``, compute the truth, analyse it (timed against summary+flops), compare."""
    from convcalc.checks.corpus import Case
    from convcalc.checks.corpus.truth import make_inputs, truth_for
    from convcalc.checks.real_libraries.compare import differences, report_facts
    from convcalc.checks.real_libraries.counts import counts_for, paddle_flops_total
    from convcalc.checks.real_libraries.models import build, input_of, library_of
    from convcalc.errors import ConvcalcError

    shape = input_of(name)
    out: dict = {"model": name, "library": library_of(name), "input": list(shape)}
    model = build(name)
    case = Case.one_input(name, library_of(name), lambda: model, shape)
    inputs = make_inputs(case)
    t0 = time.perf_counter()
    truth = truth_for(case, model)
    if truth.refused:
        out.update(verdict="refused by Paddle", reason=one_line(truth.refused))
        return out
    counts = counts_for(model, inputs)
    paddle_total = paddle_flops_total(model, shape)
    out["truth_s"] = round(time.perf_counter() - t0, 3)
    out["truth"] = {"params": truth.params_used, "params_in_model": truth.params_in_model,
                    "paddle_flops": paddle_total, "macs": counts.macs, "macs_by_kind": counts.macs_by_kind,
                    "functional_calls": counts.functional_calls}
    if timing:
        out["fixed_cost"] = fixed_cost()
    out["load_before"] = load()
    t0 = time.perf_counter()
    report = trace = None
    try:
        report, trace = analysis(model, shape, inputs)
    except ConvcalcError as err:
        out.update(verdict="refused by convcalc", reason=one_line(err))
    except Exception as err:  # noqa: BLE001 - a crash is a wrong answer, reported as such
        out.update(verdict="convcalc crashed", reason=one_line(f"{type(err).__name__}: {err}"),
                   traceback=traceback.format_exc()[-3000:])
    out["analysis_s"] = round(time.perf_counter() - t0, 3)
    if timing:
        _ratio(out, model, shape, lambda: analysis(model, shape, inputs), report is not None)
    if report is None:
        return out
    macs = None
    try:
        macs, _ = analysis(model, shape, inputs, convention="macs", trace=trace)
    except Exception as err:  # noqa: BLE001 - reported as a difference
        out["macs_error"] = one_line(f"{type(err).__name__}: {err}")
    facts = report_facts(report)
    out["facts"] = {**facts, "minus_one_rows": facts["minus_one_rows"][:5], "negative_counts":
                    facts["negative_counts"][:5], "fractional_rows": facts["fractional_rows"][:5],
                    "minus_one_count": len(facts["minus_one_rows"]), "layers_without_rule":
                    facts["layers_without_rule"][:10], "layers_without_rule_count": len(facts["layers_without_rule"])}
    out["convcalc"] = {"params": int(report.totals.params), "paddle_flops": facts["flops"],
                       "macs": report_facts(macs)["flops"] if macs is not None else None}
    diffs = differences(report, macs, truth, counts, paddle_total)
    out["differences"] = diffs
    out["verdict"] = "wrong" if diffs else "right"
    return out


def main(argv: list[str] | None = None) -> int:
    import warnings

    argv = sys.argv[1:] if argv is None else argv
    name, result = argv[0], argv[1]
    timing = "--no-timing" not in argv
    speed = "--speed" in argv
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    try:
        import paddle

        paddle.set_device("cpu")
        out = cold_cost() if name == "--cold" else time_model(name) if speed else check_model(name, timing)
    except Exception as err:  # noqa: BLE001 - the check itself failed on this model
        out = {"model": name, "verdict": "check failed", "reason": one_line(f"{type(err).__name__}: {err}"),
               "traceback": traceback.format_exc()[-3000:]}
    out["seconds"] = round(time.perf_counter() - t0, 2)
    with open(result, "w") as f:
        json.dump(out, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
