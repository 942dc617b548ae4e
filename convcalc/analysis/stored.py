"""Zoo reports stored as data: written once per Paddle version, read back without Paddle or sympy.

A zoo model's report at its default input is fixed by the installed Paddle and by convcalc itself,
so ``convcalc validate --write-zoo-data`` traces each zoo model once per batch size and stores the
:class:`~convcalc.analysis.records.Report` objects as plain JSON, one gzipped file per model and
convention under ``zoo_reports/paddle-<version>/``.  ``convcalc report resnet18 [--batch N]``
then builds the same ``Report`` from the file (about 10 ms, no ``import paddle``, no sympy) and
hands it to the same renderers as a traced one.

The batch is the only size the data covers: every quantity that changes with it was traced at
batch 1 and 2 and is stored as ``a + (N - 1) * d``; the generator checks that rule against a third
trace (batch 3) and refuses to write data it does not reproduce.  Any other input (another size,
channel count or dtype, a second input, ``--symbolic``, ``--training``) is traced live, as is
everything when the installed Paddle is not the data's.  tests/test_stored_reports.py checks, for
every zoo model, that the data and a live trace give the same report field for field.

Why a hand-written codec rather than pickle: the file is read by every ``convcalc report`` and
shipped in the package, so it must be inspectable text that can only make the handful of
dataclasses below (``pickle`` can run any code), and it must express "linear in the batch".
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

from convcalc.analysis.records import Condition, Gaps, LayerRecord, Report, Totals
from convcalc.errors import ConvcalcError
from convcalc.formulas.conventions import Convention
from convcalc.formulas.receptive import AxisField, Field

__all__ = ["FORMAT", "FOLDER", "StoredReport", "paddle_version", "load", "encode", "decode", "write"]

FORMAT = 1
FOLDER = Path(__file__).with_name("zoo_reports")
BATCHES = (1, 2, 3)  # traced per model: 1 and 2 give the rule, 3 checks it
TYPES = {c.__name__: c for c in (Report, LayerRecord, Totals, Gaps, Condition, AxisField, Field)}


class NotStorable(ConvcalcError):
    """A report that the data format cannot hold (a value it has no form for, or one not linear in the batch)."""


# ----------------------------------------------------------------------------- the installed Paddle
def paddle_version() -> str | None:
    """The installed Paddle's version, read from its ``version`` module's file: importing Paddle takes a second,
    and ``importlib.metadata`` scans every installed distribution (about 0.1 s)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("paddle")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), "version", "__init__.py")
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("full_version"):
                    return line.split("=", 1)[1].strip().strip("'\"")
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------- values <-> JSON
def _plain(value: Any, where: str) -> Any:
    """``value`` as JSON: dataclasses, tuples, Fractions and the convention enum get a one-key tag."""
    if isinstance(value, Convention):  # (a str too: before the plain strings)
        return {"$c": value.value}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Fraction):
        return {"$q": [value.numerator, value.denominator]}
    if isinstance(value, float):
        return value
    if isinstance(value, tuple):
        return {"$t": [_plain(v, where) for v in value]}
    if isinstance(value, list):
        return [_plain(v, where) for v in value]
    if dataclasses.is_dataclass(value) and type(value).__name__ in TYPES:
        out = {"$": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.name == "parameters":  # live parameter objects, read only by `compare`
                continue
            out[f.name] = _plain(getattr(value, f.name), f"{where}.{f.name}")
        return out
    raise NotStorable(f"{where}: a {type(value).__name__} ({value!r}) has no stored form",
                      "trace this model live (it cannot be stored)")


def _merge(a: Any, b: Any, c: Any, where: str) -> Any:
    """One node from the plain forms at batch 1, 2 and 3: equal parts stay, ints that change become
    ``{"$n": [value at 1, step]}``; anything else that changes with the batch is refused."""
    if type(a) is not type(b) or type(b) is not type(c):
        raise NotStorable(f"{where} changes type with the batch", "trace this model live")
    if isinstance(a, dict):
        if a.keys() != b.keys() or b.keys() != c.keys():
            raise NotStorable(f"{where} changes form with the batch", "trace this model live")
        return {k: _merge(a[k], b[k], c[k], f"{where}.{k}") for k in a}
    if isinstance(a, list):
        if not len(a) == len(b) == len(c):
            raise NotStorable(f"{where} changes length with the batch", "trace this model live")
        return [_merge(x, y, z, f"{where}[{i}]") for i, (x, y, z) in enumerate(zip(a, b, c))]
    if a == b == c:
        return a
    if isinstance(a, int) and not isinstance(a, bool) and c - b == b - a:
        return {"$n": [a, b - a]}
    raise NotStorable(f"{where} is {a!r}, {b!r}, {c!r} at batch 1, 2, 3 (not linear in the batch)",
                      "trace this model live")


def encode(by_batch: dict[int, Report]) -> Any:
    """The stored form of one model's report in one convention, from its reports at batch 1, 2 and 3."""
    a, b, c = (_plain(by_batch[n], "report") for n in BATCHES)
    return _merge(a, b, c, "report")


def _build(node: Any, batch: int) -> Any:
    if isinstance(node, list):
        return [_build(v, batch) for v in node]
    if not isinstance(node, dict):
        return node
    if "$n" in node:
        first, step = node["$n"]
        return first + (batch - 1) * step
    if "$t" in node:
        return tuple(_build(v, batch) for v in node["$t"])
    if "$q" in node:
        return Fraction(*node["$q"])
    if "$c" in node:
        return Convention(node["$c"])
    if "$" in node:
        cls = TYPES[node["$"]]  # only the report's own dataclasses: a KeyError is a corrupt file
        return cls(**{k: _build(v, batch) for k, v in node.items() if k != "$"})
    raise NotStorable(f"an untagged object in stored data: {sorted(node)}", "regenerate: convcalc validate "
                      "--write-zoo-data")


def decode(node: Any, batch: int) -> Report:
    """The :class:`Report` a stored node gives at ``batch`` (a whole number >= 1); :class:`NotStorable` for a
    damaged node (an unknown tag or field, a value of the wrong form)."""
    try:
        report = _build(node, batch)
    except (KeyError, TypeError, ValueError) as err:
        raise NotStorable(f"a damaged stored report ({type(err).__name__}: {err})",
                          "regenerate: convcalc validate --write-zoo-data") from None
    if not isinstance(report, Report):
        raise NotStorable("a damaged stored report (not a report)", "regenerate: convcalc validate --write-zoo-data")
    return report


# ----------------------------------------------------------------------------- files
@dataclasses.dataclass(frozen=True)
class StoredReport:
    """One model's stored report in one convention: its default sample (``C, H, W``), dtype and node."""

    model: str
    paddle: str
    convention: str
    sample: tuple[int, ...]
    dtype: str
    node: Any

    def report(self, batch: int) -> Report:
        """The report at ``batch``, marked as stored (``source``)."""
        return dataclasses.replace(decode(self.node, batch), source=self.source)

    @property
    def source(self) -> str:
        return f"convcalc's stored zoo report (Paddle {self.paddle}); --live traces it"


def path_for(model: str, convention: str, version: str, folder: Path = FOLDER) -> Path:
    return Path(folder) / f"paddle-{version}" / f"{model}.{convention}.json.gz"


def load(model: str, convention: str = "paddle", folder: Path | None = None) -> StoredReport | None:
    """The stored report of zoo model ``model`` in ``convention`` for the installed Paddle, or None (no such
    data, another Paddle, ``CONVCALC_LIVE`` set in the environment, or a damaged file or one of another format)."""
    if os.environ.get("CONVCALC_LIVE"):
        return None
    version = paddle_version()
    if version is None:
        return None
    path = path_for(model, str(convention), version, FOLDER if folder is None else folder)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        if (data["format"], data["paddle"], data["model"], data["convention"]) != (
                FORMAT, version, model, str(convention)):
            return None
        return StoredReport(model, version, data["convention"], tuple(data["sample"]), data["dtype"], data["report"])
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None


def dump(model: str, convention: str, version: str, sample: tuple[int, ...], dtype: str, node: Any,
         folder: Path = FOLDER) -> Path:
    """Write one model's file in one convention (gzip, reproducible: no timestamp, sorted keys); its path."""
    path = path_for(model, convention, version, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": FORMAT, "model": model, "paddle": version, "convention": convention,
                       "sample": list(sample), "dtype": dtype, "report": node}, sort_keys=True, separators=(",", ":"))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fh:
        fh.write(text.encode("utf-8"))
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- writing (Paddle and sympy)
def _live(model: str, batch: int, conventions: tuple[str, ...]) -> dict[str, Report]:
    """Zoo model ``model`` at its default sample and ``batch`` in each convention, traced now as
    ``convcalc report --live`` traces it (built without initialised weights, layer names as in a fresh process)."""
    import paddle

    from convcalc.analysis.engine import analyze, trace_for
    from convcalc.models.zoo import build_model
    from convcalc.trace.inputs import cli_inputs, input_hint

    with paddle.utils.unique_name.guard():  # `summary_name`s count the layers this process built before
        built = build_model(model, lazy=True)
        inputs, _ = cli_inputs(list(built.default_inputs), batch, input_hint(built.model))
        if len(conventions) == 1:
            return {conventions[0]: analyze(built.model, inputs, convention=conventions[0], name=built.name)}
        trace = trace_for(built.model, inputs, built.name)
        return {c: analyze(built.model, inputs, convention=c, name=built.name, trace=trace) for c in conventions}


