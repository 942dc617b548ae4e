"""The book's three MNIST experiments (book §5.3.3-5.4.3) over several seeds.

LeNet-5 at lr 0.1, ResNet18 without residual connections at lr 0.005 and with
them at lr 0.01, each with the book's protocol (:mod:`convcalc.train.runner`).
The book's conclusion (5.4.2.2, 5.4.3.2) is: residual > LeNet > no residual in
test accuracy.  One seed proves little - LeNet at lr 0.1 is chaotic (a 1e-7
weight change moves its accuracy by points) - so the comparison is by the mean
over seeds ``seed, seed+1, ...``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from convcalc.errors import InvalidParameterError
from convcalc.train.data import BookSplits
from convcalc.train.runner import TrainConfig, TrainEvent, TrainResult, train

__all__ = [
    "BookExperiment",
    "BOOK_EXPERIMENTS",
    "ExperimentSummary",
    "Reproduction",
    "summarize",
    "reproduce",
    "seed_list",
]


@dataclass(frozen=True)
class BookExperiment:
    """One of the book's runs and the test accuracy/loss the book printed."""

    model: str
    label: str
    lr: float
    section: str
    book_accuracy: float
    book_loss: float


BOOK_EXPERIMENTS: tuple[BookExperiment, ...] = (
    BookExperiment("book_lenet", "LeNet-5", 0.1, "5.3.4", 0.8600, 0.4435),
    BookExperiment("book_resnet18_plain", "ResNet18, no residual", 0.005, "5.4.2.2", 0.8300, 0.5282),
    BookExperiment("book_resnet18", "ResNet18, residual", 0.01, "5.4.3.2", 0.8950, 0.4043),
)


@dataclass(frozen=True)
class ExperimentSummary:
    """Our runs of one book experiment, one entry per seed."""

    experiment: BookExperiment
    seeds: tuple[int, ...]
    accuracies: tuple[float, ...]
    losses: tuple[float, ...]
    seconds_per_epoch: tuple[float, ...]

    @property
    def mean_accuracy(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def std_accuracy(self) -> float:
        """Sample standard deviation (0 for one seed)."""
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0

    @property
    def min_accuracy(self) -> float:
        return min(self.accuracies)

    @property
    def max_accuracy(self) -> float:
        return max(self.accuracies)

    @property
    def mean_loss(self) -> float:
        return statistics.fmean(self.losses)

    @property
    def mean_seconds_per_epoch(self) -> float:
        return statistics.fmean(self.seconds_per_epoch)


@dataclass(frozen=True)
class Reproduction:
    """The three experiments side by side, and whether the book's ordering holds."""

    rows: tuple[ExperimentSummary, ...]
    epochs: int
    data: str
    notes: tuple[str, ...]

    def _mean(self, model: str) -> float:
        return next(r.mean_accuracy for r in self.rows if r.experiment.model == model)

    @property
    def conclusion_holds(self) -> bool:
        """Residual > LeNet > no residual, by mean test accuracy (the book's 5.4 finding)."""
        return self._mean("book_resnet18") > self._mean("book_lenet") > self._mean("book_resnet18_plain")

    def to_dict(self) -> dict:
        return {
            "epochs": self.epochs,
            "data": self.data,
            "notes": list(self.notes),
            "conclusion": "residual > LeNet > no residual",
            "conclusion_holds": self.conclusion_holds,
            "rows": [
                {
                    "model": r.experiment.model,
                    "label": r.experiment.label,
                    "lr": r.experiment.lr,
                    "book_accuracy": r.experiment.book_accuracy,
                    "book_loss": r.experiment.book_loss,
                    "seeds": list(r.seeds),
                    "accuracies": list(r.accuracies),
                    "losses": list(r.losses),
                    "mean_accuracy": r.mean_accuracy,
                    "std_accuracy": r.std_accuracy,
                    "min_accuracy": r.min_accuracy,
                    "max_accuracy": r.max_accuracy,
                    "mean_loss": r.mean_loss,
                    "seconds_per_epoch": r.mean_seconds_per_epoch,
                }
                for r in self.rows
            ],
        }


def seed_list(seeds: int | Sequence[int], first: int = 100) -> tuple[int, ...]:
    """``3`` -> ``(100, 101, 102)`` (the book's seed first); a sequence is used as given."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise InvalidParameterError(f"--seeds must be >= 1, got {seeds}", "pass e.g. --seeds 3")
        return tuple(range(first, first + seeds))
    out = tuple(int(s) for s in seeds)
    if not out:
        raise InvalidParameterError("no seeds given", "pass e.g. --seeds 3")
    return out


def summarize(results: Sequence[TrainResult], epochs: int, data: str, notes: Sequence[str] = ()) -> Reproduction:
    """Group finished runs by book experiment into a :class:`Reproduction`."""
    rows = []
    for exp in BOOK_EXPERIMENTS:
        mine = [r for r in results if r.model == exp.model]
        if not mine:
            raise InvalidParameterError(f"no runs of {exp.model}", "run all three experiments")
        rows.append(
            ExperimentSummary(
                exp,
                tuple(r.config.seed for r in mine),
                tuple(r.test_accuracy for r in mine),
                tuple(r.test_loss for r in mine),
                tuple(r.seconds_per_epoch for r in mine),
            )
        )
    return Reproduction(tuple(rows), epochs, data, tuple(notes))


def reproduce(
    splits: BookSplits,
    seeds: int | Sequence[int] = 3,
    epochs: int = 5,
    *,
    base: TrainConfig | None = None,
    progress: Callable[[BookExperiment, int, TrainEvent], None] | None = None,
    on_result: Callable[[TrainResult], None] | None = None,
) -> Reproduction:
    """Run the three book experiments once per seed; ``base`` overrides other settings."""
    base = base or TrainConfig()
    results = []
    for exp in BOOK_EXPERIMENTS:
        for seed in seed_list(seeds):
            config = replace(
                base,
                model=exp.model,
                lr=exp.lr,
                seed=seed,
                epochs=epochs,
                no_residual=False,
                naive=False,
                checkpoint=None,
            )
            report = None if progress is None else (lambda event, exp=exp, seed=seed: progress(exp, seed, event))
            result = train(config, splits, report).result
            results.append(result)
            if on_result is not None:
                on_result(result)
    return summarize(results, epochs, splits.describe(), splits.notes)
