"""What a model takes: the Python API's input forms as :class:`~convcalc.trace.inputs.ModelInput` values.

``analyze`` accepts what ``paddle.summary`` and torchinfo users pass:

- ``input_size``: one shape with batch (``(1, 16, 64)``), a list of shapes
  (one per ``forward`` argument) or a dict ``{argument name: shape}``.  The
  old image form ``(C, H, W)`` keeps working: a lone 3-number shape goes to
  Paddle as given, and is read as one image ``(1, C, H, W)`` when Paddle
  refuses it that way (a Conv2D refuses a 3-D input).
- ``input_spec``: a ``paddle.static.InputSpec`` or a list/dict of them; the
  dtype comes from the spec, a ``None`` (or -1) batch becomes 1.
- ``input_data``: a tensor (or numpy array) or a list/dict of them; shapes,
  dtypes *and values* come from them (values matter for a ``forward`` that
  branches on them).

Inputs are matched to ``forward``'s arguments in order (dicts by name).  The
first input of a model whose first layer is an embedding defaults to int64
ids (Paddle refuses float ids).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

from convcalc.errors import InputSpecError
from convcalc.trace.inputs import ModelInput, check_dtype, forward_arguments, input_hint

__all__ = ["model_inputs", "one_argument"]


def _is_shape(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and all(
        isinstance(d, Integral) and not isinstance(d, bool) for d in value
    )


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if not _is_shape(value) or not value or any(int(d) <= 0 for d in value):
        raise InputSpecError(
            f"{where} {value!r} is not a shape of positive whole numbers",
            "give e.g. (1, 3, 224, 224) (batch first), a list of such shapes or a dict name -> shape",
        )
    return tuple(int(d) for d in value)


def _items(value: Any, single: Any) -> list[tuple[str, Any]]:
    """``[(name or "", item)]`` of a single item, a list or a dict."""
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items()]
    if single(value):
        return [("", value)]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [("", v) for v in value]
    return [("", value)]


def model_inputs(
    model: Any,
    input_size: Any = None,
    input_spec: Any = None,
    input_data: Any = None,
) -> tuple[list[ModelInput], list[Any] | None]:
    """The inputs of one of the three API forms, and the example values (``input_data`` only)."""
    given = [n for n, v in (("input_size", input_size), ("input_spec", input_spec), ("input_data", input_data))
             if v is not None]
    if len(given) != 1:
        raise InputSpecError(
            "give the model's input as exactly one of input_size, input_spec or input_data"
            + (f" (got {', '.join(given)})" if given else ""),
            "e.g. analyze(model, (1, 3, 224, 224))",
        )
    if isinstance(input_size, (list, tuple)) and input_size and all(isinstance(i, ModelInput) for i in input_size):
        return list(input_size), None
    hint = input_hint(model)
    if input_size is not None:
        items = _items(input_size, _is_shape)
        inputs = []
        for k, (name, value) in enumerate(items):
            shape = _shape(value, "input_size")
            # the image form (C, H, W): tried when Paddle refuses the shape as given; first when the model's first
            # layer takes one more dimension than given (a hint for the order only: Paddle decides)
            also = (((1, *shape), ""),) if len(items) == 1 and len(shape) == 3 else ()
            if also and hint.rank == 4:
                shape, also = (1, *shape), ((shape, ""),)
            dtype = "int64" if k == 0 and hint.ids else "float32"
            inputs.append(ModelInput(shape, dtype, name, also=also))
        return inputs, None
    if input_spec is not None:
        from paddle.static import InputSpec

        inputs = []
        for name, spec in _items(input_spec, lambda v: isinstance(v, InputSpec)):
            if not isinstance(spec, InputSpec):
                raise InputSpecError(f"input_spec item {spec!r} is not a paddle.static.InputSpec",
                                     "give InputSpec(shape, dtype) values (a list or a dict of them)")
            dims = [1 if (d is None or d == -1) and i == 0 else d for i, d in enumerate(spec.shape)]
            if any(d is None or int(d) <= 0 for d in dims):
                raise InputSpecError(
                    f"InputSpec {spec.name or name or ''} has an unknown size in {list(spec.shape)}",
                    "give every size but the batch as a number (convcalc traces one concrete shape)",
                )
            dtype = check_dtype(str(spec.dtype), "input_spec")
            inputs.append(ModelInput(tuple(int(d) for d in dims), dtype, name or (spec.name or "")))
        names, _, star = forward_arguments(model)
        if not isinstance(input_spec, Mapping):  # a spec's own name counts only when it is a forward argument
            inputs = [i if i.name in names else ModelInput(i.shape, i.dtype, "") for i in inputs]
        return inputs, None
    import paddle

    inputs, values = [], []
    for name, value in _items(input_data, lambda v: hasattr(v, "shape") and hasattr(v, "dtype")):
        try:
            tensor = value if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)
        except Exception as err:  # noqa: BLE001 - anything paddle cannot make a tensor of
            raise InputSpecError(f"input_data item of type {type(value).__name__} is not a tensor ({err})",
                                 "give paddle tensors or numpy arrays (a list or a dict of them)") from None
        shape = tuple(int(d) for d in tensor.shape)
        if not shape or any(d <= 0 for d in shape):
            raise InputSpecError(f"input_data tensor of shape {list(shape)} is empty or a scalar",
                                 "give a tensor with a batch dimension, e.g. paddle.ones([1, 3, 32, 32])")
        dtype = check_dtype(str(tensor.dtype), "input_data")
        inputs.append(ModelInput(shape, dtype, name))
        values.append(tensor)
    return inputs, values


def one_argument(value: Any, where: str = "input") -> tuple[list[ModelInput], list[Any]]:
    """``paddle.summary``'s ``input``: a tensor, or a list/dict of tensors passed as ONE argument (``model(input)``).

    A list or dict becomes a structured argument (:attr:`ModelInput.part`): the
    model's ``forward(self, inputs)`` reads ``inputs[0]`` or ``inputs["x1"]``.
    """
    import paddle

    def tensor(item: Any, label: str) -> Any:
        try:
            t = item if isinstance(item, paddle.Tensor) else paddle.to_tensor(item)
        except Exception as err:  # noqa: BLE001 - anything paddle cannot make a tensor of
            raise InputSpecError(f"{where}{label} of type {type(item).__name__} is not a tensor ({err})",
                                 "give a paddle tensor, or a list or dict of tensors") from None
        if not t.shape or any(int(d) <= 0 for d in t.shape):
            raise InputSpecError(f"{where}{label} of shape {list(t.shape)} is empty or a scalar",
                                 "give tensors with a batch dimension, e.g. paddle.ones([1, 3, 32, 32])")
        return t

    if isinstance(value, Mapping):
        items: list[tuple[int | str | None, Any]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = list(enumerate(value))
    else:
        items = [(None, value)]
    if not items:
        raise InputSpecError(f"{where} is an empty {type(value).__name__}", "give at least one tensor")
    inputs, values = [], []
    for part, item in items:
        t = tensor(item, "" if part is None else f"[{part!r}]")
        inputs.append(ModelInput(tuple(int(d) for d in t.shape), check_dtype(str(t.dtype), where), "", part,
                                 -1 if part is None else 0))
        values.append(t)
    return inputs, values
