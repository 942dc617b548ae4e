"""The pieces of a derivation: :class:`Step` and :class:`Derivation`, and the output-size, receptive-field
and FLOP steps every layer kind shares.  No strings are printed here; ``convcalc.render.derivation`` renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from convcalc.errors import InvalidParameterError, UnknownNameError
from convcalc.formulas import receptive as _rf
from convcalc.formulas import shapes as _shapes
from convcalc.formulas._common import as_expr, check_at_least

__all__ = ["Step", "Derivation", "symbol", "shown", "product_text", "input_dims", "size_steps", "rf_steps",
           "flop_steps", "check_bool", "CONVENTIONS"]

CONVENTIONS = ("paddle", "macs", "flops")


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``quantity = formula(symbolic) = substituted = result``."""

    quantity: str
    equation: str
    formula: str
    symbolic: Any
    substituted: str
    result: Any


@dataclass(frozen=True)
class Derivation:
    """A layer's worked derivation: its configuration, input shape and steps in order."""

    kind: str
    config: dict
    input_shape: tuple
    steps: tuple[Step, ...]

    def step(self, quantity: str) -> Step:
        """The step computing ``quantity``; :class:`UnknownNameError` names the closest."""
        for s in self.steps:
            if s.quantity == quantity:
                return s
        known = [s.quantity for s in self.steps]
        fix = None
        if quantity.startswith("rf_") and self.kind == "linear":
            fix = "a fully connected unit sees the whole input, so linear has no receptive-field step"
        raise UnknownNameError(f"{self.kind} derivation step", quantity, known, fix)

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(s.quantity for s in self.steps)


# ------------------------------------------------------------------ helpers
def symbol(name: str) -> sympy.Symbol:
    """A symbol of a step's symbolic form (no assumptions: cheaper, prints the same)."""
    return sympy.Symbol(name)


def shown(value) -> str:
    """A value as it appears inside a substituted expression (parenthesised if compound)."""
    if isinstance(value, str):
        return value
    e = sympy.sympify(value)
    return str(e) if (e.is_Atom or e.is_Function) and not (e.is_Rational and not e.is_Integer) else f"({e})"


def product_text(*factors) -> str:
    return "*".join(shown(f) for f in factors)


def input_dims(kind: str, input_shape, dims: int) -> tuple:
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != dims:
        want = "(C, H, W)" if dims == 3 else "(in_features,)"
        raise InvalidParameterError(
            f"{kind} needs an input shape {want}, got {input_shape!r}",
            "pass e.g. (3, 32, 32)" if dims == 3 else "pass e.g. (120,)",
        )
    names = ("channels", "height", "width") if dims == 3 else ("in_features",)
    out = tuple(as_expr(v, n) for v, n in zip(input_shape, names))
    for v, n in zip(out, names):
        check_at_least(v, 1, f"input {n}", "every input dimension is at least 1")
    return out


