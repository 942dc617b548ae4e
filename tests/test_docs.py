"""The docs run: every example in README.md, docs/*.md and the ``--help`` epilogs, as written.

What is collected
-----------------
* Shell examples: in ```bash blocks every ``convcalc``/``python`` line; in ```console, ```text and
  plain ``` blocks the ``$ ...`` lines (the lines after one, up to the next ``$``, are its shown
  output).  A plain/text block without ``$`` lines counts its ``convcalc ...`` lines as examples
  unless they are synopses (``[``, ``|``, ``...`` or an ALL-CAPS placeholder such as ``MODEL``).
* ``--help`` examples: the ``convcalc ...`` lines of every parser's epilog (text after two spaces
  is a description and is dropped).
* Python: ```python blocks run as scripts; blocks with ``>>>`` run as doctests.

How each one runs
-----------------
Through ``bash -c`` exactly as written, in a mirror of the repository root (symlinks to the
tree, a copy of docs/, and ``../shared``), so outputs such as ``edges.png`` never land in the
clone.  ``convcalc`` and ``python`` on PATH are this interpreter (``convcalc`` is
``python -m convcalc``) with this tree first on PYTHONPATH; ``CONVCALC_DATA_DIR`` points at
``../shared/data/mnist``.  Files that the examples name as the user's own (``my_net.py``,
``answers.toml``, ``submissions/``, ...) come from ``tests/data/docs_user/`` and USER_COPIES.

Checks: the exit code is 0, or the one the docs state (a trailing ``# exit N`` comment on the
command, or ``<!-- docs-test: exit N -->`` before the block); where the docs show output, the shown
text must be the real output (stdout and stderr in the order a terminal shows them), compared
after normalising whitespace: each line stripped, runs of blanks collapsed to one, runs of one
box-drawing character (rich's rules, whose length follows the column widths) collapsed to one,
blank lines and ANSI codes dropped.  The documented ellipsis marker is doctest's ``...`` (``…``
too): a line that is only ``...`` stands for any number of lines (none included), and ``...``
inside a line for any text within that line (a time, a path, a count that varies).  Without a
``...`` line the block is the whole output: nothing printed may be missing from the docs, so a
usage list or a message cannot drift.  A failure shows a unified diff of the normalised texts.

Markers (an HTML comment on the lines just before a block, invisible when rendered):
``<!-- docs-test: skip (reason) -->``, ``<!-- docs-test: slow (reason); fast: ARGS -->`` (run
only with --runslow; by default the same command with ARGS appended runs instead),
``<!-- docs-test: output varies (reason) -->`` (the text is not compared; prefer ``...`` for the
parts that vary), ``<!-- docs-test: exit N -->``;
``; on: COMMAND`` limits a mark to one command of the block (``on: convcalc train*`` to a prefix).
``--help`` examples take the same marks from COMMAND_MARKS below.

Every failure names the example as ``file:line`` and says why.  The examples run in a few
processes at once (DOCS_TEST_JOBS, default 3) from one session fixture.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MNIST = SHARED / "data" / "mnist"
USER_FILES = ROOT / "tests" / "data" / "docs_user"
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The user's files the examples name, made from the repository's own examples (no second copy to drift).
_KEY = "examples/homework/chapter5_key.toml"
USER_COPIES = {
    "answers.toml": _KEY,  # a student's file; the key's answers are all right, so `check` exits 0
    "questions.toml": "examples/homework/chapter5_questions.toml",
    "submissions/alice.toml": _KEY,
    "submissions/bob.toml": _KEY,  # with a line of his own (USER_EDITS): two identical files are flagged
    "my_conv.py": "tests/data/homework/ops/good_conv.py",
    "my_pool.py": "tests/data/homework/ops/good_pool.py",
    "student.py": "tests/data/homework/ops/good_conv.py",
    "digit.png": "examples/shapes.png",
}
USER_EDITS = {"submissions/bob.toml": "# Bob's answers, typed out on his own\n"}
# ... and the ones a user makes with convcalc itself (reports to diff, weights of a model), made once.
USER_MADE = """
import paddle
from convcalc.cli import main
from convcalc.models.zoo import build_model
main(["report", "book_lenet", "--format", "json", "--output", "before.json"])
main(["report", "book_paddle_lenet", "--format", "json", "--output", "after.json"])
paddle.save(build_model("book_lenet").model.state_dict(), "lenet.pdparams")
from convcalc.profiling.ceilings import get_ceilings
get_ceilings("float32", 1, quick=True)  # the ceilings `convcalc profile` reads ($CONVCALC_CACHE: the workspace's)
"""
TIMEOUT = 600  # seconds per example; a hang fails with this reason

# --help examples (and generated docs) cannot carry HTML comments; their marks live here, keyed by the
# command as written.  A mark in the docs wins over this table.
# Fast equivalents: the same command on less work.  Equal strings run once (see docs_results).
_VALIDATE_FAST = "fast: convcalc validate --models book_lenet --rf-models book_lenet_vectorized"
PROFILE_FAST = "convcalc profile mobilenet_v2 --input 3x64x64 --repeat 2 --warmup 0 --no-profiler"
TRAIN_RESNET_FAST = ("convcalc train resnet18 --no-residual --epochs 2 --plot curves.png --json "
                     "--data-dir ../shared/data/mnist --limit 64 --max-steps 2")
COMMAND_MARKS: dict[str, str] = {
    "convcalc report two.py:Net --input 16x64 --input 16:int64": "skip (a user's two-input model file; "
    "tests/test_custom_inputs.py runs the same forms on the corpus)",
    "convcalc report video.py:Net --batch 1 --input 2x4x8x8": "skip (a user's Conv3D model file; "
    "tests/test_custom_inputs.py runs the same forms on the corpus)",
    "convcalc report export/inference.json --input 8x3x224x224": "skip (needs an exported program; "
    "tests/test_program.py exports zoo models and checks these reports)",
    "convcalc validate --output docs/validation.md": "skip (the full validation run, see the time in the "
    "header of docs/validation.md)",
    "convcalc validate -o docs/validation.md -o validation.json": "skip (the full validation run, as above)",
    "convcalc validate --real-libraries --python ~/.cache/convcalc-corpus-venv/bin/python --fast": "skip (needs "
    "the PaddleClas/PaddleSeg environment; tests/test_real_libraries.py runs this subset where it exists)",
    "convcalc validate --write-zoo-data": "skip (rewrites every stored zoo report in the tree, minutes; "
    "tests/test_stored_reports.py checks the stored reports against live traces)",
    "convcalc validate --fast": f"slow (the CI subset takes about 2 minutes); {_VALIDATE_FAST}",
    "convcalc validate --fast --json > validation.json": "slow (as above); "
    "fast: convcalc validate --models book_paddle_lenet --no-rf --json > validation.json",
    "convcalc validate --models resnet18 vgg11 --no-rf": f"slow (vgg11 at three sizes); {_VALIDATE_FAST}",
    "convcalc train resnet18 --no-residual --epochs 2 --plot curves.png --json --data-dir ../shared/data/mnist":
    "slow (ResNet18 trains for "
    f"minutes); fast: {TRAIN_RESNET_FAST}",
    "convcalc train book_lenet --naive --limit 128 --max-steps 2 --data-dir ../shared/data/mnist": "slow (the "
    "book's loop Conv2D, about half a minute); fast: convcalc train book_lenet --naive --limit 8 --max-steps 1 "
    "--data-dir ../shared/data/mnist",
    "convcalc check answers.toml --feedback hints --gradescope /autograder/results/results.json": "skip (runs "
    "inside Gradescope's container, in its /autograder folders)",
    "convcalc reproduce --seeds 3 --data-dir ../shared/data/mnist": "skip (three ResNet18 trainings per seed, "
    "about an hour; docs/reproduction.md records such a run)",
    "convcalc profile mobilenet_v2": f"slow (20 timed forwards and the profiler's); fast: {PROFILE_FAST}",
    "convcalc profile resnet18 --batch 32 --repeat 7 --warmup 2 --format markdown": "slow (a minute of timing); "
    "fast: convcalc profile resnet18 --input 3x32x32 --repeat 2 --warmup 0 --no-profiler --format markdown",
    "convcalc profile mobilenet_v2 --format html --output mobilenet_v2.html": f"slow (as above); fast: {PROFILE_FAST} "
    "--format html --output mobilenet_v2.html",
    "convcalc profile resnet18 --allocator pinned": "slow (as above); fast: convcalc profile resnet18 --input 3x32x32 "
    "--allocator pinned --repeat 2 --warmup 0 --no-profiler",
}

_MARK = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_BOX = "─━│┃┄┅┆┇┈┉┊┋┌┍┎┏┐┑┒┓└┕┖┗┘┙┚┛├┝┞┟┠┡┢┣┤┥┦┧┨┩┪┫┬┭┮┯┰┱┲┳┴┵┶┷┸┹┺┻┼┽┾┿╀╁╂╃╄╅╆╇╈╉╊╋═║╒╓╔╕╖╗╘╙╚╛╜╝╞╟╠╡╢╣╤╥╦╧╨╩╪╫╬╭╮╯╰"
_BOX_RUN = re.compile("([" + re.escape(_BOX) + r"])\1+")
ELLIPSIS = ("...", "…")
_FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")
_PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}\b")
_ERROR_LINE = re.compile(r"^convcalc(?: [\w-]+)*: ")
_RUNNABLE = ("convcalc ", "python ", "python3 ")


@dataclass(frozen=True)
class Example:
    where: str  # file:line, or the --help command and the source line of its text
    kind: str  # "shell", "script" or "doctest"
    code: str
    shown: str = ""  # output the docs show
    exit: int = 0
    mark: str = ""  # "", "skip (...)", "slow (...); fast: ...", "output varies (...)"
    group: str = ""  # examples of one block run in order, in one job
    fast_of: str = ""  # set on the fast equivalent of a slow example

    @property
    def id(self) -> str:
        return f"{self.where} {self.code.splitlines()[0][:70]}" + (" [fast]" if self.fast_of else "")


# --------------------------------------------------------------------------- collection


def _marks(text: str) -> dict:
    """``skip (...)``, ``slow (...)``, ``output varies (...)``, ``exit N``, ``on: PREFIX``, ``fast: COMMAND``."""
    out: dict = {}
    for part in (p.strip() for p in re.split(r";\s*(?=exit\b|fast:|on:)", text)):
        if re.match(r"exit \d+$", part):
            out["exit"] = int(part.split()[1])
        elif part.startswith(("fast:", "on:")):
            key, value = part.split(":", 1)
            out[key] = value.strip()
        elif part:
            out["mark"] = part
    return out


def _mark_for(command: str, marks: list[dict]) -> dict:
    """The first mark before the block that applies to this command (``on:`` narrows it to a prefix)."""
    for m in marks:
        on = m.get("on", "*")
        if command == on or (on.endswith("*") and command.startswith(on[:-1])):
            return m
    return {}


def _command_exit(line: str) -> tuple[str, int | None]:
    """Split a trailing ``# comment`` off a command line; ``# exit N`` states its exit code."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            m = re.match(r"#\s*exit (\d+)", line[i:])
            return line[:i].rstrip(), int(m.group(1)) if m else None
    return line.rstrip(), None


