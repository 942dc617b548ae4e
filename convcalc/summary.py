"""``convcalc.summary``: the notebook API, a drop-in for ``paddle.summary`` and torchinfo's ``summary``.

>>> import convcalc                                                   # doctest: +SKIP
>>> convcalc.summary(model, (1, 3, 224, 224))                         # doctest: +SKIP
>>> convcalc.summary(model, input_size=(1, 3, 224, 224), col_names=["kernel_size", "output_size", "mult_adds"],
...                  depth=2, verbose=0)                              # doctest: +SKIP

Called as ``paddle.summary`` is (``net, input_size, dtypes, input``) or as
torchinfo's ``summary`` is (``input_size``/``input_data``, ``dtypes``,
``batch_dim``, ``col_names``, ``depth``, ``verbose``, ``row_settings``).  Like
torchinfo it prints the table unless ``verbose=0`` (the default is 0 at an
interactive prompt, where the returned object shows itself, and 1 in a
script); its repr is the table, and in Jupyter it renders as HTML whose
containers fold without any script (``<details>``).  The result answers both
tools' result APIs (``s["total_params"]``, ``s.total_params``,
``s.trainable_params``, ``s.total_mult_adds``) and converts with
``to_dict()``, ``to_markdown()``, ``to_csv()`` and ``to_html()``.  The numbers
are ``s.report`` (:class:`convcalc.analysis.records.Report`); the text is made
by ``convcalc.render``.  docs/notebook.md has the keyword tables.
"""

from __future__ import annotations

import difflib
import io
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from convcalc.analysis.records import Report
from convcalc.errors import InputSpecError, InvalidParameterError
from convcalc.render.columns import DEFAULT_COLUMNS, Column, RowDetails, RowSetting

__all__ = ["Summary", "summary"]

KEYWORDS = ("input_size", "dtypes", "input", "input_data", "input_spec", "batch_dim", "col_names", "depth",
            "verbose", "row_settings", "convention", "name")
"""Every keyword :func:`summary` takes (the nearest one is named when a keyword is unknown)."""
_CANNOT = {
    "device": "convcalc's counts do not depend on the device (it traces on the CPU): drop device=",
    "mode": "convcalc traces in eval mode; for a training step use convcalc.analysis.training.training_cost or "
            "`convcalc report --training`",
    "cache_forward_pass": "convcalc keeps no cache between calls: keep the Summary (s = convcalc.summary(...)) and "
                          "make other views from it (s.to_markdown(), s.report)",
    "col_width": "convcalc sizes each column to its content: drop col_width=",
}


@dataclass(frozen=True)
class Summary:
    """A report and how to show it; every view is made by ``convcalc.render``."""

    report: Report
    depth: int | None = None
    columns: tuple[Column, ...] = DEFAULT_COLUMNS
    row_settings: frozenset[RowSetting] | None = None
    verbose: int = 1
    details: RowDetails = field(default_factory=RowDetails, compare=False, repr=False)
    macs: Any = field(default=None, compare=False, repr=False)  # () -> Report in the macs convention

    def _table(self) -> dict:
        return {"columns": self.columns, "row_settings": self.row_settings, "details": self.details,
                "verbose": self.verbose}

    def __rich_console__(self, console, options):
        from convcalc.render.report import report_renderables

        yield from report_renderables(self.report, self.depth, **self._table())

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(record=True, width=160, file=io.StringIO(), color_system=None, force_jupyter=False)
        console.print(self)
        return console.export_text()

    def __repr__(self) -> str:
        """The table, as torchinfo's ``ModelStatistics``: what a prompt shows for ``s``."""
        return str(self)

    def _repr_html_(self) -> str:
        from convcalc.render.html import report_html

        return report_html(self.report, self.depth, fragment=True)

    # ---- paddle.summary's result (a dict of two counts) and torchinfo's attributes
    def __getitem__(self, key: str) -> int:
        counts = {"total_params": self.total_params, "trainable_params": self.trainable_params}
        if key not in counts:
            raise KeyError(key)
        return counts[key]

    def keys(self) -> tuple[str, ...]:
        return ("total_params", "trainable_params")

    @property
    def total_params(self) -> int:
        return int(self.report.totals.params)

    @property
    def trainable_params(self) -> int:
        return int(self.report.totals.params_trainable)

    @cached_property
    def total_mult_adds(self) -> int:
        """Multiply-accumulates of the whole forward (convcalc's ``macs`` convention)."""
        from convcalc.formulas import Convention

        report = self.report if self.report.convention is Convention.MACS else self.macs()
        return int(report.totals.flops)

    # ---- other views
    def to_dict(self) -> dict:
        from convcalc.render.report import report_dict

        return report_dict(self.report)

    def to_markdown(self) -> str:
        from convcalc.render.report import report_markdown

        return report_markdown(self.report, self.depth)

    def to_csv(self) -> str:
        from convcalc.render.report import report_csv

        return report_csv(self.report, self.depth)

    def to_html(self) -> str:
        from convcalc.render.html import report_html

        return report_html(self.report, self.depth)