def generate(model: str) -> tuple[tuple[int, ...], str, dict]:
    """(default sample, dtype, stored node per convention) of zoo model ``model``, traced at batch 1, 2 and 3;
    :class:`NotStorable` unless the node gives back exactly the traced report at each of them."""
    conventions = tuple(c.value for c in Convention)
    traced = {n: _live(model, n, conventions) for n in BATCHES}
    first = traced[1][conventions[0]]
    if len(first.input_shapes or (first.input_shape,)) != 1:
        raise NotStorable(f"{model} takes more than one input", "trace it live")
    nodes = {c: encode({n: traced[n][c] for n in BATCHES}) for c in conventions}
    for c in conventions:
        for n in BATCHES:
            if decode(json.loads(json.dumps(nodes[c])), n) != dataclasses.replace(traced[n][c], parameters=()):
                raise NotStorable(f"{model}: the stored {c} report at batch {n} is not the traced one",
                                  "please report this: the data format lost something")
    sample = tuple(int(d) for d in first.input_shape[1:])
    return sample, (first.input_dtypes or ("float32",))[0], nodes


def write(models: list[str], folder: Path = FOLDER, progress: Any = None) -> list[Path]:
    """Generate and write the stored reports of ``models`` for the installed Paddle; each is checked first:
    decoded at batch 1, 2 and 3 it must give exactly the traced reports."""
    version = paddle_version()
    if version is None:
        raise NotStorable("Paddle is not installed", "install paddlepaddle (see the README)")
    paths = []
    for model in models:
        sample, dtype, nodes = generate(model)
        for convention, node in nodes.items():
            paths.append(dump(model, convention, version, sample, dtype, node, folder))
        if progress:
            progress(f"zoo data: wrote {model} ({', '.join(nodes)}) in {paths[-1].parent}")
    return paths
