"""Fair grading (issue 11 point 3): shapes need channels, one bad answer loses only itself, tables.

Expected numbers are worked by hand in the comments or typed from the book
(chapter 5's paddle.summary table of LeNet); none is copied from convcalc.
"""

from __future__ import annotations

import json

import pytest

from convcalc.cli import main
from convcalc.homework import grade_homework, parse_text

# The book's paddle.summary table of Paddle_LeNet at 1x1x32x32, row names as printed in the book
# (paddle numbers layers across the whole process: Conv2D-22, not Conv2D-1).
SEED_SUMMARY_ROWS = [
    ("Conv2D-22", [1, 6, 28, 28], 156, 122304),
    ("MaxPool2D-4", [1, 6, 14, 14], 0, 0),
    ("Conv2D-23", [1, 16, 10, 10], 2416, 241600),
    ("AvgPool2D-4", [1, 16, 5, 5], 0, 400),
    ("Conv2D-24", [1, 120, 1, 1], 48120, 48120),
    ("Linear-11", [1, 84], 10164, 10080),
    ("Linear-12", [1, 10], 850, 840),
]
LENET_HEAD = """
[[question]]
id = "lenet"
model = "book_paddle_lenet"
input = "1x1x32x32"
ask = ["rows"]
"""
MODEL_CACHE: dict = {}


def grade(text: str):
    return grade_homework(parse_text(text, "answers.toml"), model_cache=MODEL_CACHE)


def field(result, qid: str, name: str):
    q = next(q for q in result.questions if q.id == qid)
    return next(f for f in q.fields if f.name == name)


def rows_text(rows) -> str:
    out = ""
    for label, shape, params, flops in rows:
        out += f'\n[[question.answer.rows]]\nlayer = "{label}"\noutput_shape = {shape}\n'
        out += f"params = {params}\nflops = {flops}\n"
    return out


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def conv_question(inp: str, answer: str, layer: str = '{ kind = "conv2d", out_channels = 6, kernel = 5 }') -> str:
    return f'[[question]]\nid = "q"\ninput = "{inp}"\nlayer = {layer}\n[question.answer]\n{answer}\n'


# --------------------------------------------------------------------------- shapes


def test_shape_without_its_channels_is_wrong():
    # 1x32x32, 6 kernels 5x5: 6x28x28 (seed LeNet C1).  [28, 28] leaves out the 6 maps.
    r = grade(conv_question("1x32x32", "output_shape = [28, 28]"))
    f = field(r, "q", "output_shape")
    assert f.status == "wrong" and f.expected == (6, 28, 28)
    assert f.hint.startswith("the channels are missing")


def test_shape_with_batch_as_paddle_prints_it_is_right():
    r = grade(conv_question("1x32x32", "output_shape = [1, 6, 28, 28]"))
    f = field(r, "q", "output_shape")
    assert f.correct and "batch" in f.note


def test_batched_question_accepts_the_shape_without_batch_but_not_without_channels():
    r = grade(conv_question("1x1x32x32", "output_shape = [6, 28, 28]"))
    assert field(r, "q", "output_shape").correct
    r = grade(conv_question("1x1x32x32", "output_shape = [28, 28]"))
    assert field(r, "q", "output_shape").status == "wrong"


# --------------------------------------------------------------------------- one bad answer loses only itself

CONV = '{ kind = "conv2d", out_channels = 6, kernel = 3 }'  # on 3x32x32: params 168, flops 151200 (book eq. 5.20, 5.21)
INVALID_ANSWERS = [
    ("string", 'params = "168"', "params", ["expected a number", "the string '168'", "write e.g. params = 168"]),
    ("misspelt", "paramz = 168", "params", ["unknown field 'paramz'", "did you mean 'params'"]),
    ("bool", "params = true", "params", ["expected a number"]),
    ("nan", "params = nan", "params", ["not a finite number"]),
    ("huge_float", "params = 1e300", "params", ["too large"]),
    ("huge_int", "params = 100000000000000000000000000000", "params", ["too large"]),
    ("5000_digits", "params = " + "9" * 5000, "params", ["too large", "5000 digits"]),
]


