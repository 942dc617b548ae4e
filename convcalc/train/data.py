"""MNIST for the book's experiments (book §5.3.1): find, read, validate, split, preprocess.

Three sources, tried in this order inside the data folder:

1. the book's own ``mnist.json.gz`` (``[train_set, dev_set, test_set]``, each
   ``[images (lists of 784 grey values), labels]``);
2. the standard IDX files (what ``paddle.vision.datasets.MNIST`` downloads):
   with ``train-*`` and ``t10k-*`` the book's subset is
   ``train[:1000]``, ``dev = train[50000:50200]``, ``test = t10k[:200]``;
3. the test set alone (``t10k-*``, e.g. ``../shared/data/mnist``): the book's
   test split is ``t10k[:200]`` and train/dev come from ``t10k[200:1200]`` and
   ``t10k[1200:1400]`` - disjoint from the test split, but *not* the book's
   images, and :attr:`BookSplits.notes` says so.

The folder is ``data_dir`` if given, else ``$CONVCALC_DATA_DIR``, else Paddle's
cache ``~/.cache/paddle/dataset/mnist``.  Missing or corrupt files raise
:class:`~convcalc.errors.DataError` naming the file and what to put where.
Preprocessing is the book's ``Compose([Resize(32), Normalize(127.5, 127.5)])``
(5.3.1.1), applied once per image when the dataset is built.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from paddle.io import Dataset

from convcalc.errors import DataError

__all__ = [
    "ENV_VAR",
    "PADDLE_CACHE",
    "TRAIN_FILES",
    "TEST_FILES",
    "BOOK_JSON",
    "Split",
    "BookSplits",
    "resolve_data_dir",
    "read_idx",
    "read_book_json",
    "load_book_splits",
    "download_mnist",
    "preprocess",
    "BookMNIST",
]

ENV_VAR = "CONVCALC_DATA_DIR"
PADDLE_CACHE = Path("~/.cache/paddle/dataset/mnist").expanduser()
TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
BOOK_JSON = "mnist.json.gz"

_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
_PUT_FILES = (
    f"put {TEST_FILES[0]} and {TEST_FILES[1]} (plus {TRAIN_FILES[0]} and {TRAIN_FILES[1]} "
    f"for the book's exact split), or the book's {BOOK_JSON}, in a folder and pass "
    f"--data-dir DIR or set {ENV_VAR}; online, add --download"
)


@dataclass(frozen=True)
class Split:
    """One split: ``images`` (N, 28, 28) uint8, ``labels`` (N,) int64, taken from
    ``origin[start:start + N]`` (e.g. ``t10k[200:1200]``)."""

    name: str
    images: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    origin: str
    start: int = 0

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def source(self) -> str:
        return f"{self.origin}[{self.start}:{self.start + len(self)}]"

    def head(self, n: int | None) -> Split:
        """The first ``n`` images (all if ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        return replace(self, images=self.images[:n], labels=self.labels[:n])


@dataclass(frozen=True)
class BookSplits:
    """The book's train/dev/test subset (5.3.1) and how it was built."""

    train: Split
    dev: Split
    test: Split
    data_dir: Path
    layout: str  # "book-json", "idx-full" or "idx-test-only"
    notes: tuple[str, ...] = ()

    @property
    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.dev), len(self.test)

    def head(self, train: int | None = None, dev: int | None = None, test: int | None = None) -> BookSplits:
        """Only the first images of each split (quick runs); the sources say which."""
        return replace(self, train=self.train.head(train), dev=self.dev.head(dev), test=self.test.head(test))

    def describe(self) -> str:
        """One line: sizes, folder and where each split comes from."""
        parts = ", ".join(f"{s.name} {len(s)} = {s.source}" for s in (self.train, self.dev, self.test))
        return f"MNIST from {self.data_dir} ({self.layout}): {parts}"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data_dir``, else ``$CONVCALC_DATA_DIR``, else Paddle's cache."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return PADDLE_CACHE


def _find(folder: Path, name: str) -> Path | None:
    """``name`` (``*.gz``) or its uncompressed twin, if present."""
    for candidate in (folder / name, folder / name[: -len(".gz")]):
        if candidate.is_file():
            return candidate
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path} is not a readable gzip file ({exc.__class__.__name__}: {exc})",
            f"replace it with the original {path.name} from the MNIST distribution",
        ) from None


