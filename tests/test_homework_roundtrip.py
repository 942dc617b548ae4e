"""One answer grammar, proven by round trip: whatever ``--answer-key`` writes, the grader accepts.

For question files drawn over every layer kind and option (per-axis kernels, strides and
dilations, every padding form, groups, ceil_mode, no-bias convolutions, non-square inputs,
batched inputs, every answer field, tolerances, texts with control characters), the key is
written, read back as a full file and as a student's file against the questions, and graded:
100 % every time.  Model questions (2-D with activations and a ceil_mode pool, a field that
differs per axis, 1-D and 3-D models) are a fixed list: they import paddle.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convcalc.errors import AnswerFileError
from convcalc.homework.answers.schema import merge_answers, parse_text
from convcalc.homework.grading.answer_key import answer_key_text, toml_string
from convcalc.homework.grading.grade import grade_homework
from convcalc.homework.spec import LAYER_FIELDS

DATA = Path(__file__).parent / "data" / "homework"

small = st.integers(1, 4)


def _pair(draw, values):
    if draw(st.booleans()):
        return str(draw(values))
    return f"[{draw(values)}, {draw(values)}]"


@st.composite
def conv(draw, channels: int) -> tuple[str, int]:
    groups = draw(st.sampled_from([g for g in (1, 2, 4) if channels % g == 0]))
    out = groups * draw(st.integers(1, 3))
    parts = ['kind = "conv2d"', f"out_channels = {out}", f"kernel = {_pair(draw, st.integers(1, 3))}"]
    if draw(st.booleans()):
        parts.append(f"stride = {_pair(draw, st.integers(1, 3))}")
    padding = draw(
        st.one_of(
            st.none(),
            st.integers(0, 2).map(str),
            st.sampled_from(['"SAME"', '"VALID"']),
            st.lists(st.integers(0, 2), min_size=4, max_size=4).map(lambda v: "[" + ", ".join(map(str, v)) + "]"),
        )
    )
    if padding is not None:
        parts.append(f"padding = {padding}")
    if draw(st.booleans()):
        parts.append(f"dilation = {_pair(draw, st.integers(1, 2))}")
    if groups > 1:
        parts.append(f"groups = {groups}")
    if draw(st.booleans()):
        parts.append("bias = false")
    return "{ " + ", ".join(parts) + " }", out


@st.composite
def pool(draw) -> str:
    kernel = draw(st.integers(1, 3))
    parts = ['kind = "pool2d"', f"kernel = {kernel}", f'mode = "{draw(st.sampled_from(["max", "avg"]))}"']
    if draw(st.booleans()):
        parts.append(f"stride = {draw(st.integers(1, 3))}")
    if draw(st.booleans()):
        parts.append(f"padding = {draw(st.integers(0, kernel // 2))}")
    if draw(st.booleans()):
        parts.append("ceil_mode = true")
    return "{ " + ", ".join(parts) + " }"


hostile_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@st.composite
def layer_question(draw, index: int) -> str:
    channels = draw(st.sampled_from([1, 2, 4]))
    h, w = draw(st.integers(6, 20)), draw(st.integers(6, 20))
    batch = draw(st.sampled_from(["", "2x", "1x"]))
    layers = []
    c = channels
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 3)):
            text, c = draw(conv(c))
        elif draw(st.booleans()):
            text = draw(pool())
        else:
            text = '{ kind = "batchnorm" }'
        layers.append(text)
    last_linear = draw(st.integers(0, 4)) == 0
    if last_linear:
        layers.append(f'{{ kind = "linear", out_features = {draw(small)}, bias = {str(draw(st.booleans())).lower()} }}')
    fields = ["output_shape", "params", "params_trainable", "flops"]
    if not last_linear:
        fields += ["output_height", "output_width", "rf", "rf_jump", "rf_start"]
    ask = draw(st.lists(st.sampled_from(fields), min_size=1, unique=True))
    convention = draw(st.sampled_from(["paddle", "macs", "flops"]))
    lines = [
        "[[question]]",
        f"id = {toml_string(draw(hostile_text) + str(index))}",
        f"text = {toml_string(draw(hostile_text))}",
        f"points = {draw(st.sampled_from([1, 2, 0.5, 3]))}",
        f"partial = {str(draw(st.booleans())).lower()}",
        f'input = "{batch}{channels}x{h}x{w}"',
        "layers = [" + ", ".join(layers) + "]",
        f'convention = "{convention}"',
        "ask = [" + ", ".join(f'"{a}"' for a in ask) + "]",
    ]
    if draw(st.booleans()):
        lines.append('tolerance = { flops = "1%" }')
    return "\n".join(lines) + "\n"


@st.composite
def question_file(draw) -> str:
    head = f"[homework]\ntitle = {toml_string(draw(hostile_text))}\n\n"
    return head + "\n".join(draw(layer_question(i)) for i in range(draw(st.integers(1, 3))))


def _grade_key(questions_text: str, path: str, allow_code: bool = False) -> None:
    """The key of a question file scores 100 % as a full file and as a student's file against the questions."""
    questions = parse_text(questions_text, path)
    key = answer_key_text(questions, allow_code=allow_code)
    tomllib.loads(key)  # valid TOML, whatever the texts hold
    full = grade_homework(parse_text(key, path), allow_code=allow_code)
    student = grade_homework(
        merge_answers(questions, parse_text(key, path, require_config=False)), allow_code=allow_code
    )
    for result in (full, student):
        wrong = [
            (q.id, f.name, f.status, f.expected, f.given, f.invalid)
            for q in result.questions
            for f in q.fields
            if not f.correct
        ] + [(q.id, q.error) for q in result.questions if q.error]
        assert not wrong, (key, wrong)
        assert not result.has_invalid
        assert result.score == pytest.approx(result.max_score)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question_file())
