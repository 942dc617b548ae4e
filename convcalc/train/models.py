"""The trainable book models (book §5.3-5.4): names, aliases and the book's learning rates.

``convcalc train`` trains only the book's MNIST models.  Canonical names are the
zoo's (``book_lenet``, ``book_paddle_lenet``, ``book_resnet18``,
``book_resnet18_plain``); the short aliases ``lenet``, ``paddle_lenet``,
``resnet18`` and ``resnet18_plain`` mean the *book's* models here (in
``convcalc report`` the zoo's ``lenet``/``resnet18`` are paddle.vision's).
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.errors import InvalidParameterError, UnknownNameError

__all__ = ["TrainableModel", "TRAINABLE", "ALIASES", "resolve", "build"]


@dataclass(frozen=True)
class TrainableModel:
    """A book model the trainer can build, with the book's learning rate for it."""

    name: str
    book_class: str
    book_lr: float
    section: str
    kwargs: tuple[tuple[str, object], ...] = ()
    has_naive: bool = False

    @property
    def label(self) -> str:
        return {
            "book_lenet": "LeNet-5",
            "book_paddle_lenet": "LeNet-5 (paddle.nn)",
            "book_resnet18": "ResNet18, residual",
            "book_resnet18_plain": "ResNet18, no residual",
        }[self.name]


TRAINABLE: dict[str, TrainableModel] = {
    m.name: m
    for m in (
        TrainableModel("book_lenet", "Model_LeNet", 0.1, "5.3.3", has_naive=True),
        TrainableModel("book_paddle_lenet", "Paddle_LeNet", 0.1, "5.3.2"),
        TrainableModel("book_resnet18", "Model_ResNet18", 0.01, "5.4.3", (("use_residual", True),)),
        TrainableModel("book_resnet18_plain", "Model_ResNet18", 0.005, "5.4.2", (("use_residual", False),)),
    )
}

ALIASES: dict[str, str] = {
    "lenet": "book_lenet",
    "book_lenet_vectorized": "book_lenet",
    "paddle_lenet": "book_paddle_lenet",
    "resnet18": "book_resnet18",
    "resnet": "book_resnet18",
    "resnet18_plain": "book_resnet18_plain",
    "book_resnet18_no_residual": "book_resnet18_plain",
}


def resolve(name: str, no_residual: bool = False) -> TrainableModel:
    """Canonical model for ``name`` (``--no-residual`` turns ResNet18 into its plain twin)."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in TRAINABLE:
        raise UnknownNameError(
            "trainable model",
            name,
            list(TRAINABLE) + list(ALIASES),
        )
    if no_residual:
        if key == "book_resnet18":
            key = "book_resnet18_plain"
        elif key != "book_resnet18_plain":
            raise InvalidParameterError(
                f"--no-residual applies to ResNet18 only, not {key}",
                "drop --no-residual or train book_resnet18",
            )
    return TRAINABLE[key]


def build(model: TrainableModel, naive: bool = False):
    """A fresh ``paddle.nn.Layer`` for ``model`` (1 input channel, 10 classes).

    ``naive`` uses the book's loop ``Conv2D``/``Pool2D`` (slow, as taught in
    5.1-5.2); otherwise ``Model_LeNet`` uses the vectorised twins (same
    parameters and numbers).  Only ``book_lenet`` has loop operators.
    """
    from convcalc.models import book

    if naive and not model.has_naive:
        raise InvalidParameterError(
            f"--naive applies to book_lenet only ({model.name} uses paddle.nn layers)",
            "drop --naive",
        )
    cls = getattr(book, model.book_class)
    kwargs = dict(model.kwargs)
    if model.has_naive:
        kwargs["vectorized"] = not naive
    return cls(in_channels=1, num_classes=10, **kwargs)
