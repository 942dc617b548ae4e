"""Gradebook and autograders (issue 11 point 5) and the one-way homework package (point 7)."""

from __future__ import annotations

import ast
import csv
import json
import os
from pathlib import Path

import pytest

from convcalc.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONV = '{ kind = "conv2d", out_channels = 6, kernel = 3 }'  # on 3x32x32: 6x30x30, 168 params, 151200 FLOPs (seed)
QUESTIONS = f"""
[[question]]
id = "c"
points = 3
input = "3x32x32"
layer = {CONV}
ask = ["output_shape", "params", "flops"]
"""


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def student(params: int = 168, flops: int = 151200, head: str = "") -> str:
    answer = f"output_shape = [6, 30, 30]\nparams = {params}\nflops = {flops}\n"
    return f'{head}\n[[question]]\nid = "c"\n[question.answer]\n{answer}'


@pytest.fixture
def klass(tmp_path):
    q = tmp_path / "questions.toml"
    q.write_text(QUESTIONS)
    subs = tmp_path / "subs"
    subs.mkdir()
    return q, subs


def read_book(path: Path) -> dict[str, dict]:
    return {r["student_id"]: r for r in csv.DictReader(path.open(encoding="utf-8-sig"))}


def test_student_id_from_file_or_name_and_invalid_files_count_as_zero(klass, tmp_path, capsys):
    q, subs = klass
    (subs / "alice.toml").write_text(student(head='[homework]\nstudent_id = "2024001"\nstudent = "Alice"'))
    (subs / "bob.toml").write_text(student(params=162))
    (subs / "carol.toml").write_text("this is not toml [[[")
    book = tmp_path / "grades.csv"
    code, out, _ = run_cli(["check", subs, "--questions", q, "--gradebook", book], capsys)
    assert code == 3  # an invalid file
    rows = read_book(book)
    assert set(rows) == {"2024001", "bob", "carol"}
    assert rows["2024001"]["score"] == "3" and rows["2024001"]["student"] == "Alice"
    assert rows["bob"]["score"] == "2" and rows["bob"]["c.params"] == "0" and rows["bob"]["c.flops"] == "1"
    assert rows["carol"]["status"] == "invalid" and rows["carol"]["score"] == "0"
    assert "not valid TOML" in rows["carol"]["reason"]
    # mean over all three files, carol's 0 included: (3 + 2 + 0) / 3
    assert "Mean score: 1.67 / 3" in out


def test_wrong_answers_exit_1_and_invalid_answers_exit_3(klass, capsys):
    q, subs = klass
    (subs / "bob.toml").write_text(student(params=162))
    code, _, _ = run_cli(["check", subs, "--questions", q], capsys)
    assert code == 1
    (subs / "dave.toml").write_text(student().replace("params = 168", 'params = "168"'))
    code, out, _ = run_cli(["check", subs, "--questions", q], capsys)
    assert code == 3 and "dave.toml" in out and "expected a number" in out


def test_per_field_fractions_for_tables(tmp_path, capsys):
    # LeNet's 21 cells (7 layers x 3 columns) with conv3's params wrong (2400, biases forgotten): 20/21.
    subs = tmp_path / "subs"
    subs.mkdir()
    seed = (ROOT / "examples" / "homework" / "chapter5_key.toml").read_text()
    (subs / "s.toml").write_text(seed.replace("params = 2416", "params = 2400"))
    book = tmp_path / "g.csv"
    run_cli(["check", subs, "--gradebook", book], capsys)
    (row,) = read_book(book).values()
    assert row["lenet.rows"] == f"{20 / 21:.3f}" == "0.952"
    assert row["lenet.params"] == "1"