def test_the_key_of_any_layer_question_file_scores_100_percent(text):
    try:
        parse_text(text, "<drawn>")
    except AnswerFileError:
        assume(False)  # a stack that does not fit its input is a file error: draw again
    _grade_key(text, "<drawn>")


MODEL_QUESTIONS = {
    # a 2-D net: ReLU, a ceil_mode pool, a no-bias conv, Flatten, Linear; rows by path and by summary name
    "week6-path": ('model = "models/week6_net.py:Net"\ninput = "1x3x15x15"', "path", True),
    "week6-summary": ('model = "models/week6_net.py:Net"\ninput = "1x3x15x15"', "summary", False),
    # a field, jump and start that differ per axis
    "per-axis": ('model = "models/models_nd.py:NetRF"\ninput = "1x1x9x9"', "either", False),
    "1-D": ('model = "models/models_nd.py:Net1D"\ninput = "1x2x16"', "path", True),
    "3-D": ('model = "models/models_nd.py:Net3D"\ninput = "1x1x6x9x8"', "either", False),
    "zoo": ('model = "book_lenet"\ninput = "1x1x32x32"', "summary", True),
}


@pytest.mark.parametrize("name", MODEL_QUESTIONS)
def test_the_key_of_a_model_question_scores_100_percent(name):
    spec, labels, carry = MODEL_QUESTIONS[name]
    text = (
        f'[[question]]\nid = "{name}"\n{spec}\nask = ["rows", "output_shape", "params", "params_trainable", "flops"]\n'
        f'row_fields = ["output_shape", "params", "flops", "rf"]\nrow_labels = "{labels}"\n'
        f"carry_forward = {str(carry).lower()}\n"
    )
    _grade_key(text, str(DATA / "roundtrip.toml"), allow_code=True)


def test_a_per_axis_model_row_keys_a_list_and_reads_it_back():
    text = '[[question]]\nid = "m"\nmodel = "models/models_nd.py:NetRF"\ninput = "1x1x9x9"\nask = ["rows"]\n'
    text += 'row_fields = ["rf"]\n'
    key = answer_key_text(parse_text(text, str(DATA / "roundtrip.toml")), allow_code=True)
    rows = tomllib.loads(key)["question"][0]["answer"]["rows"]
    # by hand: conv1 (3x1, stride (2, 1)) -> [3, 1]; conv2 (1x3) adds (3-1)*1 on width -> [3, 3]; relu keeps it
    assert [r["rf"] for r in rows] == [[3, 1], 3, 3]


# --------------------------------------------------------------------------- per-axis answers, by hand

FACT = """
[[question]]
id = "fact"
input = "8x16x16"
layers = [
    { kind = "conv2d", out_channels = 8, kernel = [3, 1], stride = [2, 1], padding = [1, 1, 0, 0], bias = false },
    { kind = "conv2d", out_channels = 8, kernel = [1, 3], padding = [0, 0, 1, 1], bias = false },
]
ask = ["rf", "rf_jump"]
"""


