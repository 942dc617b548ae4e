"""Rules: one registry each for layer classes (``layers``), functional ops (``ops``), gradients (``gradients``).

Each handler applies ``convcalc.formulas`` to one layer call or op; users add
their own with :func:`register_rule` / :func:`register_op`.  May import
``convcalc.formulas``, ``convcalc.models`` (the book's layers have rules) and
``convcalc.trace``; never the analysis that uses the rules.
"""

from typing import Any

from convcalc.rules.layers import Cost, Rule, RuleContext, find_rule, layer_params, paddle_custom_ops, register_rule
from convcalc.rules.ops import OpContext, OpCost, has_op_rule, op_cost, register_op

__all__ = [
    "Cost", "Rule", "RuleContext", "register_rule", "find_rule", "paddle_custom_ops", "layer_params",
    "OpContext", "OpCost", "register_op", "has_op_rule", "op_cost",
]


def __getattr__(name: str) -> Any:
    # The names of the old module ``convcalc.rules`` (see convcalc._moved), for one release.
    from convcalc._moved import forwarded

    value = globals()[name] = forwarded(__name__, name)  # warn once
    return value
