"""The book's training protocol (book §5.3.3-5.3.4, RunnerV3) as a library call.

SGD (or Adam/Momentum), cross-entropy, shuffled train loader; evaluate on dev
every ``eval_steps`` steps (step > 0) and at the last step; keep the best dev
model (strictly better accuracy, as RunnerV3); report the test accuracy/loss
of that best model.  Accuracy counts correct predictions over the whole split;
loss is the mean of the per-batch mean losses (RunnerV3.evaluate).

Determinism: :func:`seed_everything` seeds Python's ``random``, NumPy's global
RNG (``paddle.io.DataLoader(shuffle=True)`` draws from it) and ``paddle.seed``
before the model is built, so the same seed and data give the same numbers.

Measured beside predicted: before training, :func:`predict_step_cost` asks
:func:`convcalc.analysis.training.training_cost` what one step costs (forward +
input-gradient + weight-gradient FLOPs, in the ``flops`` convention: every
multiply and add counted once, the unit of a processor's FLOP/s) at each batch
size the epoch will use; the run records every epoch's training seconds (the
steps only; dev evaluations are forward-only and timed apart), so the achieved
FLOP/s is the epoch's predicted FLOPs over those seconds.

Library code: returns dataclasses, never prints; pass ``progress`` to watch.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convcalc.errors import InvalidParameterError, OutputError, UnknownNameError
from convcalc.files import atomic_path
from convcalc.train import models as _models
from convcalc.train.data import BookMNIST, BookSplits

__all__ = [
    "OPTIMIZERS",
    "TrainConfig",
    "EvalPoint",
    "TrainEvent",
    "TrainResult",
    "TrainRun",
    "StepCost",
    "FLOPS_CONVENTION",
    "predict_step_cost",
    "seed_everything",
    "check_output_path",
    "make_loader",
    "make_optimizer",
    "evaluate",
    "train",
    "save_state",
    "load_model",
]

OPTIMIZERS = ("sgd", "momentum", "adam")
FLOPS_CONVENTION = "flops"  # every multiply and add once: the unit of a processor's FLOP/s


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how; ``lr=None`` means the book's rate for the model.

    ``train_limit``/``dev_limit``/``test_limit`` keep only the first N images of
    a split (quick runs and tests); ``max_steps`` stops early.
    """

    model: str = "book_lenet"
    epochs: int = 5
    lr: float | None = None
    batch_size: int = 64
    seed: int = 100
    eval_steps: int = 15
    optimizer: str = "sgd"
    no_residual: bool = False
    naive: bool = False
    checkpoint: str | None = None
    train_limit: int | None = None
    dev_limit: int | None = None
    test_limit: int | None = None
    max_steps: int | None = None

    def __post_init__(self) -> None:
        checks = (
            ("epochs", self.epochs, 1, "--epochs 5"),
            ("batch size", self.batch_size, 1, "--batch-size 64"),
            ("eval steps", self.eval_steps, 1, "--eval-steps 15"),
        )
        for what, value, low, example in checks:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidParameterError(
                    f"{what} must be a whole number >= {low}, got {value!r}", f"pass e.g. {example}"
                )
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and self.lr > 0 and np.isfinite(self.lr)):
            raise InvalidParameterError(
                f"learning rate must be a positive number, got {self.lr!r}",
                "pass e.g. --lr 0.1 (or leave it out for the book's rate)",
            )
        if self.optimizer not in OPTIMIZERS:
            raise UnknownNameError("optimizer", self.optimizer, OPTIMIZERS)
        for what in ("train_limit", "dev_limit", "test_limit", "max_steps"):
            value = getattr(self, what)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InvalidParameterError(f"{what} must be >= 1, got {value!r}", "or None")
        spec = _models.resolve(self.model, self.no_residual)  # unknown names fail here, early
        if self.naive and not spec.has_naive:
            raise InvalidParameterError(
                f"--naive applies to book_lenet only ({spec.name} uses paddle.nn layers)",
                "drop --naive",
            )

    @property
    def spec(self) -> _models.TrainableModel:
        return _models.resolve(self.model, self.no_residual)

    @property
    def learning_rate(self) -> float:
        return float(self.spec.book_lr if self.lr is None else self.lr)


@dataclass(frozen=True)
class EvalPoint:
    """One dev evaluation: global step (0-based, as the book prints), epoch, accuracy, loss."""

    step: int
    epoch: int
    accuracy: float
    loss: float
    improved: bool


