"""The files of an exported program: finding the pair, loading it with Paddle, and the tensors .pdiparams holds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

from convcalc.errors import ModelLoadError

__all__ = ["PARAMS_SUFFIX", "ProgramParameter", "one_line", "find_files", "stored_tensor_dims", "load_inference",
           "read_parameters"]

PARAMS_SUFFIX = ".pdiparams"


@dataclass(frozen=True)
class ProgramParameter:
    """One parameter of a program: what ``layer_params`` and the rules read from a ``paddle`` parameter."""

    name: str
    shape: tuple[int, ...]
    trainable: bool
    stop_gradient: bool


def one_line(exc: BaseException) -> str:
    """Paddle's reason in one line; a parameter file of the wrong size is named as such."""
    text = " ".join(str(exc).split())
    if any(w in text for w in ("load_combine", "partial data", "EOF", "eof", "tensor desc")):
        return "the parameter file holds a different amount of data than the program's parameters need"
    text = re.sub(r"\s*\(at /paddle/.*?\)", "", text)
    text = re.sub(r"\s*\[Hint:.*", "", text)
    return (text or type(exc).__name__)[:240]


def find_files(path: str) -> tuple[Path, Path]:
    program = Path(path).expanduser()
    if not program.exists():
        raise ModelLoadError(
            f"program file {path!r} does not exist",
            "check the path; paddle.jit.save writes <prefix>.json (or .pdmodel) and <prefix>.pdiparams",
        )
    if program.is_dir():
        raise ModelLoadError(f"{path!r} is a directory", "give the .json or .pdmodel file inside it")
    params = program.with_suffix(PARAMS_SUFFIX)
    if not params.exists():
        raise ModelLoadError(
            f"{path!r} has no parameter file {params.name!r} beside it",
            "keep the .pdiparams that paddle.jit.save wrote with the same prefix next to the program",
        )
    return program, params


# VarType sizes in bytes (framework.proto): BOOL INT16 INT32 INT64 FP16 FP32 FP64 ... UINT8 INT8 BF16
_DTYPE_BYTES = {0: 1, 1: 2, 2: 4, 3: 8, 4: 2, 5: 4, 6: 8, 20: 1, 21: 1, 22: 2}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def stored_tensor_dims(path: Path) -> list[tuple[int, ...]] | None:
    """The dims of every tensor in a ``save_combine`` file, or ``None`` if it is not exactly such tensors.

    Paddle's own loader reads a truncated file without complaint (the last
    tensor then holds garbage), so the file is walked here: per tensor a
    version, the LoD, a second version, a ``TensorDesc`` (data type, dims) and
    ``numel * dtype size`` bytes of data, ending exactly at the end of the file.
    """
    import struct

    data = path.read_bytes()
    pos, found = 0, []
    try:
        while pos < len(data):
            pos += 4  # version
            (lod_levels,) = struct.unpack_from("<Q", data, pos)
            pos += 8
            for _ in range(lod_levels):
                (size,) = struct.unpack_from("<Q", data, pos)
                pos += 8 + size
            pos += 4  # tensor version
            (desc_size,) = struct.unpack_from("<i", data, pos)
            pos += 4
            desc, pos = data[pos : pos + desc_size], pos + desc_size
            dtype, dims, i = 5, [], 0
            while i < len(desc):
                tag, i = _varint(desc, i)
                if tag == 0x08:  # data_type
                    dtype, i = _varint(desc, i)
                elif tag == 0x10:  # one dim
                    d, i = _varint(desc, i)
                    dims.append(d if d < 1 << 63 else d - (1 << 64))
                elif tag == 0x12:  # packed dims
                    n, i = _varint(desc, i)
                    end = i + n
                    while i < end:
                        d, i = _varint(desc, i)
                        dims.append(d if d < 1 << 63 else d - (1 << 64))
                else:
                    return None
            pos += prod(dims) * _DTYPE_BYTES.get(dtype, 4)
            found.append(tuple(dims))
    except (struct.error, IndexError):
        return None
    return found if pos == len(data) else None


def load_inference(program_file: Path, exe: Any) -> tuple[Any, list[str], list]:
    """``paddle.static.load_inference_model`` of a ``.json``, or of a ``.pdmodel`` translated to PIR."""
    import paddle

    prefix = str(program_file.with_suffix(""))
    if program_file.suffix.lower() == ".json":
        return paddle.static.load_inference_model(prefix, exe)
    with paddle.pir_utils.OldIrGuard():
        legacy, feeds, fetches = paddle.static.load_inference_model(prefix, exe)
        return paddle.pir.translate_to_pir(legacy.desc), feeds, fetches


def read_parameters(ops_raw: list) -> list[ProgramParameter]:
    out = []
    for op in ops_raw:
        if op.name() != "builtin.parameter":
            continue
        attrs = op.attrs()
        result = op.results()[0]

        def flag(key: str, default: bool, attrs=attrs) -> bool:
            v = attrs.get(key, default)
            return bool(v[0] if isinstance(v, list) and v else v)

        out.append(
            ProgramParameter(
                name=str(attrs["parameter_name"]),
                shape=tuple(int(d) for d in result.shape),
                trainable=flag("trainable", True),
                stop_gradient=flag("stop_gradient", False),
            )
        )
    return out