def _refuse_unknown(unknown: dict) -> None:
    for key in unknown:
        if key in _CANNOT:
            raise InvalidParameterError(f"summary() cannot honour {key}=", _CANNOT[key])
        close = difflib.get_close_matches(key, KEYWORDS, n=1, cutoff=0.5)
        hint = f"the nearest keyword convcalc has is {close[0]}=" if close else "its keywords: " + ", ".join(KEYWORDS)
        if key not in KEYWORDS and not close:
            hint += " (a keyword argument for forward goes in input_data={'name': tensor})"
        raise InvalidParameterError(f"summary() got an unexpected keyword argument {key!r}", hint)


def _choices(values: Any, enum: type, what: str, default: Any) -> Any:
    """``values`` as a tuple of ``enum`` members (torchinfo's names), or a one-line error naming the nearest."""
    if values is None:
        return default
    if isinstance(values, str):
        values = (values,)
    out = []
    for v in values:
        try:
            out.append(enum(str(v)))
        except ValueError:
            names = [m.value for m in enum]
            close = difflib.get_close_matches(str(v), names, n=1, cutoff=0.4)
            raise InvalidParameterError(
                f"{v!r} is not a valid {what}",
                (f"did you mean {close[0]!r}? " if close else "") + "choose from " + ", ".join(names)) from None
    return tuple(out)


def _verbose(verbose: Any) -> int:
    """torchinfo's rule: ``None`` -> 0 at an interactive prompt (``sys.ps1``: python, IPython, Jupyter), else 1."""
    if verbose is None:
        return 0 if getattr(sys, "ps1", None) else 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise InvalidParameterError(f"verbose={verbose!r}: verbose must be either 0 (quiet), 1 (default), or 2 "
                                    "(verbose)", "pass 0, 1 or 2")
    return int(verbose)


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, type)


def _paddle_shape(shape: Any) -> Any:
    """``paddle.summary``'s shape forms: an ``int`` is ``(int,)``; ``None``/``-1`` for the batch is 1."""
    from paddle.static import InputSpec

    if isinstance(shape, InputSpec):
        return shape
    if isinstance(shape, int) and not isinstance(shape, bool):
        return (shape,)
    if isinstance(shape, (list, tuple)) and shape and all(d is None or isinstance(d, int) for d in shape):
        unknown = [i for i, d in enumerate(shape) if d is None or d == -1]
        if unknown and unknown != [0]:
            raise InputSpecError(f"input_size {shape!r}: only the batch (the first size) can be None or -1",
                                 "give every other size as a number, e.g. (None, 3, 224, 224)")
        return (1, *shape[1:]) if unknown else tuple(shape)
    return shape