@dataclass(frozen=True)
class StepCost:
    """One training step's predicted FLOPs at ``batch`` (from ``training_cost``, in ``convention``)."""

    batch: int
    forward: int
    backward_input: int
    backward_weight: int
    convention: str = FLOPS_CONVENTION

    @property
    def step(self) -> int:
        return self.forward + self.backward_input + self.backward_weight


@dataclass(frozen=True)
class TrainEvent:
    """What a progress callback receives: ``kind`` is start, step, eval, epoch or done.

    ``start`` carries the predicted ``cost`` of a full-batch step; ``epoch`` (at the
    end of each epoch) its training ``seconds`` and predicted ``flops``.
    """

    kind: str
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    train_loss: float | None = None
    dev: EvalPoint | None = None
    best_accuracy: float | None = None
    seconds: float | None = None
    flops: int | None = None
    cost: StepCost | None = None


@dataclass(frozen=True)
class TrainResult:
    """Everything one run measured (no strings formatted here)."""

    model: str
    config: TrainConfig
    learning_rate: float
    data: str
    notes: tuple[str, ...]
    sizes: tuple[int, int, int]
    steps: int
    steps_per_epoch: int
    train_losses: tuple[float, ...] = field(repr=False)
    epoch_losses: tuple[float, ...]
    dev: tuple[EvalPoint, ...]
    best_step: int
    best_dev_accuracy: float
    test_accuracy: float
    test_loss: float
    seconds: float
    seconds_per_epoch: float
    checkpoint: str | None = None
    step_cost: StepCost | None = None
    epoch_seconds: tuple[float, ...] = ()
    epoch_flops: tuple[int, ...] = ()

    @property
    def achieved_flops_per_second(self) -> tuple[float, ...]:
        """Per epoch: predicted FLOPs of its steps over their measured seconds (dev evaluations excluded)."""
        return tuple(f / s if s > 0 else float("nan") for f, s in zip(self.epoch_flops, self.epoch_seconds))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the per-step losses included; the achieved FLOP/s per epoch too)."""
        out = asdict(self)
        out["config"] = asdict(self.config)
        out["dev"] = [asdict(p) for p in self.dev]
        out["train_losses"] = list(self.train_losses)
        if self.step_cost is not None:
            out["step_cost"]["step"] = self.step_cost.step
        out["achieved_flops_per_second"] = list(self.achieved_flops_per_second)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        """The inverse of :meth:`to_dict` (e.g. to summarise saved ``--json`` runs, older ones too)."""
        fields = dict(data)
        fields.pop("achieved_flops_per_second", None)  # derived
        fields["config"] = TrainConfig(**data["config"])
        fields["dev"] = tuple(EvalPoint(**p) for p in data["dev"])
        for key in ("notes", "sizes", "train_losses", "epoch_losses", "epoch_seconds", "epoch_flops"):
            if key in data:
                fields[key] = tuple(data[key])
        if data.get("step_cost") is not None:
            fields["step_cost"] = StepCost(**{k: v for k, v in data["step_cost"].items() if k != "step"})
        return cls(**fields)


@dataclass
class TrainRun:
    """A finished run: its :class:`TrainResult` and the model holding the best dev weights."""

    result: TrainResult
    model: Any


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy's global RNG (the DataLoader shuffle) and Paddle."""
    import paddle

    random.seed(seed)
    np.random.seed(seed % 2**32)
    paddle.seed(seed)


def check_output_path(path: str | os.PathLike, what: str = "checkpoint") -> Path:
    """Fail early (before training) if ``path`` cannot be written; creates nothing."""
    target = Path(path).expanduser()
    example = "--plot curves.png" if what == "plot" else "--checkpoint best.pdparams"
    fix = f"choose a {what} path in an existing, writable folder, e.g. {example}"
    if target.is_dir():
        raise OutputError(f"{what} path {target} is a folder", fix)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {what} {target}: folder {parent} does not exist", fix)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise OutputError(f"cannot write {what} {target}: {exc.strerror or exc}", fix) from None
    os.close(fd)
    os.unlink(probe)
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"cannot overwrite {what} {target}: permission denied", fix)
    return target


def save_state(state: dict, path: str | os.PathLike) -> Path:
    """``paddle.save`` to a temporary file in the same folder, then ``os.replace``."""
    import paddle

    target = Path(path).expanduser()
    try:
        with atomic_path(target) as tmp:
            paddle.save(state, str(tmp))
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc}", "check the folder's space and rights") from None
    return target


