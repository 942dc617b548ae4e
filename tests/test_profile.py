"""``convcalc profile`` on a tiny model: structure and consistency, never wall-clock values.

Truths: the model's own layers (hand-listed), hand-counted bytes, Paddle's profiler (its kernels
grouped by the layer that issued them, its grad-node events), Paddle's flags, the seed.  Timings
are only compared with each other by relations that hold by construction or within noise
(shares add up to 1, a roofline bound is below the measured time, a kernel lies inside its scope).
Ceilings come from a quick measurement in a child process, cached in a temporary folder.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

paddle = pytest.importorskip("paddle")

from convcalc.errors import ConvcalcError, ModelLoadError  # noqa: E402
from convcalc.profiling import ceilings as C  # noqa: E402
from convcalc.profiling import machine  # noqa: E402
from convcalc.profiling.records import Bound, Ceilings  # noqa: E402
from convcalc.profiling.roofline import classify, overhead_reason  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data" / "profile"))
from test_pictures import run_cli  # noqa: E402 - the CLI in this process, kept once
from tiny import Tiny  # noqa: E402

SIZE = (2, 3, 16, 16)
# the report's leaf rows of Tiny, in order: block.act runs twice, the add and flatten are functional ops
ROWS = ["stem", "block.conv", "block.bn", "block.act", "block:add", "block.act", "wobble", "pool", ":flatten", "fc"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A temporary ceilings cache for this module (never the user's), with quick ceilings measured in a child."""
    folder = tmp_path_factory.mktemp("cache")
    old = os.environ.get("CONVCALC_CACHE")
    os.environ["CONVCALC_CACHE"] = str(folder)
    try:
        C.get_ceilings("float32", 1, quick=True)
        yield folder
    finally:
        if old is None:
            os.environ.pop("CONVCALC_CACHE", None)
        else:
            os.environ["CONVCALC_CACHE"] = old


@pytest.fixture(scope="module")
def ceil(cache) -> Ceilings:
    return C.get_ceilings("float32", 1)


@pytest.fixture(scope="module")
def model():
    paddle.seed(0)
    m = Tiny()
    m.eval()
    return m


@pytest.fixture(scope="module")
def prof(model, ceil):
    from convcalc.profiling import profile

    return profile(model, SIZE, name="tiny", repeat=5, warmup=1, profiler_repeat=2, training=True, ceilings=ceil)


# ------------------------------------------------------------------ the ceilings
def test_ceilings_measured_in_a_child_are_whole(ceil):
    assert ceil.source == "cache" and ceil.device == machine.cpu_name() and ceil.dtype == "float32"
    assert ceil.threads == 1 and ceil.paddle == paddle.__version__
    sizes = [x for x, _ in ceil.curve]
    assert sizes == sorted(sizes) and len(sizes) == 3
    assert ceil.bandwidth > 0 and ceil.peak_flops > 0 and all(bw > 0 for _, bw in ceil.curve)
    assert 0 < ceil.op_floor and 0 < ceil.call_floor and 0 < ceil.fault_cost < 1e-3


def _hand_ceilings(**kw) -> Ceilings:
    d = dict(device="cpu", dtype="float32", threads=1, peak_flops=1e10, bandwidth=1e9,
             curve=((1e3, 4e9), (1e6, 1e9)), call_floor=5e-6, op_floor=3e-6, fault_cost=8e-6, paddle="3.3.1",
             measured_at="2026-01-01T00:00:00")
    d.update(kw)
    return Ceilings(**d)


def test_cache_round_trip_and_key(tmp_path, monkeypatch):
    key = C.cache_key("float64", 3)
    assert key.split("|") == [machine.device_name(), "float64", "3", f"paddle {paddle.__version__}"]
    c = _hand_ceilings(dtype="float64", threads=3)
    C.store(key, c, tmp_path)
    monkeypatch.setattr(C, "measure_in_child", lambda *a, **k: pytest.fail("measured although cached"))
    back = C.get_ceilings("float64", 3, folder=tmp_path)
    assert back == c and back.source == "cache"