@pytest.mark.parametrize("name,answer,field_name,needles", INVALID_ANSWERS, ids=[c[0] for c in INVALID_ANSWERS])
def test_an_invalid_answer_is_shown_and_the_rest_is_graded(tmp_path, capsys, name, answer, field_name, needles):
    path = tmp_path / f"{name}.toml"
    path.write_text(conv_question("3x32x32", answer + "\nflops = 151200", CONV))
    code, out, err = run_cli(["check", path], capsys)
    assert code == 2 and err == ""  # an invalid answer: exit 2, but a report, not a traceback
    line = next(ln for ln in out.splitlines() if "invalid answer" in ln)
    assert line.lstrip().startswith("✗ params")
    assert f"{name}.toml line 6" in line
    for needle in needles:
        assert needle in line, (needle, line)
    assert "✓ flops (paddle)       151,200" in out
    assert "Score: 0.5 / 1" in out
    # --json: still JSON, exit 2, with an error code
    code, out, _ = run_cli(["check", path, "--json"], capsys)
    data = json.loads(out)
    assert code == 2 and data["schema_version"] >= 2 and data["score"] == 0.5
    (error,) = data["errors"]
    assert error["line"] == 6 and error["code"] in ("wrong_type", "unknown_field", "not_finite", "too_large")


def test_5000_digit_number_exit_2_in_every_mode(tmp_path, capsys):
    answers = tmp_path / "a.toml"
    answers.write_text(conv_question("3x32x32", "params = " + "1" * 5000, CONV))
    questions = tmp_path / "q.toml"
    questions.write_text(f'[[question]]\nid = "q"\ninput = "3x32x32"\nlayer = {CONV}\nask = ["params"]\n')
    student = tmp_path / "s.toml"
    student.write_text('[[question]]\nid = "q"\n[question.answer]\nparams = ' + "1" * 5000 + "\n")
    for argv in ([answers], [answers, "--json"], [student, "--questions", questions]):
        code, out, err = run_cli(["check", *argv], capsys)
        assert code == 2 and "Traceback" not in out + err and "too large" in out
    subs = tmp_path / "class"
    subs.mkdir()
    (subs / "s.toml").write_text(student.read_text())
    code, out, _ = run_cli(["check", subs, "--questions", questions], capsys)
    assert code == 3 and "too large" in out


def test_unknown_question_id_is_an_invalid_answer_and_the_rest_is_graded(tmp_path, capsys):
    questions = tmp_path / "questions.toml"
    questions.write_text(f'[[question]]\nid = "q"\ninput = "3x32x32"\nlayer = {CONV}\nask = ["params"]\n')
    student = tmp_path / "student.toml"
    student.write_text(
        '[[question]]\nid = "q"\n[question.answer]\nparams = 168\n\n'
        '[[question]]\nid = "bonus"\n[question.answer]\nparams = 1\n'
    )
    code, out, _ = run_cli(["check", student, "--questions", questions], capsys)
    assert code == 2
    assert "✓ params" in out and "Score: 1 / 1" in out
    assert "question id 'bonus' is not in" in out and "student.toml line 6" in out and "use the ids" in out


def test_misspelt_question_field_in_a_student_file_is_an_invalid_answer(tmp_path, capsys):
    questions = tmp_path / "questions.toml"
    questions.write_text(f'[[question]]\nid = "q"\ninput = "3x32x32"\nlayer = {CONV}\nask = ["params", "flops"]\n')
    student = tmp_path / "student.toml"
    student.write_text('[[question]]\nid = "q"\nanwser = { params = 168 }\n')
    code, out, _ = run_cli(["check", student, "--questions", questions], capsys)
    assert code == 2 and "unknown field 'anwser'" in out and "did you mean 'answer'" in out


# --------------------------------------------------------------------------- per-layer tables


def test_table_labelled_with_the_seeds_paddle_summary_names_scores_full():
    r = grade(LENET_HEAD + rows_text(SEED_SUMMARY_ROWS))
    rows = field(r, "lenet", "rows")
    assert rows.correct and rows.points == 1 and len(rows.cells) == 21


def test_question_file_can_require_paths_or_summary_names():
    only_paths = LENET_HEAD.replace('ask = ["rows"]', 'ask = ["rows"]\nrow_labels = "path"')
    rows = field(grade(only_paths + rows_text(SEED_SUMMARY_ROWS)), "lenet", "rows")
    assert rows.points == 0 and "Conv2D-22" in rows.note and "conv1" in rows.note
    only_summary = LENET_HEAD.replace('ask = ["rows"]', 'ask = ["rows"]\nrow_labels = "summary"')
    by_path = [("conv1", [1, 6, 28, 28], 156, 122304)]
    rows = field(grade(only_summary + rows_text(by_path)), "lenet", "rows")
    assert rows.points == 0 and "conv1" in rows.note and "Conv2D-1" in rows.note