def _is_synopsis(line: str) -> bool:
    return any(c in line for c in "[|{") or "..." in line or bool(_PLACEHOLDER.search(line))


def _block_examples(path: Path, start: int, lang: str, lines: list[str], marks: list[dict]) -> list[Example]:
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    group = f"{rel}:{start}"
    if lang != "python":  # a command continued with a trailing backslash is one line (on its first line)
        lines = list(lines)
        for i in range(len(lines) - 1, 0, -1):
            if lines[i - 1].rstrip().endswith("\\"):
                lines[i - 1] = lines[i - 1].rstrip()[:-1].rstrip() + " " + lines[i].strip()
                lines[i] = ""
    found: list[tuple[int, str, str]] = []  # (line in block, command, shown output)
    if lang == "python":
        code = textwrap.dedent("\n".join(lines))
        kind = "doctest" if ">>>" in code else "script"
        return [Example(f"{rel}:{start + 1}", kind, code, mark=_mark_for("", marks).get("mark", ""), group=group)]
    has_dollar = any(ln.lstrip().startswith("$ ") for ln in lines)
    if lang in ("bash", "sh", "shell"):
        for i, ln in enumerate(lines):
            s = ln.strip()
            s = s[2:] if s.startswith("$ ") else s
            if s.startswith(_RUNNABLE):
                found.append((i, s, ""))
    elif lang in ("", "text", "console") and has_dollar:
        current: tuple[int, str] | None = None
        shown: list[str] = []
        for i, ln in enumerate([*lines, "$ <end>"]):
            if ln.lstrip().startswith("$ "):
                if current is not None:
                    found.append((current[0], current[1], "\n".join(shown)))
                current, shown = (i, ln.lstrip()[2:].strip()), []
            elif current is not None:
                shown.append(ln)
    elif lang in ("", "text"):
        for i, ln in enumerate(lines):
            s = ln.strip()
            if s.startswith("convcalc ") and not _ERROR_LINE.match(s) and not _is_synopsis(s):
                found.append((i, s, ""))
    out: list[Example] = []
    for i, raw, shown in found:
        cmd, code = _command_exit(raw)
        m = _mark_for(cmd, marks) or _marks(COMMAND_MARKS.get(cmd, ""))
        if code is None:
            code = m.get("exit", 2 if re.match(r"convcalc(?: [\w-]+)*: error:", shown.strip()) else 0)
        e = Example(f"{rel}:{start + 1 + i}", "shell", cmd, shown=shown, exit=code, mark=m.get("mark", ""),
                    group=group)
        out.append(e)
        if m.get("mark", "").startswith("slow") and "fast" in m:
            out.append(replace(e, code=m["fast"], mark="", shown="", fast_of=cmd, group=group + ":fast"))
    return out


