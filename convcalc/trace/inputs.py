"""Model inputs: shape arguments such as ``--input 3x32x32``, ``12:int64`` or ``3xHxW``, and what they mean.

Never imports paddle (the CLI parses ``--input`` before building a model);
:func:`convcalc.analysis.engine.model_inputs` turns the Python API's forms
(``input_size``, ``InputSpec``, tensors) into :class:`ModelInput` values.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from convcalc.errors import InputSpecError

_DIM = re.compile(r"^(?:[1-9][0-9]*|[A-Za-z][A-Za-z0-9_]*)$")


def parse_shape(text: str, *, allow_symbols: bool = False, min_dims: int = 1, max_dims: int = 4) -> tuple:
    """``"3x32x32"`` -> ``(3, 32, 32)``; with ``allow_symbols``, ``"3xHxW"`` -> ``(3, H, W)``.

    Accepts ``x``, ``X``, ``*``, ``,`` or spaces between dimensions.  Symbols
    come back as positive integer sympy symbols.  Raises
    :class:`~convcalc.errors.InputSpecError` with the fix on anything else.
    """
    raw = str(text).strip().strip("[]()")
    parts = [p for p in re.split(r"[xX*,\s]+", raw) if p]
    example = "3xHxW" if allow_symbols else "3x32x32"
    if not parts or not all(_DIM.match(p) for p in parts):
        raise InputSpecError(
            f"malformed shape {text!r}",
            f"write positive whole numbers joined by 'x', e.g. {example}",
        )
    if not (min_dims <= len(parts) <= max_dims):
        raise InputSpecError(
            f"shape {text!r} has {len(parts)} dimension(s), expected "
            + (f"{min_dims}" if min_dims == max_dims else f"{min_dims} to {max_dims}"),
            f"write it like {example}",
        )
    dims: list = []
    for p in parts:
        if p.isdigit():
            dims.append(int(p))
        elif allow_symbols:
            import sympy

            dims.append(sympy.Symbol(p, positive=True, integer=True))
        else:
            raise InputSpecError(
                f"shape {text!r} contains the symbol {p!r}",
                "use numbers here (symbols need --symbolic or explain)",
            )
    return tuple(dims)


# ------------------------------------------------------------------ model inputs

# dtypes a model input may have (Paddle's names); ``--input 12:int64``.
DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")


@dataclass(frozen=True)
class ModelInput:
    """One input of a model's ``forward``: its full shape (batch first), dtype and argument name.

    ``name`` is the ``forward`` argument it feeds (filled in by the trace from
    the signature when empty).  A tensor inside one structured argument (a
    ``forward(self, inputs)`` that reads ``inputs[0]`` or ``inputs["x1"]``, as
    ``paddle.summary(net, input=[a, b])`` calls it) has ``part``, its index or
    key in that list or dict, and ``arg``, which of the given arguments it is
    in: the inputs with one ``arg`` form one argument.

    A shape that can be read two ways (a 4-number ``--input`` without
    ``--batch``, a 3-number ``input_size``) carries its other readings in
    ``also`` (``(shape, how)`` pairs), tried in order only when Paddle refuses
    this one (:func:`readings`); ``how`` says what a reading means, for the
    report's note, and ``ambiguous`` is the fix to give when Paddle accepts more
    than one (the first layer did not tell which to try first).
    """

    shape: tuple[int, ...]
    dtype: str = "float32"
    name: str = ""
    part: int | str | None = None
    arg: int = -1
    also: tuple[tuple[tuple[int, ...], str], ...] = field(default=(), compare=False)
    how: str = field(default="", compare=False)
    ambiguous: str = field(default="", compare=False)

    @property
    def per_sample(self) -> str:
        """``"3x224x224"``: the shape without its batch, as the CLI spells it."""
        return "x".join(str(d) for d in self.shape[1:]) or "()"

    @property
    def spec_name(self) -> str:
        """The name of its ``InputSpec`` (and of the program's data op): unique per tensor."""
        return self.name if self.part is None else f"{self.name}_{self.part}"


def argument_groups(inputs: Sequence[ModelInput]) -> list[list[int]]:
    """Indices of ``inputs`` per ``forward`` argument: one each, or all the parts of one structured argument."""
    groups: list[list[int]] = []
    for i, item in enumerate(inputs):
        prev = inputs[i - 1] if i else None
        if item.part is not None and prev is not None and prev.part is not None and prev.arg == item.arg:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def arguments(inputs: Sequence[ModelInput], items: Sequence[Any]) -> list[Any]:
    """``items`` (one per input) as ``forward``'s arguments: the parts of a structured argument in its list or
    dict (``model(*arguments(inputs, tensors))``, ``to_static(input_spec=arguments(inputs, specs))``)."""
    out: list[Any] = []
    for group in argument_groups(inputs):
        first = inputs[group[0]]
        if first.part is None:
            out.append(items[group[0]])
        elif isinstance(first.part, str):
            out.append({inputs[i].part: items[i] for i in group})
        else:
            out.append([items[i] for i in group])
    return out


@dataclass(frozen=True)
class InputHint:
    """What a model's first layer needs, read from its layers without running it.

    ``rank`` is the rank (batch included) of the input the first rank-bound
    layer takes (3: Conv1D, 4: Conv2D, 5: Conv3D), ``None`` when no layer
    tells; ``layer`` names that layer; ``ids`` is True when the first layer is
    an embedding (its input is integer ids).
    """

    rank: int | None = None
    layer: str = ""
    ids: bool = False


def parse_input(text: str) -> tuple[tuple[int, ...], str | None]:
    """``"16x64"`` -> ``((16, 64), None)``; ``"12:int64"`` -> ``((12,), "int64")``."""
    raw = str(text).strip()
    dtype = None
    if ":" in raw:
        raw, dtype = (part.strip() for part in raw.rsplit(":", 1))
        if dtype not in DTYPES:
            raise InputSpecError(
                f"unknown dtype {dtype!r} in --input {text!r}",
                "use one of " + ", ".join(DTYPES) + " (e.g. 12:int64 for token ids)",
            )
    return parse_shape(raw, min_dims=1, max_dims=8), dtype


def check_dtype(dtype: str, where: str) -> str:
    """A dtype name as Paddle spells it, or an :class:`InputSpecError`."""
    text = str(dtype).replace("paddle.", "")
    if text not in DTYPES:
        raise InputSpecError(f"unknown dtype {dtype!r} for {where}", "use one of " + ", ".join(DTYPES))
    return text


def cli_inputs(texts: list[str], batch: int | None, hint: InputHint) -> tuple[list[ModelInput], list[str]]:
    """The model inputs of ``--input`` arguments (per-sample shapes) and ``--batch``, plus notes.

    Every shape is one sample; the batch (default 1) is put in front.  The one
    form that can mean two things is a 4-number shape without ``--batch``:
    today's ``NxCxHxW`` image form, or a Conv3D sample ``CxDxHxW``.  Paddle
    decides (:func:`readings`): the reading the model's first layer suggests
    (``hint``) is tried first, the other only when Paddle refuses it; when the
    first layer does not tell, both are tried and, if Paddle accepts both, an
    :class:`InputSpecError` names the unambiguous spelling (``--batch``, with
    which shapes are always per sample).  The report's notes say which reading
    was taken.
    """
    inputs: list[ModelInput] = []
    notes: list[str] = []
    for i, text in enumerate(texts):
        dims, dtype = parse_input(text)
        shown = "x".join(str(d) for d in dims)
        also: tuple = ()
        how = ambiguous = ""
        if batch is None and len(dims) == 4:
            images = (tuple(int(d) for d in dims), f"--input {shown} read as NxCxHxW (batch {dims[0]})")
            sample = ((1, *(int(d) for d in dims)), f"--input {shown} read as one sample CxDxHxW (batch 1)")
            rank = hint.rank if i == 0 else None
            first, other = (sample, images) if rank == 5 else (images, sample)
            shape, how = first
            also = (other,)
            if rank not in (4, 5):
                ambiguous = (f"say which: `--batch {dims[0]} --input {'x'.join(str(d) for d in dims[1:])}` or "
                             f"`--batch 1 --input {shown}` (with --batch every --input is one sample)")
        else:
            shape = (batch or 1, *dims)
        if dtype is None:
            dtype = "float32"
            if i == 0 and hint.ids:
                dtype = "int64"
                notes.append(f"--input {shown} given as int64 ids: {hint.layer} is an embedding")
        inputs.append(ModelInput(tuple(int(d) for d in shape), dtype, also=also, how=how, ambiguous=ambiguous))
    return inputs, notes


def readings(inputs: Sequence[ModelInput]) -> list[list[ModelInput]]:
    """Every way to read ``inputs``: as given, then with the first input's other readings (``also``)."""
    if not inputs or not inputs[0].also:
        return [list(inputs)]
    first = inputs[0]
    out = [list(inputs)]
    for shape, how in first.also:
        out.append([replace(first, shape=tuple(shape), how=how, also=()), *inputs[1:]])
    return out


def forward_arguments(model: Any) -> tuple[list[str], int, bool]:
    """``forward``'s positional argument names, how many are required, and whether it takes ``*args``."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return [], 0, True
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)
    star = any(p.kind is p.VAR_POSITIONAL for p in params)
    return names, required, star


def bind_names(model: Any, inputs: Sequence[ModelInput], model_name: str) -> list[ModelInput]:
    """Give each input (in the given order) the ``forward`` argument it feeds; refuse too few or too many."""
    names, required, star = forward_arguments(model)
    groups = argument_groups(inputs)
    given = len(groups)
    shown = ", ".join(names) if names else "*args"
    if given < required or (given > len(names) and not star):
        want = str(required) if required == len(names) or star else f"{required} to {len(names)}"
        raise InputSpecError(
            f"{model_name}.forward takes {want} input(s) ({shown}) but {given} given",
            "pass one --input per model input (API: a list of shapes, InputSpecs or tensors)",
        )
    out = []
    for g, group in enumerate(groups):
        for i in group:
            item = inputs[i]
            name = item.name or (names[g] if g < len(names) else f"arg{g}")
            if item.name and names and item.name not in names and not star:
                raise InputSpecError(
                    f"{model_name}.forward has no argument {item.name!r}", f"use one of: {shown}"
                )
            out.append(replace(item, name=name, arg=g if item.part is not None else -1))
    return out


def in_forward_order(model: Any, inputs: Sequence[ModelInput], items: Sequence[Any]) -> list[Any]:
    """``items`` (one per named input) sorted into ``forward``'s argument order."""
    names, _, _ = forward_arguments(model)
    order = {n: k for k, n in enumerate(names)}
    ranked = sorted(range(len(inputs)), key=lambda k: order.get(inputs[k].name, len(order) + k))
    return [items[k] for k in ranked]


def input_hint(model: Any) -> InputHint:
    """What the first rank-bound layer of ``model`` (in definition order) takes; see :class:`InputHint`."""
    from paddle import nn

    rank_of = (
        (5, (nn.Conv3D, nn.Conv3DTranspose, nn.MaxPool3D, nn.AvgPool3D, nn.AdaptiveAvgPool3D,
             nn.AdaptiveMaxPool3D, nn.BatchNorm3D, nn.InstanceNorm3D)),
        (4, (nn.Conv2D, nn.Conv2DTranspose, nn.MaxPool2D, nn.AvgPool2D, nn.AdaptiveAvgPool2D,
             nn.AdaptiveMaxPool2D, nn.BatchNorm2D, nn.InstanceNorm2D)),
        (3, (nn.Conv1D, nn.Conv1DTranspose, nn.MaxPool1D, nn.AvgPool1D, nn.AdaptiveAvgPool1D,
             nn.AdaptiveMaxPool1D)),
    )
    if hasattr(model, "convcalc_trace"):  # an exported program (convcalc.trace.program): its data op's rank
        return InputHint(len(getattr(model, "data_shape", ())) or None, type(model).__name__)
    for path, layer in model.named_sublayers(include_self=True):
        if layer.sublayers():
            continue
        where = f"{path or type(model).__name__} ({type(layer).__name__})"
        if isinstance(layer, nn.Embedding):
            return InputHint(None, where, ids=True)
        for rank, classes in rank_of:
            if isinstance(layer, classes):
                return InputHint(rank, where)
        weight = getattr(layer, "weight", None)
        # A custom convolution (the book's Conv2D): its kernel's rank gives the input's.
        if weight is not None and getattr(weight, "ndim", 0) in (3, 4, 5):
            return InputHint(int(weight.ndim), where)
        if weight is not None:
            return InputHint(None, where)
    return InputHint()


_LAYOUT = {3: "[N, C, L]", 4: "[N, C, H, W]", 5: "[N, C, D, H, W]"}


def rank_hint(inputs: Sequence[ModelInput], hint: InputHint, model_name: str) -> tuple[str, str] | None:
    """``(what, fix)`` when the first input's rank is not the one the model's first layer takes, else None.

    Only a hint, shown after Paddle refuses the input: the first layer does not
    decide the rank (a forward may squeeze or reshape its input first).
    """
    if hint.rank is None or not inputs or len(inputs[0].shape) == hint.rank:
        return None
    first = inputs[0]
    return (
        f"{model_name}'s first layer {hint.layer} takes a {hint.rank}-D input {_LAYOUT[hint.rank]}, "
        f"but input {first.per_sample} makes it {len(first.shape)}-D {list(first.shape)}",
        f"give one sample with {hint.rank - 1} sizes, e.g. --input " + "x".join(["3"] + ["32"] * (hint.rank - 2)),
    )


def as_inputs(inputs: Any) -> list[ModelInput]:
    """``ModelInput`` values as given, or one float32 input from a bare shape (the old form)."""
    if isinstance(inputs, ModelInput):
        return [inputs]
    items = list(inputs)
    if items and all(isinstance(i, ModelInput) for i in items):
        return items
    return [ModelInput(tuple(int(d) for d in items))]


def shown_inputs(inputs: Any) -> str:
    """Inputs as the CLI spells them, per sample: ``"3x224x224"``, ``"16x64, 12:int64"``."""
    return ", ".join(i.per_sample + ("" if i.dtype == "float32" else f":{i.dtype}") for i in as_inputs(inputs))
