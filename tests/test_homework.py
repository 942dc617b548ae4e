"""Homework checking: the answer-file format, grading with hints and derivations, class mode.

Expected numbers come from the book (chapter 5) or are worked by hand in the
comments; none is copied from convcalc's output.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from convcalc.cli import main
from convcalc.errors import AnswerFileError
from convcalc.homework import grade_homework, load_file, parse_text

DATA = Path(__file__).parent / "data" / "homework"
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "homework"

CONV_6x3 = """
[[question]]
id = "q"
input = "3x32x32"
layer = { kind = "conv2d", out_channels = 6, kernel = 3 }
"""


def grade(text: str):
    return grade_homework(parse_text(text, "answers.toml"))


def field(result, qid: str, name: str):
    q = next(q for q in result.questions if q.id == qid)
    return next(f for f in q.fields if f.name == name)


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- the book grades correct


def test_seed_layer_answers_grade_correct():
    hw = load_file(DATA / "seed_answers.toml")
    layer_only = hw.__class__(path=hw.path, title=hw.title, questions=tuple(q for q in hw.questions if not q.is_model))
    result = grade_homework(layer_only)
    wrong = [(q.id, f.name, f.expected, f.given) for q in result.questions for f in q.fields if not f.correct]
    assert wrong == []
    assert result.score == result.max_score == len(layer_only.questions)


def test_seed_answers_file_exit_0_with_lenet_model_question(capsys):
    # Includes the LeNet model question (paddle.summary / paddle.flops table of the book).
    code, out, _ = run_cli(["check", DATA / "seed_answers.toml", "--no-derivation"], capsys)
    assert code == 0, out
    assert "21/21 cells right" in out
    assert "✗" not in out


def test_model_question_rows_name_the_mistake():
    # LeNet's conv3: 16*6*5*5 + 16 = 2416 parameters; 2400 forgets the 16 biases.
    # Its paddle FLOPs 10*10*16*(6*5*5 + 1) = 241600; 240000 are the MACs.
    r = grade(
        """
[[question]]
id = "lenet"
model = "book_paddle_lenet"
input = "1x1x32x32"
ask = ["rows", "flops"]
row_fields = ["params", "flops"]
[question.answer]
flops = 416520
[[question.answer.rows]]
layer = "conv3"
params = 2400
flops = 240000
"""
    )
    rows = field(r, "lenet", "rows")
    cells = {c.name: c for c in rows.cells}
    assert rows.status == "wrong" and len(cells) == 14
    assert cells["conv3.params"].hint.startswith("bias forgotten")
    assert "16*6*5*5 + 16" in cells["conv3.params"].derivation
    # 240000 is both the MACs and the paddle FLOPs without the 16 biases; the student's
    # params also forgot the biases, so that explanation comes first.
    assert cells["conv3.flops"].hint.startswith("bias forgotten")
    assert "241,600" in cells["conv3.flops"].derivation
    assert cells["conv1.params"].status == "missing"
    total = field(r, "lenet", "flops")
    # MACs total: 423344 minus the conv biases (28*28*6 + 10*10*16 + 120) and the 400 of the
    # average pool (no multiply-accumulates) = 416520.
    assert total.expected == 423344 and total.status == "wrong"
    assert total.hint.startswith("MACs given")


def test_example_key_grades_correct_and_matches_the_seed(capsys):
    key = load_file(EXAMPLES / "chapter5_key.toml")
    answers = {q.id: dict(q.answer) for q in key.questions}
    assert answers["5.2.1.3"] == {"output_shape": (6, 30, 30), "params": 168, "flops": 151200}
    assert answers["5.1.3-kernel"]["flops"] == 8100
    assert answers["5.1.4-rf"] == {"rf": 5}
    assert answers["5.1.6-stride"] == {"output_height": 4, "output_width": 4}
    assert answers["lenet"] == {"params": 61706, "flops": 423344}
    layer_only = key.__class__(path=key.path, questions=tuple(q for q in key.questions if not q.is_model))
    assert grade_homework(layer_only).all_correct


# --------------------------------------------------------------------------- mistakes named, derivation shown


def test_off_by_one_is_wrong_with_hint_and_derivation():
    # 8x8, k3, p1, s2: floor((8 + 2 - 3)/2) + 1 = 4 (book §5.1.6); 3 forgets the + 1.
    r = grade(
        """
