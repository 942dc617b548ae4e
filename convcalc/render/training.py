"""Rendering for the trainer (book §5.3-5.4): progress, result tables, JSON, curves, images.

Every string and picture ``convcalc train``/``reproduce``/``edges`` shows is made
here; the library (:mod:`convcalc.train`) only returns dataclasses.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convcalc.errors import DependencyError, OutputError
from convcalc.files import atomic_path, check_writable

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.table import Table

    from convcalc.train.edges import EdgeResult
    from convcalc.train.experiments import BookExperiment, Reproduction
    from convcalc.train.runner import StepCost, TrainEvent, TrainResult

__all__ = [
    "TrainProgress",
    "ReproduceProgress",
    "result_table",
    "result_rows",
    "result_text",
    "plain_console",
    "reproduction_table",
    "reproduction_markdown",
    "to_json",
    "check_plot_support",
    "plot_curves",
    "save_edges",
]


def _stderr_console(quiet: bool = False) -> Console:
    """The progress console; piped or redirected, lines are never cut (no 80-column wrap in a log file)."""
    from rich.console import Console

    console = Console(stderr=True, quiet=quiet)
    return console if console.is_terminal else Console(stderr=True, quiet=quiet, width=200, soft_wrap=True)


def plain_console() -> Console:
    """A stdout console: rich's own in a terminal; piped or redirected, text lines are never cut."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=200, soft_wrap=True)