def _input_sizes(input_size: Any, dtypes: Any, batch_dim: Any) -> tuple[Any, Any]:
    """(``input_size``, ``input_spec``) for :func:`convcalc.analysis.analyze` from both tools' forms."""
    from collections.abc import Mapping

    from paddle.static import InputSpec

    from convcalc.trace.inputs import check_dtype

    if isinstance(input_size, Mapping):  # {forward argument: shape}
        if batch_dim is not None or dtypes is not None:
            names = dtypes if isinstance(dtypes, Mapping) else dict.fromkeys(input_size, dtypes or "float32")
            shapes = {k: _paddle_shape(v) for k, v in input_size.items()}
            if batch_dim is not None:
                shapes = {k: (*s[:batch_dim], 1, *s[batch_dim:]) for k, s in shapes.items()}
            return None, {k: InputSpec(list(s), check_dtype(str(names.get(k, "float32")), "dtypes"), name=k)
                          for k, s in shapes.items()}
        return {k: _paddle_shape(v) for k, v in input_size.items()}, None
    if isinstance(input_size, InputSpec) or (
            isinstance(input_size, (list, tuple)) and input_size and any(isinstance(i, InputSpec) for i in input_size)):
        if dtypes is not None:
            raise InputSpecError("dtypes with InputSpecs: an InputSpec carries its own dtype", "drop dtypes=")
        if batch_dim is not None:
            raise InputSpecError("batch_dim with InputSpecs: an InputSpec names its batch itself", "drop batch_dim=")
        items = [input_size] if isinstance(input_size, InputSpec) else list(input_size)
        specs = [i if isinstance(i, InputSpec) else InputSpec(list(_paddle_shape(i)), "float32") for i in items]
        return None, specs[0] if len(specs) == 1 else specs
    several = isinstance(input_size, (list, tuple)) and input_size and all(
        isinstance(i, (list, tuple)) for i in input_size)
    shapes = [_paddle_shape(s) for s in input_size] if several else [_paddle_shape(input_size)]
    if batch_dim is not None:
        if isinstance(batch_dim, bool) or not isinstance(batch_dim, int):
            raise InvalidParameterError(f"batch_dim={batch_dim!r} is not a dimension index", "e.g. batch_dim=0")
        shapes = [(*s[:batch_dim], 1, *s[batch_dim:]) if batch_dim >= 0 else s for s in shapes]
    if dtypes is None:
        return (shapes if several else shapes[0]), None
    names = [dtypes] * len(shapes) if isinstance(dtypes, str) or not isinstance(dtypes, (list, tuple)) else dtypes
    if len(names) != len(shapes):
        raise InputSpecError(f"dtypes has {len(names)} entr{'y' if len(names) == 1 else 'ies'} for {len(shapes)} "
                             "input(s)", "give one dtype per input, or one string for all of them")
    checked = [check_dtype(str(d), "dtypes") for d in names]
    specs = [InputSpec(list(s), d) for s, d in zip(shapes, checked)]
    return None, specs[0] if len(specs) == 1 else specs


def _details(model: Any, report: Report, macs: Any, columns: tuple, verbose: int) -> RowDetails:
    """Kernel sizes, groups and parameters of each row's layer (read from the model), and the macs report."""
    layers = dict(model.named_sublayers(include_self=True)) if hasattr(model, "named_sublayers") else {}
    kernel, groups, params = {}, {}, {}
    for rec in report.records:
        layer = None if rec.is_functional else layers.get(rec.path)
        if layer is None:
            continue
        for attr in ("_kernel_size", "kernel_size", "ksize"):
            if getattr(layer, attr, None) is not None:
                value = getattr(layer, attr)
                kernel[rec.index] = list(value) if isinstance(value, (list, tuple)) else int(value)
                break
        if getattr(layer, "_groups", None) is not None:
            groups[rec.index] = int(layer._groups)
        if verbose >= 2 and rec.is_leaf:
            params[rec.index] = tuple((n, tuple(int(d) for d in p.shape), int(p.size))
                                      for n, p in layer.named_parameters(include_sublayers=False))
    return RowDetails(kernel, groups, macs() if Column.MULT_ADDS in columns else None, params)