[[question]]
id = "stride"
input = "1x8x8"
layer = { kind = "conv2d", out_channels = 1, kernel = 3, stride = 2, padding = 1 }
[question.answer]
output_shape = [1, 3, 3]
output_height = 3
"""
    )
    shape = field(r, "stride", "output_shape")
    assert shape.status == "wrong" and shape.expected == (1, 4, 4)
    assert "off by one" in shape.hint and "+ 1" in shape.hint
    assert "floor((8 + 1 + 1 - 3)/2) + 1" in shape.derivation
    assert "book eq. 5.6" in shape.derivation
    height = field(r, "stride", "output_height")
    assert "off by one" in height.hint and height.expected == 4
    assert not r.all_correct and r.score == 0


def test_bias_forgotten_is_wrong_with_hint_and_derivation():
    # 6*3*3*3 = 162 without the + 6 biases (book eq. 5.20 gives 168).
    r = grade(CONV_6x3 + "[question.answer]\nparams = 162\nflops = 145800\n")
    params = field(r, "q", "params")
    assert params.status == "wrong" and params.expected == 168
    assert params.hint.startswith("bias forgotten")
    assert "6*3*3*3 + 6" in params.derivation and "168" in params.derivation
    # Params also forgot the bias, so for the FLOPs the bias is named first.
    assert field(r, "q", "flops").hint.startswith("bias forgotten")


def test_macs_given_where_paddle_flops_asked():
    # MACs = 30*30*6*27 = 145800; paddle (5.21) adds 30*30*6 = 5400 -> 151200.
    r = grade(CONV_6x3 + "[question.answer]\nparams = 168\nflops = 145800\n")
    flops = field(r, "q", "flops")
    assert flops.status == "wrong" and flops.expected == 151200
    assert flops.hint.startswith("MACs given where paddle-convention FLOPs were asked")
    assert "30*30*6*3*3*3 + 30*30*6" in flops.derivation
    assert "151,200" in flops.derivation
    assert field(r, "q", "params").correct


def test_paddle_flops_given_where_macs_asked():
    r = grade(CONV_6x3 + 'convention = "macs"\n[question.answer]\nflops = 151200\n')
    flops = field(r, "q", "flops")
    assert flops.expected == 145800
    assert flops.hint.startswith("paddle-convention FLOPs given where MACs were asked")
    assert "MACs" in flops.derivation


def test_swapped_height_and_width():
    # 3x28x32, k3: (28-3)+1 = 26 high, (32-3)+1 = 30 wide -> [6, 26, 30].
    r = grade(
        """
[[question]]
id = "rect"
input = "3x28x32"
layer = { kind = "conv2d", out_channels = 6, kernel = 3 }
[question.answer]
output_shape = [6, 30, 26]
output_height = 30
"""
    )
    shape = field(r, "rect", "output_shape")
    assert shape.status == "wrong" and shape.expected == (6, 26, 30)
    assert "height and width swapped" in shape.hint
    assert "floor((28 + 0 + 0 - 3)/1) + 1" in shape.derivation
    assert "floor((32 + 0 + 0 - 3)/1) + 1" in shape.derivation
    assert "swapped" in field(r, "rect", "output_height").hint


def test_receptive_field_strides_ignored():
    # conv k3 s2 then conv k3: r = 1 + 2*1 = 3, j = 2; r = 3 + 2*2 = 7.  Ignoring the jump gives 5.
    r = grade(
        """
[[question]]
id = "rf"
input = "1x32x32"
layers = [
    { kind = "conv2d", out_channels = 1, kernel = 3, stride = 2 },
    { kind = "conv2d", out_channels = 1, kernel = 3 },
]
[question.answer]
rf = 5
rf_jump = 2
"""
    )
    rf = field(r, "rf", "rf")
    assert rf.expected == 7 and rf.status == "wrong"
    assert "strides ignored" in rf.hint
    assert "r = 3 + (3 - 1)*2 = 7" in rf.derivation
    assert field(r, "rf", "rf_jump").correct


def test_missing_answer_is_wrong_without_a_hint():
    r = grade(CONV_6x3 + 'ask = ["params", "flops"]\n[question.answer]\nparams = 168\n')
    flops = field(r, "q", "flops")
    assert flops.status == "missing" and flops.given is None and flops.hint == ""
    assert "151,200" in flops.derivation


def test_batch_dimension_may_be_left_out():
    r = grade(
        """