def doc_examples(path: Path) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    examples: list[Example] = []
    pending: list[dict] = []
    i = 0
    while i < len(lines):
        m = _MARK.search(lines[i])
        if m:
            pending.append(_marks(m.group(1)))
            i += 1
            continue
        f = _FENCE.match(lines[i])
        if f:
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            examples += _block_examples(path, i + 1, f.group(2).lower(), lines[i + 1:j], pending)
            pending = []
            i = j + 1
            continue
        if lines[i].strip():
            pending = []  # a mark applies to the next block only, with nothing but blank lines between
        i += 1
    return examples


def _walk(parser: argparse.ArgumentParser, prog: str):
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action._name_parser_map.items():
                yield from _walk(sub, f"{prog} {name}")


def _source_line(cmd: str) -> str:
    """Where a --help example is written (file:line), for the failure message."""
    sources = [*sorted((ROOT / "convcalc" / "commands").glob("*.py")), ROOT / "convcalc" / "cli.py"]
    for needle in (cmd, cmd[:40]):
        for src in sources:
            for n, line in enumerate(src.read_text(encoding="utf-8").splitlines(), 1):
                if needle in line and "examples:" not in line:
                    return f"{src.relative_to(ROOT).as_posix()}:{n}"
    return "?"


def help_examples() -> list[Example]:
    from convcalc.cli import build_parser

    out: list[Example] = []
    seen: set[str] = set()
    for prog, parser in _walk(build_parser(), "convcalc"):
        for ln in (parser.epilog or "").splitlines():
            s = ln.strip()
            if not s.startswith("convcalc ") or _is_synopsis(s):
                continue
            cmd = re.split(r"\s{2,}(?![\s#])", s)[0]  # text after two spaces describes the example
            cmd, code = _command_exit(cmd)
            if cmd in seen:
                continue
            seen.add(cmd)
            where = f"`{prog} --help` ({_source_line(cmd)})"
            marks = _marks(COMMAND_MARKS.get(cmd, ""))
            e = Example(where, "shell", cmd, exit=code or 0, mark=marks.get("mark", ""), group=where + cmd)
            out.append(e)
            if "fast" in marks:
                out.append(replace(e, code=marks["fast"], mark="", fast_of=cmd, group=e.group + ":fast"))
    return out