def read_idx(path: str | os.PathLike, kind: str) -> np.ndarray:
    """Read an MNIST IDX file (gzip or raw); ``kind`` is ``"images"`` or ``"labels"``.

    Validates the magic number, the image size (28x28), the payload length and
    the label range; returns (N, 28, 28) uint8 or (N,) int64.
    """
    path = Path(path)
    data = _read_bytes(path)
    expected = _IMAGES_MAGIC if kind == "images" else _LABELS_MAGIC
    header = 16 if kind == "images" else 8
    fix = f"replace it with the original {path.name} from the MNIST distribution"
    if len(data) < header:
        raise DataError(f"{path} is truncated ({len(data)} bytes, shorter than the IDX header)", fix)
    magic, count = (int(v) for v in np.frombuffer(data, ">u4", 2))
    if magic != expected:
        raise DataError(f"{path} is not an MNIST {kind} file (magic 0x{magic:08x}, expected 0x{expected:08x})", fix)
    if kind == "images":
        rows, cols = (int(v) for v in np.frombuffer(data, ">u4", 2, offset=8))
        if (rows, cols) != (28, 28):
            raise DataError(f"{path} holds {rows}x{cols} images, MNIST's are 28x28", fix)
        want = header + count * rows * cols
    else:
        want = header + count
    if len(data) != want:
        raise DataError(
            f"{path} has {len(data) - header} data bytes but its header announces "
            f"{count} {kind} ({want - header} bytes)",
            fix,
        )
    if kind == "images":
        return np.frombuffer(data, np.uint8, offset=header).reshape(count, 28, 28)
    labels = np.frombuffer(data, np.uint8, offset=header).astype(np.int64)
    if labels.size and labels.max() > 9:
        raise DataError(f"{path} has labels outside 0-9 (max {labels.max()})", fix)
    return labels


