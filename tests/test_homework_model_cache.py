"""Model questions' values computed once and read from disk after: same grades, no paddle, never stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = Path(__file__).parent / "data" / "homework" / "models"

QUESTION = """
[[question]]
id = "net"
model = "net.py:Net"
input = "1x3x15x15"
ask = ["rows", "params", "flops"]
row_fields = ["output_shape", "params", "flops", "rf"]
carry_forward = true
"""

# what a child process does: grade, say whether paddle was imported
PROBE = """
import json, sys
from convcalc.homework import grade_file
r = grade_file(sys.argv[1], allow_code=True)
print(json.dumps({"score": r.score, "max": r.max_score, "paddle": "paddle" in sys.modules,
                  "hints": [c.hint for q in r.questions for f in q.fields for c in (f, *f.cells) if c.hint]}))
"""


def _grade(path: Path, cache: Path) -> dict:
    env = {"PYTHONPATH": str(ROOT), "CONVCALC_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin", "HOME": str(cache)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def homework(tmp_path):
    (tmp_path / "net.py").write_text((MODELS / "week6_net.py").read_text(encoding="utf-8"), encoding="utf-8")
    key = tmp_path / "q.toml"
    key.write_text(QUESTION, encoding="utf-8")
    from convcalc.homework.answers.schema import load_file
    from convcalc.homework.grading.answer_key import answer_key_text

    text = answer_key_text(load_file(key), allow_code=True)
    # a student who gives MACs for the total: 102,144 - 13*13*8 (conv1's bias adds) = 100,792 (by hand)
    answers = tmp_path / "a.toml"
    answers.write_text(text.replace("flops = 102144", "flops = 100792", 1), encoding="utf-8")
    return tmp_path, answers


def test_the_second_run_reads_the_values_without_importing_paddle(homework):
    folder, answers = homework
    cache = folder / "cache"
    first = _grade(answers, cache)
    assert first["paddle"] and list(cache.glob("*.json"))
    second = _grade(answers, cache)
    assert not second["paddle"]  # rows, totals and the other convention's total all came from the cache
    assert (second["score"], second["max"], second["hints"]) == (first["score"], first["max"], first["hints"])
    assert any("MACs" in h for h in second["hints"])


def test_a_changed_model_file_is_never_served_from_the_cache(homework):
    folder, answers = homework
    cache = folder / "cache"
    before = _grade(answers, cache)
    net = folder / "net.py"
    net.write_text(net.read_text(encoding="utf-8").replace("nn.Linear(784, 10)", "nn.Linear(784, 12)"), "utf-8")
    after = _grade(answers, cache)
    assert after["paddle"] and after["score"] < before["score"]  # recomputed: the totals changed


def test_the_cache_can_be_turned_off(homework, tmp_path):
    folder, answers = homework
    env = {"PYTHONPATH": str(ROOT), "CONVCALC_CACHE_DIR": str(tmp_path / "c"), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-m", "convcalc", "check", str(answers), "--allow-code", "--no-cache"],
        capture_output=True,
        env=env,
    )
    assert not (tmp_path / "c").exists()