def all_examples() -> list[Example]:
    examples = [e for p in DOC_FILES for e in doc_examples(p)]
    return examples + help_examples()


EXAMPLES = all_examples()


# --------------------------------------------------------------------------- running


@dataclass
class Result:
    rc: int | None
    output: str
    why: str = ""
    seconds: float = 0.0


@dataclass
class Workspace:
    root: Path
    env: dict = field(default_factory=dict)


def _workspace(tmp: Path) -> Workspace:
    """A mirror of the repository root (symlinks; docs/ copied) with ../shared and the user's files."""
    repo = tmp / "repo"
    repo.mkdir()
    for entry in ROOT.iterdir():
        if entry.name in (".git", ".venv", "docs", "__pycache__", ".pytest_cache") or entry.name.endswith(".egg-info"):
            continue
        (repo / entry.name).symlink_to(entry)
    shutil.copytree(ROOT / "docs", repo / "docs")
    if SHARED.exists():
        (tmp / "shared").symlink_to(SHARED)
    for entry in USER_FILES.iterdir():
        shutil.copy(entry, repo / entry.name)
    for name, source in USER_COPIES.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, repo / name)
        if name in USER_EDITS:
            (repo / name).write_text(USER_EDITS[name] + (ROOT / source).read_text(encoding="utf-8"), encoding="utf-8")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    exe = shlex.quote(sys.executable)
    for name, body in (("convcalc", f'exec {exe} -m convcalc "$@"'), ("python", f'exec {exe} "$@"'),
                       ("python3", f'exec {exe} "$@"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = dict(os.environ)
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])]),
               CONVCALC_DATA_DIR=str(MNIST), CONVCALC_CACHE=str(tmp / "cache"), COLUMNS="200", NO_COLOR="1",
               OMP_NUM_THREADS="1",
               PYTHONUNBUFFERED="1")
    env.pop("FORCE_COLOR", None)
    made = subprocess.run([sys.executable, "-c", USER_MADE], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert made.returncode == 0, f"making the user's files (USER_MADE) failed:\n{made.stderr[-2000:]}"
    return Workspace(repo, env)


_LOG_LOCK = threading.Lock()

_DOCTEST_RUNNER = """
import doctest, sys
text = sys.stdin.read()
test = doctest.DocTestParser().get_doctest(text, {}, "docs", "docs", 0)
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
runner.run(test)
sys.exit(1 if runner.failures else 0)
"""


def _run(example: Example, ws: Workspace) -> Result:
    if example.kind == "shell":
        argv, stdin = ["bash", "-c", example.code], ""
    elif example.kind == "script":
        argv, stdin = [sys.executable, "-"], example.code
    else:
        argv, stdin = [sys.executable, "-c", _DOCTEST_RUNNER], example.code
    t0 = time.perf_counter()
    # one stream, as a terminal shows it (stderr lines where they were written; the batched runner does the same)
    with subprocess.Popen(argv, cwd=ws.root, env=ws.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True) as proc:
        try:
            out, _ = proc.communicate(stdin, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the example's whole process group, nothing else
            proc.communicate()
            return Result(None, "", f"timed out after {TIMEOUT} s")
    seconds = time.perf_counter() - t0
    if os.environ.get("DOCS_TEST_LOG"):  # wall and CPU seconds per example, to keep the budget honest
        import resource

        with _LOG_LOCK, open(os.environ["DOCS_TEST_LOG"], "a", encoding="utf-8") as log:
            cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            log.write(f"{seconds:6.1f} s  children cpu so far {cpu.ru_utime + cpu.ru_stime:7.1f} s  "
                      f"rc={proc.returncode}  {example.where}  {example.code.splitlines()[0]}\n")
    return Result(proc.returncode, out, seconds=seconds)


def _selected(item: pytest.Item) -> bool:
    return not any(m.name == "skip" for m in item.iter_markers()) and not (
        "slow" in item.keywords and not item.config.getoption("--runslow"))


# Cheap, self-contained commands run in-process, several per interpreter, through the very entry point
# `convcalc` calls (convcalc.cli.main): one Paddle import instead of one per example.  Each line out is
# one command's exit code and output; if the interpreter dies, the commands it did not finish run alone.
_BATCHABLE = re.compile(r"convcalc (formulas|explain|models|report|diff|compare|check)\b[^&|;<>$`*?]*$")
_BATCH_MARK = "@@docs-test@@ "
_BATCH_RUNNER = """
import contextlib, io, json, sys
from convcalc.cli import main
for line in sys.stdin.read().splitlines():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            rc = main(json.loads(line))
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.__stdout__.write(MARK + json.dumps({"rc": rc, "output": out.getvalue()}) + "\\n")
    sys.__stdout__.flush()
"""


def _run_batch(examples: list[Example], ws: Workspace) -> dict[tuple[str, str], Result]:
    argvs = [shlex.split(e.code)[1:] for e in examples]
    proc = subprocess.run([sys.executable, "-c", f"MARK = {_BATCH_MARK!r}\n" + _BATCH_RUNNER], cwd=ws.root,
                          env=ws.env, input="\n".join(json.dumps(a) for a in argvs), capture_output=True,
                          text=True, timeout=TIMEOUT)
    lines = [json.loads(ln[len(_BATCH_MARK):]) for ln in proc.stdout.splitlines() if ln.startswith(_BATCH_MARK)]
    done = {(e.kind, e.code): Result(r["rc"], r["output"]) for e, r in zip(examples, lines, strict=False)}
    for e in examples[len(lines):]:  # the interpreter died: the rest run alone
        done[(e.kind, e.code)] = _run(e, ws)
    return done


@pytest.fixture(scope="session")
def docs_results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run every selected example once, a few processes at a time; a block's examples run in order."""
    wanted = [item.callspec.params["example"] for item in request.session.items
              if getattr(item, "originalname", None) == "test_doc_example" and _selected(item)]
    groups: dict[str, list[Example]] = {}
    for e in wanted:
        groups.setdefault(e.group, []).append(e)
    ws = _workspace(tmp_path_factory.mktemp("docs"))
    done: dict[tuple[str, str], Result] = {}  # the same command in several places runs once
    locks: dict[tuple[str, str], threading.Lock] = {(e.kind, e.code): threading.Lock() for e in wanted}

    def run_group(examples: list[Example]) -> None:
        for e in examples:
            key = (e.kind, e.code)
            with locks[key]:
                if key not in done:
                    done[key] = _run(e, ws)

    batch: dict[tuple[str, str], Example] = {}
    alone: list[list[Example]] = []
    def batchable(e: Example) -> bool:
        try:
            return e.kind == "shell" and bool(_BATCHABLE.match(e.code)) and bool(shlex.split(e.code))
        except ValueError:  # not one plain command line: bash runs it
            return False

    for g in groups.values():
        if all(batchable(e) for e in g):
            for e in g:
                batch.setdefault((e.kind, e.code), e)
        else:
            alone.append(g)
    jobs = int(os.environ.get("DOCS_TEST_JOBS", "3"))
    n_batches = max(1, jobs - 1)
    batches: list[list[Example]] = [[] for _ in range(n_batches)]
    for e in sorted(batch.values(), key=lambda e: -_cost(e)):
        min(batches, key=lambda b: sum(map(_cost, b))).append(e)
    tasks = [lambda b=b: done.update(_run_batch(b, ws)) for b in batches if b]
    # longest first (a long group started last would extend the wall time)
    tasks += [lambda g=g: run_group(g) for g in sorted(alone, key=lambda g: -sum(map(_cost, g)))]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(t) for t in tasks]:
            future.result()
    return {e: done[(e.kind, e.code)] for e in wanted}


_COST = {"train": 20, "validate": 15, "reproduce": 30, "compare": 8, "report": 5, "edges": 6, "check": 3,
         "verify-op": 10, "benchmarks/train_speed.py": 30}


def _cost(e: Example) -> int:
    words = e.code.split()
    return _COST.get(words[1] if len(words) > 1 else "", 1)


def _param(e: Example):
    marks = []
    if e.mark.startswith("skip"):
        marks.append(pytest.mark.skip(reason=f"{e.where}: {e.mark}"))
    elif e.mark.startswith("slow"):
        marks.append(pytest.mark.slow)
    needs_data = "mnist" in e.code.lower() or re.match(r"convcalc (train|reproduce)\b", e.code)
    if needs_data and not (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        marks.append(pytest.mark.skip(reason=f"MNIST test set not found at {MNIST}"))
    return pytest.param(e, id=e.id, marks=marks)


def normalise(text: str) -> list[str]:
    """The lines compared: ANSI codes dropped, each line stripped, blank runs and box-drawing runs collapsed, blank
    lines dropped."""
    out = []
    for line in _ANSI.sub("", text).splitlines():
        line = _BOX_RUN.sub(r"\1", re.sub(r"[ \t]+", " ", line.strip()))
        if line:
            out.append(line)
    return out


def _line_pattern(shown: str) -> re.Pattern:
    parts = re.split(r"(\.\.\.|…)", shown)
    return re.compile("".join(".*?" if p in ELLIPSIS else re.escape(p) for p in parts) + r"\Z")


def matches(shown: str, output: str) -> bool:
    """Whether the docs' shown output is the real output (see the module docstring: whitespace, ``...``)."""
    want, got = normalise(shown), normalise(output)
    patterns = [None if w in ELLIPSIS else _line_pattern(w) for w in want]

    def walk(i: int, j: int) -> bool:  # want[i:] against got[j:]
        while i < len(want):
            if patterns[i] is None:
                return any(walk(i + 1, k) for k in range(j, len(got) + 1))
            if j >= len(got) or not patterns[i].match(got[j]):
                return False
            i, j = i + 1, j + 1
        return j == len(got)

    return walk(0, 0)


def text_diff(shown: str, output: str) -> str:
    """A unified diff of the normalised texts: what to paste into the docs."""
    import difflib

    return "\n".join(difflib.unified_diff(normalise(shown), normalise(output), "docs", "real", lineterm="", n=1))


@pytest.mark.parametrize("example", [_param(e) for e in EXAMPLES])
def test_doc_example(example: Example, docs_results: dict):
    res = docs_results[example]
    what = f"{example.where}: `{example.code.splitlines()[0]}`"
    tail = "\n".join(res.output.strip().splitlines()[-15:])
    assert res.rc is not None, f"{what} {res.why}"
    assert res.rc == example.exit, (
        f"{what} exited {res.rc}, the docs expect {example.exit} (a different code is stated with "
        f"`# exit N` or <!-- docs-test: exit N -->). Last lines of its output:\n{tail}")
    if example.shown and not example.mark.startswith("output varies"):
        assert matches(example.shown, res.output), (
            f"{what}: the output the docs show is not the real output (whitespace is normalised; write `...` for "
            f"a part that varies, on its own line for lines). Docs against real:\n"
            f"{text_diff(example.shown, res.output)[:4000]}")


def test_examples_were_found():
    """The collector sees the docs: a broken fence or a renamed file must not silently empty the test."""
    by_file = {p.relative_to(ROOT).as_posix(): 0 for p in DOC_FILES}
    for e in EXAMPLES:
        f = e.where.split(":")[0]
        if f in by_file:
            by_file[f] += 1
    assert by_file["README.md"] >= 3 and by_file["docs/cli.md"] >= 5 and by_file["docs/report.md"] >= 5, by_file
    assert sum(e.where.startswith("`convcalc") for e in EXAMPLES) >= 20
    assert any(e.kind == "doctest" for e in EXAMPLES) and any(e.kind == "script" for e in EXAMPLES)


def _cli_sections(text: str) -> dict[str, str]:
    """docs/cli.md's ``## a, b`` sections by command name (the text up to the next ``## ``)."""
    sections: dict[str, str] = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        for name in re.findall(r"[\w-]+", heading):
            sections[name] = sections.get(name, "") + body
    return sections


def test_every_command_and_flag_in_cli_md():
    """docs/cli.md documents every command, and every option in that command's own section."""
    from convcalc.cli import build_parser

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    sections = _cli_sections(text)
    missing = []
    for prog, parser in _walk(build_parser(), "convcalc"):
        words = prog.split()
        if len(words) == 1:
            body = text
        elif words[1] not in sections:
            missing.append(f"{prog} (no '## {words[1]}' section)")
            continue
        else:
            body = sections[words[1]]
        for action in parser._actions:
            for opt in action.option_strings:
                if opt in ("-h", "--help"):
                    continue
                if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", body):
                    missing.append(f"{prog} {opt}")
    for needed in ("python -m convcalc", "benchmarks/", "[dev]"):
        if needed not in text:
            missing.append(needed)
    assert not missing, f"docs/cli.md does not mention: {', '.join(missing)}"


def _synopses(text: str) -> list[tuple[str, str]]:
    """``(command, synopsis)`` of each ``convcalc COMMAND ...`` synopsis line in a plain/text block of docs/cli.md
    (an indented line after one continues it)."""
    out: list[tuple[str, str]] = []
    inside, collect = False, False
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence:
            inside = not inside
            collect = inside and fence.group(2).lower() in ("", "text")
            continue
        if not collect:
            continue
        s = line.strip()
        if s.startswith("convcalc ") and _is_synopsis(s) and not s.startswith("$"):
            out.append((s.split()[1], s))  # (the command; a sub-command such as `explain conv2d` is found below)
        elif line[:1].isspace() and out and s.startswith(("[-", "--")):
            out[-1] = (out[-1][0], out[-1][1] + " " + s)
    return out


def test_cli_md_synopses_name_only_real_options():
    """Every ``--flag`` a synopsis in docs/cli.md shows is an option of that command (a renamed or removed flag
    cannot linger there)."""
    from convcalc.cli import build_parser

    parsers = dict(_walk(build_parser(), "convcalc"))
    synopses = _synopses((ROOT / "docs" / "cli.md").read_text(encoding="utf-8"))
    assert len(synopses) >= 8, synopses
    wrong = []
    for _, line in synopses:
        words = line.split()
        prog = max((" ".join(words[:k]) for k in range(2, len(words) + 1) if " ".join(words[:k]) in parsers),
                   key=len, default="")
        options = {o for a in parsers[prog]._actions for o in a.option_strings} if prog else set()
        wrong += [f"{prog or line} {flag}" for flag in re.findall(r"(?<![\w-])--?[a-zA-Z][\w-]*", line)
                  if flag not in options]
    assert not wrong, f"docs/cli.md's synopses show options the parser does not have: {', '.join(wrong)}"


def test_harness_reads_marks_codes_and_shown_output(tmp_path):
    """The collector and the number check can fail: a wrong number, a stated exit code, marks."""
    doc = tmp_path / "doc.md"
    doc.write_text(textwrap.dedent("""\
        <!-- docs-test: skip (needs internet) ; on: convcalc train* -->
        ```console
        $ convcalc formulas conv_params   # exit 0
        parameters = 168 and 1,025
        $ convcalc train lenet --download
        $ convcalc explain conv3d --input 3x8x8
        convcalc explain: error: unknown layer kind
        ```

        ```bash
        convcalc check bad.toml   # exit 1: wrong answers
        ```
        """))
    got = doc_examples(doc)
    assert [(e.where, e.code, e.exit, e.mark) for e in got] == [
        ("doc.md:3", "convcalc formulas conv_params", 0, ""),
        ("doc.md:5", "convcalc train lenet --download", 0, "skip (needs internet)"),
        ("doc.md:6", "convcalc explain conv3d --input 3x8x8", 2, ""),
        ("doc.md:11", "convcalc check bad.toml", 1, ""),
    ]
    assert matches(got[0].shown, "parameters   =  168 and 1,025\n\n")
    assert not matches(got[0].shown, "parameters = 1680 and 1,025")


def test_the_text_check_normalises_whitespace_and_reads_the_ellipsis_marker():
    out = "usage: x\n  a    b\n┏━━━━┓\nTotal params: 61,706\nTime 1.23 s\n"
    assert matches("usage: x\na b\n┏━┓\nTotal params: 61,706\nTime ... s", out)  # blanks, box runs, inline ...
    assert matches("usage: x\n...\nTime ... s", out)  # a `...` line: any lines
    assert matches("...\nTotal params: 61,706\n...", out)
    assert matches("usage: x\n...\n...\nTime 1.23 s", out)
    assert matches("usage: x\n…\nTime … s", out)  # the one-character ellipsis too
    assert not matches("usage: x\na b\n┏━┓\nTotal params: 61,706", out)  # the last line left out, no `...`
    assert not matches("usage: x\n...\nTotal params: 61,707\n...", out)  # a changed number
    assert not matches("usage: y\n...", out)  # a changed word
    assert not matches("usage: x\nb a\n...", out)  # the order of words
    assert matches("", "") and not matches("x", "")
    assert "-Total params: 61,707" in text_diff("Total params: 61,707", out)