[[question]]
id = "b"
input = "2x3x32x32"
layer = { kind = "conv2d", out_channels = 6, kernel = 3 }
[question.answer]
output_shape = [6, 30, 30]
flops = 302400
"""
    )
    # Batch 2 doubles the paddle FLOPs: 2 * 151200.
    assert field(r, "b", "output_shape").note == "batch dimension left out"
    assert r.all_correct


# --------------------------------------------------------------------------- tolerance and points


def test_tolerance_relative_and_absolute_and_points():
    r = grade(
        """
[homework]
tolerance = { flops = "1%" }

[[question]]
id = "q"
points = 4
input = "3x32x32"
layer = { kind = "conv2d", out_channels = 6, kernel = 3 }
tolerance = { params = 2 }
[question.answer]
flops = 150000
params = 170
output_shape = [6, 30, 31]
"""
    )
    # 150000 is 0.8% below 151200; 170 is within 2 of 168; the shape is wrong.
    assert field(r, "q", "flops").correct and field(r, "q", "flops").tolerance == "±1%"
    assert field(r, "q", "params").correct
    assert not field(r, "q", "output_shape").correct
    assert r.max_score == 4 and r.score == pytest.approx(4 * 2 / 3)


def test_partial_false_is_all_or_nothing():
    r = grade(CONV_6x3 + "points = 3\npartial = false\n[question.answer]\nparams = 168\nflops = 1\n")
    assert r.score == 0 and r.max_score == 3


# --------------------------------------------------------------------------- malformed files: exit 2


MALFORMED = [
    ("bad_toml", b'[[question]]\nid = "q"\nparams = \n', ["line 3", "not valid TOML"]),
    ("empty", b"", ["empty"]),
    ("only_comments", b"# nothing here\n", ["empty"]),
    ("binary", bytes(range(256)) * 4, ["binary"]),
    ("not_utf8", b'[[question]]\nid = "\xff\xfe"\n', ["line 2", "UTF-8"]),
    (
        "unknown_question_field",
        (CONV_6x3 + "colour = 1\n").encode(),
        ["line 6", "unknown field 'colour'", "allowed: id, text, points"],
    ),
    (
        "unknown_kind",
        b'[[question]]\ninput = "3x32x32"\nlayer = { kind = "conv3d", kernel = 3 }\nask = ["params"]\n',
        ["line 3", "unknown layer kind 'conv3d'", "conv2d"],
    ),
    (
        "unknown_layer_option",
        b'[[question]]\ninput = "3x32x32"\n'
        b'layer = { kind = "conv2d", out_channels = 6, kernel = 3, padd = 1 }\nask = ["params"]\n',
        ["line 3", "unknown field 'padd'", "padding"],
    ),
    (
        "huge_input",
        b'[[question]]\ninput = "3x999999999x32"\n'
        b'layer = { kind = "conv2d", out_channels = 6, kernel = 3 }\nask = ["params"]\n',
        ["line 2", "question[0].input", "out of range"],
    ),
    (
        "kernel_too_large",
        b'[[question]]\ninput = "3x4x4"\nlayer = { kind = "conv2d", out_channels = 6, kernel = 7 }\nask = ["params"]\n',
        ["line 3", "question[0].layer", "larger than the padded input"],
    ),
    ("no_questions", b'[homework]\ntitle = "x"\n', ["no questions"]),
    ("question_not_table", b"question = 5\n", ["expected [[question]]"]),
    ("unknown_top_level", b"[[questions]]\nid = 'q'\n", ["unknown field 'questions'", "did you mean 'question'"]),
    (
        "duplicate_id",
        (CONV_6x3 + "ask = ['params']\n" + CONV_6x3 + "ask = ['params']\n").encode(),
        ["used twice"],
    ),
    ("asks_nothing", CONV_6x3.encode(), ["asks nothing", "ask = "]),
    ("bad_ask", (CONV_6x3 + "ask = ['weights']\n").encode(), ["unknown field 'weights'"]),
    ("unknown_model", b'[[question]]\nmodel = "lenet5"\nask = ["params"]\n', ["line 2", "unknown zoo model 'lenet5'"]),
    (
        "bad_tolerance",
        (CONV_6x3 + 'tolerance = { flops = "lots" }\nask = ["flops"]\n').encode(),
        ["line 6", "malformed tolerance"],
    ),
    ("bad_convention", (CONV_6x3 + 'convention = "gflops"\nask = ["flops"]\n').encode(), ["unknown FLOPs convention"]),
    (
        "field_undefined_after_linear",
        b'[[question]]\ninput = "120"\nlayer = { kind = "linear", out_features = 84 }\nask = ["output_height"]\n',
        ["line 4", "question[0].ask", "'output_height' is not defined"],
    ),
    ("negative_points", (CONV_6x3 + "points = -1\nask = ['flops']\n").encode(), ["points"]),
]


@pytest.mark.parametrize("name,content,needles", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_files_exit_2_with_line_or_field(tmp_path, capsys, name, content, needles):
    path = tmp_path / f"{name}.toml"
    path.write_bytes(content)
    code, out, err = run_cli(["check", path], capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, no traceback
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_missing_file_and_folder_as_file(tmp_path, capsys):
    code, _, err = run_cli(["check", tmp_path / "nope.toml"], capsys)
    assert code == 2 and "no such file" in err
    code, _, err = run_cli(["check", tmp_path, "--answer-key", tmp_path / "k.toml"], capsys)
    assert code == 2 and "folder" in err


def test_library_raises_answer_file_error():
    with pytest.raises(AnswerFileError, match="unknown layer kind"):
        parse_text('[[question]]\ninput = "3x8x8"\nlayer = { kind = "conv" }\nask = ["params"]\n')


# --------------------------------------------------------------------------- nothing is executed


def test_model_file_in_answer_file_is_never_run(tmp_path, capsys):
    marker = tmp_path / "ran.txt"
    (tmp_path / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nimport paddle.nn as nn\nclass Net(nn.Layer):\n    pass\n"
    )
    answers = tmp_path / "answers.toml"
    answers.write_text('[[question]]\nmodel = "evil.py:Net"\ninput = "1x1x8x8"\n[question.answer]\nparams = 0\n')
    code, _, err = run_cli(["check", answers], capsys)
    assert code == 2
    assert "never runs code" in err and "--allow-code" in err
    assert not marker.exists()


def test_strings_that_look_like_code_are_only_data(tmp_path, capsys):
    marker = tmp_path / "ran.txt"
    answers = tmp_path / "answers.toml"
    answers.write_text(CONV_6x3 + f"[question.answer]\nparams = \"__import__('os').system('touch {marker}')\"\n")
    code, out, _ = run_cli(["check", answers], capsys)
    assert code == 2 and "expected a number" in out  # an invalid answer, shown in the report
    assert not marker.exists()


def test_layer_questions_do_not_import_paddle():
    # Grade a layer-only file: the chapter questions minus the model one.
    layer_only = DATA / "layer_only.toml"
    code = (
        "import sys\nfrom convcalc.cli import main\n"
        f"rc = main(['check', {str(layer_only)!r}, '--json'])\n"
        "assert rc == 0, rc\nassert 'paddle' not in sys.modules, 'paddle imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


# --------------------------------------------------------------------------- answer key


def test_answer_key_is_complete_correct_and_atomic(tmp_path, capsys):
    questions = tmp_path / "questions.toml"
    questions.write_text(
        """
