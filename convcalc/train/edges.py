"""Laplacian edge detection with the book's ``Conv2D`` (book §5.1.7, equations 5.15-5.17).

The 8-neighbour Laplacian ``[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]`` sums to zero,
so flat regions give 0 and changes of intensity (edges) light up.  As in the
book, the image is read as greyscale, resized to 256x256 and convolved with
stride 1 and no padding (a 254x254 output).  ``naive=True`` runs the book's
loop ``Conv2D``; the default ``VectorizedConv2D`` gives the same numbers fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convcalc.errors import DataError, InvalidParameterError

__all__ = ["LAPLACIAN_8", "EdgeResult", "load_image", "sample_image", "synthetic_image", "detect_edges"]

LAPLACIAN_8 = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float32)


@dataclass(frozen=True)
class EdgeResult:
    """Input (H, W) grey values 0-255 and the (H-2, W-2) Laplacian response."""

    source: str
    input: np.ndarray = field(repr=False)
    output: np.ndarray = field(repr=False)
    naive: bool = False

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "kernel": LAPLACIAN_8.astype(int).tolist(),
            "input_shape": list(self.input.shape),
            "output_shape": list(self.output.shape),
            "output_min": float(self.output.min()),
            "output_max": float(self.output.max()),
            "naive_loop_conv2d": self.naive,
        }


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 3:
        raise InvalidParameterError(f"image size must be >= 3, got {size!r}", "pass e.g. --size 256")
    return size


def load_image(path: str | os.PathLike, size: int = 256) -> np.ndarray:
    """A picture file as (size, size) float32 grey values 0-255 (the book: ``.resize((256,256))``)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path).expanduser()
    _check_size(size)
    if not path.is_file():
        raise DataError(f"no image at {path}", "pass a PNG/JPEG file, or leave IMAGE out")
    try:
        with Image.open(path) as img:
            grey = img.convert("L").resize((size, size))
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{path} is not a readable image ({exc})", "pass a PNG or JPEG file") from None
    return np.asarray(grey, dtype=np.float32)


def synthetic_image(size: int = 256) -> np.ndarray:
    """A generated test picture: a ring, a bar and a filled square on black (0-255)."""
    _check_size(size)
    yy, xx = np.mgrid[0:size, 0:size] / size
    r = np.hypot(yy - 0.38, xx - 0.38)
    img = np.where((r > 0.18) & (r < 0.28), 255.0, 0.0)
    img[(yy > 0.70) & (yy < 0.78) & (xx > 0.10) & (xx < 0.90)] = 180.0
    img[(yy > 0.15) & (yy < 0.55) & (xx > 0.72) & (xx < 0.90)] = 120.0
    return img.astype(np.float32)


def sample_image(data_dir: str | os.PathLike | None = None, size: int = 256) -> tuple[np.ndarray, str]:
    """The first MNIST test digit (resized) if the data is found, else :func:`synthetic_image`."""
    from PIL import Image

    from convcalc.train.data import TEST_FILES, _find, read_idx, resolve_data_dir

    folder = resolve_data_dir(data_dir)
    found = _find(folder, TEST_FILES[0]) if folder.is_dir() else None
    if found is not None:
        digit = read_idx(found, "images")[0]
        grey = Image.fromarray(digit, mode="L").resize((_check_size(size), size))
        return np.asarray(grey, dtype=np.float32), f"MNIST {found.name} image 0"
    return synthetic_image(size), "generated picture (ring, bar, square)"


def detect_edges(image: np.ndarray, *, naive: bool = False, source: str = "array") -> EdgeResult:
    """Convolve a (H, W) grey image with :data:`LAPLACIAN_8` using the book's ``Conv2D``."""
    import paddle

    from convcalc.models.book import Conv2D, VectorizedConv2D

    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) < 3:
        raise InvalidParameterError(
            f"edge detection needs a 2-D image of at least 3x3, got shape {image.shape}",
            "pass a greyscale picture",
        )
    cls = Conv2D if naive else VectorizedConv2D
    weight = paddle.ParamAttr(initializer=paddle.nn.initializer.Assign(LAPLACIAN_8[None, None]))
    conv = cls(1, 1, kernel_size=3, stride=1, padding=0, weight_attr=weight)
    with paddle.no_grad():
        out = conv(paddle.to_tensor(image[None, None]))
    return EdgeResult(source, image, out.numpy()[0, 0], naive)
