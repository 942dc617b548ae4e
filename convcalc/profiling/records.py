"""The numbers of a profile, as frozen dataclasses (no strings formatted here, no paddle).

Seconds, bytes, FLOPs and FLOP/s are plain floats and ints; a FLOP count of
``None`` means "no rule: unknown" (the total is then a lower bound).  The
classes and reasons are string enums, so a typo fails on construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["Bound", "Reason", "Allocator", "Ceilings", "ProfileRow", "TrainingStep", "Profile", "DTYPE_BYTES"]

DTYPE_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}


class Bound(str, Enum):
    """What limits a row: its FLOPs at the peak, its bytes at the bandwidth, or neither (measured far above both)."""

    COMPUTE = "compute-bound"
    MEMORY = "memory-bound"
    OVERHEAD = "overhead-bound"


class Reason(str, Enum):
    """For an overhead-bound row, what the time above the roofline most likely is (from the numbers)."""

    NONE = ""
    PER_CALL = "per-call cost"
    PAGE_FAULTS = "page faults"
    SLOW_KERNEL = "slow kernel"


class Allocator(str, Enum):
    """``default``: the process as it is; ``pinned``: glibc's malloc thresholds fixed (no per-call page faults)."""

    DEFAULT = "default"
    PINNED = "pinned"


@dataclass(frozen=True)
class Ceilings:
    """What this machine can do, measured with Paddle kernels at one dtype and thread count.

    ``peak_flops`` (FLOP/s): the fastest run of an n x n matmul, counted n*n*(2n-1)
    (the flops convention).  ``bandwidth`` (B/s): the best in-place streaming kernel
    on operands far larger than any cache (the DRAM roof).  ``curve``: streaming
    bandwidth by working-set size, ``((bytes, B/s), ...)``: a layer whose bytes fit
    in a cache streams faster than DRAM, so its memory time uses the bandwidth at its
    own working set.  ``call_floor`` (s): the hooked time of a layer call that does
    almost nothing (ReLU on one value); ``op_floor``: one bare eager op;
    ``fault_cost`` (s): one minor page fault.
    """

    device: str
    dtype: str
    threads: int
    peak_flops: float
    bandwidth: float
    curve: tuple[tuple[float, float], ...]
    call_floor: float
    op_floor: float
    fault_cost: float
    paddle: str
    measured_at: str
    kernels: dict = field(default_factory=dict, compare=False)  # sizes and raw figures, for the record
    source: str = field(default="measured", compare=False)  # "measured" now, or "cache": a label

    def __post_init__(self) -> None:
        if self.peak_flops <= 0 or self.bandwidth <= 0 or not self.curve:
            raise ValueError("ceilings need a positive peak, a positive bandwidth and a bandwidth curve")

    @property
    def ridge(self) -> float:
        """Arithmetic intensity (FLOP/B) where the DRAM roofline turns from memory- to compute-bound."""
        return self.peak_flops / self.bandwidth

    @property
    def top_bandwidth(self) -> float:
        """The best streaming bandwidth measured: the curve's (a working set that fits in a cache), or the DRAM
        kernels' where a busy machine made those faster than the curve's single kernel."""
        return max(self.bandwidth, *(bw for _, bw in self.curve))

    def bandwidth_at(self, nbytes: float) -> float:
        """Streaming bandwidth at a working set of ``nbytes``: the curve interpolated log-log, clamped at its ends."""
        pts = sorted(self.curve)
        if nbytes <= pts[0][0]:
            return pts[0][1]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            if nbytes <= x1:
                f = (math.log(nbytes) - math.log(x0)) / (math.log(x1) - math.log(x0))
                return math.exp(math.log(y0) + f * (math.log(y1) - math.log(y0)))
        return pts[-1][1]


