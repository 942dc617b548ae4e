"""Never refuse what Paddle accepts (issue 20, Deliver 2): the first layer's rank is a hint, not a rule.

A forward may squeeze or reshape its input before its first rank-bound layer: ``[N, 4, 1, L]``
squeezed before a Conv1D, ``[N, C*D, H, W]`` reshaped to 5-D before a Conv3D.  Paddle's eager
forward runs both; convcalc must analyse them through the API (``input_size`` and
``input_data``) and the CLI (``--batch 1`` and without), and when Paddle does refuse an input,
say Paddle's reason with the rank as a hint.  The truth is Paddle's eager forward.
"""

from __future__ import annotations

import json
import textwrap

import pytest

paddle = pytest.importorskip("paddle")
import paddle.nn as nn  # noqa: E402

from convcalc.analysis import analyze  # noqa: E402
from convcalc.cli import main  # noqa: E402
from convcalc.errors import RefusedInputError  # noqa: E402

MODELS = '''
import paddle.nn as nn


class Squeeze1D(nn.Layer):
    """forward takes [N, 4, 1, L] and squeezes it before a Conv1D."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1D(4, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(x.squeeze(2))


class Fold3D(nn.Layer):
    """forward takes [N, C*D, H, W] and reshapes it to 5-D before a Conv3D."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3D(2, 4, 3, padding=1)

    def forward(self, x):
        n, cd, h, w = x.shape
        return self.conv(x.reshape([n, 2, cd // 2, h, w]))
'''


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    path = tmp_path_factory.mktemp("readings") / "readings_models.py"
    path.write_text(textwrap.dedent(MODELS))
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # (classes with a source file for dy2static)
    return path, namespace


def eager_out(model, shape):
    model.eval()
    with paddle.no_grad():
        return list(model(paddle.ones(list(shape))).shape)


CASES = [("Squeeze1D", (1, 4, 1, 32), [1, 8, 32], 32 * 8 * 4 * 3),
         ("Fold3D", (1, 8, 16, 16), [1, 4, 4, 16, 16], 4 * 16 * 16 * 4 * 2 * 27)]


@pytest.mark.parametrize("kind, shape, out, macs", CASES)
def test_api_takes_what_paddle_takes(models, kind, shape, out, macs):
    _, ns = models
    model = ns[kind]()
    assert eager_out(model, shape) == out
    for kwargs in ({"input_size": shape}, {"input_data": paddle.ones(list(shape))}):
        report = analyze(model, convention="macs", **kwargs)
        assert [int(d) for d in report.input_shape] == list(shape)
        assert [int(d) for d in report.records[-1].output_shape] == out
        assert int(report.totals.flops) == macs


@pytest.mark.parametrize("kind, argv, shape", [
    ("Squeeze1D", ["--input", "4x1x32"], [1, 4, 1, 32]),
    ("Squeeze1D", ["--batch", "1", "--input", "4x1x32"], [1, 4, 1, 32]),
    ("Squeeze1D", ["--input", "1x4x1x32"], [1, 4, 1, 32]),  # four numbers: only NxCxHxW is accepted
    ("Fold3D", ["--batch", "1", "--input", "8x16x16"], [1, 8, 16, 16]),
    ("Fold3D", ["--input", "1x8x16x16"], [1, 8, 16, 16]),  # the Conv3D suggests one sample; Paddle refuses it
])
def test_cli_takes_what_paddle_takes(models, kind, argv, shape, capsys):
    path, _ = models
    code = main(["report", f"{path}:{kind}", *argv, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["input_shape"] == shape
    if argv[:1] == ["--input"] and len(argv[1].split("x")) == 4:
        assert any("read as NxCxHxW (batch 1): Paddle refuses one sample" in n for n in data["notes"])


def test_a_refusal_gives_paddles_reason_and_the_rank_as_a_hint():
    model = nn.Sequential(nn.Conv2D(3, 8, 3), nn.ReLU())
    with pytest.raises(RefusedInputError) as err:
        analyze(model, input_data=paddle.ones([1, 3, 32]))
    text = str(err.value)
    assert "Paddle refuses input 3x32" in text  # Paddle's own verdict first
    assert "first layer 0 (Conv2D) takes a 4-D input" in text and "--input 3x32x32" in text


def test_the_image_form_still_reads_c_h_w_as_one_image():
    model = nn.Sequential(nn.Conv2D(3, 8, 3), nn.ReLU())
    report = analyze(model, (3, 16, 16))
    assert [int(d) for d in report.input_shape] == [1, 3, 16, 16]
    assert [int(d) for d in report.records[0].output_shape] == [1, 8, 14, 14]


class Unbatched(nn.Layer):
    """Takes one image (C, H, W) and adds the batch itself: the 3 numbers are right as given."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3)

    def forward(self, x):
        return self.conv(x.unsqueeze(0))


def test_a_three_number_size_paddle_accepts_as_given_is_not_reread():
    report = analyze(Unbatched(), (3, 16, 16))
    assert [int(d) for d in report.input_shape] == [3, 16, 16]
    assert [int(d) for d in report.records[-1].output_shape] == [1, 8, 14, 14]
