"""What an input means is Paddle's decision: readings tried in order, the first layer's rank only a hint.

An input whose rank is not the one the model's first layer takes goes to
Paddle's eager forward before any static build (:func:`probe_eagerly`: a
failed build can leave Paddle unable to build the next one), and the rank is
only added to Paddle's reason when it refuses.  An input that can be read two
ways (:func:`convcalc.trace.inputs.readings`: a 4-number ``--input`` without
``--batch``, a 3-number ``input_size``) is read the other way only when Paddle
refuses the first; when the first layer does not tell which to try first, both
go to Paddle and more than one accepted is ambiguous.  The report's notes say
which reading was taken and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from convcalc.errors import ConvcalcError, InputSpecError, ModelLoadError, RefusedInputError, ShapeError
from convcalc.trace.branches import Decisions
from convcalc.trace.eager import eager_check
from convcalc.trace.failures import with_rank_hint
from convcalc.trace.graph import Trace
from convcalc.trace.inputs import in_forward_order, rank_hint, readings

__all__ = ["trace_readings", "probe_eagerly"]

REFUSALS = (RefusedInputError, ModelLoadError, ShapeError)


def trace_readings(model: Any, bound: list, hint: Any, trace_one: Callable[[list, bool, bool], Trace],
                   static_forward: Callable, name: str, values: list | None) -> Trace:
    """The trace of the reading of ``bound`` Paddle accepts (``trace_one(reading, probed, first)`` traces one)."""
    options = readings(bound)
    if len(options) == 1:
        return trace_one(bound, False, True)
    if bound[0].ambiguous and (hint.rank is None or all(len(o[0].shape) != hint.rank for o in options)):
        accepted, errors = [], []
        for option in options:
            try:
                probe_eagerly(model, option, hint, static_forward, name, values)
            except REFUSALS as err:
                errors.append((option, err))
                continue
            accepted.append(option)
        if not accepted:
            raise _most_telling(errors, hint)
        if len(accepted) > 1:
            first = options[0][0]
            raise InputSpecError(
                f"{first.how.split(' read as ')[0]} is ambiguous: Paddle accepts it "
                + " and ".join(o[0].how.split(" read as ")[-1] for o in accepted), first.ambiguous)
        return _read_as(trace_one(accepted[0], True, True), accepted[0], hint, errors)
    errors = []
    for k, option in enumerate(options):
        try:
            trace = trace_one(option, False, k == 0)
        except REFUSALS as err:
            errors.append((option, err))
            continue
        return _read_as(trace, option, hint, errors)
    raise _most_telling(errors, hint)


def probe_eagerly(model: Any, inputs: list, hint: Any, static_forward: Callable, name: str,
                  values: list | None) -> None:
    """Paddle's eager forward on ``inputs`` before any static build; a refusal carries the first layer's rank
    as a hint.  Built-in convs and pools are checked for an empty output first (their kernels would corrupt
    the heap)."""
    ordered = in_forward_order(model, inputs, inputs)
    ordered_values = in_forward_order(model, inputs, list(values)) if values is not None else None
    try:
        eager_check(model, ordered, static_forward, name, ordered_values, Decisions(), guard_empty=True)
    except ConvcalcError as err:
        raise with_rank_hint(err, rank_hint(inputs, hint, name)) from None


def _read_as(trace: Trace, option: list, hint: Any, errors: list) -> Trace:
    """The trace with a note saying how its input was read (when it could be read another way)."""
    how = option[0].how
    if not how:
        return trace
    if errors:
        refused = "; ".join(f"Paddle refuses {o[0].how.split(' read as ')[-1]} ({_short(err)})" for o, err in errors)
        note = f"{how}: {refused}"
    elif hint.rank is not None and len(option[0].shape) == hint.rank:
        note = f"{how}: {hint.layer} takes a {hint.rank}-D input"
    else:
        note = f"{how}: Paddle accepts it"
    return replace(trace, notes=(note, *trace.notes))


def _short(err: ConvcalcError) -> str:
    """A refusal's reason for a note: Paddle's words, without the rank hint and the model's name."""
    text = err.problem.split("; ")[0]
    text = text.split(": ", 1)[-1] if " at input " in text or "Paddle refuses" in text else text
    return text if len(text) <= 160 else text[:157] + "..."


def _most_telling(errors: list, hint: Any) -> Exception:
    """The refusal to show when every reading was refused: the one of a reading whose rank the first layer
    takes (its reason is about the model, not the rank), else the first."""
    for option, err in errors:
        if hint.rank is not None and len(option[0].shape) == hint.rank:
            return err
    return errors[0][1]