def load_model(path: str | os.PathLike, model: str, *, no_residual: bool = False, naive: bool = False):
    """A book model with the weights of a checkpoint written by :func:`train`."""
    import paddle

    from convcalc.errors import DataError

    target = Path(path).expanduser()
    if not target.is_file():
        raise DataError(f"no checkpoint at {target}", "train with --checkpoint PATH first")
    layer = _models.build(_models.resolve(model, no_residual), naive=naive)
    layer.set_state_dict(paddle.load(str(target)))
    layer.eval()
    return layer


def make_loader(dataset: Any, batch_size: int, shuffle: bool = False):
    """``paddle.io.DataLoader`` in the main process (``shuffle`` draws from NumPy's RNG)."""
    import paddle.io

    return paddle.io.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=0)


def make_optimizer(name: str, lr: float, parameters: Any):
    """``sgd`` (the book's), ``momentum`` (0.9) or ``adam``."""
    import paddle

    if name == "sgd":
        return paddle.optimizer.SGD(learning_rate=lr, parameters=parameters)
    if name == "momentum":
        return paddle.optimizer.Momentum(learning_rate=lr, momentum=0.9, parameters=parameters)
    if name == "adam":
        return paddle.optimizer.Adam(learning_rate=lr, parameters=parameters)
    raise UnknownNameError("optimizer", name, OPTIMIZERS)


def evaluate(model: Any, loader: Any) -> tuple[float, float]:
    """``(accuracy, loss)`` as RunnerV3.evaluate: correct/total and the mean of batch losses.

    One host synchronisation per call (the sums stay on the device until the end).
    """
    import paddle
    import paddle.nn.functional as F

    was_training = model.training
    model.eval()
    losses, correct, total = [], [], 0
    with paddle.no_grad():
        for x, y in loader:
            logits = model(x)
            losses.append(F.cross_entropy(logits, y))
            correct.append((paddle.argmax(logits, axis=1) == y.reshape([-1])).astype("int64").sum())
            total += int(y.shape[0])
    if was_training:
        model.train()
    if not losses:
        return float("nan"), float("nan")
    loss = float(paddle.stack(losses).mean())
    return float(paddle.stack(correct).sum()) / total, loss


def predict_step_cost(
    spec: _models.TrainableModel, batch_sizes: Any, optimizer: str = "sgd", convention: str = FLOPS_CONVENTION
) -> dict[int, StepCost]:
    """Predicted FLOPs of one training step of ``spec`` on MNIST-sized input (1x32x32), per batch size.

    A fresh (vectorised) model is analysed; the loop operators of ``--naive`` count
    the same.  Call it before seeding: building the model draws random weights.
    """
    from convcalc.analysis.training import training_cost

    out: dict[int, StepCost] = {}
    for batch in sorted(set(batch_sizes)):
        model = _models.build(spec)
        t = training_cost(model, [batch, 1, 32, 32], convention=convention, optimizer=optimizer).totals
        out[batch] = StepCost(batch, int(t.forward), int(t.backward_input), int(t.backward_weight), convention)
    return out


def _batch_sizes(samples: int, batch_size: int) -> set[int]:
    """The batch sizes a ``drop_last=False`` loader yields: full batches and the remainder."""
    sizes = {min(samples, batch_size)}
    if samples > batch_size and samples % batch_size:
        sizes.add(samples % batch_size)
    return sizes


def _datasets(splits: BookSplits) -> tuple[Any, Any, Any]:
    return BookMNIST(splits.train), BookMNIST(splits.dev), BookMNIST(splits.test)


def train(
    config: TrainConfig,
    splits: BookSplits,
    progress: Callable[[TrainEvent], None] | None = None,
) -> TrainRun:
    """Train ``config.model`` on ``splits`` with the book's protocol (5.3.3) and test the best.

    The checkpoint path (if any) is checked before training and written once,
    atomically, with the best dev weights at the end.
    """
    with warnings.catch_warnings():
        # Paddle's BatchNorm says this on every training run (ResNet18); it is not news.
        warnings.filterwarnings("ignore", message="When training, we now always track global")
        return _train(config, splits, progress)