def si(value: float, unit: str = "") -> str:
    """``81088896, "FLOPs"`` -> ``"81.1 MFLOPs"`` (three significant digits, k/M/G/T)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()


def step_cost_text(cost: StepCost) -> str:
    """``"81,088,896 at batch 32 (forward 27.0 M + input gradient ... ; 'flops' convention ...)"``."""
    return (
        f"{cost.step:,} ({si(cost.step, 'FLOPs')}) at batch {cost.batch}: forward {si(cost.forward)} + input "
        f"gradient {si(cost.backward_input)} + weight gradient {si(cost.backward_weight)}; "
        f"'{cost.convention}' convention, every multiply and add counted"
    )


def epoch_speed_text(epoch: int, seconds: float, flops: int) -> str:
    """One epoch, measured beside predicted: ``"epoch 1: 3.2 GFLOPs predicted in 1.50 s ... -> 2.1 GFLOP/s"``."""
    rate = si(flops / seconds, "FLOP/s") if seconds > 0 else "? FLOP/s"
    return f"epoch {epoch}: {si(flops, 'FLOPs')} predicted in {seconds:.2f} s of training steps -> {rate} achieved"


def _status(loss: float | None, dev: float | None, best: float | None) -> str:
    parts = []
    if loss is not None:
        parts.append(f"loss {loss:.4f}")
    if dev is not None:
        parts.append(f"dev acc {dev:.3f}")
    if best is not None and best >= 0:
        parts.append(f"best {best:.3f}")
    return "  ".join(parts)


class TrainProgress:
    """A rich progress display (epoch, step, loss, dev accuracy, best, time left) on stderr.

    Use as a context manager and pass the instance as ``progress=`` to
    :func:`convcalc.train.runner.train`.  Each dev evaluation also prints one
    line, like the book's RunnerV3 log, so a non-terminal log keeps them.
    """

    def __init__(
        self, title: str, *, quiet: bool = False, console: Console | None = None, log_evals: bool = True
    ) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = console or _stderr_console(quiet)
        self.title = title
        self.log_evals = log_evals
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(bar_width=16),
            TextColumn("step"),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
            refresh_per_second=4,
        )
        self._task: Any = None
        self._loss: float | None = None
        self._dev: float | None = None
        self._best: float | None = None

    def __enter__(self) -> TrainProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def reset(self, title: str) -> None:
        """Start a new bar (used by ``reproduce`` for each run)."""
        self.title = title
        self._task = None
        self._loss = self._dev = self._best = None

    def __call__(self, event: TrainEvent) -> None:
        epoch = f"{event.epoch + 1}/{event.epochs}"
        if event.kind == "start":
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(self.title, total=event.total_steps, epoch=epoch, status="")
            if self.log_evals and event.cost is not None:
                self._progress.console.print(f"predicted per step: {step_cost_text(event.cost)}", highlight=False)
            return
        if event.kind == "epoch":
            if self.log_evals and event.seconds is not None and event.flops is not None:
                self._progress.console.print(
                    epoch_speed_text(event.epoch + 1, event.seconds, event.flops), highlight=False
                )
            return
        if event.kind == "eval" and event.dev is not None:
            self._loss, self._dev, self._best = event.train_loss, event.dev.accuracy, event.best_accuracy
            if self.log_evals:
                mark = " [green]new best[/green]" if event.dev.improved else ""
                self._progress.console.print(
                    f"step {event.dev.step}: loss {event.train_loss:.4f}, dev acc "
                    f"{event.dev.accuracy:.4f}, dev loss {event.dev.loss:.4f}{mark}",
                    highlight=False,
                )
        if self._task is not None:
            self._progress.update(
                self._task, completed=event.step, epoch=epoch, status=_status(self._loss, self._dev, self._best)
            )


class ReproduceProgress(TrainProgress):
    """:class:`TrainProgress` for ``reproduce``: one bar per (experiment, seed)."""

    def __call__(
        self,
        experiment: BookExperiment,
        seed: int,  # type: ignore[override]
        event: TrainEvent,
    ) -> None:
        if event.kind == "start":
            self.reset(f"{experiment.label} (lr {experiment.lr}, seed {seed})")
        super().__call__(event)


def result_rows(result: TrainResult) -> list[tuple[str, str]]:
    """The outcome of one ``convcalc train`` run as ``(what, value)`` pairs."""
    cfg = result.config
    rows = [
        ("data", result.data),
        *(("note", n) for n in result.notes),
        (
            "protocol",
            f"{cfg.optimizer.upper()} lr {result.learning_rate:g}, batch {cfg.batch_size}, "
            f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}, seed {cfg.seed}, dev every {cfg.eval_steps} steps"
            + (", naive loop Conv2D" if cfg.naive else ""),
        ),
        ("steps", f"{result.steps} ({result.steps_per_epoch} per epoch)"),
        ("best dev accuracy", f"{result.best_dev_accuracy:.4f} at step {result.best_step}"),
        ("test accuracy / loss", f"{result.test_accuracy:.4f} / {result.test_loss:.4f}  (best dev model)"),
        ("seconds per epoch", f"{result.seconds_per_epoch:.2f}"),
    ]
    if result.step_cost is not None:
        rows.append(("predicted FLOPs per step", step_cost_text(result.step_cost)))
    if result.epoch_flops:
        speeds = ", ".join(f"{i}: {si(rate, 'FLOP/s')}" for i, rate in enumerate(result.achieved_flops_per_second, 1))
        rows.append(("achieved per epoch", f"{speeds}  (predicted FLOPs / seconds of training steps)"))
    if result.checkpoint:
        rows.append(("checkpoint", result.checkpoint))
    return rows


def result_table(result: TrainResult) -> Table:
    """The outcome of one ``convcalc train`` run as a two-column rich table (a terminal)."""
    from rich.table import Table

    table = Table(title=f"convcalc train {result.model}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    for what, value in result_rows(result):
        table.add_row(what, value)
    return table


def result_text(result: TrainResult) -> str:
    """The same outcome as ``what: value`` lines, one per row (piped output: nothing wraps)."""
    return "\n".join([f"convcalc train {result.model}", *(f"{what}: {value}" for what, value in result_rows(result))])


def _fmt(r: Any) -> tuple[str, ...]:
    e = r.experiment
    return (
        e.label,
        f"{e.lr:g}",
        f"{e.book_accuracy:.4f}",
        f"{r.mean_accuracy:.4f} ± {r.std_accuracy:.4f}",
        f"{r.min_accuracy:.3f}–{r.max_accuracy:.3f}",
        f"{e.book_loss:.4f}",
        f"{r.mean_loss:.4f}",
        f"{r.mean_seconds_per_epoch:.1f}",
    )


_HEADERS = (
    "model",
    "lr",
    "book acc",
    "ours acc mean ± std",
    "min–max",
    "book loss",
    "ours loss",
    "s/epoch",
)


def _seeds(rep: Reproduction) -> str:
    """``"seeds 100, 101, 102"``, or the count per row when the rows differ."""
    if len({r.seeds for r in rep.rows}) == 1:
        return "seeds " + ", ".join(map(str, rep.rows[0].seeds))
    return "seeds per model: " + " / ".join(str(len(r.seeds)) for r in rep.rows)


def _conclusion(rep: Reproduction) -> str:
    verdict = "holds" if rep.conclusion_holds else "does NOT hold"
    counts = sorted({len(r.seeds) for r in rep.rows})
    n = "/".join(map(str, counts))
    return f"Book's conclusion (residual > LeNet > no residual, by mean over {n} seeds): {verdict}"


def reproduction_table(rep: Reproduction) -> Table:
    """The ``convcalc reproduce`` table, with the data used and the verdict as caption."""
    from rich import box
    from rich.table import Table

    epochs = f"{rep.epochs} epoch{'s' if rep.epochs != 1 else ''}"
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"The book's MNIST experiments, {epochs}, {_seeds(rep)}",
        caption=_conclusion(rep),
        caption_justify="left",
    )
    for i, h in enumerate(_HEADERS):
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=i > 0)
    for r in rep.rows:
        label, *rest = _fmt(r)
        table.add_row(label.replace(", ", "\n"), *rest)
    return table


def reproduction_markdown(rep: Reproduction) -> str:
    """The same table as Markdown (for docs/reproduction.md)."""
    lines = ["| " + " | ".join(_HEADERS) + " |", "|" + "|".join([":--"] + ["--:"] * (len(_HEADERS) - 1)) + "|"]
    lines += ["| " + " | ".join(_fmt(r)) + " |" for r in rep.rows]
    per_seed = ["", "Per seed (test accuracy / loss):", ""]
    for r in rep.rows:
        runs = ", ".join(f"{s}: {a:.3f}/{lo:.3f}" for s, a, lo in zip(r.seeds, r.accuracies, r.losses, strict=True))
        per_seed.append(f"- {r.experiment.label}: {runs}")
    lines = [f"{_seeds(rep).capitalize()}, {rep.epochs} epochs per run.", "", *lines]
    return (
        "\n".join(
            lines
            + ["", _conclusion(rep) + ".", "", f"Data: {rep.data}."]
            + [f"Note: {n}." for n in rep.notes]
            + per_seed
        )
        + "\n"
    )


def to_json(obj: Any) -> str:
    """``obj.to_dict()`` (or a plain dict) as indented JSON."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    return json.dumps(data, indent=2, default=str)


