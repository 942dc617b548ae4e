"""The cheap eager check (convcalc/trace/stand_ins.py) refuses exactly what Paddle's eager forward refuses.

Convolutions are checked at their smallest size and zeros stand in for their
values only where no refusal can depend on values.  The truth here is always
a real eager forward of the same model run in the test; the corpus module
convcalc/checks/corpus/eager_checks.py holds more such models (run by test_corpus.py).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

paddle = pytest.importorskip("paddle")

from paddle import nn  # noqa: E402

import convcalc.trace.build as trace  # noqa: E402
import convcalc.trace.eager as eager  # noqa: E402
import convcalc.trace.stand_ins as stand_ins  # noqa: E402
from convcalc.analysis import analyze  # noqa: E402
from convcalc.checks.corpus import eager_checks  # noqa: E402
from convcalc.cli import main  # noqa: E402
from convcalc.errors import ConvcalcError, RefusedInputError  # noqa: E402


def _eager_refusal(model, x) -> str:
    """Paddle's own verdict: the error its eager forward raises on ``x`` ('' when it runs)."""
    model.eval()
    try:
        with paddle.no_grad():
            model(x)
    except Exception as err:  # noqa: BLE001 - the refusal is the truth
        return str(err)
    return ""


def _outcome(model, x):
    """convcalc's verdict at ``x``: the report, or the refusal's text."""
    try:
        return analyze(model, input_data=x)
    except ConvcalcError as err:
        return str(err)


@pytest.fixture
def crops(monkeypatch):
    """Counts the convolution calls checked at their smallest size."""
    seen = []
    real = stand_ins._crop

    def counting(layer, x):
        small = real(layer, x)
        seen.append((tuple(x.shape), None if small is None else tuple(small.shape)))
        return small

    monkeypatch.setattr(stand_ins, "_crop", counting)
    return seen


@pytest.mark.parametrize(
    ("layer", "shape", "cropped"),
    [
        (lambda: nn.Conv2D(3, 8, (3, 5), dilation=(2, 1)), (2, 3, 20, 20), (1, 3, 5, 5)),  # 2*(3-1)+1, 5
        (lambda: nn.Conv2D(3, 8, 3, data_format="NHWC"), (2, 20, 20, 3), (1, 3, 3, 3)),
        (lambda: nn.Conv1D(4, 8, 5, dilation=2), (1, 4, 30), (1, 4, 9)),
        (lambda: nn.Conv3D(3, 4, 3, data_format="NDHWC"), (1, 4, 8, 8, 3), (1, 3, 3, 3, 3)),
        (lambda: nn.Conv2D(3, 8, 7, padding=3), (1, 3, 4, 9), (1, 3, 4, 7)),  # an axis already smaller stays
    ],
)
def test_crop_is_one_sample_and_the_kernels_extent(layer, shape, cropped):
    conv = layer()
    small = stand_ins._crop(conv, paddle.ones(list(shape)))
    assert tuple(small.shape) == cropped
    assert stand_ins._crop(conv, paddle.ones([1, *shape])) is None  # another rank: the real forward decides


# (values decide the ids of these: see the tests below)
ACCEPTED = [c for c in eager_checks.CASES if not c.refused and c.inputs[0][1] == "float32"
            and c.name != "ids_from_conv_in_range"]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.name for c in ACCEPTED])
def test_stand_ins_give_the_full_checks_report(case, crops, monkeypatch):
    """Accepted (Paddle runs them, checked here), checked on crops, and the same report as with the full forward."""
    x = paddle.rand(list(case.inputs[0][0]))
    assert _eager_refusal(case.build(), x) == ""
    model = case.build()
    light = analyze(model, input_data=x, name=case.name)
    plain = sum(stand_ins.is_plain(m) and not stand_ins.is_plain_pointwise(m)  # a subclass with its own forward: none
                for m in model.sublayers())  # (batch norms and activations take crops only when large: below)
    assert len(crops) >= plain and bool(crops) == bool(plain), "plain convs/Linears not checked at their smallest size"
    assert all(small is not None and small[0] == 1 for _, small in crops)
    monkeypatch.setattr(trace, "value_free", lambda *a: False)
    crops.clear()
    full = analyze(model, input_data=x, name=case.name)
    assert not crops
    assert light.records == full.records and light.totals == full.totals


def _nan_filled(real):
    """``paddle.empty`` whose memory happens to hold NaN (it may hold anything)."""
    def empty(shape, dtype=None, *args, **kwargs):
        return paddle.full(shape, float("nan"), dtype or "float32")
    return empty


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.name for c in ACCEPTED])
def test_whatever_a_stand_ins_memory_holds_the_report_is_the_same(case, crops, monkeypatch):
    """The stand-ins hand on memory never written: the same report when it holds NaN as when it holds zeros."""
    x = paddle.rand(list(case.inputs[0][0]))
    model = case.build()
    monkeypatch.setattr(paddle, "empty", paddle.zeros)
    zeros = analyze(model, input_data=x, name=case.name)
    used = len(crops)
    monkeypatch.setattr(paddle, "empty", _nan_filled(paddle.empty))
    nan = analyze(model, input_data=x, name=case.name)
    assert len(crops) == 2 * used  # (both took the same crops)
    assert nan.records == zeros.records and nan.totals == zeros.totals