def test_table_partial_credit_per_cell():
    wrong = list(SEED_SUMMARY_ROWS)
    wrong[2] = ("Conv2D-23", [1, 16, 10, 10], 2400, 241600)  # conv3's biases forgotten: 1 of 21 cells
    rows = field(grade(LENET_HEAD + rows_text(wrong)), "lenet", "rows")
    assert rows.points == pytest.approx(20 / 21)
    bad = next(c for c in rows.cells if c.name == "conv3.params")
    assert bad.hint.startswith("bias forgotten: each of the P kernels")


# A propagated mistake: conv1's '+1' forgotten (27x27), then every later value follows from it.
# pool2: floor(27/2) = 13; conv3 on 6x13x13: 13-5+1 = 9, flops 9*9*16*(6*25+1) = 195696;
# pool4 (avg 2x2 s2) on 16x9x9: 4x4, flops 16*4*4 = 256.  conv5 (5x5) cannot follow a 4x4 map,
# so the student writes the rest as in the book.
PROPAGATED = [
    ("conv1", [1, 6, 27, 27], 156, 122304),
    ("pool2", [1, 6, 13, 13], 0, 0),
    ("conv3", [1, 16, 9, 9], 2416, 195696),
    ("pool4", [1, 16, 4, 4], 0, 256),
    ("conv5", [1, 120, 1, 1], 48120, 48120),
    ("linear6", [1, 84], 10164, 10080),
    ("linear7", [1, 10], 850, 840),
]


def test_carried_forward_credit_when_the_question_enables_it():
    plain = field(grade(LENET_HEAD + rows_text(PROPAGATED)), "lenet", "rows")
    # Without carry-forward: conv1/pool2/conv3/pool4 shapes and conv3/pool4 flops are wrong: 15 of 21.
    assert sum(c.correct for c in plain.cells) == 15
    carry = LENET_HEAD.replace('ask = ["rows"]', 'ask = ["rows"]\ncarry_forward = true')
    rows = field(grade(carry + rows_text(PROPAGATED)), "lenet", "rows")
    cells = {c.name: c for c in rows.cells}
    assert cells["conv1.output_shape"].status == "wrong"  # the mistake itself still costs its cell
    for name in ("pool2.output_shape", "conv3.output_shape", "conv3.flops", "pool4.output_shape", "pool4.flops"):
        assert cells[name].correct and "carried forward" in cells[name].note, name
    assert rows.points == pytest.approx(20 / 21)


def test_a_bad_table_cell_loses_only_that_cell():
    rows = list(SEED_SUMMARY_ROWS)
    text = LENET_HEAD + rows_text(rows).replace("params = 2416", 'params = "2416"')
    result = grade(text)
    table = field(result, "lenet", "rows")
    cells = {c.name: c for c in table.cells}
    assert cells["conv3.params"].status == "invalid" and "expected a number" in cells["conv3.params"].invalid.message
    assert sum(c.correct for c in table.cells) == 20 and result.has_invalid


def test_answer_key_with_summary_labels_grades_itself(tmp_path, capsys):
    questions = tmp_path / "q.toml"
    questions.write_text(LENET_HEAD.replace('ask = ["rows"]', 'ask = ["rows"]\nrow_labels = "summary"'))
    key = tmp_path / "key.toml"
    assert main(["check", str(questions), "--answer-key", str(key)]) == 0
    text = key.read_text()
    assert 'row_labels = "summary"' in text and 'layer = "Conv2D-1"' in text and 'layer = "Linear-2"' in text
    assert main(["check", str(key)]) == 0
    capsys.readouterr()


def test_misspelt_setting_in_a_student_file_is_shown_and_the_answers_graded(tmp_path, capsys):
    questions = tmp_path / "questions.toml"
    questions.write_text(f'[[question]]\nid = "q"\ninput = "3x32x32"\nlayer = {CONV}\nask = ["params"]\n')
    student = tmp_path / "student.toml"
    student.write_text('[homework]\nstudnet = "Li Lei"\n\n[[question]]\nid = "q"\n[question.answer]\nparams = 168\n')
    code, out, _ = run_cli(["check", student, "--questions", questions], capsys)
    assert code == 2 and "✓ params" in out
    assert "unknown field 'studnet'" in out and "did you mean 'student'" in out and "student.toml line 2" in out
