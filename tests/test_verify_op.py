"""verify-op: students' operators checked against paddle.nn; the student's code runs in a sandbox.

The book's operators and the vectorised twins must pass; deliberately broken
student files (tests/data/homework/ops/) must fail with the right message.
Each check starts one sandbox (paddle's import dominates), so the default set
runs two at a time in a module fixture.  Hostile files: tests/test_sandbox.py.
"""

from __future__ import annotations

import importlib.util
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from convcalc.cli import main
from convcalc.homework.operators.verify_op import verify_op

OPS = Path(__file__).parent / "data" / "homework" / "ops"


def _book_file() -> str | None:
    spec = importlib.util.find_spec("convcalc.models.book")
    return spec.origin if spec and spec.origin else None


BOOK = _book_file()

# name -> (target, kind, mode, timeout[, keyword arguments])
DEFAULT_RUNS = {
    "padding_ignored": (f"{OPS}/conv_padding_ignored.py:Conv2D", "conv2d", None, 60),
    "stride_twice": (f"{OPS}/conv_stride_twice.py:Conv2D", "conv2d", None, 60),
    "kernel_flipped": (f"{OPS}/conv_kernel_flipped.py:Conv2D", "conv2d", None, 60),
    "infinite_loop": (f"{OPS}/conv_infinite_loop.py:Conv2D", "conv2d", None, 3),
    "raises": (f"{OPS}/conv_raises.py:Conv2D", "conv2d", None, 60),
    "no_bias": (f"{OPS}/conv_no_bias.py:Conv2D", "conv2d", None, 60),
    "no_bias_allowed": (f"{OPS}/conv_no_bias.py:Conv2D", "conv2d", None, 60, {"bias": False}),
    "weight_layout": (f"{OPS}/conv_weight_layout.py:Conv2D", "conv2d", None, 60),
    "avg_counts_padding": (f"{OPS}/pool_avg_counts_padding.py:Pool2D", "pool2d", "avg", 60),
    "bias_forgotten": (f"{OPS}/conv_bias_forgotten.py:Conv2D", "conv2d", None, 60),
    "exits": (f"{OPS}/exits.py:Conv2D", "conv2d", None, 60),
    "import_loops": (f"{OPS}/import_loops.py:Conv2D", "conv2d", None, 3),
    "detached_weight": (f"{OPS}/conv_detached_weight.py:Conv2D", "conv2d", None, 60),
}
if BOOK:
    DEFAULT_RUNS.update(
        {
            "book_conv": (f"{BOOK}:Conv2D", "conv2d", None, 120),
            "book_conv_vectorized": (f"{BOOK}:VectorizedConv2D", "conv2d", None, 60),
            "book_pool": (f"{BOOK}:Pool2D", "pool2d", None, 120),
            "book_pool_vectorized": (f"{BOOK}:VectorizedPool2D", "pool2d", None, 60),
        }
    )


@pytest.fixture(scope="module")
def results():
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(verify_op, *run[:4], **(run[4:] or [{}])[0]) for name, run in DEFAULT_RUNS.items()}
        return {name: f.result() for name, f in futures.items()}


needs_book = pytest.mark.skipif(BOOK is None, reason="convcalc.models.book not installed")


@needs_book
@pytest.mark.parametrize("name", ["book_conv", "book_conv_vectorized"])
def test_book_conv_passes(results, name):
    r = results[name]
    assert r.passed, r
    assert r.tried == r.total == 9
    assert r.reference == "paddle.nn.Conv2D"
    assert not any("gradients not checked" in n for n in r.notes)  # gradients were compared too


@needs_book
@pytest.mark.parametrize("name", ["book_pool", "book_pool_vectorized"])
def test_book_pool_passes_both_modes(results, name):
    r = results[name]
    assert r.passed, r
    assert r.reference == "paddle.nn.MaxPool2D and paddle.nn.AvgPool2D"
    assert r.tried == r.total == 12  # 6 configurations x (max, avg); no padding argument
    assert any("padding not tested" in n for n in r.notes)


