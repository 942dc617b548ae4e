"""Custom models with inputs of any rank, dtype and number, RNNs, branches, multi-output layers and refusals.

The truth is computed here, independently of convcalc: Paddle's eager
forward with a hook on every layer gives each call's output shapes (every
output of a tuple/dict), and the parameters are those of the layers that
ran, unique by identity.  Refused cases run the CLI in a subprocess each (a
failed Paddle build can make the next one crash) in
tests/test_bad_input_matrix.py.
"""

from __future__ import annotations

import inspect
import json
from math import prod

import pytest

paddle = pytest.importorskip("paddle")

from convcalc.analysis import analyze  # noqa: E402
from convcalc.checks.corpus import control_flow, inputs, multi_output, rnn  # noqa: E402
from convcalc.cli import main  # noqa: E402

ACCEPTED = [c for m in (inputs, rnn, control_flow, multi_output) for c in m.CASES]


def _flat(output) -> list[list[int]]:
    if isinstance(output, paddle.Tensor):
        return [list(output.shape)]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [s for o in output for s in _flat(o)]
    return []


def _values(case):
    return [paddle.ones(list(s), d) if d.startswith("float") else paddle.zeros(list(s), d) for s, d in case.inputs]


def eager_truth(model, case):
    """Per layer path: the output shapes of each call; and the parameters of the layers that ran."""
    calls: dict[str, list[list[list[int]]]] = {}
    ran: list = []
    handles = []
    for path, layer in model.named_sublayers():
        def hook(layer, args, output, path=path):
            calls.setdefault(path, []).append(_flat(output))
            ran.append(layer)
        handles.append(layer.register_forward_post_hook(hook))
    model.eval()
    try:
        with paddle.no_grad():
            model(*_values(case))
    finally:
        for h in handles:
            h.remove()
    params = {id(p): p for layer in ran for p in layer.parameters()}
    return calls, sum(int(prod(p.shape)) for p in params.values())


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.name)
def test_shapes_and_params_match_paddles_eager_forward(case):
    paddle.seed(0)
    model = case.build()
    truth, params = eager_truth(model, case)
    if all(d == "float32" for _, d in case.inputs):  # input_size, as paddle.summary users pass it
        report = analyze(model, [list(s) for s, _ in case.inputs], name=case.name)
    else:
        specs = [paddle.static.InputSpec(list(s), d) for s, d in case.inputs]
        report = analyze(model, input_spec=specs, name=case.name)
    assert [list(map(int, s)) for s in report.input_shapes] == [list(s) for s, _ in case.inputs]
    assert list(report.input_dtypes) == [d for _, d in case.inputs]
    ours: dict[str, list] = {}
    for r in report.records:
        if not r.is_functional and r.path in truth:
            ours.setdefault(r.path, []).append([[int(d) for d in s] for s in r.output_shapes])
    leaves = {p for p, layer in model.named_sublayers()
              if p in truth and (not layer.sublayers() or isinstance(layer, paddle.nn.layer.rnn.RNNBase))}
    assert leaves <= set(ours), f"layers that ran but have no row: {sorted(leaves - set(ours))}"
    for path in ours:
        assert sorted(ours[path]) == sorted(truth[path]), path
    assert int(report.totals.params) == params


@pytest.mark.parametrize("case", [c for c in ACCEPTED if c.kind == "control_flow" and "python" not in c.name],
                         ids=lambda c: c.name)
def test_value_dependent_branch_is_named_in_a_note(case):
    report = analyze(case.build(), list(case.inputs[0][0]), name=case.name)
    assert any("branches on tensor values" in n and "path" in n for n in report.notes), report.notes


def _cli_args(case) -> list[str]:
    where = f"{inspect.getfile(case.build)}:{case.build.__name__}"
    args = [where]
    for text in case.cli:
        args += ["--input", text]
    if case.batch != 1:
        args += ["--batch", str(case.batch)]
    return args


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.name)
def test_cli_spelling_gives_the_case_inputs(case, capsys):
    assert main(["report", *_cli_args(case), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_shapes"] == [list(s) for s, _ in case.inputs]
    assert data["input_dtypes"] == [d for _, d in case.inputs]


def test_four_numbers_read_from_the_first_layer(capsys):
    voxel = f"{inspect.getfile(inputs.VoxelNet)}:VoxelNet"
    assert main(["report", voxel, "--input", "2x4x8x8", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_shape"] == [1, 2, 4, 8, 8]
    assert any("CxDxHxW" in n for n in data["notes"])
    assert main(["report", "book_paddle_lenet", "--input", "2x1x32x32", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_shape"] == [2, 1, 32, 32]
    assert any("NxCxHxW" in n for n in data["notes"])


@pytest.mark.parametrize("name", ["tuple_halves", "block_with_aux", "bigru_tagger", "image_and_text"])
def test_compare_agrees_on_tuple_outputs_and_several_inputs(name, capsys):
    case = next(c for c in ACCEPTED if c.name == name)
    code = main(["compare", *_cli_args(case), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    bad = [r for r in data["rows"] if not r.get("ok", True)]
    assert code == 0, bad or data


DECLARED = """\
import paddle

CONVCALC_INPUT = ["5x16", "5:int64"]


class Net(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(16, 4)
        self.emb = paddle.nn.Embedding(10, 4)

    def forward(self, x, ids):
        return self.fc(x) + self.emb(ids)
"""


def test_declared_inputs_are_used_without_input(tmp_path, capsys):
    path = tmp_path / "declared.py"
    path.write_text(DECLARED)
    assert main(["report", f"{path}:Net", "--batch", "3", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_shapes"] == [[3, 5, 16], [3, 5]]
    assert data["input_dtypes"] == ["float32", "int64"]


def test_input_data_values_decide_the_branch():
    model = control_flow.GatedHead()
    ones = analyze(model, input_data=paddle.ones([1, 8]))
    minus = analyze(model, input_data={"x": -paddle.ones([1, 8])})
    ran = {r.path for r in ones.records}, {r.path for r in minus.records}
    assert "wide" in ran[0] and "narrow" not in ran[0]
    assert "narrow" in ran[1] and "wide" not in ran[1]
    assert int(ones.totals.params) == 8 * 8 + 8 + 8 * 2 + 2
    assert int(minus.totals.params) == 8 * 4 + 4 + 8 * 2 + 2