def _fields(answer: str) -> dict:
    questions = parse_text(FACT, "q.toml")
    student = parse_text(f'[[question]]\nid = "fact"\n[question.answer]\n{answer}\n', "a.toml", require_config=False)
    result = grade_homework(merge_answers(questions, student))
    return {f.name: f for f in result.questions[0].fields}


@pytest.mark.parametrize(
    "jump",
    ["[2, 1]", "{ h = 2, w = 1 }", "{ H = 2, W = 1 }", "{ height = 2, width = 1 }", "{ w = 1, h = 2 }"],
)
def test_a_per_axis_jump_as_a_list_or_a_table_is_right(jump):
    # by hand: stride 2 down the height, 1 across: jump [2, 1]; rf 3 on both axes
    fields = _fields(f"rf = 3\nrf_jump = {jump}")
    assert fields["rf_jump"].correct and fields["rf"].correct


@pytest.mark.parametrize("rf", ["[3, 3]", "{ h = 3, w = 3 }", "3"])
def test_a_field_where_the_axes_agree_is_right_as_a_number_or_per_axis(rf):
    assert _fields(f"rf = {rf}")["rf"].correct


def test_one_number_where_the_axes_differ_is_wrong_with_a_hint_naming_the_axes():
    f = _fields("rf_jump = 2")["rf_jump"]
    assert f.status == "wrong"
    assert "differs per axis (height, width)" in f.hint and "rf_jump = [h, w]" in f.hint


@pytest.mark.parametrize("jump", ["{ h = 2 }", "[2, 1, 1]", "{ h = 2, x = 1 }"])
def test_a_per_axis_answer_with_the_wrong_axes_is_invalid_with_the_fix(jump):
    f = _fields(f"rf_jump = {jump}")["rf_jump"]
    assert f.status == "invalid"
    assert "h = " in f.invalid.fix and "[" in f.invalid.fix


@pytest.mark.parametrize(
    "shape", ['"8×8×16"', '"8 × 8 × 16"', '"８ｘ８ｘ１６"', '"[8, 8, 16]"', '"8x8x16"', "[8, 8, 16]"]
)
def test_every_shape_notation_the_docs_use_is_read(shape):
    questions = parse_text(FACT.replace('ask = ["rf", "rf_jump"]', 'ask = ["output_shape"]'), "q.toml")
    student = parse_text(
        f'[[question]]\nid = "fact"\n[question.answer]\noutput_shape = {shape}\n', "a.toml", require_config=False
    )
    assert grade_homework(merge_answers(questions, student)).all_correct


@pytest.mark.parametrize("shape", ['"8x8x16²"', '"8x8x"', '"8x-8x16"', '"8.0x8x16"'])
def test_a_malformed_shape_is_an_invalid_answer_never_a_traceback(shape):
    student = parse_text(
        f'[[question]]\nid = "fact"\n[question.answer]\noutput_shape = {shape}\n', "a.toml", require_config=False
    )
    (bad,) = student.questions[0].invalid
    assert bad.code == "malformed"


def test_a_text_with_del_and_escapes_writes_a_valid_key():
    text = '[homework]\ntitle = "del \\u007F esc \\u001b[2K"\n[[question]]\nid = "q\\u0085"\n'
    text += 'text = "a \\"quoted\\" \\\\ text\\u009b"\ninput = "3x8x8"\nlayer = { kind = "conv2d", out_channels = 2, '
    text += 'kernel = 3 }\nask = ["params"]\n'
    hw = parse_text(text, "q.toml")
    key = answer_key_text(hw)
    data = tomllib.loads(key)
    assert data["homework"]["title"] == hw.title and data["question"][0]["text"] == hw.questions[0].text
    _grade_key(text, "q.toml")


def test_every_layer_answer_field_is_in_the_round_trip():
    # the strategy above asks each of them; a field added to LAYER_FIELDS must be added there too
    assert set(LAYER_FIELDS) == {
        "output_shape",
        "output_height",
        "output_width",
        "params",
        "params_trainable",
        "flops",
        "rf",
        "rf_jump",
        "rf_start",
    }


def test_the_example_key_scores_100_percent():
    path = Path(__file__).parents[1] / "examples" / "homework" / "chapter5_questions.toml"
    _grade_key(path.read_text(encoding="utf-8"), str(path))