def test_padding_ignored_fails_on_the_first_padded_config(results):
    r = results["padding_ignored"]
    assert not r.passed and r.failure == "wrong output shape"
    assert r.config_index == 2 and "padding 1" in r.config
    # 5x5, k3, p1: (5 + 2 - 3)//1 + 1 = 5; without padding 3.
    assert r.expected_shape == [2, 3, 5, 5] and r.got_shape == [2, 3, 3, 3]
    assert r.hint.startswith("padding ignored")
    assert r.tried == 1


def test_stride_applied_twice(results):
    r = results["stride_twice"]
    assert not r.passed and r.failure == "wrong output shape"
    # 7x7, k3, s2, p1: (7 + 2 - 3)//2 + 1 = 4; with stride 4: 6//4 + 1 = 2.
    assert r.config_index == 3 and "stride 2" in r.config
    assert r.expected_shape == [1, 1, 4, 4] and r.got_shape == [1, 1, 2, 2]
    assert r.hint.startswith("stride applied twice")


def test_kernel_flipped(results):
    r = results["kernel_flipped"]
    assert not r.passed and r.failure == "wrong values"
    assert r.config_index == 1 and r.max_diff is not None and r.max_diff > 1e-3
    assert r.hint.startswith("kernel flipped")


def test_infinite_loop_times_out_and_checker_survives(results):
    r = results["infinite_loop"]
    assert not r.passed
    assert r.failure == "timed out after 3 s"
    assert r.config_index == 1 and "infinite loop" in r.hint


def test_raising_operator(results):
    r = results["raises"]
    assert not r.passed
    assert r.failure.startswith("forward raised NameError") and "mapz" in r.failure
    assert "conv_raises.py line" in r.detail


def test_conv_without_bias_fails_unless_the_assignment_has_none(results):
    r = results["no_bias"]
    assert not r.passed and r.config_index == 1
    assert r.failure.startswith("no bias parameter") and "5.18" in r.failure
    assert "--no-bias" in r.hint
    ok = results["no_bias_allowed"]
    assert ok.passed and ok.tried == ok.total == 9
    assert any("--no-bias" in n for n in ok.notes)


def test_weight_layout_is_named(results):
    r = results["weight_layout"]
    assert not r.passed
    # Configuration 1 has D = P = 1 (either layout fits); configuration 2 has D = 2, P = 3.
    assert r.config_index == 2 and r.tried == 1
    assert r.failure == "weight should be [P, D, k, k] = [3, 2, 3, 3], got [D, P, k, k] = [2, 3, 3, 3]"
    assert "output channel" in r.hint


def test_avg_pool_counting_padding_gets_its_hint(results):
    r = results["avg_counts_padding"]
    assert not r.passed and r.failure == "wrong values"
    assert "padding 1" in r.config  # the unpadded configurations passed
    assert r.tried == 6 and r.hint.startswith("the average counted the padded zeros")


def test_bias_forgotten_exit_and_import_hang(results):
    r = results["bias_forgotten"]
    assert not r.passed and r.failure == "wrong values" and r.hint.startswith("bias not added")
    r = results["exits"]
    assert not r.passed and r.failure == "the operator's process exited with code 3 before reporting"
    assert "sys.exit" in r.hint
    r = results["import_loops"]
    assert r.failure == "timed out after 3 s while importing import_loops.py" and "top level" in r.hint


def test_gradients_are_checked(results):
    r = results["detached_weight"]
    assert not r.passed and r.config_index == 1
    assert r.failure == "no gradient reached the weight (the forward values are right)"