def size_steps(
    axis: str,
    size,
    kernel,
    stride,
    padding,
    dilation,
    ceil_mode: bool,
    pool: bool,
) -> tuple[list[Step], Any, Any]:
    """Steps for one output axis; returns (steps, output size, padding before)."""
    m_sym, u_sym = (symbol("M"), symbol("U")) if axis == "height" else (symbol("N"), symbol("V"))
    s_sym, d_sym = symbol("S"), symbol("d")
    steps: list[Step] = []
    if pool:
        formula = "pool_output_size"
        equation = "5.20" if axis == "height" else "5.21"
    else:
        formula = "conv_output_size"
        equation = "5.6" if axis == "height" else "5.7"
    if isinstance(padding, str):
        p_sym_form: object = padding
        if padding == "SAME":
            pb, pa = _shapes.resolve_padding("SAME", size, kernel, stride, dilation)
            steps.append(
                Step(
                    f"padding_{axis}",
                    "",
                    "resolve_padding",
                    sympy.Tuple(*_shapes.resolve_padding("SAME", m_sym, u_sym, s_sym)),
                    f"SAME: total max((ceiling({shown(size)}/{shown(stride)}) - 1)*{shown(stride)} + "
                    f"{shown(kernel)} - {shown(size)}, 0), smaller half before",
                    (pb, pa),
                )
            )
        else:
            pb = pa = sympy.Integer(0)
    elif isinstance(padding, tuple):
        p_sym_form = (symbol("P_1"), symbol("P_2"))
        pb, pa = _shapes.resolve_padding(padding, size, kernel, stride, dilation)
    else:
        p_sym_form = symbol("P")
        pb, pa = _shapes.resolve_padding(padding, size, kernel, stride, dilation)

    if pool:
        symbolic = _shapes.pool_output_size(m_sym, u_sym, s_sym, p_sym_form, ceil_mode)
        result = _shapes.pool_output_size(size, kernel, stride, padding, ceil_mode)
    else:
        dil = 1 if dilation == 1 else d_sym
        symbolic = _shapes.conv_output_size(m_sym, u_sym, s_sym, p_sym_form, dil)
        result = _shapes.conv_output_size(size, kernel, stride, padding, dilation)

    if padding == "SAME":
        substituted = f"ceiling({shown(size)}/{shown(stride)})"
    else:
        k_eff = shown(kernel) if dilation == 1 else f"({shown(dilation)}*({shown(kernel)} - 1) + 1)"
        rounding = "ceiling" if ceil_mode else "floor"
        substituted = f"{rounding}(({shown(size)} + {shown(pb)} + {shown(pa)} - {k_eff})/{shown(stride)}) + 1"
    steps.append(Step(f"output_{axis}", equation, formula, symbolic, substituted, result))
    return steps, result, pb


def rf_steps(kernels, strides, pads_before, dilations) -> list[Step]:
    """Receptive field of one output unit, from a single input pixel (r=1, j=1, start=0)."""
    r_in, j_in, s_in = sympy.Integer(1), sympy.Integer(1), sympy.Integer(0)
    per_axis = [
        _rf.field_after(_rf.INPUT_FIELD, k, s, p, d)
        for k, s, p, d in zip(kernels, strides, pads_before, dilations)
    ]
    square = per_axis[0] == per_axis[1]
    ks = kernels if not square else kernels[:1]
    ss = strides if not square else strides[:1]
    ps = pads_before if not square else pads_before[:1]
    ds = dilations if not square else dilations[:1]

    def pick(values):
        return values[0] if square else tuple(values)

    def sub(fmt) -> str:
        parts = [fmt(k, s, p, d) for k, s, p, d in zip(ks, ss, ps, ds)]
        return parts[0] if square else "(" + ", ".join(parts) + ")"

    def keff(k, d) -> str:
        return shown(k) if d == 1 else f"({shown(d)}*({shown(k)} - 1) + 1)"

    u, s_, p_, d_ = symbol("U"), symbol("S"), symbol("P"), symbol("d")
    r0, j0 = symbol("r_in"), symbol("j_in")
    st0 = symbol("start_in")
    any_dil = any(d != 1 for d in dilations)
    dd = d_ if any_dil else 1
    return [
        Step(
            "rf_size",
            "5.1.4",
            "rf_size",
            _rf.rf_size(r0, j0, u, dd),
            sub(lambda k, s, p, d: f"{r_in} + ({keff(k, d)} - 1)*{j_in}"),
            pick([f.size for f in per_axis]),
        ),
        Step(
            "rf_jump",
            "5.1.4",
            "rf_jump",
            _rf.rf_jump(j0, s_),
            sub(lambda k, s, p, d: f"{j_in}*{shown(s)}"),
            pick([f.jump for f in per_axis]),
        ),
        Step(
            "rf_start",
            "5.1.4",
            "rf_start",
            _rf.rf_start(st0, j0, u, p_, dd),
            sub(lambda k, s, p, d: f"{s_in} + (({keff(k, d)} - 1)/2 - {shown(p)})*{j_in}"),
            pick([f.start for f in per_axis]),
        ),
    ]


def flop_steps(formula: str, equation: str, symbolic_fn, numeric_fn, substituted: dict) -> list[Step]:
    return [
        Step(
            f"flops_{c}",
            equation if c == "paddle" else "",
            formula,
            symbolic_fn(c),
            substituted[c],
            numeric_fn(c),
        )
        for c in CONVENTIONS
    ]


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be True or False, got {value!r}", f"pass {name}=True or False")
    return value