def test_where_paddle_refuses_nan_the_stand_ins_are_zeros(monkeypatch):
    """With FLAGS_check_nan_inf Paddle refuses a NaN in any op's output: a stand-in's memory must not hold one."""
    monkeypatch.setattr(paddle, "empty", _nan_filled(paddle.empty))
    model = nn.Sequential(nn.Conv2D(3, 8, 3), nn.AvgPool2D(2), nn.Conv2D(8, 4, 3))  # (the pool runs on the stand-in)
    paddle.set_flags({"FLAGS_check_nan_inf": True})
    try:
        report = analyze(model, (1, 3, 16, 16))
    finally:
        paddle.set_flags({"FLAGS_check_nan_inf": False})
    assert report.records[-1].output_shape == (1, 4, 5, 5)


# Refused by the eager forward (the static program builds): in this process.  Models built with other
# arguments are users' files in test_variants_refused_with_the_layer; refusals of the static build
# (which can poison the next build in a process) run in their own process below.
PATHS = {
    "channel_last_channels": "layer conv (Conv2D)", "dilated_groups_channels": "layer stem (Conv2D)",
    "conv_at_two_sizes_channels": "layer conv (Conv2D)", "conv_subclass_channels": "layer conv (GainConv)",
    "conv3d_channel_last_channels": "layer conv (Conv3D)", "conv1d_dilated_channels": "layer conv (Conv1D)",
    "float_ids_then_conv1d": "layer embed (Embedding)",
}
IN_OWN_PROCESS = {
    "custom_layer_raises": "layer check (RGBOnly)", "flatten_linear_wrong_size": "layer classifier (Linear)",
    "reshape_tokens_wrong_size": "PatchTokens",
}
REFUSED = [c for c in eager_checks.CASES if c.name in PATHS]


def test_every_refused_case_is_run_here():
    lambdas = {c.name for c in eager_checks.CASES if c.refused and c.build.__name__ == "<lambda>"}
    assert {c.name for c in eager_checks.CASES if c.refused} == set(PATHS) | set(IN_OWN_PROCESS) | lambdas


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_refused_like_paddle_with_its_reason_and_the_layer(case, capsys):
    """The CLI refuses what Paddle's eager forward refuses (run here on ones, as the CLI does): exit 2, one line."""
    reason = _eager_refusal(case.build(), paddle.ones(list(case.inputs[0][0])))
    assert reason, f"Paddle runs {case.name}"
    spec = f"{eager_checks.__file__}:{case.build.__name__}"
    code = main(["report", spec, "--input", case.cli[0]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert case.refused in err[0] and case.refused in " ".join(reason.split())
    assert PATHS[case.name] in err[0]


def test_variants_refused_with_the_layer(tmp_path, capsys):
    """Models built with arguments (smaller stem, smaller vocabulary) written as users' files."""
    path = tmp_path / "variants.py"
    path.write_text(textwrap.dedent("""
        from convcalc.checks.corpus.eager_checks import CodesFromConv, FunctionalHead

        class NarrowStem(FunctionalHead):
            def __init__(self):
                super().__init__(stem_out=5)

        class SmallVocabulary(CodesFromConv):
            def __init__(self):
                super().__init__(5)
    """))
    for cls, shape, fragment, where in (
        ("NarrowStem", [1, 3, 12, 12], "input_channels:5 != filter_channels * groups:6", "NarrowStem"),
        ("SmallVocabulary", [1, 1, 6, 6], "expected >= 0 and < 5, but got 9", "layer codes (Embedding)"),
    ):
        model = eager_checks.FunctionalHead(5) if cls == "NarrowStem" else eager_checks.CodesFromConv(5)
        assert fragment in " ".join(_eager_refusal(model, paddle.ones(shape)).split())
        code = main(["report", f"{path}:{cls}", "--input", "x".join(map(str, shape[1:]))])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and fragment in err[0] and where in err[0], err


def test_values_decide_so_no_zeros_stand_in():
    """Ids computed from a conv's output: zeros in its place would pass; the program is not value-free."""
    model = eager_checks.CodesFromConv(5)
    x = paddle.ones([1, 1, 6, 6])
    assert "expected >= 0 and < 5, but got 9" in _eager_refusal(model, x)
    with pytest.raises(RefusedInputError, match="got 9.*codes|codes.*got 9"):
        analyze(model, input_data=x)


def test_ids_of_the_input_are_read_on_the_crops_too(crops, monkeypatch):
    """Token ids into an embedding, then a Conv1D: the embedding reads the input's own ids, which no stand-in
    changes, so the conv is checked on a crop; Paddle runs it, and the report is the full check's."""
    ids = paddle.to_tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]], dtype="int64")
    model = eager_checks.TokenConv()
    assert _eager_refusal(model, ids) == ""
    report = analyze(model, input_data=ids)
    assert crops
    assert [tuple(int(d) for d in r.output_shape) for r in report.records if r.path == "conv"] == [(1, 8, 12)]
    monkeypatch.setattr(trace, "value_free", lambda *a: False)
    crops.clear()
    full = analyze(model, input_data=ids)
    assert not crops and full.records == report.records and full.totals == report.totals