def _snapshot(model: Any) -> dict:
    """A copy of the weights and BatchNorm statistics (the best dev model, kept in memory)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _train(
    config: TrainConfig,
    splits: BookSplits,
    progress: Callable[[TrainEvent], None] | None,
) -> TrainRun:
    import paddle
    import paddle.nn.functional as F

    spec = config.spec
    lr = config.learning_rate
    checkpoint = check_output_path(config.checkpoint) if config.checkpoint else None
    splits = splits.head(config.train_limit, config.dev_limit, config.test_limit)
    train_ds, dev_ds, test_ds = _datasets(splits)
    costs = predict_step_cost(spec, _batch_sizes(len(train_ds), config.batch_size), config.optimizer)
    seed_everything(config.seed)
    model = _models.build(spec, naive=config.naive)
    optimizer = make_optimizer(config.optimizer, lr, model.parameters())
    train_loader = make_loader(train_ds, config.batch_size, shuffle=True)
    dev_loader = make_loader(dev_ds, config.batch_size)
    test_loader = make_loader(test_ds, config.batch_size)

    steps_per_epoch = len(train_loader)
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    notify = progress or (lambda event: None)
    full_cost = costs[max(costs)]
    notify(TrainEvent("start", 0, total, 0, config.epochs, cost=full_cost))

    step_losses: list = []  # detached loss tensors, read back in chunks at eval points
    losses: list[float] = []
    epoch_losses: list[float] = []
    dev_points: list[EvalPoint] = []
    best_acc, best_step, best_state = -1.0, -1, None

    def flush() -> None:
        if step_losses:
            losses.extend(paddle.stack(step_losses).numpy().reshape(-1).tolist())
            step_losses.clear()

    epoch_seconds: list[float] = []
    epoch_flops: list[int] = []
    model.train()
    start = time.perf_counter()
    step = 0
    for epoch in range(config.epochs):
        epoch_start = len(losses) + len(step_losses)
        epoch_begin, eval_seconds, flops = time.perf_counter(), 0.0, 0
        for x, y in train_loader:
            if step >= total:
                break
            flops += costs[int(x.shape[0])].step
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            step_losses.append(loss.detach())
            if step > 0 and (step % config.eval_steps == 0 or step == total - 1):
                eval_begin = time.perf_counter()
                acc, dev_loss = evaluate(model, dev_loader)
                improved = acc > best_acc
                if improved:
                    best_acc, best_step = acc, step
                    best_state = _snapshot(model)
                point = EvalPoint(step, epoch, acc, dev_loss, improved)
                dev_points.append(point)
                flush()
                eval_seconds += time.perf_counter() - eval_begin
                notify(TrainEvent("eval", step + 1, total, epoch, config.epochs, losses[-1], point, best_acc))
            else:
                notify(TrainEvent("step", step + 1, total, epoch, config.epochs))
            step += 1
        flush()
        if len(losses) > epoch_start:
            epoch_losses.append(float(np.mean(losses[epoch_start:])))
            epoch_seconds.append(time.perf_counter() - epoch_begin - eval_seconds)
            epoch_flops.append(flops)
            notify(TrainEvent("epoch", step, total, epoch, config.epochs, seconds=epoch_seconds[-1], flops=flops))
        if step >= total:
            break
    seconds = time.perf_counter() - start
    epochs_run = max(1, len(epoch_losses))
    if total == 1:  # a single step: evaluate it, so a best model exists
        acc, dev_loss = evaluate(model, dev_loader)
        best_acc, best_step = acc, 0
        best_state = _snapshot(model)
        dev_points.append(EvalPoint(0, 0, acc, dev_loss, True))
    if best_state is not None:
        model.set_state_dict(best_state)
    test_acc, test_loss = evaluate(model, test_loader)
    model.eval()
    if checkpoint is not None:
        save_state(model.state_dict(), checkpoint)
    notify(
        TrainEvent("done", step, total, epochs_run - 1, config.epochs, losses[-1] if losses else None, None, best_acc)
    )
    result = TrainResult(
        model=spec.name,
        config=config,
        learning_rate=lr,
        data=splits.describe(),
        notes=splits.notes,
        sizes=(len(train_ds), len(dev_ds), len(test_ds)),
        steps=step,
        steps_per_epoch=steps_per_epoch,
        train_losses=tuple(losses),
        epoch_losses=tuple(epoch_losses),
        dev=tuple(dev_points),
        best_step=best_step,
        best_dev_accuracy=best_acc,
        test_accuracy=test_acc,
        test_loss=test_loss,
        seconds=seconds,
        seconds_per_epoch=seconds * steps_per_epoch / max(step, 1),
        checkpoint=str(checkpoint) if checkpoint else None,
        step_cost=full_cost,
        epoch_seconds=tuple(epoch_seconds),
        epoch_flops=tuple(epoch_flops),
    )
    return TrainRun(result, model)
