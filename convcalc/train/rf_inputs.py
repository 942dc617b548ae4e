"""What ``convcalc rf`` draws on: an image or an MNIST digit at the model's input, and saved weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from convcalc.errors import DataError, ModelLoadError

__all__ = ["load_image", "load_weights"]


def _to_input(pixels: np.ndarray, channels: int) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8 -> (C, H, W) float32 in [-1, 1] (the book's Normalize(127.5, 127.5))."""
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], channels, axis=2)
    elif channels == 1:
        pixels = pixels.mean(axis=2, keepdims=True)
    elif pixels.shape[2] != channels:
        pixels = np.repeat(pixels.mean(axis=2, keepdims=True), channels, axis=2)
    return (pixels.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0).astype(np.float32)


def load_image(shape: tuple, image: str | None, data_dir: str | None, digit: int) -> tuple[np.ndarray, str]:
    """The picture's input (C, H, W) for an ``(N, C, H, W)`` model input, and where it came from."""
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
        return _to_input(pixels, channels), image

    from convcalc.train.data import _find, read_idx, resolve_data_dir

    folder = resolve_data_dir(data_dir)
    found = _find(folder, "t10k-images-idx3-ubyte.gz") if folder.is_dir() else None
    if found is None:
        raise DataError(
            f"no MNIST test images in {folder} to draw on",
            "pass --data-dir ../shared/data/mnist (or set CONVCALC_DATA_DIR), or give --image FILE",
        )
    images = read_idx(found, "images")
    if not 0 <= digit < len(images):
        raise DataError(f"--digit {digit} is outside the {len(images)} MNIST test images",
                        f"choose 0..{len(images) - 1}")
    img = Image.fromarray(images[digit], mode="L").resize((w, h), Image.BILINEAR)
    return _to_input(np.asarray(img), channels), f"MNIST test image {digit}"


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
