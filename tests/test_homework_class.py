"""A class of 30 answer files written from the docs by someone else than the grader's author, graded fairly.

``tests/data/homework/class/``: the teacher's ``questions.toml`` (7 questions, 23 points: a
non-square input, a factorised 3x1/1x3 stack whose jumps differ per axis, dilation, groups,
ceil_mode, a linear layer, the table of ``week6_net.py:Net`` with carry_forward) and the
students' files, each in their own notation (lists, ``"12x23x19"``, ``"12×23×19"``, spaced, pasted
from paddle.summary, per-axis ``[h, w]``, ``{ h = .., w = .. }`` and ``{ height = .., width = .. }``),
with planted mistakes, copied ids and content, formula and escape payloads.  The fair grades
were worked out by hand (the scores below, out of 23); the answer key and a file with escapes
in its name are made here.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from convcalc.homework.answers.schema import load_file
from convcalc.homework.grading.answer_key import answer_key_text
from convcalc.homework.grading.gradebook import grade_folder, gradebook_text
from convcalc.render.homework import class_summary_text

CLASS = Path(__file__).parent / "data" / "homework" / "class"
ESCAPE_NAME = "\x1b[2K\x1b[32mok.toml"

R = 20 / 21  # zhou's table: 20 of 21 cells (pool1's shape; relu2 and flatten carried forward)
W = 16 / 21  # wu's table: 16 of 21 cells
FAIR = {  # points out of 23, worked by hand (each file's planted mistake in its comment)
    "2024001_wang.toml": 23,
    "2024002_li.toml": 23,
    "2024003_zhang.toml": 23,  # "12×23×19" everywhere, every rf field per axis
    "2024004_chen.toml": 23,
    "2024005_liu.toml": 23,
    "2024006_yang.toml": 23,
    "2024007_huang.toml": 23,
    "2024008_zhou.toml": 20 + R - 1,  # ceil_mode ignored: ceil (2), pool1's cell, net.flops
    "2024009_wu.toml": 1 + 4 + 4 + 1 + 0 + 2 + W + 1,  # the '+ 1' forgotten everywhere
    "2024010_xu.toml": 21,  # groups ignored
    "2024011_sun.toml": 22,  # dilation ignored in the field
    "2024012_ma.toml": 22,  # the linear bias in paddle FLOPs
    "2024013_zhu.toml": 21,  # one number for fields that differ per axis
    "2024014_hu.toml": 21,  # rounded FLOPs, a half-pixel start rounded
    "2024015_guo.toml": 18,  # the stride used as a dilation
    "2024016_he.toml": 21,  # a byte copy of xu
    "2024017_lin.toml": 23,
    "2024018_luo.toml": 22,  # lin's header (id 2024017), the linear bias
    "2024019_gao.toml": 23,  # student_id 2024091 (a typo)
    "2024020_zheng.toml": 23,
    "2024021_mallory.toml": 22,  # escapes in the name and in a shape string (invalid answer)
    "2024022_formula.toml": 23,
    "2024023_rich.toml": 23,
    "2024024_tab.toml": 23,
    "2024025_eve.toml": 22,  # the FLOPs under a key with escapes
    "2024028_bad.toml": 0,  # not TOML
    "2024029_qi.toml": 22,  # paramz
    "2024030_key.toml": 23,
    "=SUM(1+1).toml": 23,
    ESCAPE_NAME: 23,
}
HINTS = {  # file -> (column, words its hint must hold)
    "2024008_zhou.toml": ("ceil.output_shape", "ceil_mode ignored"),
    "2024009_wu.toml": ("grp.flops", "the '+ 1' is missing"),
    "2024010_xu.toml": ("grp.params", "groups ignored"),
    "2024011_sun.toml": ("dil.rf", "dilation ignored in the receptive field"),
    "2024012_ma.toml": ("fc.flops", "the bias add counted"),
    "2024013_zhu.toml": ("fact.rf_jump", "differs per axis"),
    "2024014_hu.toml": ("c1.flops", "rounded"),
    "2024015_guo.toml": ("fact.rf", "the stride used as a dilation"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("week6")
    shutil.copy(CLASS / "questions.toml", folder / "questions.toml")
    shutil.copy(CLASS.parent / "models" / "week6_net.py", folder / "week6_net.py")  # the class's model, kept once
    subs = folder / "submissions"
    shutil.copytree(CLASS / "submissions", subs)
    shutil.copy(CLASS / "escape_named.toml.in", subs / ESCAPE_NAME)
    questions = load_file(folder / "questions.toml")
    (subs / "2024030_key.toml").write_text(answer_key_text(questions, allow_code=True), encoding="utf-8")
    summary = grade_folder(subs, questions=questions, allow_code=True, id_pattern=r"(?P<id>\d{7})_.*")
    return summary


def _entry(summary, name):
    return next(e for e in summary.entries if Path(e.path).name == name)


def test_every_file_gets_its_fair_grade(graded):
    got = {Path(e.path).name: e.score for e in graded.entries}
    assert set(got) == set(FAIR)
    differ = {n: (round(got[n], 3), round(FAIR[n], 3)) for n in FAIR if abs(got[n] - FAIR[n]) > 0.005}
    assert not differ
    assert graded.mean_score == pytest.approx(sum(FAIR.values()) / len(FAIR))


def test_the_key_scores_100_percent_and_only_the_planted_files_have_invalid_answers(graded):
    assert _entry(graded, "2024030_key.toml").result.all_correct
    partly = sorted(Path(e.path).name for e in graded.entries if e.result is not None and e.result.has_invalid)
    assert partly == ["2024021_mallory.toml", "2024025_eve.toml", "2024029_qi.toml"]
    assert graded.invalid == 1


@pytest.mark.parametrize("name", list(HINTS))
def test_each_planted_mistake_is_named(graded, name):
    column, words = HINTS[name]
    qid, field = column.split(".")
    result = _entry(graded, name).result
    f = next(f for q in result.questions if q.id == qid for f in q.fields if f.name == field)
    assert f.status == "wrong" and words in f.hint, (f.status, f.hint)


def test_copied_ids_and_content_and_names_are_flagged_never_merged(graded):
    flags = {Path(e.path).name: {f.code for f in e.flags} for e in graded.entries if e.flags}
    assert flags["2024016_he.toml"] >= {"duplicate_id", "duplicate_content", "id_mismatch"}
    assert flags["2024010_xu.toml"] >= {"duplicate_id", "duplicate_content"}
    assert flags["2024017_lin.toml"] == {"duplicate_id"}
    assert flags["2024018_luo.toml"] == {"duplicate_id", "id_mismatch"}
    assert flags["2024019_gao.toml"] == {"id_mismatch"}
    assert flags["=SUM(1+1).toml"] == {"name_pattern"} and flags[ESCAPE_NAME] == {"name_pattern"}
    assert len(graded.entries) == 30  # one row per file
    text = class_summary_text(graded)
    assert "student_id 2024017 in 2 files: 2024017_lin.toml, 2024018_luo.toml" in text
    assert "\x1b" not in text and "\\x1b[2K\\x1b[32mok.toml" in text


def test_the_gradebook_neutralises_formulas_and_carries_the_flags(graded):
    rows = list(csv.DictReader(io.StringIO(gradebook_text(graded))))
    assert len(rows) == 30
    cells = [c for r in rows for c in r.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    by_file = {Path(r["file"]).name: r for r in rows}
    assert by_file["2024022_formula.toml"]["student_id"] == "'=2+5"
    assert by_file["2024024_tab.toml"]["student"] == "\\x09=1+1"  # the tab shown, never kept raw
    assert "student_id 2024091, file name says 2024019" in by_file["2024019_gao.toml"]["flags"]