def summary(
    net: Any,
    /,
    input_size: Any = None,
    dtypes: Any = None,
    input: Any = None,  # noqa: A002 - paddle.summary's name
    *,
    input_data: Any = None,
    input_spec: Any = None,
    batch_dim: int | None = None,
    col_names: Any = None,
    depth: int | None = None,
    verbose: int | None = None,
    row_settings: Any = None,
    convention: str = "paddle",
    name: str | None = None,
    **unknown: Any,
) -> Summary:
    """Analyse ``net`` and return a :class:`Summary`, printing it unless ``verbose`` is 0 (module docstring).

    Inputs, exactly one of: ``input_size`` (a shape with batch, the ``(C, H, W)``
    image form, an ``int``, ``None``/``-1`` for the batch, an ``InputSpec``, or a
    list/dict of these; ``dtypes`` one per input or one string for all;
    ``batch_dim`` inserts a batch of 1 there), ``input`` (paddle.summary's: a
    tensor, or a list/dict of tensors given to ``forward`` as ONE argument),
    ``input_data`` (torchinfo's: a tensor, a list of tensors one per argument, or
    a dict of keyword arguments) or ``input_spec``.  ``col_names``: torchinfo's
    columns plus ``flops``, ``rf``, ``jump``, ``start``; ``row_settings``:
    torchinfo's; ``depth``: rows deeper than it are hidden (default: every row).
    Paddle's own C++ log lines are kept out of the notebook.
    """
    from convcalc.analysis import analyze
    from convcalc.analysis.engine import trace_for
    from convcalc.trace.input_forms import model_inputs, one_argument
    from convcalc.trace.native_logs import quiet_native_logs

    _refuse_unknown(unknown)
    if dtypes is not None and not isinstance(dtypes, str) and (
            _is_tensor(dtypes) or (isinstance(dtypes, (list, tuple, dict)) and dtypes
                                   and all(_is_tensor(d) for d in (dtypes.values() if isinstance(dtypes, dict)
                                                                   else dtypes)))):
        raise InputSpecError("the 3rd argument of summary() is dtypes (paddle.summary's order), not data",
                             "pass the tensors as input_data=... (or input=... as paddle.summary takes them)")
    columns = _choices(col_names, Column, "column name (col_names)", DEFAULT_COLUMNS)
    rows = _choices(row_settings, RowSetting, "row setting (row_settings)", None)
    verbose = _verbose(verbose)
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise InvalidParameterError(f"depth={depth!r} is not a depth",
                                    "give a whole number >= 0, or None for every row")
    given = [k for k, v in (("input_size", input_size), ("input", input), ("input_data", input_data),
                            ("input_spec", input_spec)) if v is not None]
    if len(given) != 1:
        raise InputSpecError("give the model's input as exactly one of input_size, input, input_data or input_spec"
                             + (f" (got {', '.join(given)})" if given else ""),
                             "e.g. convcalc.summary(model, (1, 3, 224, 224))")
    if batch_dim is not None and input_size is None:
        raise InputSpecError("batch_dim inserts a batch of 1 into input_size; the tensors given already have "
                             "their batch", "drop batch_dim=, or give input_size without the batch")
    name = name or type(net).__name__
    with quiet_native_logs():
        if input is not None:
            inputs, values = one_argument(input)
        else:
            if input_size is not None:
                input_size, input_spec = _input_sizes(input_size, dtypes, batch_dim)
            inputs, values = model_inputs(net, input_size, input_spec, input_data)
        trace = trace_for(net, inputs, name, values)
        report = analyze(net, inputs, convention=convention, name=name, trace=trace)

    def macs() -> Report:
        with quiet_native_logs():
            return analyze(net, inputs, convention="macs", name=name, trace=trace)

    result = Summary(report, depth, columns, None if rows is None else frozenset(rows), verbose,
                     _details(net, report, macs, columns, verbose), macs)
    if verbose:
        print(str(result).rstrip("\n"))
    return result