def test_cli_exit_codes_and_json(capsys):
    # Usage errors never start a process: exit 2 with one line.
    assert main(["verify-op", f"{OPS}/nope.py:Conv2D", "--kind", "conv2d"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["verify-op", f"{OPS}/good_conv.py", "--kind", "conv2d"]) == 2
    assert "FILE.py:ClassName" in capsys.readouterr().err
    assert main(["verify-op", f"{OPS}/good_conv.py:Conv2D", "--kind", "conv2d", "--timeout", "0"]) == 2
    capsys.readouterr()
    assert main(["verify-op", f"{OPS}/good_conv.py:Conv2D", "--kind", "conv2d", "--memory", "lots"]) == 2
    assert "not a memory size" in capsys.readouterr().err


# --------------------------------------------------------------------------- slower extras


@pytest.mark.slow
def test_student_copy_of_book_conv_passes_and_cli_json(capsys):
    code = main(["verify-op", f"{OPS}/good_conv.py:Conv2D", "--kind", "conv2d", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["passed"] and data["tried"] == 9


@pytest.mark.slow
@pytest.mark.parametrize(
    "target,kind,mode,timeout,failure,hint",
    [
        ("pool_always_avg.py:Pool2D", "pool2d", "max", 60, "wrong values", "computes avg pooling"),
        ("pool_off_by_one.py:Pool2D", "pool2d", None, 60, "wrong output shape", "off by one"),
        ("good_conv.py:NoSuchClass", "conv2d", None, 60, "has no 'NoSuchClass'", ""),
    ],
)
def test_more_broken_operators(target, kind, mode, timeout, failure, hint):
    r = verify_op(f"{OPS}/{target}", kind, mode, timeout)
    assert not r.passed
    assert failure in r.failure, r
    assert hint in r.hint, r


def test_a_recursion_that_never_ends_fails_before_the_timeout():
    # before the cap it ran until "timed out after 60 s" (frames growing towards the memory limit)
    r = verify_op(f"{OPS}/deep_recursion_limit.py:Conv2D", "conv2d", timeout=60)
    assert not r.passed and r.failure.startswith("forward raised RecursionError"), r.failure
    assert "caps the recursion limit" in r.hint


@pytest.fixture(scope="module")
def forbid_runs():
    book = importlib.util.find_spec("convcalc.models.book").origin
    runs = {
        "f_conv2d": (f"{OPS}/uses_f_conv2d.py:Conv2D", "conv2d", ()),
        "f_conv2d_forbidden": (f"{OPS}/uses_f_conv2d.py:Conv2D", "conv2d", ("conv", "pool")),
        "c_ops_pool_forbidden": (f"{OPS}/uses_c_ops_pool.py:Pool2D", "pool2d", ("pool",)),
        "loop_conv_forbidden": (f"{OPS}/good_conv.py:Conv2D", "conv2d", ("conv", "pool")),
        "book_pool_forbidden": (f"{book}:Pool2D", "pool2d", ("conv", "pool")),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {n: pool.submit(verify_op, t, k, timeout=120, forbid=f) for n, (t, k, f) in runs.items()}
        return {n: f.result() for n, f in futures.items()}


def test_paddles_own_operator_is_named_in_the_verdict(forbid_runs):
    r = forbid_runs["f_conv2d"]
    assert r.passed and "paddle.nn.functional.conv2d" in r.calls
    assert any(n.startswith("uses paddle.nn.functional.conv2d") for n in r.notes)


def test_forbid_makes_paddles_own_operators_fail(forbid_runs):
    r = forbid_runs["f_conv2d_forbidden"]
    assert not r.passed
    assert r.failure == "called paddle.nn.functional.conv2d, which this assignment forbids (--forbid conv,pool)"
    r = forbid_runs["c_ops_pool_forbidden"]
    assert not r.passed and "forbids (--forbid pool)" in r.failure and "max_pool2d" in r.failure


def test_operators_written_by_hand_pass_with_forbid(forbid_runs):
    for name in ("loop_conv_forbidden", "book_pool_forbidden"):
        r = forbid_runs[name]
        assert r.passed and not r.calls, (name, r.failure)
        assert any("were disabled (--forbid conv,pool)" in n for n in r.notes)