def _read_pair(folder: Path, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    img_path, lab_path = _find(folder, names[0]), _find(folder, names[1])
    missing = [n for n, p in zip(names, (img_path, lab_path), strict=True) if p is None]
    if missing:
        raise DataError(f"{folder} has {names[0] if img_path else names[1]} but not {missing[0]}", _PUT_FILES)
    images, labels = read_idx(img_path, "images"), read_idx(lab_path, "labels")
    if len(images) != len(labels):
        raise DataError(
            f"{img_path.name} has {len(images)} images but {lab_path.name} has {len(labels)} labels",
            "use the matching pair of files from the MNIST distribution",
        )
    return images, labels


def read_book_json(path: str | os.PathLike) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read the book's ``mnist.json.gz``: three ``(images (N,28,28) uint8, labels (N,))`` pairs."""
    path = Path(path)
    fix = f"replace {path.name} with the book's file: [train_set, dev_set, test_set], each [images, labels]"
    try:
        raw = json.loads(_read_bytes(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc})", fix) from None
    if not (isinstance(raw, list) and len(raw) == 3):
        raise DataError(f"{path} does not hold three splits", fix)
    out = []
    for name, part in zip(("train", "dev", "test"), raw, strict=True):
        try:
            images = np.asarray(part[0], dtype=np.float32)
            labels = np.asarray(part[1]).reshape(-1).astype(np.int64)
        except (TypeError, ValueError, IndexError):
            raise DataError(f"{path}: the {name} split is not [images, labels]", fix) from None
        if images.ndim != 2 or images.shape[1] != 784 or len(images) != len(labels):
            raise DataError(
                f"{path}: the {name} split has images of shape {images.shape} and "
                f"{len(labels)} labels (expected N x 784 and N labels)",
                fix,
            )
        if images.size and images.max() <= 1.0:  # stored as [0, 1] fractions
            images = images * 255.0
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DataError(f"{path}: the {name} split has labels outside 0-9", fix)
        out.append((np.clip(np.rint(images), 0, 255).astype(np.uint8).reshape(-1, 28, 28), labels))
    return out


def download_mnist() -> Path:
    """Fetch train and test IDX files into Paddle's cache via ``paddle.vision.datasets.MNIST``."""
    from paddle.vision.datasets import MNIST

    try:
        for mode in ("train", "test"):
            MNIST(mode=mode, download=True)
    except Exception as exc:  # network errors come in many types
        first_line = (str(exc).splitlines() or [""])[0]
        raise DataError(
            f"downloading MNIST through Paddle failed ({exc.__class__.__name__}: {first_line})",
            "check the internet connection, or put the four MNIST .gz files in a folder and pass --data-dir DIR",
        ) from None
    return PADDLE_CACHE


def _need(split: tuple[np.ndarray, np.ndarray], n: int, what: str, path: str) -> None:
    if len(split[1]) < n:
        raise DataError(f"{path} has only {len(split[1])} images, the {what} needs {n}", _PUT_FILES)


def load_book_splits(
    data_dir: str | os.PathLike | None = None,
    *,
    train_size: int = 1000,
    dev_size: int = 200,
    test_size: int = 200,
    download: bool = False,
) -> BookSplits:
    """The book's subset (5.3.1) from the first source found in the data folder (see module doc)."""
    folder = resolve_data_dir(data_dir)
    if download and not (_find(folder, TRAIN_FILES[0]) and _find(folder, TEST_FILES[0])):
        if folder != PADDLE_CACHE:
            raise DataError(
                f"--download stores the files in Paddle's cache {PADDLE_CACHE}, not in {folder}",
                "drop --data-dir (and unset " + ENV_VAR + ") when downloading",
            )
        download_mnist()
    if not folder.is_dir():
        raise DataError(f"no MNIST data folder at {folder}", _PUT_FILES)
    for name in (BOOK_JSON, BOOK_JSON[: -len(".gz")]):
        if (folder / name).is_file():
            (tr, dv, te) = read_book_json(folder / name)
            src = f"{name}"
            _need(tr, train_size, "train split", src)
            _need(dv, dev_size, "dev split", src)
            _need(te, test_size, "test split", src)
            return BookSplits(
                train=Split("train", tr[0][:train_size], tr[1][:train_size], f"{src} train"),
                dev=Split("dev", dv[0][:dev_size], dv[1][:dev_size], f"{src} dev"),
                test=Split("test", te[0][:test_size], te[1][:test_size], f"{src} test"),
                data_dir=folder,
                layout="book-json",
            )
    if _find(folder, TEST_FILES[0]) is None and _find(folder, TEST_FILES[1]) is None:
        present = sorted(p.name for p in folder.iterdir())[:6]
        have = f" (it holds: {', '.join(present)})" if present else " (it is empty)"
        raise DataError(f"no MNIST files in {folder}{have}", _PUT_FILES)
    test_images, test_labels = _read_pair(folder, TEST_FILES)
    test_src = TEST_FILES[0].split("-")[0]
    has_train = _find(folder, TRAIN_FILES[0]) is not None or _find(folder, TRAIN_FILES[1]) is not None
    if has_train:
        tr_images, tr_labels = _read_pair(folder, TRAIN_FILES)
        dev_start = 50000  # the classic 50,000 / 10,000 train/dev split of mnist.pkl.gz
        _need((tr_images, tr_labels), dev_start + dev_size, "book's dev split (train[50000:])", TRAIN_FILES[0])
        _need((test_images, test_labels), test_size, "test split", TEST_FILES[0])
        return BookSplits(
            train=Split("train", tr_images[:train_size], tr_labels[:train_size], "train"),
            dev=Split(
                "dev",
                tr_images[dev_start : dev_start + dev_size],
                tr_labels[dev_start : dev_start + dev_size],
                "train",
                dev_start,
            ),
            test=Split("test", test_images[:test_size], test_labels[:test_size], test_src),
            data_dir=folder,
            layout="idx-full",
        )
    a, b, c = test_size, test_size + train_size, test_size + train_size + dev_size
    _need((test_images, test_labels), c, "offline split (test + train + dev)", TEST_FILES[0])
    return BookSplits(
        train=Split("train", test_images[a:b], test_labels[a:b], test_src, a),
        dev=Split("dev", test_images[b:c], test_labels[b:c], test_src, b),
        test=Split("test", test_images[:a], test_labels[:a], test_src),
        data_dir=folder,
        layout="idx-test-only",
        notes=(
            f"offline split: only the MNIST test set is in {folder}, so train and dev "
            f"were taken from its images {a}..{c - 1} (disjoint from the {a} test images); "
            "the book trains on MNIST training images, so numbers differ from the book's",
        ),
    )


def preprocess(images: np.ndarray) -> np.ndarray:
    """The book's transform (5.3.1.1): Resize(32) then Normalize(127.5, 127.5) -> (N, 1, 32, 32) in [-1, 1]."""
    from paddle.vision.transforms import Compose, Normalize, Resize
    from PIL import Image

    transform = Compose([Resize(32), Normalize(mean=[127.5], std=[127.5], data_format="CHW")])
    if len(images) == 0:
        return np.zeros((0, 1, 32, 32), np.float32)
    return np.stack([transform(Image.fromarray(img, mode="L")) for img in images]).astype(np.float32)


class BookMNIST(Dataset):
    """A :class:`paddle.io.Dataset` over one :class:`Split`, preprocessed once (5.3.1.1).

    Items are ``(image (1, 32, 32) float32 in [-1, 1], label int64 array of shape (1,))``,
    as the book's ``MNIST_dataset`` returns them.
    """

    def __init__(self, split: Split, limit: int | None = None) -> None:
        super().__init__()
        n = len(split) if limit is None else min(limit, len(split))
        self.split = split
        self.images = preprocess(split.images[:n])
        self.labels = split.labels[:n].reshape(-1, 1).astype(np.int64)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[idx], self.labels[idx]

    def __len__(self) -> int:
        return len(self.labels)