def test_excel_gradebook_has_a_bom_and_files_follow_the_umask(klass, tmp_path, capsys):
    q, subs = klass
    (subs / "wf.toml").write_text(student(head='[homework]\nstudent = "王芳"'), encoding="utf-8")
    book = tmp_path / "grades.csv"
    old = os.umask(0o022)
    try:
        run_cli(["check", subs, "--questions", q, "--gradebook", book, "--excel"], capsys)
    finally:
        os.umask(old)
    data = book.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert read_book(book)["wf"]["student"] == "王芳"
    assert (book.stat().st_mode & 0o777) == 0o644


def test_toml_matched_case_insensitively_and_skipped_files_listed(klass, capsys):
    q, subs = klass
    (subs / "Upper.TOML").write_text(student())
    (subs / "answers.toml.txt").write_text(student())
    code, out, _ = run_cli(["check", subs, "--questions", q, "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["graded"] == 1 and data["students"][0]["path"].endswith("Upper.TOML")
    assert [Path(p).name for p in data["skipped"]] == ["answers.toml.txt"]
    _, out, _ = run_cli(["check", subs, "--questions", q], capsys)
    assert "Skipped 1 file(s)" in out and "answers.toml.txt" in out


def test_line_numbers_name_their_file(klass, tmp_path, capsys):
    q, _ = klass
    answers = tmp_path / "mine.toml"
    answers.write_text('[[question]]\nid = "c"\n[question.answer]\nparams = 162\n')
    code, out, _ = run_cli(["check", answers, "--questions", q, "--no-derivation"], capsys)
    assert code == 1
    params = next(ln for ln in out.splitlines() if "params" in ln and "✗" in ln)
    assert "[mine.toml line 4]" in params
    missing = next(ln for ln in out.splitlines() if "flops" in ln and "✗" in ln)
    # the question is at line 2 of questions.toml (the student's file has no flops line)
    assert "no answer" in missing and "[question at questions.toml line 2]" in missing


def test_json_always_json_even_for_an_invalid_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\x00\x01")
    code, out, err = run_cli(["check", bad, "--json"], capsys)
    data = json.loads(out)
    assert code == 2 and err == ""
    assert data["schema_version"] >= 2 and data["status"] == "invalid_file"
    assert data["errors"][0]["code"] == "invalid_file" and "binary" in data["errors"][0]["message"]


def test_json_scores_are_rounded(tmp_path, capsys):
    answers = tmp_path / "a.toml"
    answers.write_text(QUESTIONS + "[question.answer]\noutput_shape = [6, 30, 30]\nparams = 162\nflops = 151200\n")
    answers.write_text(answers.read_text().replace("points = 3", "points = 1"))
    _, out, _ = run_cli(["check", answers, "--json"], capsys)
    data = json.loads(out)
    assert data["score"] == 0.6667  # 2 of 3 fields of a 1-point question


def test_feedback_levels_hide_expected_values_and_derivations(tmp_path, capsys):
    answers = tmp_path / "a.toml"
    answers.write_text(QUESTIONS + "[question.answer]\noutput_shape = [6, 30, 30]\nparams = 162\nflops = 151200\n")
    _, full, _ = run_cli(["check", answers], capsys)
    assert "expected 168" in full and "derivation" in full and "hint: bias forgotten" in full
    _, hints, _ = run_cli(["check", answers, "--feedback", "hints"], capsys)
    hints = hints.replace(str(tmp_path), "<tmp>")  # (pytest's folder may be pytest-168)
    assert "168" not in hints and "derivation" not in hints and "hint: bias forgotten" in hints
    assert "you wrote 162" in hints
    _, verdict, _ = run_cli(["check", answers, "--feedback", "verdict"], capsys)
    verdict = verdict.replace(str(tmp_path), "<tmp>")
    assert "168" not in verdict and "hint" not in verdict and "✗ params" in verdict
    _, js, _ = run_cli(["check", answers, "--json", "--feedback", "hints"], capsys)
    params = next(f for f in json.loads(js)["questions"][0]["fields"] if f["field"] == "params")
    assert "expected" not in params and "derivation" not in params and params["hint"].startswith("bias")
    assert "168" not in js.replace('"max_score"', "").replace(str(tmp_path), "<tmp>")


def test_gradescope_results_json(tmp_path, capsys):
    answers = tmp_path / "a.toml"
    answers.write_text(QUESTIONS + "[question.answer]\noutput_shape = [6, 30, 30]\nparams = 162\nflops = 151200\n")
    results = tmp_path / "results.json"
    code, _, _ = run_cli(["check", answers, "--gradescope", results, "--feedback", "hints"], capsys)
    data = json.loads(results.read_text())
    assert code == 1 and data["score"] == 2 and data["max_score"] == 3
    (test,) = data["tests"]
    assert set(test) == {"name", "score", "max_score", "output", "output_format", "visibility"}
    assert test["output_format"] == "text"  # Gradescope interprets nothing a student wrote
    assert test["score"] == 2 and test["max_score"] == 3 and "hint: bias forgotten" in test["output"]
    assert "168" not in test["output"].replace(str(tmp_path), "<tmp>")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[[")
    code, _, _ = run_cli(["check", bad, "--gradescope", results], capsys)
    data = json.loads(results.read_text())
    assert code == 2 and data["score"] == 0 and "not valid TOML" in data["output"]


# --------------------------------------------------------------------------- one-way package


def _homework_imports(path: Path) -> set[str]:
    """The homework modules ``path`` imports, by file stem (stems are unique across homework's folders)."""
    folder = ROOT / "convcalc" / "homework"
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("convcalc.homework"):
            base = folder.joinpath(*node.module.split(".")[2:])
            for alias in node.names:
                if base.joinpath(alias.name).with_suffix(".py").exists():  # from convcalc.homework.x import module
                    found.add(alias.name)
                elif base.with_suffix(".py").exists():  # from convcalc.homework.x.module import name
                    found.add(base.stem)
    return found - {path.stem}


def test_homework_package_imports_one_way():
    """Finer than the import contract (pyproject.toml): the order of the modules, not only of the folders."""
    folder = ROOT / "convcalc" / "homework"
    graph = {p.stem: _homework_imports(p) for p in folder.rglob("*.py") if p.stem != "__init__"}
    # No cycle, including imports inside functions: a topological order exists.
    order, done = [], set()
    while len(done) < len(graph):
        ready = [m for m, deps in graph.items() if m not in done and deps <= done | {"__init__"}]
        assert ready, {m: deps - done for m, deps in graph.items() if m not in done}
        done.update(ready)
        order.extend(ready)

    def reach(module: str) -> set[str]:
        seen, todo = set(), [module]
        while todo:
            for dep in graph.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    # file (source) -> schema -> compute -> grade -> gradebook; the data classes (spec) under all of them
    assert reach("spec") == set()
    assert reach("source") == {"spec"}
    assert reach("compute") == {"spec"}
    assert reach("schema") <= {"spec", "source", "values", "layers", "student", "compute"}
    for module in ("schema", "compute", "models", "rows", "marking", "match", "misconceptions", "results"):
        assert not reach(module) & {"grade", "gradebook"}, module
    assert {"schema", "compute", "misconceptions", "models"} <= reach("grade") and "grade" in reach("gradebook")
    assert len((folder / "answers" / "schema.py").read_text().splitlines()) < 450


def test_help_documents_the_exit_codes_and_flags(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    for needle in ("--feedback", "--gradescope", "--excel", "3 some file"):
        assert needle in out, needle


def test_gradescope_results_of_an_unreadable_file_have_the_questions_max_score(tmp_path, capsys):
    questions = tmp_path / "questions.toml"
    questions.write_text(QUESTIONS, encoding="utf-8")  # one question of 3 points
    bad = tmp_path / "bad.toml"
    bad.write_text("this is not [[ toml", encoding="utf-8")
    results = tmp_path / "results.json"
    code, _, _ = run_cli(["check", bad, "--questions", questions, "--gradescope", results], capsys)
    data = json.loads(results.read_text())
    assert code == 2 and data["score"] == 0 and data["max_score"] == 3 and data["tests"] == []
