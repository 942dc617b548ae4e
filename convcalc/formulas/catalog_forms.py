"""The symbolic forms of every catalogued formula, made by calling the formula with sympy symbols.

One builder per catalogue entry (:mod:`convcalc.formulas.catalog` holds the words); the printed equation is
the code that computes every number.  Symbols follow the book (see the catalogue).  Never imports paddle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy

__all__ = ["Form"]


@dataclass(frozen=True)
class Form:
    """One symbolic form of a formula: ``lhs = expr`` under the condition ``label``."""

    label: str
    lhs: str
    expr: sympy.Expr

    def __post_init__(self) -> None:  # a form with no symbol left comes back from the formula as a Python number
        object.__setattr__(self, "expr", sympy.sympify(self.expr))


def _pos(names: str):
    """Symbols for sizes, kernels, strides, channels.

    They carry no assumptions: the forms print the same, and sympy skips the
    assumption queries that would otherwise cost most of the catalogue's time.
    """
    return sympy.symbols(names)


_nonneg = _pos  # paddings: printed alike


def _conventions(fn: Callable[[str], sympy.Expr], lhs: str = "FLOPs") -> tuple[Form, ...]:
    return tuple(Form(c, lhs, fn(c)) for c in ("paddle", "macs", "flops"))


# ---------------------------------------------------------------- shapes
def effective_kernel():
    from convcalc.formulas import shapes

    u, d = _pos("U d")
    return (Form("", "k_eff", shapes.effective_kernel(u, d)),)


def effective_dilation():
    from convcalc.formulas import shapes

    (d,) = _pos("d,")
    return (
        Form("", "d_eff", shapes.effective_dilation(0, d)),
        Form("SAME", "d_eff", shapes.effective_dilation("SAME", d)),
    )


def resolve_padding():
    from convcalc.formulas import shapes

    m, u, s = _pos("M U S")
    before, after = shapes.resolve_padding("SAME", m, u, s)
    return (Form("SAME", "P_before", before), Form("SAME", "P_after", after))


def conv_output_size():
    from convcalc.formulas import shapes

    m, u, s, d = _pos("M U S d")
    (p,) = _nonneg("P,")
    pb, pa = _nonneg("P_1 P_2")
    return (
        Form("", "M'", shapes.conv_output_size(m, u, s, p, d)),
        Form("per-side padding", "M'", shapes.conv_output_size(m, u, s, (pb, pa), d)),
        Form("'SAME'", "M'", shapes.conv_output_size(m, u, s, "SAME", d)),
        Form("'VALID'", "M'", shapes.conv_output_size(m, u, s, "VALID", d)),
    )


def conv_transpose_output_size():
    from convcalc.formulas import shapes

    m, u, s, d = _pos("M U S d")
    (p,) = _nonneg("P,")
    return (Form("", "M'", shapes.conv_transpose_output_size(m, u, s, p, d)),
            Form("output_padding O", "M'", shapes.conv_transpose_output_size(m, u, s, p, d, _pos("O"))))


def pool_output_size():
    from convcalc.formulas import shapes

    m, u, s = _pos("M U S")
    (p,) = _nonneg("P,")
    return (
        Form("", "M'", shapes.pool_output_size(m, u, s, p)),
        Form("ceil_mode", "M'", shapes.pool_output_size(m, u, s, p, ceil_mode=True)),
        Form("'SAME'", "M'", shapes.pool_output_size(m, u, s, "SAME")),
    )


def narrow():
    from convcalc.formulas import shapes

    m, u = _pos("M U")
    return (Form("", "M'", shapes.narrow_conv_output_size(m, u)),)


def wide():
    from convcalc.formulas import shapes

    m, u = _pos("M U")
    return (Form("", "M'", shapes.wide_conv_output_size(m, u)),)


def same():
    from convcalc.formulas import shapes

    m, u = _pos("M U")
    return (Form("", "M'", shapes.same_conv_output_size(m, u)),)


# ---------------------------------------------------------------- params
def kernel_params():
    from convcalc.formulas import params

    u, v = _pos("U V")
    return (Form("", "parameters", params.kernel_params((u, v))),)


def conv_params():
    from convcalc.formulas import params

    d, p, u, v, g = _pos("D P U V g")
    return (
        Form("", "parameters", params.conv_params(d, p, (u, v), g)),
        Form("bias=False", "parameters", params.conv_params(d, p, (u, v), g, bias=False)),
    )


def linear_params():
    from convcalc.formulas import params

    i, o = _pos("in out")
    return (
        Form("", "parameters", params.linear_params(i, o)),
        Form("bias=False", "parameters", params.linear_params(i, o, bias=False)),
    )


def bn_params():
    from convcalc.formulas import params

    (c,) = _pos("C,")
    return (Form("", "trainable", params.batchnorm_params(c)),)


def bn_running():
    from convcalc.formulas import params

    (c,) = _pos("C,")
    return (Form("", "non-trainable", params.batchnorm_running_stats(c)),)


# ---------------------------------------------------------------- FLOPs
def conv_flops():
    from convcalc.formulas import flops

    mo, no = _pos("M' N'")
    d, p, u, v, g = _pos("D P U V g")
    return _conventions(lambda c: flops.conv_flops(mo, no, p, d, (u, v), g, convention=c))


def linear_flops():
    from convcalc.formulas import flops

    i, o, b = _pos("in out B")
    return _conventions(lambda c: flops.linear_flops(i, o, b, convention=c))


def bn_flops():
    from convcalc.formulas import flops_per_element

    (n,) = _pos("numel,")
    return _conventions(lambda c: flops_per_element.batchnorm_flops(n, convention=c))


def avgpool_flops():
    from convcalc.formulas import flops_per_element

    n, u, v = _pos("numel_out U V")
    return _conventions(lambda c: flops_per_element.avgpool_flops(n, (u, v), convention=c))


def maxpool_flops():
    from convcalc.formulas import flops_per_element

    n, u, v = _pos("numel_out U V")
    return _conventions(lambda c: flops_per_element.maxpool_flops(n, (u, v), convention=c))


def adaptive_avg():
    from convcalc.formulas import flops_per_element

    m, n, mo, no, c, b = _pos("M N M' N' C B")
    return _conventions(lambda k: flops_per_element.adaptive_avgpool_flops(m, n, mo, no, c, b, convention=k))


def adaptive_max():
    from convcalc.formulas import flops_per_element

    m, n, mo, no, c, b = _pos("M N M' N' C B")
    return _conventions(lambda k: flops_per_element.adaptive_maxpool_flops(m, n, mo, no, c, b, convention=k))


def activation_flops():
    from convcalc.formulas import flops_per_element

    (n,) = _pos("numel,")
    forms = _conventions(lambda c: flops_per_element.activation_flops(n, convention=c))
    leaky = Form("paddle, LeakyReLU", "FLOPs", flops_per_element.activation_flops(n, "paddle", True))
    return forms[:1] + (leaky,) + forms[1:]


def add_flops():
    from convcalc.formulas import flops_per_element

    (n,) = _pos("numel,")
    return _conventions(lambda c: flops_per_element.add_flops(n, convention=c))


def convnd_flops():
    from convcalc.formulas import flops

    lo, mo, no, d, p, u, v, w, g = _pos("L' M' N' D P U V W g")
    return (
        Form("1-D", "FLOPs", flops.convnd_flops((lo,), p, d, (u,), g, convention="flops")),
        Form("3-D", "FLOPs", flops.convnd_flops((lo, mo, no), p, d, (w, u, v), g, convention="flops")),
    ) + _conventions(lambda c: flops.convnd_flops((mo, no), p, d, (u, v), g, convention=c))


def conv_transpose_flops():
    from convcalc.formulas import flops

    m, n, mo, no, d, p, u, v, g = _pos("M N M' N' D P U V g")
    return _conventions(lambda c: flops.conv_transpose_flops((m, n), (mo, no), d, p, (u, v), groups=g,
                                                             convention=c))


def matmul_flops():
    from convcalc.formulas import flops

    m, k, n, b = _pos("m k n B")
    return _conventions(lambda c: flops.matmul_flops(m, k, n, b, convention=c))


def addmm_flops():
    from convcalc.formulas import flops

    m, k, n = _pos("m k n")
    return _conventions(lambda c: flops.addmm_flops(m, k, n, convention=c))


def einsum_flops():
    from convcalc.formulas import flops

    return _conventions(lambda c: flops.einsum_flops("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], convention=c),
                        lhs="FLOPs of bij,bjk->bik at 2x3x4, 2x4x5")


def norm_flops():
    from convcalc.formulas import flops_per_element

    g, n = _pos("G n")
    return (Form("flops, affine", "FLOPs", flops_per_element.norm_flops(g, n, 2, "flops")),
            Form("paddle, macs", "FLOPs", flops_per_element.norm_flops(g, n, 2, "paddle")))


def adaptive_pool_flops():
    from convcalc.formulas import flops_per_element

    m, mo, c, b = _pos("M M' C B")
    return _conventions(lambda k: flops_per_element.adaptive_pool_flops((m,), (mo,), c, b, "avg", convention=k),
                        lhs="FLOPs 1-D")


def elementwise_flops():
    from convcalc.formulas import flops_per_element

    n, k = _pos("numel k")
    return _conventions(lambda c: flops_per_element.elementwise_flops(n, k, convention=c))


def softmax_flops():
    from convcalc.formulas import flops_per_element

    n, k = _pos("numel n")
    return _conventions(lambda c: flops_per_element.softmax_flops(n, k, convention=c)) + (
        Form("flops, log_softmax", "FLOPs", flops_per_element.softmax_flops(n, k, True, "flops")),)


def interpolate_flops():
    from convcalc.formulas import flops_per_element

    (n,) = _pos("numel_out,")
    return tuple(Form(f"{c}, {mode}", "FLOPs", flops_per_element.interpolate_flops(n, mode, c))
                 for mode in ("bilinear", "bicubic") for c in ("macs", "flops"))


def embedding_flops():
    from convcalc.formulas import flops_per_element

    (n,) = _pos("numel_out,")
    return _conventions(lambda c: flops_per_element.embedding_flops(n, convention=c))


def rnn_cell_flops():
    from convcalc.formulas import flops

    i, h, b, t = _pos("I H B T")
    return tuple(Form(f"{c}, {mode}", "FLOPs", flops.rnn_cell_flops(i, h, mode, b, t, convention=c))
                 for mode in ("rnn_tanh", "lstm", "gru") for c in ("macs", "flops"))


# ---------------------------------------------------------------- backward (training)
def _exact_conventions(fn: Callable[[str], sympy.Expr], lhs: str = "FLOPs") -> tuple[Form, ...]:
    return tuple(Form(c, lhs, fn(c)) for c in ("macs", "flops"))


def paddle_backward():
    from convcalc.formulas import backward

    (f,) = _pos("F,")
    dx, dw = backward.paddle_backward_flops(f, True, True)
    return (Form("paddle, input gradient computed", "dx", dx), Form("paddle, weight gradient computed", "dW", dw))


def conv_input_grad():
    from convcalc.formulas import backward

    mo, no, p, d, u, v, g, b = _pos("M' N' P D U V g B")
    m, n = _pos("M N")
    return _exact_conventions(lambda c: backward.conv_input_grad_flops((m, n), (mo, no), d, p, (u, v), groups=g,
                                                                       batch=b, convention=c), lhs="dx")


def conv_weight_grad():
    from convcalc.formulas import backward

    mo, no, p, d, u, v, g, b = _pos("M' N' P D U V g B")
    m, n = _pos("M N")
    return _exact_conventions(lambda c: backward.conv_weight_grad_flops((m, n), (mo, no), d, p, (u, v), groups=g,
                                                                        batch=b, convention=c), lhs="dW")


def conv_transpose_input_grad():
    from convcalc.formulas import backward

    m, n, mo, no, p, d, u, v, g, b = _pos("M N M' N' P D U V g B")
    return _exact_conventions(lambda c: backward.conv_transpose_input_grad_flops(
        (m, n), (mo, no), d, p, (u, v), groups=g, batch=b, convention=c), lhs="dx")


def conv_transpose_weight_grad():
    from convcalc.formulas import backward

    m, n, mo, no, p, d, u, v, g, b = _pos("M N M' N' P D U V g B")
    return _exact_conventions(lambda c: backward.conv_transpose_weight_grad_flops(
        (m, n), (mo, no), d, p, (u, v), groups=g, batch=b, convention=c), lhs="dW")


def matmul_grad():
    from convcalc.formulas import backward

    m, k, n, b, x = _pos("m k n B numel_X")
    return _exact_conventions(lambda c: backward.matmul_grad_flops(m, k, n, b, x, convention=c), lhs="dX")


def broadcast_grad():
    from convcalc.formulas import backward

    y, x, k = _pos("numel_out numel_X k")
    return _exact_conventions(lambda c: backward.broadcast_grad_flops(y, x, k, convention=c), lhs="dX")


def elementwise_grad():
    from convcalc.formulas import backward

    (n,) = _pos("numel,")
    return tuple(Form(f"flops, {kind}", "dx", backward.elementwise_grad_flops(n, kind, "flops"))
                 for kind in ("relu", "sigmoid", "tanh", "gelu"))


def norm_input_grad():
    from convcalc.formulas import backward

    (n,) = _pos("numel,")
    return _exact_conventions(lambda c: backward.norm_input_grad_flops(n, convention=c), lhs="dx")


def norm_weight_grad():
    from convcalc.formulas import backward

    n, f = _pos("numel F")
    return _exact_conventions(lambda c: backward.norm_weight_grad_flops(n, f, convention=c), lhs="dgamma + dbeta")


def pool_input_grad():
    from convcalc.formulas import backward

    y, x, u, v = _pos("numel_out numel_in U V")
    return (Form("flops, max", "dx", backward.pool_input_grad_flops(y, x, (u, v), "max")),
            Form("flops, avg", "dx", backward.pool_input_grad_flops(y, x, (u, v), "avg")))


def adaptive_pool_input_grad():
    from convcalc.formulas import backward

    m, mo, c, b = _pos("M M' C B")
    return (Form("flops, avg 1-D", "dx", backward.adaptive_pool_input_grad_flops((m,), (mo,), c, b, "avg")),)


def softmax_grad():
    from convcalc.formulas import backward

    n, k = _pos("numel n")
    return _exact_conventions(lambda c: backward.softmax_grad_flops(n, k, convention=c), lhs="dx")


def embedding_grad():
    from convcalc.formulas import backward

    (n,) = _pos("numel_out,")
    return _exact_conventions(lambda c: backward.embedding_grad_flops(n, convention=c), lhs="dW")


# ---------------------------------------------------------------- receptive field
def rf_jump():
    from convcalc.formulas import receptive

    j, s = _pos("j_in S")
    return (Form("", "j_out", receptive.rf_jump(j, s)),)


def rf_size():
    from convcalc.formulas import receptive

    r, j, u, d = _pos("r_in j_in U d")
    return (Form("", "r_out", receptive.rf_size(r, j, u, d)),)


def rf_start():
    from convcalc.formulas import receptive

    j, u, d = _pos("j_in U d")
    (start,) = _pos("start_in,")
    (p,) = _nonneg("P,")
    return (Form("", "start_out", receptive.rf_start(start, j, u, p, d)),)


def field_after():
    from convcalc.formulas import receptive

    r, j, u, s, d = _pos("r_in j_in U S d")
    (start,) = _pos("start_in,")
    (p,) = _nonneg("P,")
    f = receptive.field_after(receptive.Field(r, j, start), u, s, p, d)
    return (Form("", "r_out", f.size), Form("", "j_out", f.jump), Form("", "start_out", f.start))


def merge_fields():
    from convcalc.formulas import receptive

    r1, r2, j = _pos("r_1 r_2 j")
    s1, s2 = _pos("start_1 start_2")
    f = receptive.merge_fields([receptive.Field(r1, j, s1), receptive.Field(r2, j, s2)])
    return (Form("equal jumps", "r", f.size), Form("equal jumps", "start", f.start))


def transposed_field():
    from convcalc.formulas import receptive

    f = receptive.transposed_field(receptive.INPUT_FIELD, 3, 2, 1)
    sizes = [b[1] - b[0] + 1 for b in f.phases]
    return (Form("U=3, S=2, P=1 on input pixels", "j_out", f.jump),
            Form("U=3, S=2, P=1 on input pixels", "r_out (largest)", f.size),
            Form("even outputs", "r", sizes[0]), Form("odd outputs", "r", sizes[1]))


def resampled_field():
    from fractions import Fraction

    from convcalc.formulas import receptive

    def taps(mode):
        return lambda src: receptive.interpolation_taps(mode, src)

    half = Fraction(1, 2)
    near = receptive.resampled_field(receptive.INPUT_FIELD, half, Fraction(0), taps("nearest"))
    lin = receptive.resampled_field(receptive.INPUT_FIELD, half, (half - 1) / 2, taps("linear"))
    return (Form("2x nearest", "j_out", near.jump), Form("2x nearest", "r_out", near.size),
            Form("2x bilinear, half-pixel", "r_out", lin.size))
