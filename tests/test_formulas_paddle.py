"""Property tests: the formulas against what Paddle actually does.

* Output sizes of ``F.conv2d``, ``F.max_pool2d`` and ``F.avg_pool2d`` (the
  functional forms of ``nn.Conv2D``/``nn.MaxPool2D``/``nn.AvgPool2D``, on
  tiny zero tensors so each case costs ~0.1 ms) over random kernel, stride,
  every padding form Paddle takes (int, ``[h, w]``, ``[top, bottom, left,
  right]``, ``[[0,0],[0,0],[t,b],[l,r]]``, ``'SAME'``, ``'VALID'``),
  dilation, groups and ``ceil_mode``: 2,500 cases per default run (conv
  1,300 + each pool 600, of which about 2,100 reach Paddle, the rest being
  the filtered cases below); 100,000 with ``--long``.  Zero mismatches.
* Paddle-convention FLOPs equal ``paddle.flops`` for one-layer networks.

Filtered, documented: when the (dilated) kernel is larger than the padded
input the formulas raise :class:`~convcalc.errors.ShapeError`, while Paddle's
C++ shape inference divides with truncation toward zero and returns a
0- or 1-sized output instead of refusing (``F.conv2d`` of a 3x3 input with a
4x4 kernel and stride 2 gives 1x1).  Those cases are checked on the formula
side only (the span really is negative) and never handed to Paddle.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc import formulas as f
from convcalc.errors import InvalidParameterError, ShapeError

# paddle.flops' own int(np.array(tensor)) warns on numpy >= 1.25; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:Conversion of an array with ndim > 0:DeprecationWarning")

DEFAULT_CONV, DEFAULT_POOL = 1300, 600  # 2,500 shape cases (>= 2,000 compared with Paddle)
LONG_CONV, LONG_POOL = 50_000, 25_000  # 100,000 with --long
FLOPS_EXAMPLES = 150


@pytest.fixture(scope="module")
def paddle():
    paddle = pytest.importorskip("paddle")
    paddle.set_device("cpu")
    return paddle


def _budget(request, default: int, long: int) -> int:
    return long if request.config.getoption("--long") else default


def _settings(n: int):
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# ------------------------------------------------------------------ padding forms
small = st.integers(0, 4)


@st.composite
def paddings(draw):
    """(paddle form, per-axis formula forms (height, width))."""
    kind = draw(st.sampled_from(["int", "pair", "four", "nested", "SAME", "VALID"]))
    if kind == "int":
        p = draw(small)
        return p, (p, p)
    if kind == "pair":
        ph, pw = draw(small), draw(small)
        return [ph, pw], (ph, pw)
    if kind in ("four", "nested"):
        t, b, l_, r = (draw(small) for _ in range(4))
        form = [t, b, l_, r] if kind == "four" else [[0, 0], [0, 0], [t, b], [l_, r]]
        return form, ((t, b), (l_, r))
    return kind, (kind, kind)


def _span(size, kernel, pad, dilation) -> int:
    """Padded input minus the dilated kernel (negative: kernel does not fit)."""
    k_eff = dilation * (kernel - 1) + 1
    if pad == "SAME":
        return 0
    if pad == "VALID":
        return size - k_eff
    before, after = pad if isinstance(pad, tuple) else (pad, pad)
    return size + before + after - k_eff


def _expected(fn, axes):
    """Formula output per axis, or the exception class it raised."""
    try:
        return tuple(int(fn(*a)) for a in axes)
    except ShapeError:
        return ShapeError
    except InvalidParameterError:
        return InvalidParameterError


def _paddle_shape(call):
    try:
        return tuple(call().shape[2:])
    except (ValueError, RuntimeError) as exc:  # Paddle's rejections
        return type(exc)


# ------------------------------------------------------------------ conv
@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    return dict(
        cin=groups * draw(st.integers(1, 2)),
        cout=groups * draw(st.integers(1, 2)),
        groups=groups,
        size=(draw(st.integers(1, 24)), draw(st.integers(1, 24))),
        kernel=(draw(st.integers(1, 6)), draw(st.integers(1, 6))),
        stride=(draw(st.integers(1, 4)), draw(st.integers(1, 4))),
        dilation=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        padding=draw(paddings()),
    )


def test_conv_output_size_matches_paddle(paddle, request):
    F = paddle.nn.functional
    n = _budget(request, DEFAULT_CONV, LONG_CONV)
    seen = {"paddle": 0, "filtered": 0}

    @_settings(n)
    @given(conv_cases())
    def check(c):
        paddle_pad, (pad_h, pad_w) = c["padding"]
        axes = [
            (c["size"][i], c["kernel"][i], c["stride"][i], (pad_h, pad_w)[i], c["dilation"][i])
            for i in range(2)
        ]
        expected = _expected(f.conv_output_size, axes)
        assert f.conv_params(c["cin"], c["cout"], c["kernel"], c["groups"]) > 0
        if expected is ShapeError:
            # documented filter: the kernel does not fit on some axis
            assert any(_span(m, k, p, d) < 0 for m, k, _, p, d in axes)
            seen["filtered"] += 1
            return
        x = paddle.zeros([1, c["cin"], *c["size"]])
        w = paddle.zeros([c["cout"], c["cin"] // c["groups"], *c["kernel"]])
        got = _paddle_shape(
            lambda: F.conv2d(x, w, stride=c["stride"], padding=paddle_pad,
                             dilation=c["dilation"], groups=c["groups"])
        )
        seen["paddle"] += 1
        assert got == expected, c

    check()
    print(f"conv2d shape cases: {seen}")  # shown with -s
    assert seen["paddle"] + seen["filtered"] >= 0.9 * n
    assert seen["paddle"] >= 0.5 * n


def test_conv_groups_paddle_rejects_formulas_reject(paddle):
    """groups not dividing the channels: Paddle refuses, so do the formulas."""
    F = paddle.nn.functional
    x = paddle.zeros([1, 3, 8, 8])
    with pytest.raises(ValueError):
        F.conv2d(x, paddle.zeros([4, 1, 3, 3]), groups=2)
    with pytest.raises(InvalidParameterError, match="does not divide"):
        f.conv_params(3, 4, 3, groups=2)


# ------------------------------------------------------------------ pooling
@st.composite
def pool_cases(draw):
    return dict(
        size=(draw(st.integers(1, 20)), draw(st.integers(1, 20))),
        kernel=(draw(st.integers(1, 6)), draw(st.integers(1, 6))),
        stride=draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4)))),
        padding=draw(paddings()),
        ceil_mode=draw(st.booleans()),
    )


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_output_size_matches_paddle(paddle, request, mode):
    F = paddle.nn.functional
    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    n = _budget(request, DEFAULT_POOL, LONG_POOL)
    seen = {"paddle": 0, "filtered": 0, "both_refuse": 0}

    @_settings(n)
    @given(pool_cases())
    def check(c):
        paddle_pad, (pad_h, pad_w) = c["padding"]
        stride = c["stride"] if c["stride"] is not None else c["kernel"]
        axes = [
            (c["size"][i], c["kernel"][i], stride[i], (pad_h, pad_w)[i], c["ceil_mode"])
            for i in range(2)
        ]
        expected = _expected(f.pool_output_size, axes)
        if expected is ShapeError:
            assert any(_span(m, k, p, 1) < 0 for m, k, _, p, _ in axes)
            seen["filtered"] += 1
            return
        x = paddle.zeros([1, 1, *c["size"]])
        got = _paddle_shape(
            lambda: fn(x, list(c["kernel"]), c["stride"], paddle_pad, ceil_mode=c["ceil_mode"])
        )
        seen["paddle"] += 1
        if expected is InvalidParameterError:  # e.g. 'VALID' with ceil_mode
            assert got is ValueError, (c, got)
            seen["both_refuse"] += 1
            return
        assert got == expected, c

    check()
    print(f"{mode}_pool2d shape cases: {seen}")  # shown with -s
    assert seen["paddle"] + seen["filtered"] >= 0.9 * n
    assert seen["paddle"] >= 0.5 * n


def test_ceil_mode_has_no_pytorch_rule(paddle):
    """5x5, k2, s2, p1, ceil: Paddle keeps the 4th window that starts in the padding."""
    F = paddle.nn.functional
    got = F.max_pool2d(paddle.zeros([1, 1, 5, 5]), 2, 2, 1, ceil_mode=True).shape[2:]
    assert list(got) == [4, 4] == [f.pool_output_size(5, 2, 2, 1, ceil_mode=True)] * 2


def test_same_padding_ignores_dilation_like_paddle(paddle):
    """Under 'SAME' Paddle resets dilation to 1: an impulse spreads over 3x3, not 5x5."""
    F = paddle.nn.functional
    x = paddle.zeros([1, 1, 9, 9])
    x[0, 0, 4, 4] = 1.0
    y = F.conv2d(x, paddle.ones([1, 1, 3, 3]), padding="SAME", dilation=2).numpy()[0, 0]
    rows = [i for i in range(9) if y[i].any()]
    field = f.field_after(f.INPUT_FIELD, 3, 1, 1, f.effective_dilation("SAME", 2))
    assert len(rows) == field.size == 3


# ------------------------------------------------------------------ FLOPs vs paddle.flops
def _paddle_flops(paddle, layer, shape) -> int:
    net = paddle.nn.Sequential(layer)  # paddle.flops counts sub-layers only
    with contextlib.redirect_stdout(io.StringIO()):
        return int(paddle.flops(net, shape, print_detail=False))


@st.composite
def flop_cases(draw):
    kind = draw(
        st.sampled_from(["conv", "linear", "bn", "avgpool", "adaptive", "maxpool", "relu", "leaky"])
    )
    batch = draw(st.integers(1, 3))
    c = draw(st.integers(1, 6))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    case = dict(kind=kind, batch=batch, c=c, h=h, w=w)
    if kind == "conv":
        g = draw(st.integers(1, 3))
        case.update(
            cin=g * draw(st.integers(1, 3)), cout=g * draw(st.integers(1, 3)), groups=g,
            k=draw(st.integers(1, 3)), s=draw(st.integers(1, 3)), p=draw(st.integers(0, 2)),
            d=draw(st.integers(1, 2)), bias=draw(st.booleans()),
            h=draw(st.integers(7, 12)), w=draw(st.integers(7, 12)),
        )
    elif kind == "linear":
        case.update(fin=draw(st.integers(1, 40)), fout=draw(st.integers(1, 40)), bias=draw(st.booleans()))
    elif kind in ("avgpool", "maxpool"):
        k = draw(st.integers(1, 3))
        case.update(k=k, s=draw(st.integers(1, 3)), p=draw(st.integers(0, k // 2)),
                    ceil=draw(st.booleans()), h=draw(st.integers(3, 12)), w=draw(st.integers(3, 12)))
    elif kind == "adaptive":
        case.update(oh=draw(st.integers(1, h)), ow=draw(st.integers(1, w)))
    return case


@pytest.mark.usefixtures("flops_numpy")
def test_paddle_convention_flops_equal_paddle_flops(paddle, request):
    nn = paddle.nn
    n = FLOPS_EXAMPLES * (10 if request.config.getoption("--long") else 1)

    @_settings(n)
    @given(flop_cases())
    def check(c):
        b, ch, h, w = c["batch"], c["c"], c["h"], c["w"]
        kind = c["kind"]
        if kind == "conv":
            layer = nn.Conv2D(c["cin"], c["cout"], c["k"], c["s"], c["p"], c["d"], c["groups"],
                              bias_attr=None if c["bias"] else False)
            shape = [b, c["cin"], h, w]
            oh = f.conv_output_size(h, c["k"], c["s"], c["p"], c["d"])
            ow = f.conv_output_size(w, c["k"], c["s"], c["p"], c["d"])
            ours = f.conv_flops(oh, ow, c["cout"], c["cin"], c["k"], c["groups"], c["bias"], batch=b)
        elif kind == "linear":
            layer = nn.Linear(c["fin"], c["fout"], bias_attr=None if c["bias"] else False)
            shape = [b, c["fin"]]
            ours = f.linear_flops(c["fin"], c["fout"], batch=b, bias=c["bias"])
        elif kind == "bn":
            layer, shape = nn.BatchNorm2D(ch), [b, ch, h, w]
            ours = f.batchnorm_flops(b * ch * h * w)
        elif kind in ("avgpool", "maxpool"):
            cls = nn.AvgPool2D if kind == "avgpool" else nn.MaxPool2D
            layer, shape = cls(c["k"], c["s"], c["p"], ceil_mode=c["ceil"]), [b, ch, h, w]
            oh = f.pool_output_size(h, c["k"], c["s"], c["p"], c["ceil"])
            ow = f.pool_output_size(w, c["k"], c["s"], c["p"], c["ceil"])
            fn = f.avgpool_flops if kind == "avgpool" else f.maxpool_flops
            ours = fn(b * ch * oh * ow, c["k"])
        elif kind == "adaptive":
            layer, shape = nn.AdaptiveAvgPool2D((c["oh"], c["ow"])), [b, ch, h, w]
            ours = f.adaptive_avgpool_flops(h, w, c["oh"], c["ow"], ch, batch=b)
        elif kind == "relu":
            layer, shape = nn.ReLU(), [b, ch, h, w]
            ours = f.activation_flops(b * ch * h * w)
        else:
            layer, shape = nn.LeakyReLU(), [b, ch, h, w]
            ours = f.activation_flops(b * ch * h * w, counted_by_paddle=True)
        assert int(ours) == _paddle_flops(paddle, layer, shape), c

    check()


@pytest.mark.usefixtures("flops_numpy")
def test_seed_numbers_are_what_paddle_flops_says(paddle):
    """The book's 151,200 (5.21) and LeNet's first row, straight from paddle.flops."""
    nn = paddle.nn
    assert _paddle_flops(paddle, nn.Conv2D(3, 6, 3), [1, 3, 32, 32]) == f.conv_flops(30, 30, 6, 3, 3) == 151200
    assert _paddle_flops(paddle, nn.AdaptiveAvgPool2D((3, 2)), [1, 5, 7, 5]) == f.adaptive_avgpool_flops(
        7, 5, 3, 2, 5
    )
