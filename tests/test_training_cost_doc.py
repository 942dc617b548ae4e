"""docs/training-cost.md tells the truth: its hand-worked LeNet table and its peers' table.

The LeNet table's numbers are checked against a count made here from the
layers' geometry (the book's Model_LeNet, 5.3.2) and against
``training_cost`` in the ``macs`` convention; the peers' table against
``training_cost`` and the peers' rules applied here.  (tests/test_docs.py runs
the page's examples and doctests.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "training-cost.md"

# (name, kind, geometry): conv (filters, in channels, kernel, output side); linear (in, out)
LENET = [
    ("conv1", "conv", (6, 1, 5, 28)),
    ("pool2", "pool", None),
    ("conv3", "conv", (16, 6, 5, 10)),
    ("pool4", "pool", None),
    ("conv5", "conv", (120, 16, 5, 1)),
    ("linear6", "linear", (120, 84)),
    ("linear7", "linear", (84, 10)),
]


def hand_count() -> dict[str, tuple[int, int, int]]:
    """(forward, input-gradient, weight-gradient) MACs for one image."""
    out = {}
    for i, (name, kind, g) in enumerate(LENET):
        if kind == "pool":
            out[name] = (0, 0, 0)
            continue
        if kind == "conv":
            filters, channels, k, side = g
            macs = filters * side * side * channels * k * k
        else:
            macs = g[0] * g[1]
        out[name] = (macs, 0 if i == 0 else macs, macs)  # the first layer's input (the image) needs no gradient
    return out


def _last_number(cell: str) -> int:
    cell = cell.strip().strip("*")
    if cell in ("-", ""):
        return 0
    numbers = re.findall(r"\d[\d,]*", cell.split("=")[-1])
    return int(numbers[0].replace(",", ""))


def doc_table() -> dict[str, tuple[int, int, int]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Worked example")[1].split("\n## ")[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.match(r"(\*\*)?\w", cells[0]) and cells[0] not in ("layer",):
            name = cells[0].split()[0].strip("*")
            rows[name] = tuple(_last_number(c) for c in cells[2:])
    return rows


def test_the_doc_table_is_the_hand_count():
    table, hand = doc_table(), hand_count()
    assert set(table) == set(hand) | {"total"}
    for name, counts in hand.items():
        assert table[name] == counts, name
    totals = tuple(sum(c[i] for c in hand.values()) for i in range(3))
    assert table["total"] == totals == (416_520, 298_920, 416_520)
    text = DOC.read_text(encoding="utf-8")
    step = sum(totals)
    for number in (step, 64 * totals[0], 64 * totals[1], 64 * step):
        assert f"{number:,}" in text, number


def test_training_cost_agrees_with_the_hand_count():
    from convcalc.analysis.training import training_cost
    from convcalc.models.book import Model_LeNet

    tc = training_cost(Model_LeNet(in_channels=1, num_classes=10), [1, 1, 32, 32], convention="macs")
    hand = hand_count()
    by_path = {r.path: (r.forward, r.backward_input, r.backward_weight) for r in tc.rows}
    for name, counts in hand.items():
        assert by_path[name] == counts, name
    others = {p: c for p, c in by_path.items() if p not in hand}
    assert all(c == (0, 0, 0) for c in others.values()), others  # relu, squeeze: no MACs
    t = tc.totals
    assert (t.forward, t.backward_input, t.backward_weight, t.step) == (416_520, 298_920, 416_520, 1_131_960)


@pytest.mark.parametrize("batch", [64])
def test_a_batch_multiplies_every_macs_count(batch):
    from convcalc.analysis.training import training_cost
    from convcalc.models.book import Model_LeNet

    t = training_cost(Model_LeNet(in_channels=1, num_classes=10), [batch, 1, 32, 32], convention="macs").totals
    assert (t.forward, t.backward_input, t.backward_weight) == (batch * 416_520, batch * 298_920, batch * 416_520)


def test_the_epoch_arithmetic_of_the_train_section():
    """1,000 images at batch 64: 15 steps of 64 and one of 40; the doc's sum uses training_cost's steps."""
    from convcalc.analysis.training import training_cost
    from convcalc.models.book import Model_LeNet

    def step(batch: int) -> int:
        model = Model_LeNet(in_channels=1, num_classes=10, vectorized=True)
        return int(training_cost(model, [batch, 1, 32, 32], convention="flops").totals.step)

    assert divmod(1000, 64) == (15, 40)
    full, last = step(64), step(40)
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert f"15 x {full:,} + {last:,} = {15 * full + last:,} FLOPs" in text


def test_the_frozen_layers_paragraph():
    """The prose under the peers' table: backward of the fine-tuned resnet18, x3's excess, the head-only backward."""
    from convcalc.analysis.training import training_cost
    from convcalc.models.zoo import build_model

    def totals(factory: str):
        model = build_model(f"{DOC.parents[1] / 'examples' / 'finetune.py'}:{factory}").model
        return training_cost(model, [1, 3, 224, 224], convention="flops").totals

    text = " ".join(DOC.read_text(encoding="utf-8").split())
    last = totals("resnet18_last_stages")
    backward = last.backward_input + last.backward_weight
    assert f"the backward is {backward / 1e9:.2f} GFLOPs, not {2 * last.forward / 1e9:.2f}" in text
    assert f"overestimates the step by {round(100 * (3 * last.forward / last.step - 1))}%" in text
    head = totals("resnet18_head_only")
    assert head.backward_input == 0 and head.backward_weight == 512 * 10  # fc's weights, one product each
    assert f"it is {head.backward_weight:,} FLOPs (fc's {512 * 10:,} weights" in text
