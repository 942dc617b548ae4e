"""MNIST loading and the book's splits (book §5.3.1; ../shared/data/README.md)."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest

from convcalc.errors import DataError
from convcalc.train import data as D

# --- helpers: write IDX files by hand (format: big-endian header, then bytes) ---


def _idx_images(images: np.ndarray) -> bytes:
    n, r, c = images.shape
    header = np.array([0x803, n, r, c], ">u4").tobytes()
    return header + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return np.array([0x801, len(labels)], ">u4").tobytes() + labels.astype(np.uint8).tobytes()


def _write_gz(path, payload: bytes) -> None:
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(payload)


def _tagged(n: int, offset: int = 0) -> np.ndarray:
    """n images whose first two pixels hold their index (offset + i) in base 256."""
    images = np.zeros((n, 28, 28), np.uint8)
    idx = np.arange(offset, offset + n)
    images[:, 0, 0] = idx // 256
    images[:, 0, 1] = idx % 256
    images[:, 10:18, 10:18] = 255
    return images


def _index(images: np.ndarray) -> np.ndarray:
    return images[:, 0, 0].astype(int) * 256 + images[:, 0, 1]


def _digest(images: np.ndarray) -> set[str]:
    return {hashlib.sha1(img.tobytes()).hexdigest() for img in images}


@pytest.fixture(scope="module")
def offline(mnist_dir):
    return D.load_book_splits(mnist_dir)


# --- the offline split of the shared test set ---


def test_offline_split_has_the_book_sizes(offline):
    assert offline.sizes == (1000, 200, 200)  # book §5.3.1: 1,000 / 200 / 200
    assert offline.layout == "idx-test-only"


def test_offline_split_says_it_is_not_the_books(offline):
    assert offline.notes and "offline" in offline.notes[0]
    assert "disjoint" in offline.notes[0]


def test_offline_test_split_is_the_first_200_test_images(offline, mnist_dir):
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz") as fh:
        raw = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(mnist_dir / "t10k-labels-idx1-ubyte.gz") as fh:
        labels = np.frombuffer(fh.read(), np.uint8, offset=8)
    assert np.array_equal(offline.test.images, raw[:200])
    assert np.array_equal(offline.test.labels, labels[:200])
    # train and dev come from images 200..9999 (data README)
    pool = _digest(raw[200:])
    assert _digest(offline.train.images) <= pool
    assert _digest(offline.dev.images) <= pool


def test_offline_splits_are_disjoint(offline):
    train, dev, test = (_digest(s.images) for s in (offline.train, offline.dev, offline.test))
    assert len(train) == 1000 and len(dev) == 200 and len(test) == 200
    assert not (train & dev) and not (train & test) and not (dev & test)


def test_labels_are_digits(offline):
    for split in (offline.train, offline.dev, offline.test):
        assert split.labels.dtype == np.int64
        assert set(np.unique(split.labels)) <= set(range(10))
    assert len(np.unique(offline.train.labels)) == 10


def test_preprocessed_inputs_are_1x32x32_in_minus1_1(offline):
    ds = D.BookMNIST(offline.test)
    assert len(ds) == 200
    image, label = ds[0]
    assert image.shape == (1, 32, 32) and image.dtype == np.float32
    assert label.shape == (1,) and label.dtype == np.int64
    assert ds.images.min() >= -1.0 and ds.images.max() <= 1.0
    assert ds.images.min() == -1.0  # MNIST background 0 -> (0 - 127.5) / 127.5
    assert ds.images.max() > 0.9


def test_paddle_dataloader_batches(offline):
    import paddle.io

    loader = paddle.io.DataLoader(D.BookMNIST(offline.dev), batch_size=64)
    x, y = next(iter(loader))
    assert list(x.shape) == [64, 1, 32, 32] and list(y.shape) == [64, 1]
    assert len(loader) == 4  # ceil(200 / 64)


def test_env_var_sets_the_folder(mnist_dir, monkeypatch):
    monkeypatch.setenv(D.ENV_VAR, str(mnist_dir))
    assert D.resolve_data_dir() == mnist_dir
    assert D.load_book_splits().data_dir == mnist_dir
    assert D.resolve_data_dir("/elsewhere") == D.Path("/elsewhere")  # --data-dir wins


def test_default_folder_is_paddles_cache(monkeypatch):
    monkeypatch.delenv(D.ENV_VAR, raising=False)
    assert D.resolve_data_dir() == D.Path("~/.cache/paddle/dataset/mnist").expanduser()


# --- the full IDX layout and the book's json, built by hand ---


def test_full_idx_layout_uses_the_books_indices(tmp_path):
    _write_gz(tmp_path / D.TRAIN_FILES[0], _idx_images(_tagged(50200)))
    _write_gz(tmp_path / D.TRAIN_FILES[1], _idx_labels(np.arange(50200) % 10))
    _write_gz(tmp_path / D.TEST_FILES[0], _idx_images(_tagged(300, offset=7000)))
    _write_gz(tmp_path / D.TEST_FILES[1], _idx_labels(np.arange(300) % 10))
    splits = D.load_book_splits(tmp_path)
    assert splits.layout == "idx-full" and not splits.notes
    assert splits.sizes == (1000, 200, 200)
    # train = train[:1000], dev = train[50000:50200], test = test[:200] (data README)
    assert list(_index(splits.train.images)) == list(range(1000))
    assert list(_index(splits.dev.images)) == list(range(50000, 50200))
    assert list(_index(splits.test.images)) == list(range(7000, 7200))


def test_book_json_format(tmp_path):
    def part(n, offset):
        imgs = _tagged(n, offset).reshape(n, 784).astype(float).tolist()
        return [imgs, [[i % 10] for i in range(n)]]

    payload = json.dumps([part(12, 0), part(6, 100), part(6, 200)]).encode()
    _write_gz(tmp_path / "mnist.json.gz", payload)
    splits = D.load_book_splits(tmp_path, train_size=10, dev_size=5, test_size=5)
    assert splits.layout == "book-json"
    assert list(_index(splits.train.images)) == list(range(10))
    assert list(_index(splits.dev.images)) == list(range(100, 105))
    assert list(_index(splits.test.images)) == list(range(200, 205))
    assert list(splits.train.labels) == [i % 10 for i in range(10)]


# --- missing and corrupt data: one-line DataError naming the file and the fix ---


def _one_line(err: DataError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_missing_folder(tmp_path):
    with pytest.raises(DataError) as info:
        D.load_book_splits(tmp_path / "nope")
    text = _one_line(info.value)
    assert "nope" in text and "t10k-images-idx3-ubyte.gz" in text and "--data-dir" in text


def test_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no MNIST files"):
        D.load_book_splits(tmp_path)


def test_missing_label_file(tmp_path):
    _write_gz(tmp_path / D.TEST_FILES[0], _idx_images(_tagged(1400)))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        D.load_book_splits(tmp_path)


@pytest.mark.parametrize(
    "payload, message",
    [
        (np.array([0x801, 5, 28, 28], ">u4").tobytes(), "magic 0x00000801"),
        (np.array([0x803, 5, 28, 28], ">u4").tobytes() + bytes(100), "announces 5"),
        (b"\x00\x00", "truncated"),
        (np.array([0x803, 1, 32, 32], ">u4").tobytes() + bytes(1024), "32x32"),
    ],
    ids=["bad-magic", "truncated-payload", "truncated-header", "wrong-size"],
)
def test_corrupt_image_file(tmp_path, payload, message):
    _write_gz(tmp_path / D.TEST_FILES[0], payload)
    _write_gz(tmp_path / D.TEST_FILES[1], _idx_labels(np.zeros(5)))
    with pytest.raises(DataError, match=message) as info:
        D.load_book_splits(tmp_path)
    assert D.TEST_FILES[0] in _one_line(info.value)


def test_not_gzip(tmp_path):
    (tmp_path / D.TEST_FILES[0]).write_bytes(b"this is not gzip data at all")
    _write_gz(tmp_path / D.TEST_FILES[1], _idx_labels(np.zeros(5)))
    with pytest.raises(DataError, match="not a readable gzip file"):
        D.load_book_splits(tmp_path)


def test_counts_must_match(tmp_path):
    _write_gz(tmp_path / D.TEST_FILES[0], _idx_images(_tagged(1400)))
    _write_gz(tmp_path / D.TEST_FILES[1], _idx_labels(np.zeros(1399)))
    with pytest.raises(DataError, match="1400 images but .* 1399 labels"):
        D.load_book_splits(tmp_path)


def test_too_few_images_for_the_offline_split(tmp_path):
    _write_gz(tmp_path / D.TEST_FILES[0], _idx_images(_tagged(500)))
    _write_gz(tmp_path / D.TEST_FILES[1], _idx_labels(np.zeros(500)))
    with pytest.raises(DataError, match="only 500 images"):
        D.load_book_splits(tmp_path)


def test_labels_out_of_range(tmp_path):
    _write_gz(tmp_path / D.TEST_FILES[1], _idx_labels(np.full(3, 12)))
    with pytest.raises(DataError, match="outside 0-9"):
        D.read_idx(tmp_path / D.TEST_FILES[1], "labels")


def test_download_into_another_folder_is_refused_without_network(tmp_path):
    # --download stores into Paddle's cache only; asking for another folder fails before any fetch
    with pytest.raises(DataError, match="Paddle's cache"):
        D.load_book_splits(tmp_path, download=True)


def test_download_is_attempted_when_the_train_files_are_missing(mnist_dir, monkeypatch):
    def boom():
        raise AssertionError("download attempted")

    monkeypatch.setattr(D, "download_mnist", boom)
    monkeypatch.setattr(D, "PADDLE_CACHE", mnist_dir)
    monkeypatch.delenv(D.ENV_VAR, raising=False)
    monkeypatch.setattr(D, "resolve_data_dir", lambda data_dir=None: mnist_dir)
    with pytest.raises(AssertionError, match="download attempted"):
        D.load_book_splits(download=True)  # only the test set is there: fetch the rest