def _atomic_target(path: str | os.PathLike, what: str) -> Path:
    from convcalc.train.runner import check_output_path

    return check_output_path(path, what)


PICTURE_FORMATS = (".png", ".svg", ".pdf")


def check_plot_support(path: str | os.PathLike, what: str = "--plot", drop: str = " (or drop --plot)") -> Path:
    """Fail before long work if matplotlib is missing or ``path`` cannot be written as a picture.

    One check for every picture convcalc draws (``train --plot``, ``rf -o``): matplotlib importable, the
    folder writable, and the format known from the suffix (.png, .svg or .pdf; none means PNG).
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise DependencyError(
            f"{what} needs matplotlib, which is not installed", f"pip install 'convcalc[plot]'{drop}"
        ) from None
    target = check_writable(Path(path).expanduser())
    if target.suffix.lower() not in ("", *PICTURE_FORMATS):
        raise OutputError(f"cannot tell the picture format of {str(target)!r}", "use a .png, .svg or .pdf path")
    return target


def _save_figure(fig: Any, path: Path) -> Path:
    try:
        with atomic_path(path, suffix=path.suffix or ".png") as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight", format=(path.suffix[1:] or "png"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot write {path}: {exc}", "use a .png, .pdf or .svg path") from None
    return path


def plot_curves(result: TrainResult, path: str | os.PathLike) -> Path:
    """The book's two panels (plot_training_loss_acc): train/dev loss, and dev accuracy."""
    target = check_plot_support(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(range(len(result.train_losses)), result.train_losses, color="#8E004D", label="Train loss")
    ax_loss.plot(
        [p.step for p in result.dev], [p.loss for p in result.dev], color="#E20079", linestyle="--", label="Dev loss"
    )
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right")
    ax_acc.plot(
        [p.step for p in result.dev],
        [p.accuracy for p in result.dev],
        color="#E20079",
        linestyle="--",
        label="Dev accuracy",
    )
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("score")
    ax_acc.legend(loc="lower right")
    fig.suptitle(f"{result.model}: test accuracy {result.test_accuracy:.4f} (best dev model)")
    try:
        return _save_figure(fig, target)
    finally:
        plt.close(fig)


def save_edges(result: EdgeResult, path: str | os.PathLike) -> Path:
    """Write the edge map as a greyscale PNG, min-max scaled as ``imshow(cmap='gray')`` shows it."""
    import numpy as np
    from PIL import Image

    target = _atomic_target(path, "output image")
    fmap = result.output.astype(np.float64)
    span = float(fmap.max() - fmap.min())
    scaled = np.zeros_like(fmap) if span == 0 else (fmap - fmap.min()) / span
    image = Image.fromarray(np.rint(scaled * 255).astype(np.uint8), mode="L")
    try:
        with atomic_path(target) as tmp:
            image.save(tmp, format=(target.suffix[1:].upper().replace("JPG", "JPEG") or "PNG"))
    except (OSError, ValueError, KeyError) as exc:
        raise OutputError(f"cannot write {target}: {exc}", "use a .png path") from None
    return target
