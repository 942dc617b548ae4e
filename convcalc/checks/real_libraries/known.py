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
    #            "no rule: KIND": a leaf layer of KIND is counted as having no rule


_SIZES = Known("sizes read at run time (paddle.shape) become -1", "issue 20, Deliver 1", "-1 size")

KNOWN: dict[str, Known] = {
    **{name: _SIZES for name in (
        "UNet", "U2Netp", "FastSCNN", "BiSeNetV2", "STDCSeg_STDC1", "DDRNet_23", "ESPNetV2", "SegFormer_B0",
        "SegNeXt_MSCAN_T", "TopFormer_Tiny", "RTFormer", "LRASPP_MobileNetV3_large", "OCRNet_HRNetW18",
        "FCN_HRNetW18", "DeepLabV3P_ResNet50_vd", "PSPNet_ResNet50_vd", "CCNet_ResNet18_vd",
        "CSWinTransformer_tiny_224")},
    "PPLiteSeg_STDC1": Known("refused for branching on tensor values (an assert on x.shape)", "issue 20, Deliver 2",
                             "refused: branches on (or reads) tensor values"),
    "SVTR_tiny": Known("refused for a legal empty intermediate ([1, 0, 64])", "issue 20, Deliver 2",
                       "refused: would produce an empty output"),
    "PPMobileSeg_Tiny": Known("a leaf layer computing in its own forward is not counted", "issue 20, Deliver 6",
                              "no rule: .attn.pos_emb_"),
}


def cause_present(known: Known, outcome: dict) -> bool:
    """Whether ``outcome`` (a model's result, see :mod:`.child`) still shows ``known``'s cause."""
    kind, _, text = known.sign.partition(": ")
    if kind == "-1 size":
        return any(d["what"] == "-1 size" for d in outcome.get("differences", ()))
    if kind == "refused":
        return outcome.get("verdict") == "refused by convcalc" and text in outcome.get("reason", "")
    if kind == "no rule":
        return any(text in path for path in outcome.get("facts", {}).get("layers_without_rule", ()))
    raise ValueError(f"unknown sign {known.sign!r}")


def accepted(outcome: dict) -> bool:
    """Right, or wrong (or refused) only while its known cause is still there."""
    if outcome.get("verdict") in ("right", "refused by Paddle"):
        return True
    known = KNOWN.get(outcome.get("model", ""))
    return known is not None and cause_present(known, outcome)
