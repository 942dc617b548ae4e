"""Receptive fields through reshape, transpose, split and fold (issue 20, Deliver 3).

The gradient method checks each of these models in the ``fields`` corpus (tests/test_receptive_gradient.py:
rf_window_attention, rf_patch_mlp, rf_row_fold, rf_axial, rf_shuffles).  Here: the fields do not depend on
the batch (folding rows into the batch is not a merge with it), and the numbers worked by hand.
"""

from __future__ import annotations

import pytest

pytest.importorskip("paddle")

from convcalc.analysis import analyze  # noqa: E402
from convcalc.checks.corpus import _fields_models as M  # noqa: E402


def fields(report):
    out = {}
    for r in report.records:
        out[r.path] = tuple((a.axis, None if a.field is None else "whole" if a.field.whole else
                             (a.field.size, a.field.jump, a.field.start, a.field.phases)) for a in r.rf or ())
    return out


@pytest.mark.parametrize("cls, sample", [("WindowAttention", (3, 16, 16)), ("PatchMLP", (4, 8, 16)),
                                         ("RowFold", (4, 8, 16)), ("AxialAttention", (3, 8, 12)),
                                         ("Shuffles", (3, 16, 16))])
def test_fields_do_not_depend_on_the_batch(cls, sample):
    model = getattr(M, cls)()
    assert fields(analyze(model, (1, *sample))) == fields(analyze(model, (3, *sample)))


def by_path(report, path, axis):
    f = next(r for r in report.records if r.path == path).rf_axis(axis)
    return "whole" if f.whole else (int(f.size), f.jump)


def test_by_hand():
    window = analyze(M.WindowAttention(), (2, 3, 16, 16))
    assert by_path(window, "head", "H") == by_path(window, "head", "W") == (6, 1)  # 3 + a 4-pixel window
    rows = analyze(M.RowFold(), (2, 4, 8, 16))
    assert by_path(rows, "head", "H") == (3, 1) and by_path(rows, "head", "W") == (5, 1)
    axial = analyze(M.AxialAttention(), (2, 3, 8, 12))
    assert by_path(axial, "row_out", "H") == (3, 1) and by_path(axial, "row_out", "W") == "whole"
    assert by_path(axial, "col_out", "H") == by_path(axial, "col_out", "W") == "whole"
    shuffles = analyze(M.Shuffles(), (1, 3, 16, 16))
    assert by_path(shuffles, "cs", "H") == (3, 1)
    assert by_path(shuffles, "ps", "H")[1] == sympy_half()
    assert shuffles.gaps.ops_without_rf_rule == ()


def sympy_half():
    import sympy

    return sympy.Rational(1, 2)