class BiasTable(nn.Layer):
    """LeViT's attention biases: a table gathered by a buffer of indices, added to a conv's output."""

    def __init__(self, top: int = 9):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, stride=2, padding=1)
        self.table = self.create_parameter([10])
        self.register_buffer("idx", paddle.to_tensor([i % (top + 1) for i in range(16)], "int64"))

    def forward(self, x):
        return self.conv(x).flatten(2) + paddle.gather(self.table, self.idx)


@pytest.mark.parametrize("top", [9, 12])
def test_a_gather_by_a_buffer_is_checked_on_crops_and_refused_like_paddle(top, crops, monkeypatch):
    """Indices from a buffer are the same on the stand-ins: crops; an index out of the table is refused with
    Paddle's reason, as without the stand-ins."""
    model = BiasTable(top)
    x = paddle.ones([1, 3, 8, 8])
    truth = _eager_refusal(model, x)
    assert bool(truth) == (top > 9)

    light = _outcome(model, x)
    assert crops or top > 9
    monkeypatch.setattr(trace, "value_free", lambda *a: False)
    crops.clear()
    full = _outcome(model, x)
    assert not crops
    if top > 9:
        assert isinstance(light, str) and light == full and "The element of Index must be less than" in light
    else:
        assert light.records == full.records and light.totals == full.totals


def test_a_gather_by_indices_from_a_conv_gets_the_full_forward(crops):
    """Indices computed from a conv's output: zeros would stand in for them, so no crops (CodesFromConv's rule)."""

    class Picked(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 1, 3)
            self.table = self.create_parameter([10])

        def forward(self, x):
            idx = self.conv(x).flatten().abs().astype("int64")
            return paddle.gather(self.table, idx)

    analyze(Picked(), input_data=paddle.ones([1, 3, 6, 6]))
    assert not crops


def test_the_value_guard_is_what_refuses(monkeypatch):
    """Without the value-free guard the stand-ins' values would decide (zeros here: the ids read 0, in range) and
    the out-of-range ids would be accepted: the guard matters."""
    monkeypatch.setattr(trace, "value_free", lambda *a: True)
    monkeypatch.setattr(paddle, "empty", paddle.zeros)
    analyze(eager_checks.CodesFromConv(5), input_data=paddle.ones([1, 1, 6, 6]))  # wrongly accepted