@dataclass(frozen=True)
class ProfileRow:
    """One row of a profile: a leaf layer call or a functional op, keyed like the report's ``LayerRecord``.

    ``times``: seconds in each timed repeat; ``median``/``iqr``/``best`` from them.
    ``bytes``: inputs + parameters + outputs at the dtype's width.  ``t_compute`` =
    FLOPs / peak (None: FLOPs unknown), ``t_memory`` = bytes / bandwidth at that working
    set, ``bound`` their max, ``efficiency`` = bound / median.  ``source``: ``"hooks"`` for
    a layer call; a functional row gets its container's own time (``"container"``), split
    among its ops by Paddle's profiler op times when it ran (``"container, split by
    profiler"``).
    """

    index: int
    path: str
    kind: str
    is_functional: bool
    call: int
    times: tuple[float, ...]
    median: float
    iqr: float
    best: float
    share: float
    flops: int | None
    bytes: int
    t_compute: float | None
    t_memory: float
    bound: float
    efficiency: float
    bound_class: Bound
    reason: Reason = Reason.NONE
    source: str = "hooks"
    faults: float | None = None  # minor page faults per call (first touch of fresh outputs)
    profiler_scope: float | None = None  # Paddle's profiler: the layer's scope, median seconds
    profiler_kernel: float | None = None  # ... and the kernels inside it
    backward: float | None = None  # --training: median seconds of its grad nodes
    backward_flops: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "bound_class", Bound(self.bound_class))
        object.__setattr__(self, "reason", Reason(self.reason))

    @property
    def intensity(self) -> float | None:
        """FLOP per byte moved (None: FLOPs unknown)."""
        return None if self.flops is None or not self.bytes else self.flops / self.bytes

    @property
    def flops_per_s(self) -> float | None:
        return None if self.flops is None or self.median <= 0 else self.flops / self.median

    @property
    def bytes_per_s(self) -> float:
        return self.bytes / self.median if self.median > 0 else 0.0


@dataclass(frozen=True)
class TrainingStep:
    """``--training``: one step's parts, median seconds (hooked), and the same step without any hook."""

    forward: float
    backward: float
    optimizer: float
    step_unhooked: float
    backward_on_rows: float
    backward_unclaimed: float
    backward_flops: int


@dataclass(frozen=True)
class Profile:
    """A whole profile: what was asked, the ceilings, the rows and the totals.

    ``measured`` is the sum of the rows' medians plus ``outside`` (hooked time on no
    row: container code that is not a functional op), so the shares add up to 1.
    ``unhooked``: median end-to-end forward without hooks, interleaved with the hooked
    ones in the same run.  ``overhead_paired``: median over repeats of hooked/un-hooked
    end-to-end - 1 (the measurement's own cost; drift cancels); ``overhead_sum``:
    measured / unhooked - 1 (the sum of per-layer times against the un-hooked forward).
    """

    model: str
    input_shapes: tuple[tuple[int, ...], ...]
    dtype: str
    threads: int
    repeat: int
    warmup: int
    seed: int
    allocator: Allocator
    ceilings: Ceilings
    rows: tuple[ProfileRow, ...]
    measured: float
    hooked: float
    unhooked: float
    unhooked_iqr: float
    outside: float
    prediction: float
    flops_total: int
    flops_complete: bool
    overhead_sum: float
    overhead_paired: float
    faults_per_forward: float = 0.0
    profiler_forward: float | None = None
    profiler_kernels: float | None = None
    training: TrainingStep | None = None
    rows_without_rule: tuple[str, ...] = ()
    flops_time_rank: float = math.nan  # Spearman: per-row FLOPs ~ per-row time
    kernel_rank: float | None = None  # Spearman: per-layer hook time ~ Paddle's profiler kernel time
    classes: tuple[tuple[Bound, int, float, float], ...] = ()  # (class, rows, share of time, share of FLOPs)
    misleading: tuple[tuple[int, float, float], ...] = ()  # (row index, share of time, share of FLOPs), worst first
    notes: tuple[str, ...] = ()
    started: str = ""
    load_before: tuple[float, ...] = ()
    load_after: tuple[float, ...] = ()
    malloc_env: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "allocator", Allocator(self.allocator))

    @property
    def ratio(self) -> float:
        """Measured / roofline prediction (how far the model runs above its roofline)."""
        return self.measured / self.prediction if self.prediction else math.inf

    @property
    def profiler_overhead(self) -> float | None:
        """Paddle's profiler (with one path-named scope per layer call) against the un-hooked forward."""
        if self.profiler_forward is None or not self.unhooked:
            return None
        return self.profiler_forward / self.unhooked - 1
