"""The package's layering: the import contracts in pyproject.toml hold, and each one fails when broken.

``lint-imports`` (import-linter) checks the contracts on the tree as it is.  Each contract is then broken on
purpose in a copy of the package (one planted import) and must fail, so no contract can pass vacuously.
docs/architecture.md draws the layers from the same contract; regenerate its picture with
``python tests/test_architecture.py --write`` (the test fails when the picture is stale).
"""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "convcalc"
DOC = ROOT / "docs" / "architecture.md"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
BY_ID = {c["id"]: c for c in CONTRACTS}
MAX_LINES = 600


def _lint(cwd: Path, *contracts: str) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    args = [str(lint), str(cwd / "pyproject.toml"), "--no-cache", "--no-logo"]
    for c in contracts:
        args += ["--contract", c]
    env = {"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_contracts_hold():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"{len(CONTRACTS)} kept, 0 broken" in proc.stdout, proc.stdout[-1500:]


# contract id -> (file to plant in, the import planted): each must break exactly that contract
PLANTED = {
    "layers": ("trace/op_names.py", "import convcalc.analysis.records"),
    "formulas-leaf": ("formulas/shapes.py", "import convcalc.files"),
    "checks-independent": ("checks/validation.py", "import convcalc.analysis.engine"),
    "truths-blind": ("checks/backward_program.py", "import convcalc.checks.subject"),
    "homework-layers": ("homework/answers/schema.py", "import convcalc.homework.grading.results"),
    "sandbox-apart": ("homework/operators/sandbox.py", "import convcalc.homework.grading.match"),
    "sandbox-light": ("homework/operators/judging.py", "import convcalc.formulas"),
    "no-cycles": ("trace/op_names.py", "import convcalc.trace.build"),
}


def test_every_contract_has_a_planted_break():
    assert set(PLANTED) == set(BY_ID)


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    shutil.copytree(PACKAGE, root / "convcalc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize("contract", sorted(PLANTED))
def test_a_planted_import_breaks_its_contract(copy_root, contract):
    where, line = PLANTED[contract]
    target = copy_root / "convcalc" / where
    original = target.read_text()
    try:
        target.write_text(original + f"\n{line}  # planted by tests/test_architecture.py\n")
        proc = _lint(copy_root, contract)
    finally:
        target.write_text(original)
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "BROKEN" in proc.stdout and "0 broken" not in proc.stdout, proc.stdout[-2000:]


def _top_level() -> set[str]:
    """Every module and package directly under convcalc (``convcalc.trace``, ``convcalc.cli``, ...)."""
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    names |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    return {f"convcalc.{n}" for n in names}


def test_formulas_may_import_nothing_new():
    """A module added to convcalc is forbidden to formulas at once (only the exception hierarchy is allowed)."""
    forbidden = set(BY_ID["formulas-leaf"]["forbidden_modules"])
    assert _top_level() - {"convcalc.formulas", "convcalc.errors"} == forbidden


def test_every_top_level_part_has_a_layer():
    layered = {m.strip() for layer in BY_ID["layers"]["layers"] for m in re.split(r"[|:]", layer)}
    assert _top_level() - {"convcalc._moved"} == layered


def test_every_package_says_what_it_holds_and_may_import():
    for init in sorted(PACKAGE.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(ROOT)} has no docstring"
        if init.parent != PACKAGE:
            assert re.search(r"\bimport", doc, re.I), f"{init.relative_to(ROOT)} does not say what it may import"


def test_no_module_is_a_room_of_its_own():
    """No module over ~600 lines: a module that grows past it is split where the split has a name."""
    sizes = {p.relative_to(ROOT): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def test_the_top_level_is_short():
    """Entry points and the shared floor only: everything else lives in a folder that names its part."""
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "_moved.py", "cli.py", "errors.py", "files.py", "summary.py"]


# ---------------------------------------------------------------- old paths (one release)
def test_old_module_paths_still_import_with_a_warning():
    from convcalc import _moved

    for old, new in _moved.MOVED_MODULES.items():
        sys.modules.pop(old, None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = importlib.import_module(old)
        assert module is importlib.import_module(new), old
        assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught), old


def test_a_module_inside_an_old_package_path_is_the_same_module():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = importlib.import_module("convcalc.corpus.truth")
    assert old is importlib.import_module("convcalc.checks.corpus.truth")


@pytest.mark.parametrize("package, name, home", [
    ("convcalc.trace", "trace_model", "convcalc.trace.build"),
    ("convcalc.trace", "Trace", "convcalc.trace.graph"),
    ("convcalc.trace", "eager_check", "convcalc.trace.eager"),
    ("convcalc.trace", "_forward_error", "convcalc.trace.failures"),
    ("convcalc.explain", "_size_steps", "convcalc.explain.steps"),
    ("convcalc.homework.answers", "parse_answers", "convcalc.homework.answers.student"),
    ("convcalc.formulas.flops", "avgpool_flops", "convcalc.formulas.flops_per_element"),
])
def test_old_names_of_modules_that_became_packages(package, name, home):
    module = importlib.import_module(package)
    module.__dict__.pop(name, None)
    with pytest.warns(DeprecationWarning, match=re.escape(home)):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(home), name.lstrip("_"))


def test_the_documented_imports_need_no_new_path():
    """What README/docs teach keeps working without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        import convcalc
        from convcalc import formulas
        from convcalc.analysis.training import training_cost  # noqa: F401
        from convcalc.explain import explain_layer  # noqa: F401
        from convcalc.models.zoo import build_model  # noqa: F401
        from convcalc.rules import Cost, paddle_custom_ops, register_rule  # noqa: F401

        assert convcalc.register_rule is register_rule and callable(convcalc.analyze) and callable(convcalc.summary)
        assert formulas.conv_output_size(32, 5) == 28


# ---------------------------------------------------------------- the picture in docs/architecture.md
BEGIN, END = "<!-- layers: generated by tests/test_architecture.py --write -->", "<!-- /layers -->"


def layers_picture() -> str:
    """The layers contract as a text picture: one box per layer, siblings side by side, arrows downwards."""
    contract = BY_ID["layers"]
    rows = []
    for layer in contract["layers"]:
        sep = "|" if "|" in layer else ":"
        parts = [m.strip().removeprefix("convcalc.") for m in layer.split(sep)]
        joiner = "   " if sep == "|" else " <-> "
        rows.append(joiner.join(f"[{p}]" for p in parts))
    width = max(len(r) for r in rows)
    lines = ["```text", "top: may import every layer below it; never one above"]
    for i, row in enumerate(rows):
        lines.append(row.center(width).rstrip())
        if i < len(rows) - 1:
            lines.append("|".center(width).rstrip())
            lines.append("v".center(width).rstrip())
    lines += [
        "",
        "[a]   [b]    siblings that may not import each other",
        "[a] <-> [b]  siblings that may (no cycle: contract no-cycles)",
        "```",
        "",
        "The other contracts (pyproject.toml, `[tool.importlinter]`):",
        "",
    ]
    for c in CONTRACTS:
        if c["id"] != "layers":
            lines.append(f"- `{c['id']}`: {c['name']}.")
    return "\n".join(lines)


def test_the_architecture_picture_is_current():
    text = DOC.read_text()
    assert BEGIN in text and END in text, "docs/architecture.md lost its generated block"
    block = text[text.index(BEGIN) + len(BEGIN): text.index(END)].strip("\n")
    assert block == layers_picture(), "stale: run python tests/test_architecture.py --write"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        text = DOC.read_text()
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(f"{head}{BEGIN}\n{layers_picture()}\n{END}{tail}")
    else:
        print(layers_picture())
