"""Zoo reports stored as data: written once per Paddle version, read back without Paddle or sympy.

A zoo model's report is fixed by the installed Paddle, by convcalc itself and by the input's batch,
height and width, so ``convcalc validate --write-zoo-data`` traces each zoo model once per batch size
and stores the :class:`~convcalc.analysis.records.Report` objects as plain JSON, one gzipped file per
model and convention under ``zoo_reports/paddle-<version>/``.  ``convcalc report resnet18 [--batch N]
[--input 3xHxW]`` then builds the same ``Report`` from the file (about 10 ms, no ``import paddle``, no
sympy) and hands it to the same renderers as a traced one.

Every quantity that changes with the batch was traced at batch 1 and 2 and is stored as
``a + (N - 1) * d``; the generator checks that rule against a third trace (batch 3) and refuses to
write data it does not reproduce.  Quantities that change with the height and width are stored as
expressions in ``N``, ``H`` and ``W`` (``{"$e": index}`` into the file's ``sizes`` block), with the
conditions under which the stored report is the live one (:mod:`convcalc.analysis.stored_sizes`
writes them, :mod:`convcalc.analysis.size_exprs` reads them); an input outside them (or with another
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

FORMAT = 2  # 2: size expressions ("$e" leaves and the "sizes" block)
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
def _plain(value: Any, where: str, other: Any = None) -> Any:
    """``value`` as JSON: dataclasses, tuples, Fractions and the convention enum get a one-key tag; ``other``
    (value, where) gives the form of any other value (the generator's symbolic leaves)."""
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
        return {"$t": [_plain(v, where, other) for v in value]}
    if isinstance(value, list):
        return [_plain(v, where, other) for v in value]
    if dataclasses.is_dataclass(value) and type(value).__name__ in TYPES:
        out = {"$": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.name == "parameters":  # live parameter objects, read only by `compare`
                continue
            out[f.name] = _plain(getattr(value, f.name), f"{where}.{f.name}", other)
        return out
    if other is not None:
        return other(value, where)
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


def _build(node: Any, batch: int, values: list | None = None) -> Any:
    if isinstance(node, list):
        return [_build(v, batch, values) for v in node]
    if not isinstance(node, dict):
        return node
    if "$n" in node:
        first, step = node["$n"]
        return first + (batch - 1) * step
    if "$e" in node:  # a size expression's value (KeyError/TypeError without values: a damaged file)
        return values[node["$e"]]
    if "$t" in node:
        return tuple(_build(v, batch, values) for v in node["$t"])
    if "$q" in node:
        return Fraction(*node["$q"])
    if "$c" in node:
        return Convention(node["$c"])
    if "$" in node:
        cls = TYPES[node["$"]]  # only the report's own dataclasses: a KeyError is a corrupt file
        return cls(**{k: _build(v, batch, values) for k, v in node.items() if k != "$"})
    raise NotStorable(f"an untagged object in stored data: {sorted(node)}", "regenerate: convcalc validate "
                      "--write-zoo-data")


def decode(node: Any, batch: int, values: list | None = None) -> Report:
    """The :class:`Report` a stored node gives at ``batch`` (a whole number >= 1) and the size expressions'
    ``values``; :class:`NotStorable` for a damaged node (an unknown tag or field, a value of the wrong form)."""
    try:
        report = _build(node, batch, values)
    except (KeyError, TypeError, ValueError, IndexError) as err:
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
    sizes: dict | None = None  # the size expressions and their conditions (None: the default size only)

    def report(self, batch: int, sample: tuple[int, ...] | None = None) -> Report | None:
        """The report at ``batch`` and ``sample`` (one input without its batch; default: the stored one), marked
        as stored (``source``); None where the data cannot say: another sample where the data holds no size
        expressions, another channel count, or a height and width outside its conditions (trace live)."""
        sample = self.sample if sample is None else tuple(sample)
        values, regime, peak = None, None, None
        if self.sizes is not None and len(sample) == len(self.sample) == 3 and sample[0] == self.sample[0]:
            found = values_at(self.sizes, batch, sample[1], sample[2])
            if found is None:
                return None
            values, regime, peak = found
        elif sample != self.sample:
            return None
        report = decode(self.node, batch, values)
        if regime is not None:
            report = with_fields(report, self.sizes["alternatives"][regime], batch)
        if peak is not None:  # the peak as the live report finds it: the first op with the most bytes alive
            at = next((r.path for r in report.records if peak[0] in r.ops), "")
            report = dataclasses.replace(report, totals=dataclasses.replace(
                report.totals, peak_activation_bytes=peak[1], peak_at=at))
        return dataclasses.replace(report, source=self.source)

    @property
    def source(self) -> str:
        return f"convcalc's stored zoo report (Paddle {self.paddle}); --live traces it"


def values_at(sizes: dict, batch: int, height: int, width: int) -> tuple[list, int | None, tuple] | None:
    """(every stored size expression's value at this input, the receptive-field regime: None for the stored
    fields, else an index into ``sizes["alternatives"]``, the inference peak: (op, bytes alive)), or None
    where the stored report may not be the live one: a size not positive, a condition failing, no regime
    holding (see :mod:`convcalc.analysis.stored_sizes`), or damaged data."""
    from convcalc.analysis.size_exprs import BadExpression, Sizes

    try:
        parsed = Sizes(sizes["atoms"], sizes["exprs"])
        env = parsed.env(batch, height, width)
        values = parsed.values(env)
        if any(values[k] <= 0 for k in sizes["dims"]):
            return None  # an empty or negative size: Paddle (or the trace's own refusal) decides, live
        if not all(Sizes.holds(text, env) for text, _ in sizes["checks"]):
            return None
        regime = None
        if not any(all(Sizes.holds(g, env) for g in guards) for guards in sizes["regimes"][str(min(batch, 3))]):
            regime = next((k for k, alt in enumerate(sizes.get("alternatives", ())) if "rf" in alt and any(
                all(Sizes.holds(g, env) for g in guards) for guards in alt["guards"])), None)
            if regime is None:
                return None
        return values, regime, _peak({k: _build(v, batch, values) for k, v in sizes["memory"].items()})
    except (BadExpression, NotStorable, KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None


def with_fields(report: Report, regime: dict, batch: int) -> Report:
    """``report`` with the receptive fields and field gaps of another regime (stored plain per row)."""
    if len(regime["rf"]) != len(report.records):
        raise NotStorable("a damaged stored regime (another row count)", "regenerate: convcalc validate "
                          "--write-zoo-data")
    records = tuple(dataclasses.replace(r, rf=_build(rf, batch)) for r, rf in zip(report.records, regime["rf"]))
    gaps = dataclasses.replace(report.gaps, **{k: _build(v, batch) for k, v in regime["gaps"].items()
                                               if k in ("ops_without_rf_rule", "misaligned_merges")})
    return dataclasses.replace(report, records=records, gaps=gaps)


def _peak(memory: dict) -> tuple[int, int]:
    """(the first op with the most bytes alive, those bytes): the sweep of
    :meth:`convcalc.analysis.memory.Liveness.profile` and :func:`~convcalc.analysis.memory.inference_peak`
    on the stored buffers (op -1 and the inputs' bytes when no op computes)."""
    births: dict = {}
    deaths: dict = {}
    for born, dies, nbytes in memory["buffers"]:
        births[born] = births.get(born, 0) + nbytes
        deaths[dies] = deaths.get(dies, 0) + nbytes
    alive, best = births.get(-1, 0), None
    for index, computes in memory["ops"]:
        alive += births.get(index, 0)
        if computes and (best is None or alive > best[1]):
            best = (index, alive)
        alive -= deaths.get(index, 0)
    return best if best is not None else (-1, births.get(-1, 0))


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
        return StoredReport(model, version, data["convention"], tuple(data["sample"]), data["dtype"], data["report"],
                            data.get("sizes"))
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None


def dump(model: str, convention: str, version: str, sample: tuple[int, ...], dtype: str, node: Any,
         folder: Path = FOLDER, sizes: dict | None = None) -> Path:
    """Write one model's file in one convention (gzip, reproducible: no timestamp, sorted keys); its path."""
    path = path_for(model, convention, version, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": FORMAT, "model": model, "paddle": version, "convention": convention,
                       "sample": list(sample), "dtype": dtype, "report": node, "sizes": sizes},
                      sort_keys=True, separators=(",", ":"))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fh:
        fh.write(text.encode("utf-8"))
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- writing (Paddle and sympy)
def _live(model: str, batch: int, conventions: tuple[str, ...], sample: tuple[int, ...] | None = None,
          symbolic: bool = True) -> tuple:
    """Zoo model ``model`` at its default sample and ``batch``, traced now as ``convcalc report --live`` traces it
    (built without initialised weights, layer names as in a fresh process): (concrete report per convention,
    symbolic report with exact floors per convention and the symbolic shapes, or the reason there are none)."""
    import paddle

    from convcalc.analysis.engine import analyze, trace_for
    from convcalc.analysis.receptive import GraphView, propagate
    from convcalc.analysis.symbolic import symbolic_shapes
    from convcalc.models.zoo import build_model
    from convcalc.trace.inputs import cli_inputs, input_hint

    with paddle.utils.unique_name.guard():  # `summary_name`s count the layers this process built before
        built = build_model(model, lazy=True)
        texts = ["x".join(map(str, sample))] if sample else list(built.default_inputs)
        inputs, _ = cli_inputs(texts, batch, input_hint(built.model))
        trace = trace_for(built.model, inputs, built.name)
        concrete = {c: analyze(built.model, inputs, convention=c, name=built.name, trace=trace) for c in conventions}
        if not symbolic:
            return concrete, ""
        try:
            fields = propagate(GraphView(trace.ops, trace.shapes, trace.constants, trace.input_value))
            if len(inputs) != 1 or fields.input_dims != {"H": 2, "W": 3}:
                return concrete, "not one N, C, H, W input"
            if trace.notes:  # a forward that branches on tensor values may branch otherwise at another size
                return concrete, trace.notes[0]
            shapes = symbolic_shapes(trace, fields, assume_divisible=False)[0]
            symbolic = {c: analyze(built.model, inputs, convention=c, name=built.name, trace=trace, symbolic=True,
                                   assume_divisible=False) for c in conventions}
        except ConvcalcError as why:
            return concrete, str(why).split("\n")[0]
    return concrete, (symbolic, trace, shapes)


def generate(model: str) -> tuple[tuple[int, ...], str, dict, dict | None, str]:
    """(default sample, dtype, stored node per convention, size block or None, why there is none) of zoo model
    ``model``, traced at batch 1, 2 and 3; :class:`NotStorable` unless the node gives back exactly the traced
    report at each of them (with the size expressions evaluated at the default size)."""
    conventions = tuple(c.value for c in Convention)
    runs = {n: _live(model, n, conventions) for n in BATCHES}
    traced = {n: runs[n][0] for n in BATCHES}
    first = traced[1][conventions[0]]
    if len(first.input_shapes or (first.input_shape,)) != 1:
        raise NotStorable(f"{model} takes more than one input", "trace it live")
    sample = tuple(int(d) for d in first.input_shape[1:])
    nodes = {c: encode({n: traced[n][c] for n in BATCHES}) for c in conventions}
    sizes, why = None, next((r for _, r in runs.values() if isinstance(r, str)), "")
    if not why:
        from convcalc.analysis.stored_sizes import Unsized, sized_form

        try:
            sized, sizes = sized_form([(traced[n], *runs[n][1]) for n in BATCHES], _plain, _merge, conventions)
            nodes = sized
        except (Unsized, NotStorable) as err:
            sizes, why = None, str(err).split("\n")[0]
    if sizes is not None:
        sizes["alternatives"] = _traced_regimes(model, sample, sizes, nodes, conventions)
    for c in conventions:
        for n in BATCHES:
            found = None if sizes is None else values_at(json.loads(json.dumps(sizes)), n, *sample[1:])
            values = None if found is None else found[0]
            if sizes is not None and (found is None or found[1] is not None or found[2][0] != sizes["memory"]["peak"]):
                raise NotStorable(f"{model}: the stored conditions fail at the traced size (batch {n})",
                                  "please report this: the size conditions are wrong")
            if decode(json.loads(json.dumps(nodes[c])), n, values) != dataclasses.replace(traced[n][c], parameters=()):
                raise NotStorable(f"{model}: the stored {c} report at batch {n} is not the traced one",
                                  "please report this: the data format lost something")
    return sample, (first.input_dtypes or ("float32",))[0], nodes, sizes, why


def _traced_regimes(model: str, sample: tuple[int, ...], sizes: dict, nodes: dict,
                    conventions: tuple[str, ...]) -> list[dict]:
    """The other receptive-field regimes, each with the fields and field gaps traced at its sample size; kept
    only where the stored report with them is, at that size, exactly the traced one in every convention."""
    kept = []
    for alt in sizes["alternatives"]:
        h, w = alt["sample"]
        try:
            traced = _live(model, 1, conventions, (sample[0], h, w), symbolic=False)[0]
        except ConvcalcError:
            continue
        first = traced[conventions[0]]
        alt = dict(alt, rf=[_plain(r.rf, "rf") for r in first.records],
                   gaps={k: _plain(getattr(first.gaps, k), k) for k in ("ops_without_rf_rule", "misaligned_merges")})
        trial = json.loads(json.dumps(dict(sizes, alternatives=[*kept, alt])))
        found = values_at(trial, 1, h, w)
        if found is None or found[1] != len(kept):
            continue
        stored = [StoredReport(model, "", c, sample, "", nodes[c], trial).report(1, (sample[0], h, w))
                  for c in conventions]
        if all(got is not None and dataclasses.replace(got, source="") == dataclasses.replace(traced[c], parameters=())
               for got, c in zip(stored, conventions)):
            kept.append(alt)
    return kept


def write(models: list[str], folder: Path = FOLDER, progress: Any = None) -> list[Path]:
    """Generate and write the stored reports of ``models`` for the installed Paddle; each is checked first:
    decoded at batch 1, 2 and 3 it must give exactly the traced reports."""
    version = paddle_version()
    if version is None:
        raise NotStorable("Paddle is not installed", "install paddlepaddle (see the README)")
    paths = []
    for model in models:
        sample, dtype, nodes, sizes, why = generate(model)
        for convention, node in nodes.items():
            paths.append(dump(model, convention, version, sample, dtype, node, folder, sizes))
        if progress:
            told = (f"other sizes: {len(sizes['exprs'])} expressions, {len(sizes['alternatives'])} other field "
                    "regime(s)" if sizes is not None
                    else f"default size only: {why}")
            progress(f"zoo data: wrote {model} ({', '.join(nodes)}; {told}) in {paths[-1].parent}")
    return paths