[homework]
title = "keys"

[[question]]
id = "p"
text = "A 3x32x32 input and 6 kernels of 3x3"
points = 2
input = "3x32x32"
layer = { kind = "conv2d", out_channels = 6, kernel = 3 }
ask = ["output_shape", "params", "flops"]
tolerance = { flops = "1%" }

[[question]]
id = "rf"
input = "1x32x32"
layers = [{ kind = "conv2d", out_channels = 1, kernel = 3 }, { kind = "conv2d", out_channels = 1, kernel = 3 }]
ask = ["rf", "rf_start"]
"""
    )
    key = tmp_path / "key.toml"
    code, out, _ = run_cli(["check", questions, "--answer-key", key], capsys)
    assert code == 0 and "2 question(s), 5 answer field(s)" in out
    parsed = load_file(key)
    assert dict(parsed.questions[0].answer) == {"output_shape": (6, 30, 30), "params": 168, "flops": 151200}
    assert dict(parsed.questions[1].answer) == {"rf": 5, "rf_start": 2}  # start = 0 + 1 + 1
    assert parsed.questions[0].tolerance_for("flops").relative == pytest.approx(0.01)
    assert parsed.questions[0].points == 2 and parsed.questions[0].text.startswith("A 3x32x32")
    code, _, _ = run_cli(["check", key], capsys)
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.toml", "questions.toml"]


def test_answer_key_for_an_invalid_question_file_writes_nothing(tmp_path, capsys):
    questions = tmp_path / "q.toml"
    questions.write_text("[[question]]\nid = 3\n")
    code, _, err = run_cli(["check", questions, "--answer-key", tmp_path / "key.toml"], capsys)
    assert code == 2 and "question[0].id" in err
    assert not (tmp_path / "key.toml").exists()


# --------------------------------------------------------------------------- JSON and class mode


def test_json_output_for_autograders(capsys):
    code, out, _ = run_cli(["check", DATA / "mistakes.toml", "--json"], capsys)
    assert code == 1
    data = json.loads(out)
    q = {q["id"]: q for q in data["questions"]}
    params = next(f for f in q["conv"]["fields"] if f["field"] == "params")
    assert params["status"] == "wrong" and params["expected"] == 168 and params["given"] == 162
    assert params["hint"].startswith("bias forgotten") and "168" in params["derivation"]
    assert data["max_score"] == 3 and not data["all_correct"]


def test_class_mode_gradebook_and_summary(tmp_path, capsys):
    subs = tmp_path / "submissions"
    subs.mkdir()
    (subs / "alice.toml").write_text(
        (DATA / "layer_only.toml").read_text().replace('student = "key"', 'student = "alice"')
    )
    (subs / "bob.toml").write_text((DATA / "mistakes.toml").read_text())
    (subs / "carol.toml").write_bytes(b"\x00\x01junk")
    (subs / "dave.toml").write_text(CONV_6x3 + "[question.answer]\nparams = 'x'\n")
    book = tmp_path / "grades.csv"
    code, out, _ = run_cli(["check", subs, "--gradebook", book], capsys)
    assert code == 3  # some file invalid (carol) or with an unreadable answer (dave)
    assert "Graded 3 of 4 file(s); 1 invalid" in out
    assert "carol.toml" in out and "binary" in out
    rows = list(csv.DictReader(book.open()))
    by_file = {Path(r["file"]).name: r for r in rows}
    assert by_file["alice.toml"]["status"] == "graded" and by_file["alice.toml"]["percent"] == "100.0"
    assert by_file["bob.toml"]["conv.params"] == "0" and by_file["bob.toml"]["conv.output_shape"] == "1"
    assert by_file["carol.toml"]["status"] == "invalid" and "binary" in by_file["carol.toml"]["reason"]
    assert by_file["dave.toml"]["status"] == "invalid answers" and "line 7" in by_file["dave.toml"]["reason"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".grades")] == []


def test_class_mode_against_teacher_questions(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    # Answers only; the student also tries to change the layer (ignored: the teacher's wins).
    (subs / "erin.toml").write_text(
        '[homework]\nstudent = "erin"\n\n[[question]]\nid = "5.2.1.3"\n'
        'layer = { kind = "conv2d", out_channels = 1, kernel = 1 }\n'
        "[question.answer]\nparams = 168\nflops = 151200\noutput_shape = [6, 30, 30]\n"
    )
    (subs / "frank.toml").write_text('[[question]]\nid = "no-such"\n[question.answer]\nparams = 1\n')
    questions = DATA / "layer_only.toml"
    code, out, _ = run_cli(["check", subs, "--questions", questions, "--json"], capsys)
    data = json.loads(out)
    assert code == 3 and data["graded"] == 2 and data["invalid"] == 0 and data["with_invalid_answers"] == 1
    fields = {f["field"]: f for f in data["fields"]}
    assert fields["5.2.1.3.params"] == {"field": "5.2.1.3.params", "right": 1, "graded": 2}
    assert fields["5.1.4-rf.rf"]["right"] == 0  # unanswered
    frank = next(s for s in data["students"] if s["path"].endswith("frank.toml"))
    errors = frank["result"]["errors"]
    assert [e["code"] for e in errors] == ["unknown_question"] and "'no-such' is not in" in errors[0]["message"]


def test_gradebook_needs_a_folder(capsys):
    code, _, err = run_cli(["check", DATA / "mistakes.toml", "--gradebook", "x.csv"], capsys)
    assert code == 2 and "folder" in err


def test_help_has_examples(capsys):
    for cmd in ("check", "verify-op"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "example" in out and f"convcalc {cmd}" in out
