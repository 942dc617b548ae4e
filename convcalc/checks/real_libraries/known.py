"""Models known to be wrong today, each with the cause it is wrong by and the issue that fixes it.

A known model passes the CI check while its known cause is still visible in its outcome
(:func:`cause_present`); once the fix lands the cause disappears, and from then on the model
must be right: a known entry never hides a new difference.  ``convcalc validate --real-libraries``
reports every wrong model as wrong, known or not.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Known", "KNOWN", "cause_present", "accepted"]


@dataclass(frozen=True)
class Known:
    cause: str  # what is wrong, in a few words
    fix: str  # where it is fixed
    sign: str  # "-1 size": the report has a -1 size; "refused: TEXT": convcalc refuses with TEXT;
    #            "no rule: KIND": a leaf layer of KIND is counted as having no rule;
    #            "weights-only: KIND": the only difference: MACs of KIND (ops on parameters alone) left out



KNOWN: dict[str, Known] = {
    # Found by this corpus after issue 20 (the sizes, refusals and leaf counts it listed before are fixed):
    "SVTR_tiny": Known("its forward resizes the position embedding (bicubic, parameters alone: no input reaches it); "
                       "convcalc counts the dataflow from the input, the hand count every dispatched op",
                       "a definition (docs/report.md, 'What is counted'); count weight-only ops if users want them",
                       "weights-only: functional_interp"),
}


def cause_present(known: Known, outcome: dict) -> bool:
    """Whether ``outcome`` (a model's result, see :mod:`.child`) still shows ``known``'s cause."""
    kind, _, text = known.sign.partition(": ")
    if kind == "-1 size":
        return any(d["what"] == "-1 size" for d in outcome.get("differences", ()))
    if kind == "refused":
        return outcome.get("verdict") == "refused by convcalc" and text in outcome.get("reason", "")
    if kind == "weights-only":  # the hand count has MACs of this kind the report leaves out, and nothing else
        diffs = outcome.get("differences", ())
        return len(diffs) == 1 and f"{text}: 0 vs hand" in diffs[0].get("first", "")
    if kind == "no rule":
        return any(text in path for path in outcome.get("facts", {}).get("layers_without_rule", ()))
    raise ValueError(f"unknown sign {known.sign!r}")


def accepted(outcome: dict) -> bool:
    """Right, or wrong (or refused) only while its known cause is still there."""
    if outcome.get("verdict") in ("right", "refused by Paddle"):
        return True
    known = KNOWN.get(outcome.get("model", ""))
    return known is not None and cause_present(known, outcome)
