"""What ``convcalc rf`` draws on: an image, an MNIST digit or a neutral picture at the model's input; saved weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convcalc.errors import DataError, ModelLoadError

__all__ = ["Picture", "MNIST_SIZES", "mnist_shaped", "neutral_picture", "load_image", "load_weights"]

MNIST_SIZES = (28, 32)  # MNIST digits, as they are and padded to LeNet's 32x32


@dataclass(frozen=True)
class Picture:
    """The input drawn on, (C, H, W) in [-1, 1]; where it came from; a one-line note (why not a digit), or ""."""

    pixels: np.ndarray
    source: str
    note: str = ""
    neutral: bool = False  # the neutral picture (its dots may be moved to a layer's unit centres)


def mnist_shaped(shape: tuple) -> bool:
    """A one-channel 28x28 or 32x32 input: a digit fits it."""
    _, channels, h, w = (int(d) for d in shape)
    return channels == 1 and h == w and h in MNIST_SIZES


def _to_input(pixels: np.ndarray, channels: int) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8 -> (C, H, W) float32 in [-1, 1] (the book's Normalize(127.5, 127.5))."""
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], channels, axis=2)
    elif channels == 1:
        pixels = pixels.mean(axis=2, keepdims=True)
    elif pixels.shape[2] != channels:
        pixels = np.repeat(pixels.mean(axis=2, keepdims=True), channels, axis=2)
    return (pixels.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0).astype(np.float32)


def neutral_picture(shape: tuple, jump: tuple[Any, Any] = (0, 0), start: tuple[Any, Any] = (0, 0)) -> np.ndarray:
    """(C, H, W) in [-1, 1]: mid-grey with a lattice of light dots at a layer's unit centres.

    The dots sit at ``start + k * jump`` input pixels on each axis (the centres of
    the layer's units, book 5.1.4), so a box drawn on the picture sits visibly
    on the stride grid.  No dots for a jump under 2 pixels (they would fill the picture).
    """
    _, channels, h, w = (int(d) for d in shape)
    img = np.full((h, w), -0.4, dtype=np.float32)
    (jh, jw), (sh, sw) = (float(j) for j in jump), (float(s) for s in start)
    if jh >= 2 and jw >= 2:
        dot = 1 if min(jh, jw) >= 8 else 0  # a 3x3 dot where the lattice is sparse, one pixel where dense
        rows = [round(sh + k * jh) for k in range(int(np.ceil(-sh / jh)), int((h - 1 - sh) // jh) + 1)]
        cols = [round(sw + k * jw) for k in range(int(np.ceil(-sw / jw)), int((w - 1 - sw) // jw) + 1)]
        for y in rows:
            for x in cols:
                img[max(0, y - dot):y + dot + 1, max(0, x - dot):x + dot + 1] = 0.3
    return np.repeat(img[None], channels, axis=0)


def load_image(shape: tuple, image: str | None, data_dir: str | None, digit: int | None,
               neutral: np.ndarray | None = None) -> Picture:
    """The picture's input (C, H, W) for an ``(N, C, H, W)`` model input.

    ``--image`` if given; else an MNIST test digit when the input is one-channel
    28 or 32 pixels (or ``--digit``/``--data-dir`` ask for one) and MNIST is
    found; else ``neutral`` (:func:`neutral_picture`), with a note when a digit
    would have fitted but no MNIST data is there.  Only an explicit
    ``--digit``/``--data-dir`` without MNIST is an error.
    """
    from PIL import Image, UnidentifiedImageError

    _, channels, h, w = (int(d) for d in shape)
    if image is not None:
        try:
            with Image.open(image) as img:
                img = img.convert("L" if channels == 1 else "RGB").resize((w, h), Image.BILINEAR)
                pixels = np.asarray(img)
        except FileNotFoundError:
            raise DataError(f"no image file {image!r}", "check the path given to --image") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"{image!r} is not an image Pillow can read ({exc})", "give a PNG or JPEG file") from None
        return Picture(_to_input(pixels, channels), image)

    if neutral is None:
        neutral = neutral_picture(shape)
    asked = data_dir is not None or digit is not None
    if not (asked or mnist_shaped(shape)):
        return Picture(neutral, "neutral picture", neutral=True)
    from convcalc.train.data import _find, read_idx, resolve_data_dir

    folder = resolve_data_dir(data_dir)
    found = _find(folder, "t10k-images-idx3-ubyte.gz") if folder.is_dir() else None
    if found is None:
        if asked:
            raise DataError(
                f"no MNIST test images in {folder} to draw on",
                "pass --data-dir ../shared/data/mnist (or set CONVCALC_DATA_DIR), or give --image FILE",
            )
        return Picture(neutral, "neutral picture",
                       f"no MNIST test images in {folder}: drawn on a neutral picture "
                       "(--data-dir or CONVCALC_DATA_DIR for a digit, or --image FILE)", neutral=True)
    images = read_idx(found, "images")
    digit = 0 if digit is None else digit
    if not 0 <= digit < len(images):
        raise DataError(f"--digit {digit} is outside the {len(images)} MNIST test images",
                        f"choose 0..{len(images) - 1}")
    img = Image.fromarray(images[digit], mode="L").resize((w, h), Image.BILINEAR)
    return Picture(_to_input(np.asarray(img), channels), f"MNIST test image {digit}")


def load_weights(model: Any, path: str) -> None:
    """Load a ``.pdparams`` state dict into ``model``; refuse one that does not fit it."""
    import paddle

    if not Path(path).is_file():
        raise ModelLoadError(f"no weights file {path!r}", "give the .pdparams written by `convcalc train`")
    try:
        state = paddle.load(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ModelLoadError(f"{path!r} is not a Paddle state dict ({type(exc).__name__})",
                             "give a .pdparams file written by paddle.save") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint that holds the model's state dict
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state)
                   if tuple(own[k].shape) != tuple(getattr(state[k], "shape", ())))
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected
                  else f"shape differs for {wrong[:3]}")
        raise ModelLoadError(f"{path!r} does not fit the model ({detail})",
                             "load the weights of the same model (e.g. from `convcalc train` of that model)")
    model.set_state_dict(state)
