"""Byte counts as text (render/units.py): binary units, scaled per value; the expected strings are worked by hand."""

from __future__ import annotations

import pytest
import sympy

from convcalc.render.units import byte_unit, format_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1,023 B"),
        (1024, "1.0 KiB"),
        (2048, "2.0 KiB"),  # resnet18's avgpool output: 512 floats
        (4000, "3.9 KiB"),  # its fc output: 1000 floats; 4000 / 1024 = 3.906
        (602_112, "588.0 KiB"),  # a 3x224x224 float32 input
        (3_211_264, "3.06 MiB"),  # 64x112x112 floats = 3.0625 MiB
        (1024**2 - 1, "1.00 MiB"),  # rounds up to the next unit, not "1,024.0 KiB"
        (int(1.2 * 1024**3), "1.20 GiB"),
        (sympy.Integer(2048), "2.0 KiB"),
    ],
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text


def test_signed_and_symbolic():
    assert format_bytes(25_088, signed=True) == "+24.5 KiB"  # one [1, 8, 28, 28] float32 output
    assert format_bytes(-25_088, signed=True) == "-24.5 KiB"
    assert format_bytes(0, signed=True) == "0 B"
    assert format_bytes(4 * sympy.Symbol("H")) == "4*H"


def test_byte_unit_is_the_largest_that_keeps_the_value_at_least_one():
    assert byte_unit(1023) == ("B", 1)
    assert byte_unit(1024) == ("KiB", 1024)
    assert byte_unit(-5 * 1024**2) == ("MiB", 1024**2)