def test_refused_by_the_build_in_one_line():
    """A user check raising in forward, a Linear or reshape at the wrong size: exit 2, one line, the layer.

    Each in its own process (started together: the build that fails can poison the next in a process).
    """
    cases = [c for c in eager_checks.CASES if c.name in IN_OWN_PROCESS]
    for case in cases:
        assert case.refused in " ".join(_eager_refusal(case.build(), paddle.ones(list(case.inputs[0][0]))).split())
    procs = [
        subprocess.Popen([sys.executable, "-m", "convcalc", "report", f"{eager_checks.__file__}:{c.build.__name__}",
                          "--input", c.cli[0]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in cases
    ]
    for case, proc in zip(cases, procs):
        _, err = proc.communicate(timeout=300)
        lines = [ln for ln in err.splitlines() if ln.startswith("convcalc")]
        assert proc.returncode == 2 and len(lines) == 1, err[-2000:]
        assert case.refused in lines[0] and IN_OWN_PROCESS[case.name] in lines[0], lines[0]
        assert "Traceback" not in err


def test_branching_model_runs_the_full_forward(crops):
    """A forward that branches on tensor values: no stand-ins (the branch needs the real values)."""

    class Gate(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 4, 3)

        def forward(self, x):
            y = self.conv(x)
            if y.mean() > 1000:
                y = y * 2
            return y

    model = Gate()
    report = analyze(model, (1, 3, 8, 8))
    assert not crops
    assert any("branches on tensor values" in n for n in report.notes)


def test_resnet_is_value_free_and_checked_on_crops(crops):
    from paddle.vision.models import resnet18

    model = resnet18()
    analyze(model, (1, 3, 64, 64))
    assert len(crops) == sum(isinstance(m, (nn.Conv2D, nn.Linear)) for m in model.sublayers())



class _SplitShuffle(nn.Layer):
    """A ShuffleNet-style block as users write it: conv, split into halves (a list result), swap, concat, conv."""

    def __init__(self, int_half: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2D(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2D(8, 8, 1)
        self.int_half = int_half

    def forward(self, x):
        a, b = paddle.split(self.conv1(x), 2, axis=1)
        if self.int_half:  # a half cast to integers (then back): its values could decide a refusal
            a = a.astype("int32").astype("float32")
        return self.conv2(paddle.concat([b, a], axis=1))


def test_a_split_into_a_list_is_read_through_its_parts(crops):
    """``split`` hands on one list value, taken apart by ``builtin.split``: floating parts of known shape keep the
    check on crops; a cast to integers on the way does not (the full forward runs, no conv is cropped)."""
    analyze(_SplitShuffle(), (1, 3, 16, 16))
    assert len(crops) == 2
    crops.clear()
    analyze(_SplitShuffle(int_half=True), (1, 3, 16, 16))
    assert not crops


def test_validate_runs_one_eager_forward_per_case(monkeypatch):
    """validate's pre-trace refusal check is the case's only eager forward; a refusal names Paddle's reason."""
    from convcalc.checks import validation as V
    from convcalc.models.zoo import build_model

    calls = []
    real = trace.eager_check
    counted = lambda *a, **k: calls.append(1) or real(*a, **k)  # noqa: E731
    monkeypatch.setattr(trace, "eager_check", counted)  # as analyze's trace calls it
    monkeypatch.setattr(eager, "eager_check", counted)  # as validate calls it
    name = "book_paddle_lenet"
    model = build_model(name).model
    symbolic = V._symbolic_reports(model, (1, 32, 32), name)
    calls.clear()
    result = V.validate_case(model, name, V.SizeCase("odd", (1, 33, 35)), symbolic)
    assert result.ok and len(calls) == 1, (result.details, calls)
    grey = _eager_refusal(model, paddle.ones([1, 3, 32, 32]))
    assert "input_channels:3 != filter_channels * groups:1" in grey
    result = V.validate_case(model, name, V.SizeCase("rgb", (3, 32, 32)), symbolic)
    assert "input_channels:3 != filter_channels * groups:1" in result.refused
    assert "layer conv1 (Conv2D)" in result.refused


class EagerOnlyGuard(nn.Layer):
    """A check only the eager forward runs, on a value read into Python (float): zeros would pass it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, weight_attr=nn.initializer.Constant(5.0), bias_attr=False)

    def forward(self, x):
        y = self.conv(x)
        if paddle.in_dynamic_mode() and float(y.max()) > 100:  # 27 ones times 5
            raise ValueError("activations blew up")
        return y


def test_an_eager_only_read_of_values_reruns_the_full_forward(crops):
    model = EagerOnlyGuard()
    x = paddle.ones([1, 3, 8, 8])
    assert "activations blew up" in _eager_refusal(model, x)
    with pytest.raises(ConvcalcError, match="activations blew up"):
        analyze(model, (1, 3, 8, 8))
    assert crops  # tried on crops first, then again in full because a value was read


def test_resnet_runs_one_eager_check(crops, monkeypatch):
    from paddle.vision.models import resnet18

    calls = []
    real = trace.eager_check
    monkeypatch.setattr(trace, "eager_check", lambda *a, **k: calls.append(k.get("stand_in")) or real(*a, **k))
    analyze(resnet18(), (1, 3, 64, 64))
    assert len(calls) == 1 and calls[0] is not None  # on crops, and no full rerun


def test_the_read_guard_is_what_refuses(monkeypatch):
    """Without watching value reads the stand-ins' values would decide (zeros here: they pass its check) and
    EagerOnlyGuard would be accepted: the guard matters."""
    import contextlib

    monkeypatch.setattr(trace, "watching_value_reads", lambda: contextlib.nullcontext([]))
    monkeypatch.setattr(paddle, "empty", paddle.zeros)
    analyze(EagerOnlyGuard(), (1, 3, 8, 8))  # wrongly accepted


# ------------------------------------------------------------------ Linear on a crop (issue 23)
class TokenMixer(nn.Layer):
    """A transformer-like block: Linears over (batch, tokens, features), one of them made for ``features``; in
    eager mode only, ``drop`` features are cut before it (so only the eager forward can refuse)."""

    def __init__(self, features: int = 16, drop: int = 0):
        super().__init__()
        self.qkv = nn.Linear(16, 48)
        self.proj = nn.Linear(features, 8)
        self.drop = drop

    def forward(self, x):
        y = self.qkv(x)[:, :, :16]
        if self.drop and paddle.in_dynamic_mode():
            y = y[:, :, : 16 - self.drop]
        return self.proj(nn.functional.relu(y))


def test_a_linear_crop_is_one_element_of_every_leading_dimension():
    small = stand_ins._crop(nn.Linear(16, 8), paddle.ones([2, 5, 7, 16]))
    assert tuple(small.shape) == (1, 1, 1, 16)
    assert stand_ins._crop(nn.Linear(16, 8), paddle.ones([16])) is None  # no leading dimension: the real forward


@pytest.mark.parametrize("drop", [0, 3])
def test_linears_on_crops_accept_and_refuse_as_the_full_forward(drop, crops, monkeypatch):
    """The truth is Paddle's eager forward; with the stand-ins and without them (the full check) convcalc agrees."""
    model = TokenMixer(drop=drop)
    x = paddle.rand([2, 5, 16])
    truth = _eager_refusal(model, x)
    assert bool(truth) == bool(drop)  # (K_lhs:13 != K_rhs:16 for drop=3)

    light = _outcome(model, x)
    assert crops and all(small is not None and small[:2] == (1, 1) for _, small in crops), crops
    monkeypatch.setattr(trace, "value_free", lambda *a: False)
    crops.clear()
    full = _outcome(model, x)
    assert not crops
    if drop:
        assert isinstance(light, str) and light == full and "K_lhs:13 != K_rhs:16" in light, light
    else:
        assert light.records == full.records and light.totals == full.totals


# ------------------------------------------------------------------ attention layers on a crop (issue 23)
class Attending(nn.Layer):
    """Tokens from a Linear, self-attention, two of ViT's pre-norm encoder blocks, a head.  ``kdim``: the attention's
    keys are made for another width (Paddle refuses); ``drop``: in eager mode only, features are cut before the
    blocks (so only the eager forward can refuse)."""

    def __init__(self, drop: int = 0, kdim: int | None = None):
        super().__init__()
        self.embed = nn.Linear(8, 16)
        self.attn = nn.MultiHeadAttention(16, 2, kdim=kdim)
        self.blocks = nn.LayerList([nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, activation="gelu",
                                                               normalize_before=True) for _ in range(2)])
        self.head = nn.Linear(16, 4)
        self.drop = drop

    def forward(self, x):
        y = self.attn(self.embed(x))
        if self.drop and paddle.in_dynamic_mode():
            y = y[:, :, : 16 - self.drop]
        for block in self.blocks:
            y = block(y)
        return self.head(y)


def test_an_attention_crop_is_one_element_of_every_leading_dimension():
    for layer in (nn.TransformerEncoderLayer(16, 2, 32), nn.MultiHeadAttention(16, 2)):
        assert stand_ins.is_plain(layer)
        assert tuple(stand_ins._crop(layer, paddle.ones([2, 5, 16])).shape) == (1, 1, 16)


def test_only_attention_layers_made_of_paddles_own_parts_are_cropped():
    class Block(nn.TransformerEncoderLayer):
        pass

    class Norm(nn.Layer):
        def forward(self, x):
            return x

    assert not stand_ins.is_plain(Block(16, 2, 32))  # a subclass may check anything
    swapped = nn.TransformerEncoderLayer(16, 2, 32)
    swapped.norm1 = Norm()
    assert not stand_ins.is_plain(swapped)  # a part of the user's own
    own = nn.TransformerEncoderLayer(16, 2, 32)
    own.activation = lambda x: x
    assert not stand_ins.is_plain(own)  # an activation of the user's own
    patched = nn.MultiHeadAttention(16, 2)
    patched.forward = lambda *a, **k: None
    assert not stand_ins.is_plain(patched)


@pytest.mark.parametrize(("drop", "kdim"), [(0, None), (3, None), (0, 12)])
def test_attention_on_crops_accepts_and_refuses_as_the_full_forward(drop, kdim, crops, monkeypatch):
    """The truth is Paddle's eager forward; with the stand-ins and without them (the full check) convcalc agrees."""
    model = Attending(drop, kdim)
    x = paddle.rand([2, 5, 8])
    truth = _eager_refusal(model, x)
    assert bool(truth) == bool(drop or kdim)

    light = _outcome(model, x)
    if not (drop or kdim):  # embed, the attention, both blocks and the head; their own Linears run inside a crop
        assert crops == [((2, 5, 8), (1, 1, 8))] + [((2, 5, 16), (1, 1, 16))] * 4, crops
    monkeypatch.setattr(trace, "value_free", lambda *a: False)
    crops.clear()
    full = _outcome(model, x)
    assert not crops
    if drop or kdim:
        assert isinstance(light, str) and light == full, (light, full)
        fragment = ("K_lhs:16 != K_rhs:12" if kdim
                    else "expected input with shape [*, 16], but got input shape [2, 5, 13]")
        assert fragment in light and fragment in " ".join(truth.split()), (light, truth)
    else:
        assert light.records == full.records and light.totals == full.totals


# ------------------------------------------------------------------ sizes read from paddle.shape (issue 20, speed)
class SizedByShape(nn.Layer):
    """Sizes read as tensors, as PaddleSeg writes them: the eager forward reads ``paddle.shape(x)[2:]`` (numpy)
    inside ``F.interpolate``, and ``paddle.shape(y)[0]`` inside ``reshape``."""

    def __init__(self, cin: int = 3):
        super().__init__()
        self.down = nn.Conv2D(cin, 8, 3, stride=2, padding=1)
        self.head = nn.Conv2D(8, 4, 1)

    def forward(self, x):
        y = self.head(self.down(x))
        y = nn.functional.interpolate(y, paddle.shape(x)[2:], mode="bilinear")
        return y.reshape([paddle.shape(y)[0], 4, -1])


def _last_shapes_after_one_check_on_crops(model, shape, crops, monkeypatch):
    """(convcalc's last output shape, the eager forward's), after asserting the analysis ran one eager check, on
    crops."""
    calls = []
    real = trace.eager_check
    monkeypatch.setattr(trace, "eager_check", lambda *a, **k: calls.append(k.get("stand_in")) or real(*a, **k))
    report = analyze(model, shape)
    assert len(calls) == 1 and calls[0] is not None and crops
    model.eval()
    with paddle.no_grad():
        truth = model(paddle.ones(list(shape)))
    return tuple(int(d) for d in report.records[-1].output_shape), tuple(truth.shape)


def test_size_reads_keep_the_check_on_crops(crops, monkeypatch):
    """Reading sizes (paddle.shape and its parts) is not reading values: one eager check, on crops."""
    ours, truth = _last_shapes_after_one_check_on_crops(SizedByShape(), (2, 3, 16, 20), crops, monkeypatch)
    assert ours == truth == (2, 4, 320)


def test_size_reads_still_refused_like_paddle(crops):
    """A model Paddle refuses (3 channels into a conv made for 5) is refused with Paddle's reason."""
    model = SizedByShape(cin=5)
    truth = _eager_refusal(model, paddle.ones([1, 3, 16, 16]))
    assert "input_channels" in truth
    with pytest.raises(ConvcalcError, match="input_channels"):
        analyze(model, (1, 3, 16, 16))


def test_which_reads_are_value_reads():
    x = paddle.ones([1, 3, 8, 6])
    with stand_ins.watching_value_reads() as reads:
        size = paddle.shape(x)[2:]
        assert size.numpy().tolist() == [8, 6] and int(paddle.shape(x)[0]) == 1
        b, _c = paddle.shape(x)[0:2]  # (iterates with __getitem__)
        assert b.item() == 1
        assert reads == []  # sizes, not values
        written = paddle.shape(x)[2:]
        written[0] = x.sum().astype("int64")  # a value written into sizes: its later read is a value read
        written.numpy()
        x.numpy()
        assert reads == ["numpy", "numpy"]
        h, w = paddle.shape(x)[2:4]
        assert bool(h * 2 != w + 1) and not bool(h == w) and (paddle.shape(x)[2] // 2).item() == 4
        assert reads == ["numpy", "numpy"]  # arithmetic and comparisons of sizes are sizes
        assert bool(x.sum() > 0)
        assert reads[2] == "__bool__"  # a truth value of values is listed
        del reads[2:]
        assert not bool(paddle.shape(x)[2] > x.sum())
        assert reads[2] == "__bool__"  # of sizes and values alike


class PoolUntilMatched(nn.Layer):
    """ESPNetV2's DownSampler: pools one branch while its size (read as a tensor) differs from the other's."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2D(3, 4, 3, stride=4, padding=1)
        self.side = nn.Conv2D(3, 4, 1)

    def forward(self, x):
        y = self.down(x)
        s = self.side(x)
        w1, w2 = paddle.shape(y)[2], paddle.shape(s)[2]
        while w2 != w1:
            s = nn.functional.avg_pool2d(s, kernel_size=3, padding=1, stride=2)
            w2 = paddle.shape(s)[2]
        return y + s


def test_a_loop_on_sizes_keeps_the_check_on_crops(crops, monkeypatch):
    ours, truth = _last_shapes_after_one_check_on_crops(PoolUntilMatched(), (1, 3, 16, 16), crops, monkeypatch)
    assert ours == truth == (1, 4, 4, 4)


# ------------------------------------------------------------------ batch norms and activations on a crop
@pytest.mark.parametrize(
    ("layer", "shape", "cropped"),
    [
        (lambda: nn.BatchNorm2D(8), (2, 8, 30, 40), (1, 8, 1, 1)),
        (lambda: nn.BatchNorm2D(8, data_format="NHWC"), (2, 30, 40, 8), (1, 1, 1, 8)),
        (lambda: nn.BatchNorm1D(8), (4, 8), (1, 8)),
        (lambda: nn.BatchNorm1D(8), (4, 8, 50), (1, 8, 1)),
        (lambda: nn.BatchNorm3D(4), (1, 4, 5, 6, 7), (1, 4, 1, 1, 1)),
        (lambda: nn.ReLU6(), (2, 8, 30, 40), (1, 1, 1, 1)),
        (lambda: nn.Hardswish(), (3, 5), (1, 1)),
    ],
)
def test_a_pointwise_crop_keeps_only_a_batch_norms_channels(layer, shape, cropped):
    small = stand_ins._pointwise_crop(layer(), paddle.ones(list(shape)))
    assert tuple(small.shape) == cropped


def test_only_paddles_own_running_statistics_norms_and_activations_are_pointwise():
    class MyReLU(nn.ReLU):
        pass

    batch_stats = nn.BatchNorm2D(4, use_global_stats=False)
    own = nn.ReLU()
    own.forward = lambda x: x
    assert stand_ins.is_plain_pointwise(_eval(nn.BatchNorm2D(4)))
    assert stand_ins.is_plain_pointwise(nn.BatchNorm2D(4))  # (in training mode: the eager check runs it in eval)
    assert not stand_ins.is_plain_pointwise(batch_stats)  # batch statistics: a crop of one value per channel
    assert not stand_ins.is_plain_pointwise(own)
    for layer in (nn.PReLU(4), MyReLU(), nn.BatchNorm(4, act="relu"), nn.Softmax(), nn.Conv2D(4, 4, 1)):
        assert not stand_ins.is_plain_pointwise(layer), layer
    assert all(stand_ins.is_plain_pointwise(getattr(nn, n)()) for n in stand_ins._ACTIVATION_LAYERS)


def _eval(layer):
    layer.eval()
    return layer


class NormedStem(nn.Layer):
    """Conv, batch norm, ReLU6 and Hardswish on a large input, then a conv that expects ``takes`` channels: Paddle's
    static program does not check a conv's input channels, its eager forward does."""

    def __init__(self, takes: int = 8):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2D(8)
        self.act = nn.ReLU6()
        self.act2 = nn.Hardswish()
        self.head = nn.Conv2D(takes, 4, 3, stride=2)
        self.bn2 = nn.BatchNorm2D(4)

    def forward(self, x):
        return self.bn2(self.head(self.act2(self.act(self.bn(self.conv(x))))))


@pytest.mark.parametrize("takes", [8, 6])
def test_large_batch_norms_and_activations_on_crops_accept_and_refuse_as_the_full_forward(takes, monkeypatch):
    """The truth is Paddle's eager forward; with the crops and without them (the full check) convcalc agrees.  The
    three large layers are checked on crops (from POINTWISE_CROP_FROM elements on), the small last norm is not."""
    seen = []
    real = stand_ins._pointwise_crop

    def counting(layer, x):
        seen.append(type(layer).__name__)
        return real(layer, x)

    monkeypatch.setattr(stand_ins, "_pointwise_crop", counting)
    model = NormedStem(takes)
    x = paddle.rand([1, 3, 96, 96])  # 8 x 96 x 96 = 73,728 elements after the first conv
    assert 8 * 96 * 96 >= stand_ins.POINTWISE_CROP_FROM > 4 * 47 * 47
    truth = _eager_refusal(model, x)
    assert bool(truth) == (takes != 8)
    light = _outcome(model, x)
    assert seen == ["BatchNorm2D", "ReLU6", "Hardswish"], seen
    monkeypatch.setattr(trace, "value_free", lambda *a: False)
    seen.clear()
    full = _outcome(model, x)
    assert not seen
    if takes != 8:
        assert isinstance(light, str) and light == full and "input_channels:8 != filter_channels * groups:6" in light
    else:
        assert light.records == full.records and light.totals == full.totals


class Repeated(nn.Layer):
    """A stem, three depthwise convs of one configuration, then a conv that expects ``takes`` channels (Paddle's
    static program does not check a conv's input channels; its eager forward does)."""

    def __init__(self, takes: int = 8):
        super().__init__()
        self.stem = nn.Conv2D(3, 8, 3, padding=1)
        self.blocks = nn.Sequential(*[nn.Conv2D(8, 8, 3, padding=1, groups=8) for _ in range(3)])
        self.strided = nn.Conv2D(8, 8, 3, padding=1, groups=8, stride=2)  # (one setting differs: its own verdict)
        self.last = nn.Conv2D(takes, 4, 1)

    def forward(self, x):
        return self.last(self.strided(self.blocks(self.stem(x))))


@pytest.mark.parametrize("takes", [8, 6])
def test_convs_of_one_configuration_share_one_verdict(takes, crops, monkeypatch):
    """The three like depthwise convs run Paddle's kernel on one crop between them; every other configuration on its
    own; and the report or refusal is the full forward's."""
    kernels = []
    real = nn.Conv2D.forward

    def counting(self, x):
        kernels.append(tuple(x.shape))
        return real(self, x)

    monkeypatch.setattr(nn.Conv2D, "forward", counting)
    model = Repeated(takes)
    x = paddle.rand([2, 3, 20, 20])
    truth = _eager_refusal(model, x)
    assert bool(truth) == (takes != 8)
    kernels.clear()
    light = _outcome(model, x)
    on_crops = [k for k in kernels if k[0] == 1]
    assert len(crops) == 6  # every conv is cropped ...
    assert len(on_crops) == 4  # ... but the like ones run one kernel: stem, blocks (once), strided, last
    monkeypatch.setattr(trace, "value_free", lambda *a: False)
    crops.clear()
    full = _outcome(model, x)
    if takes != 8:
        assert isinstance(light, str) and light == full and "input_channels:8 != filter_channels * groups:6" in light
    else:
        assert light.records == full.records and light.totals == full.totals


class WritesInPlace(nn.Layer):
    """Large activations of the input and of a parameter, each written in place after: in Paddle's forward the
    activation's output is a new tensor, so the input and the parameter are left as they were."""

    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()
        self.act2 = nn.ReLU6()
        self.table = self.create_parameter([1, 4, 128, 128])
        self.conv = nn.Conv2D(4, 4, 1)
        self.bn = nn.BatchNorm2D(4)

    def forward(self, x):
        y = self.act(x)
        y.add_(y)
        t = self.act2(self.table)
        t.scale_(2.0)
        z = self.bn(self.conv(y + t))  # (a conv's stand-in zeros: the norm may hand them on)
        z.add_(z)
        return z


def test_a_stand_in_never_hands_on_the_users_input_or_a_parameter(monkeypatch):
    seen = []
    real = stand_ins._pointwise_crop
    monkeypatch.setattr(stand_ins, "_pointwise_crop",
                        lambda layer, x: seen.append(type(layer).__name__) or real(layer, x))
    model = WritesInPlace()
    x = paddle.rand([1, 4, 128, 128])
    before_x, before_table = x.numpy().copy(), model.table.numpy().copy()
    report = analyze(model, input_data=x)
    assert seen == ["BatchNorm2D"]  # (the activations of the input and the parameter ran their own forward)
    assert (x.numpy() == before_x).all() and (model.table.numpy() == before_table).all()
    assert report.records[-1].output_shape == (1, 4, 128, 128)


class _CountsLiveZeros(nn.Layer):
    def __init__(self, created, alive):
        super().__init__()
        self.created, self.alive = created, alive

    def forward(self, x):
        if paddle.in_dynamic_mode():
            self.alive.append(sum(r() is not None for r in self.created))
        return x


def test_the_stand_ins_tensors_are_freed_as_the_forward_goes_on(monkeypatch):
    """Twelve convs checked on crops hand on twelve tensors of their own: like the real outputs, each is freed once
    the forward is past it (held, they would be twelve times the memory of one)."""
    import weakref

    created, alive = [], []

    def counted(real):
        def make(*args, **kwargs):
            out = real(*args, **kwargs)
            created.append(weakref.ref(out))
            return out
        return make

    monkeypatch.setattr(paddle, "zeros", counted(paddle.zeros))
    monkeypatch.setattr(paddle, "empty", counted(paddle.empty))
    model = nn.Sequential(*[nn.Conv2D(4, 4, 3, padding=1) for _ in range(12)], _CountsLiveZeros(created, alive))
    analyze(model, (1, 4, 16, 16))
    assert len(created) >= 12 and alive and alive[-1] <= 2, (len(created), alive)


class SizedByToTensor(nn.Layer):
    """CSWin-Transformer's windows: a size computed from Python ints, made a tensor with ``paddle.to_tensor`` and
    read back by ``reshape`` (``.item()`` in Paddle's eager reshape)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        b = paddle.to_tensor(y.shape[0] // 1, "int32")
        return y.reshape([b, 8, -1])


def test_a_size_made_a_tensor_keeps_the_check_on_crops(crops, monkeypatch):
    ours, truth = _last_shapes_after_one_check_on_crops(SizedByToTensor(), (2, 3, 16, 20), crops, monkeypatch)
    assert ours == truth == (2, 8, 320)


def test_a_tensor_made_of_python_data_is_not_a_value_read_one_made_of_tensors_is():
    with stand_ins.watching_value_reads() as reads:
        assert paddle.to_tensor(6 // 2, "int32").item() == 3
        assert paddle.to_tensor([2, 3]).numpy().tolist() == [2, 3]
        assert reads == []  # (Python data: no tensor's values in it)
        assert paddle.to_tensor(paddle.ones([1]) * 2).item() == 2.0
        assert reads == ["item"]
        paddle.to_tensor([paddle.ones([1]), paddle.ones([1])]).numpy()
        assert reads[0] == "item" and len(reads) > 1  # (Paddle reads the listed tensors' values to copy them)
    assert paddle.to_tensor is paddle.tensor.creation.to_tensor  # (put back)