def test_a_corrupt_cache_is_measured_again_and_remeasure_rewrites(tmp_path, monkeypatch):
    (tmp_path / C.CACHE_FILE).write_text("{not json")
    calls = []

    def fake(dtype, threads, quick=False):
        calls.append((dtype, threads))
        return _hand_ceilings(peak_flops=2e10 + len(calls))

    monkeypatch.setattr(C, "measure_in_child", fake)
    first = C.get_ceilings("float32", 1, folder=tmp_path)
    assert calls == [("float32", 1)] and first.peak_flops == 2e10 + 1
    again = C.get_ceilings("float32", 1, folder=tmp_path, remeasure=True)
    assert len(calls) == 2 and again.peak_flops == 2e10 + 2
    stored = json.loads((tmp_path / C.CACHE_FILE).read_text())
    assert stored[C.cache_key("float32", 1)]["peak_flops"] == 2e10 + 2


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVCALC_CACHE", str(tmp_path / "a"))
    assert C.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("CONVCALC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert C.cache_dir() == tmp_path / "x" / "convcalc"


# ------------------------------------------------------------------ rows and totals
def test_one_row_per_leaf_call_and_functional_op(prof):
    assert [r.path for r in prof.rows] == ROWS
    assert [r.call for r in prof.rows if r.path == "block.act"] == [0, 1]
    assert [r.source for r in prof.rows if r.is_functional] == ["container, split by profiler"] * 2
    assert all(len(r.times) == 5 and r.median > 0 and r.best <= r.median for r in prof.rows)


def test_shares_and_the_time_outside_every_row_add_up_to_one(prof):
    assert math.isclose(sum(r.share for r in prof.rows) + prof.outside / prof.measured, 1.0, rel_tol=1e-12)
    assert math.isclose(sum(r.median for r in prof.rows) + prof.outside, prof.measured, rel_tol=1e-12)


def test_roofline_numbers_follow_from_each_other(prof, ceil):
    for r in prof.rows:
        assert r.bound == max(r.t_compute or 0.0, r.t_memory)
        assert math.isclose(r.efficiency, r.bound / r.median)
        assert r.bound_class is classify(r.t_compute, r.t_memory, r.median)
        want = overhead_reason(r.median, r.bound, r.faults, ceil) if r.bound_class is Bound.OVERHEAD else ""
        assert r.reason.value == (want.value if want else "")
        if r.flops is not None:
            assert math.isclose(r.t_compute, r.flops / ceil.peak_flops)
    assert math.isclose(prof.prediction, sum(r.bound for r in prof.rows))
    assert math.isclose(prof.ratio, prof.measured / prof.prediction)


def test_bytes_moved_by_hand(prof):
    rows = {(r.path, r.call): r for r in prof.rows}
    # stem: input 2x3x16x16, weights 8x3x3x3 + 8 bias, output 2x8x16x16, float32
    assert rows[("stem", 0)].bytes == (2 * 3 * 256 + 8 * 27 + 8 + 2 * 8 * 256) * 4
    # the second call of block.act still reads nothing but its input and writes its output
    assert rows[("block.act", 1)].bytes == 2 * (2 * 8 * 256) * 4
    # block.bn: input, 4 x 8 statistics and affine values, output
    assert rows[("block.bn", 0)].bytes == (2 * 8 * 256 * 2 + 32) * 4


def test_a_layer_without_a_rule_is_timed_and_its_flops_are_unknown(prof):
    from convcalc.render.profile import profile_dict, row_cells, totals_lines

    wob = next(r for r in prof.rows if r.path == "wobble")
    assert wob.flops is None and wob.t_compute is None and wob.median > 0 and len(wob.times) == prof.repeat
    assert prof.flops_complete is False and prof.rows_without_rule == ("wobble",)
    assert row_cells(wob)[5] == "unknown"
    assert "FLOPs >= " in "\n".join(totals_lines(prof))
    assert profile_dict(prof)["complete"] is False


def test_bounds_stay_below_the_measured_time(prof):
    """A roofline is a lower bound on time: within noise for rows above 2% of the time."""
    big = [r for r in prof.rows if r.share > 0.02]
    assert big and all(r.bound <= 1.5 * r.median for r in big), [(r.path, r.bound, r.median) for r in big]


def test_settings_are_stated(prof):
    assert (prof.dtype, prof.threads, prof.repeat, prof.warmup, prof.seed) == ("float32", 1, 5, 1, 0)
    assert prof.allocator.value == "default" and prof.input_shapes == (SIZE,)
    assert prof.started and len(prof.load_before) in (0, 3)


# ------------------------------------------------------------------ against Paddle's profiler
def test_every_layer_call_has_a_profiler_scope_and_kernels_lie_inside_it(prof):
    layers = [r for r in prof.rows if not r.is_functional]
    assert all(r.profiler_scope is not None and r.profiler_kernel is not None for r in layers)
    assert all(0 <= r.profiler_kernel <= r.profiler_scope for r in layers)
    assert prof.profiler_forward is not None and prof.profiler_kernels <= prof.profiler_forward


def test_profiler_grouping_has_the_hooks_structure(model, prof):
    """Paddle's profiler, grouped by the path-named scopes, sees the same layer calls in the same order as the
    hooks, and the ops run directly in each container are exactly the report's functional rows there."""
    from convcalc.checks.profiler_kernels import profile_forward
    from convcalc.profiling.forward import time_forward

    x = paddle.randn(list(SIZE))
    run = profile_forward(model, [x], repeat=2, warmup=1)
    timing = time_forward(model, [x], repeat=2, warmup=1)
    assert list(run.calls) == list(timing.calls)  # (path, n-th call), in finishing order
    assert [op for op, _ in run.calls[("block", 0)].direct_ops[0]] == ["add"]
    assert [op for op, _ in run.root_ops[0]] == ["flatten"]
    rows = [r for r in prof.rows if r.is_functional]
    assert [(r.path.split(":")[0], r.kind) for r in rows] == [("block", "add"), ("", "flatten")]


# ------------------------------------------------------------------ backward (--training)
def test_training_gives_every_row_a_backward_time(prof):
    assert prof.training is not None
    assert all(r.backward is not None and r.backward >= 0 for r in prof.rows), [
        (r.path, r.backward) for r in prof.rows]
    t = prof.training
    assert t.backward_on_rows <= t.backward + 1e-9 and t.backward_unclaimed >= 0
    assert t.backward_flops == sum(r.backward_flops or 0 for r in prof.rows) > 0


def test_backward_intervals_add_up_and_follow_paddles_grad_nodes(model):
    from convcalc.checks.profiler_kernels import profile_backward
    from convcalc.profiling.backward import ACCUMULATION, time_backward

    seen: list[list[tuple[str, float]]] = []
    bt = time_backward(model, [paddle.randn(list(SIZE))], repeat=2, warmup=1,
                       run=lambda loss: seen.append(profile_backward(loss.backward)))
    for i in range(2):
        on_nodes = sum(dt for _, dt, _ in bt.nodes[i])
        assert on_nodes <= bt.backward[i] and math.isclose(on_nodes + (bt.backward[i] - on_nodes), bt.backward[i])
        hooked = [name for name, _, _ in bt.nodes[i]]
        profiled = [name for name, _ in seen[i] if name != ACCUMULATION]
        assert hooked == profiled
        owners = {owner for _, _, owner in bt.nodes[i] if owner is not None}
        assert {p for p, _ in owners} >= {"stem", "block.conv", "block.bn", "block.act", "block", "fc", "wobble"}


# ------------------------------------------------------------------ hooks leave nothing behind
class _Bomb(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 3:  # warmup, un-hooked, then the first hooked forward
            raise RuntimeError("boom")
        return x


class _WithBomb(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.stem = paddle.nn.Conv2D(3, 4, 3)
        self.bomb = _Bomb()

    def forward(self, x):
        return self.bomb(self.stem(x))


def _hook_count(model) -> int:
    return sum(len(layer._forward_pre_hooks) + len(layer._forward_post_hooks) for _, layer in model.named_sublayers())


def test_hooks_are_removed_and_the_mode_restored_also_when_the_forward_raises():
    from convcalc.profiling.forward import time_forward

    m = _WithBomb()
    m.train()
    with pytest.raises(ModelLoadError, match=r"executed layers up to: stem") as err:
        time_forward(m, [paddle.randn([1, 3, 8, 8])], repeat=2, warmup=1)
    assert "boom" in str(err.value) and "\n" not in str(err.value)
    assert _hook_count(m) == 0 and m.training is True


def test_profile_leaves_the_model_as_it_was(model, prof):
    assert _hook_count(model) == 0 and model.training is False
    assert all(p.dtype == paddle.float32 for p in model.parameters())


# ------------------------------------------------------------------ GPU: a clock read waits for the device
def test_every_clock_read_is_synchronised_on_a_gpu(monkeypatch):
    """On a GPU kernels are queued: each hook and each end-to-end forward synchronises before reading the clock."""
    from convcalc.profiling import forward

    syncs = []
    monkeypatch.setattr(machine, "on_gpu", lambda: True)
    monkeypatch.setattr(machine, "synchronize", lambda: syncs.append(1))
    m = Tiny()
    timing = forward.time_forward(m, [paddle.randn([1, 3, 8, 8])], repeat=1, warmup=0)
    hooked_calls = sum(len(ct.times) for ct in timing.calls.values())
    assert hooked_calls == 9  # stem, block, conv, bn, act x2, wobble, pool, fc
    assert len(syncs) == 2 * hooked_calls + 2 * 2  # two per hooked call, two per forward (un-hooked, hooked)


@pytest.mark.skipif(not (paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0),
                    reason="no GPU: the synchronised path is tested above with a stand-in device")
def test_profile_on_a_gpu(tmp_path, monkeypatch):
    from convcalc.profiling import profile

    monkeypatch.setenv("CONVCALC_CACHE", str(tmp_path))
    paddle.set_device("gpu")
    try:
        p = profile(Tiny(), SIZE, repeat=3, warmup=1, profiler_repeat=2, ceilings="measure")
    finally:
        paddle.set_device("cpu")
    assert p.ceilings.device == paddle.device.cuda.get_device_name()
    assert math.isclose(sum(r.share for r in p.rows) + p.outside / p.measured, 1.0, rel_tol=1e-12)
    assert all(r.profiler_kernel is not None and r.profiler_kernel <= r.profiler_scope for r in p.rows
               if not r.is_functional)


# ------------------------------------------------------------------ threads, seeds, allocator, dtype
def test_threads_are_paddles_own_setting():
    try:
        assert machine.set_threads(2) == 2
        assert paddle.get_flags("FLAGS_paddle_num_threads")["FLAGS_paddle_num_threads"] == 2
    finally:
        machine.set_threads(1)


def test_the_same_seed_gives_the_same_input():
    from convcalc.profiling.run import example_values
    from convcalc.trace.inputs import ModelInput

    inputs = [ModelInput((2, 3, 4, 4)), ModelInput((2, 5), "int64")]
    a, b, c = example_values(inputs, 7), example_values(inputs, 7), example_values(inputs, 8)
    assert bool((a[0] == b[0]).all()) and not bool((a[0] == c[0]).all())
    assert str(a[1].dtype).endswith("int64") and int(a[1].abs().sum()) == 0


PINNED_BN = """
import resource, sys
sys.path.insert(0, sys.argv[1])
import paddle
from convcalc.profiling.machine import pin_allocator
print(pin_allocator())
bn = paddle.nn.BatchNorm2D(96); bn.eval()
x = paddle.randn([1, 96, 112, 112])  # a 4.6 MiB output: above glibc's initial mmap threshold
faults = []
with paddle.no_grad():
    for _ in range(3):
        bn(x)
    for _ in range(15):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        bn(x)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
print(" ".join(map(str, faults)))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="mallopt is glibc's (Linux)")
def test_a_pinned_allocator_stops_page_faults_per_call():
    proc = subprocess.run([sys.executable, "-c", PINNED_BN, str(ROOT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pinned, faults = proc.stdout.splitlines()[-2:]
    if pinned != "True":
        pytest.skip("not glibc: mallopt unavailable")
    # The typical call: unpinned, about 1,177 faults (one per 4 KiB page of the output, every call).
    # Pinned, the heap may still grow once or twice while it settles (a whole output's pages, once,
    # about one run in four here), which is not a per-call cost; the median call faults no page.
    assert statistics.median(int(f) for f in faults.split()) < 10, faults


def test_a_dtype_paddle_cannot_run_is_refused_in_one_line(ceil):
    from convcalc.profiling import profile

    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        pytest.skip("a GPU runs float16")
    m = Tiny()
    with pytest.raises(ConvcalcError, match="does not run in float16 here") as err:
        profile(m, SIZE, dtype="float16", repeat=1, ceilings=ceil)
    assert "\n" not in str(err.value)
    assert all(p.dtype == paddle.float32 for p in m.parameters())  # given back as it came


@pytest.mark.parametrize("kw, text", [
    ({"repeat": 0}, "repeat must be a whole number >= 1"),
    ({"threads": 0}, "threads must be a whole number >= 1"),
    ({"dtype": "int8"}, "unknown dtype"),
    ({"allocator": "jemalloc"}, "unknown allocator"),
    ({"ceilings": "fresh"}, "ceilings must be"),
])
def test_bad_options_fail_before_any_work(kw, text):
    from convcalc.profiling import profile

    with pytest.raises(ConvcalcError, match=text):
        profile(Tiny(), SIZE, **kw)


# ------------------------------------------------------------------ the command
def _cli(*argv):
    proc = run_cli(*argv)
    return proc.returncode, proc.stdout, proc.stderr


def test_cli_json_states_what_a_user_needs_to_rerun(cache):
    code, out, err = _cli("profile", "lenet", "--repeat", "2", "--warmup", "1", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["model"] == "lenet" and d["input_shapes"] == [[1, 1, 28, 28]]
    assert {k: d[k] for k in ("dtype", "threads", "seed", "repeat", "warmup", "allocator")} == {
        "dtype": "float32", "threads": 1, "seed": 0, "repeat": 2, "warmup": 1, "allocator": "default"}
    assert d["ceilings"]["source"] == "cache" and d["ceilings"]["device"] == machine.cpu_name()
    assert d["complete"] is True and d["flops_total"] == sum(r["flops"] for r in d["rows"])
    assert len(d["load_before"]) in (0, 3) and d["units"]["time"] == "s"


def test_cli_table_names_every_class_and_the_totals(cache):
    code, out, err = _cli("profile", "lenet", "--repeat", "2", "--warmup", "0", "--no-profiler")
    assert code == 0, err
    assert "roofline prediction" in out and "measurement overhead" in out and "Spearman" in out
    assert "Profiler ms" in out and "Paddle's profiler:" not in out


def test_cli_refuses_bad_input_in_one_line(cache):
    code, _, err = _cli("profile", "lenet", "--threads", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "threads must be >= 1" in err
    code, _, err = _cli("profile", "lenet", "--repeat", "1", "--dtype", "float16")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "float16" in err and "Traceback" not in err


def test_cli_help_has_examples():
    code, out, _ = _cli("profile", "--help")
    assert code == 0 and "convcalc profile mobilenet_v2" in out and "docs/profile.md" in out


def test_the_benchmark_writes_its_tables(tmp_path, cache):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CONVCALC_CACHE=str(cache))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile.py"), "--models", "lenet", "--batches",
                           "1", "--repeat", "2", "--no-numpy", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("| lenet | 1 |")]
    assert len(lines) == 2, proc.stdout
    run = json.loads((tmp_path / "lenet_b1_t1_default.json").read_text())
    assert set(run["run_b"]) == {str(r["index"]) for r in run["rows"]}


def test_a_forward_beyond_free_memory_is_refused_before_it_runs(monkeypatch):
    """The timed forwards hold every activation at its peak with the parameters (the report's inference
    memory): where that exceeds the free memory, one refusal naming both, and no forward is timed."""
    import convcalc.profiling.run as run
    import convcalc.trace.failures as failures
    from convcalc.analysis import analyze
    from convcalc.errors import ShapeError

    t = analyze(Tiny(), SIZE, convention="flops").totals
    need = int(t.peak_activation_bytes) + int(t.param_bytes)
    monkeypatch.setattr(failures, "available_memory", lambda: need - 1)
    monkeypatch.setattr(run, "_measure", lambda *a, **k: pytest.fail("a forward was timed"))
    with pytest.raises(ShapeError, match=r"too large to profile .* at its peak .* is available"):
        run.profile(Tiny(), SIZE, repeat=1, warmup=0)
