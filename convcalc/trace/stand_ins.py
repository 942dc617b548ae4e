"""Convolutions in the eager check run Paddle's own checks at the smallest size; stand-ins take their outputs' place.

The eager forward (:func:`convcalc.trace.eager.eager_check`) is the judge of what
Paddle refuses, but at full size its convolutions are nearly all of an
analysis' time (ResNet-50 at 224x224: ~0.6 s of ~0.9 s).  A convolution's
eager refusals do not depend on its spatial size once its output is known
to be non-empty, which the static shapes establish before any eager run:
Paddle 3.3.1's ``ConvInferMeta`` (phi/infermeta/binary.cc) checks, at run
time only, the input channels against the filter's channels times groups,
the filter's first dimension against groups and against 0; in any mode the
input and filter ranks, strides, dilations and two non-zero leading
dimensions; it never checks the output size (hence the heap corruption of
an empty output).  None of these reads a spatial size.

So a call of a built-in ``Conv1D``/``Conv2D``/``Conv3D`` (zero padding, its
own ``forward``) runs that forward on its input cropped to one sample and,
per spatial axis, to the kernel's dilated extent (an output of at least one
element whatever the padding form).  If the crop is accepted, the call hands
on a tensor of the output shape the static program gave for this call, its
memory never written (``paddle.empty``; zeros where ``FLAGS_check_nan_inf``
tells Paddle to refuse NaN and Inf values);
if it is refused, the forward runs again at full size, so the verdict and
Paddle's message are those of the real input.

A call of a built-in ``Linear`` (its own ``forward``) is checked likewise on its
input cut to one element along every leading dimension: Paddle's ``matmul``
checks the contracted dimension (``K_lhs != K_rhs``), the dtypes and the ranks,
never the batch or token dimensions (a transformer's eager check was mostly
its Linears: vit_b_16's 0.9 s -> 0.3 s).  A call of a built-in ``MultiHeadAttention``
or ``TransformerEncoderLayer`` made only of Paddle's own parts (:func:`is_plain_attention`)
is cut the same way: inside it every size that comes from a leading dimension
(batch, tokens) only meets a size made from the same dimensions the same way
(``q @ k^T`` contracts the features, ``weights @ v`` the tokens on both sides,
reshapes keep them, residual adds have equal shapes), so the crop keeps every
relation Paddle checks; the features are not cut (vit_b_16's check 0.24 s -> 0.10 s,
what is left is mostly reading every Linear's weights once).

A built-in batch norm using its running statistics (``BatchNorm1D/2D/3D``) or one of Paddle's own
parameter-free elementwise activation layers (:func:`is_plain_pointwise`) is checked likewise on its
input cut to one element along every axis but the norm's channels, when that input is large
(:data:`POINTWISE_CROP_FROM` elements; below, its own forward is cheaper than the crop), and hands its
input on: its output has its input's shape, and that input is a stand-in's own tensor (a norm or an
activation of anything else -- the user's ``input_data``, a parameter -- runs in full, since code
after it may write its output in place).  ``BatchNormInferMeta`` checks the rank, the layout and
the channels against the weights; an activation, the dtype; neither reads a spatial size.

Within one check, a conv or Linear call whose type, settings, weight, bias and crop (shapes and
dtypes) equal an accepted one's is not run again: those are all that Paddle's checks of the call
read (:func:`_verdict_key`).  A repeated block then runs each kernel once (mobilenet_v2 repeats 17
depthwise convolutions in 10 configurations; a depthwise kernel costs per channel, crop or not).

Why crops and not skipping such layers outright on the grounds that the static
build made every check: in Paddle 3.3.1 ``MatmulInferMeta``, ``LayerNormInferMeta``,
``ReshapeInferMeta``, ``ConcatInferMeta``, ``BatchNormInferMeta`` and the pooling
ones take a ``MetaConfig`` (``paddle/include/paddle/phi/infermeta/*.h`` of the wheel),
so they may check more at run time than at build time, and an eager ``Linear``
runs Paddle's fused ``linear`` op, which the program (``matmul`` + ``add``) never
built.  A crop runs every such check; a skip would take them on trust.

A stand-in's values (whatever its memory held) are faithful only where nothing
downstream depends on values: the stand-ins are offered only for programs
in which every op is in :data:`VALUE_FREE_OPS` (refusals and output shape
depend on operand shapes, dtypes and attributes alone), every result is
floating point and every shape is known; :mod:`convcalc.trace.build` runs the
check again in full when the eager forward read a tensor's values into
Python (a truth value, ``item()``, ``numpy()``, ... : :func:`watching_value_reads`).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable, Iterator
from typing import Any

# Ops whose eager refusals and result shapes depend only on their operands' shapes, dtypes and attributes
# (given floating-point operands): no index, id or count read from a tensor, no data-dependent shape.
VALUE_FREE_OPS = frozenset(
    {
        "conv1d", "conv2d", "conv3d", "depthwise_conv2d", "pool2d", "pool3d", "max_pool2d_with_index",
        "batch_norm", "layer_norm", "group_norm", "instance_norm", "matmul", "dropout", "softmax", "log_softmax",
        "add", "subtract", "multiply", "divide", "maximum", "minimum", "scale", "assign",
        "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "swish", "hardswish", "hardsigmoid",
        "hardtanh", "elu", "selu", "softplus", "mish", "exp", "sqrt", "rsqrt", "abs", "square",
        "flatten", "reshape", "transpose", "squeeze", "unsqueeze", "concat", "split", "split_with_num",
        "slice", "expand", "tile", "stack", "mean", "sum", "max", "min",
        # resizing at sizes and scales the program holds (a size read from a tensor is a shape64/slice
        # chain, not in this set), elementwise powers and casts, patch (un)folding, rolls
        "nearest_interp", "bilinear_interp", "bicubic_interp", "linear_interp", "trilinear_interp",
        "pow", "cast", "unfold", "fold", "roll",
        # (a per-channel weight; strides an attribute or a constant)
        "prelu", "strided_slice",
    }
)

# Ops that read the values of some operands only as indices (positions given): the others' values they copy.
INDEXED_OPS: dict[str, set[int]] = {"gather": {1}, "index_select": {1}, "embedding": {0}, "take_along_axis": {1},
                                    "index_sample": {1}, "gather_nd": {1}}

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def value_free(ops: list, shapes: dict, dtypes: dict, regions: set[int], inner: dict, bookkeeping: frozenset[str],
               key: Callable[[str], str], stand_in_outputs: set[str] | None = None) -> bool:
    """Whether no refusal of the eager forward of a program's model can depend on tensor values.

    The program as :func:`convcalc.trace.build._read_program` gives it: its ops (``OpNode``), every value's
    shape and dtype (a list result has none), the indices of the ops that hold blocks (``regions``) and
    the ops inside each ``pylayer`` op (``inner``, only for who reads what).

    Every computing op is in :data:`VALUE_FREE_OPS`, every result it hands
    on floating point (integer division by zero raises) and of a known shape
    (a ``-1`` follows from values).  A list result (``split``'s) is read
    through the ``builtin.split`` ops that take it apart.

    With ``stand_in_outputs`` (the value ids of the calls a stand-in may replace), only values computed
    from those (through any op but ``shape``, which reads sizes and a stand-in keeps them) must obey
    that: an op on the input, parameters, buffers and constants alone computes the same values on
    the stand-ins (LeViT's ``gather`` of attention biases by a buffer of indices), and an op of
    :data:`INDEXED_OPS` may take values from stand-ins where it does not read them as indices.  The
    eager check must then give the parameters their values (a buffer of indices is read).
    """
    readers: dict[str, list] = {}  # value id -> the ops that read it (a pylayer's own ops included)
    for op in (*ops, *(sub for subs in inner.values() for sub in subs)):
        for v in op.inputs:
            readers.setdefault(v, []).append(op)

    def floating_and_known(v: str) -> bool:
        return dtypes.get(v, "").endswith(_FLOATS) and all(d >= 0 for d in shapes.get(v, (-1,)))

    tainted = set(stand_in_outputs) if stand_in_outputs is not None else None
    for op in ops:
        name = op.name
        hot: list[int] = []
        if tainted is not None:
            hot = [i for i, v in enumerate(op.inputs) if v in tainted]
            if hot and key(name) not in ("shape", "shape64"):
                tainted.update(op.outputs)
                if name.endswith("_"):  # written in place: later reads of the operand see the stand-ins' values
                    tainted.update(op.inputs)
        if name in bookkeeping:
            continue
        indexed = False  # reads values of the stand-ins' only where it copies them
        if tainted is not None:
            if op.index in regions:
                return False  # (a block may read any value of the program)
            if not hot:
                continue
            indexed = key(name) in INDEXED_OPS and not set(hot) & INDEXED_OPS[key(name)]
        if not indexed and key(name) not in VALUE_FREE_OPS:
            return False
        for k, v in enumerate(op.outputs):
            if k and v not in readers:  # (side results nothing reads: batch_norm's reserve space, dropout's mask)
                continue
            if v in dtypes:
                tensors = [v]
            else:  # a list result: the tensors of the builtin.split ops that read it (none other may)
                users = readers.get(v, [])
                if not users or any(u.name != "builtin.split" for u in users):
                    return False
                tensors = [t for u in users for t in u.outputs]
            if not all(floating_and_known(t) for t in tensors):
                return False
    return True


def is_plain_conv(layer: Any) -> bool:
    """A built-in ``Conv1D``/``Conv2D``/``Conv3D`` with zero padding running its own ``forward``."""
    import paddle.nn as nn

    kinds = (nn.Conv1D, nn.Conv2D, nn.Conv3D)
    return (
        isinstance(layer, kinds)
        and type(layer).forward in {k.forward for k in kinds}
        and "forward" not in layer.__dict__
        and getattr(layer, "_padding_mode", "zeros") == "zeros"
    )


def is_plain_linear(layer: Any) -> bool:
    """A built-in ``Linear`` running its own ``forward``."""
    import paddle.nn as nn

    return isinstance(layer, nn.Linear) and type(layer).forward is nn.Linear.forward and "forward" not in layer.__dict__


# Paddle's elementwise activations a TransformerEncoderLayer may apply (``activation=`` names one of them).
_ACTIVATIONS = ("relu", "gelu", "silu", "swish", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "celu", "relu6",
                "hardswish", "hardsigmoid", "hardtanh", "mish", "softplus", "softsign", "tanhshrink", "log_sigmoid")


def is_plain_attention(layer: Any) -> bool:
    """A built-in ``MultiHeadAttention`` or ``TransformerEncoderLayer`` running its own ``forward``, made only of
    built-in parts running theirs (``Linear``, ``LayerNorm``, ``Dropout``, the attention) and, for the encoder
    layer, one of Paddle's elementwise activations."""
    import paddle.nn as nn
    import paddle.nn.functional as F

    kinds = (nn.MultiHeadAttention, nn.TransformerEncoderLayer)
    if type(layer) not in kinds or "forward" in layer.__dict__:
        return False
    if type(layer) is nn.TransformerEncoderLayer and not any(
            getattr(layer, "activation", None) is getattr(F, n, False) for n in _ACTIVATIONS):
        return False
    parts = (nn.MultiHeadAttention, nn.Linear, nn.LayerNorm, nn.Dropout)
    return all(type(s) in parts and "forward" not in s.__dict__ for s in layer.sublayers())


# Paddle's parameter-free elementwise activation layers: no shape is checked, only the dtype.
_ACTIVATION_LAYERS = ("ReLU", "ReLU6", "Hardswish", "Hardsigmoid", "Sigmoid", "Swish", "Silu", "GELU", "LeakyReLU",
                      "Tanh", "ELU", "SELU", "CELU", "Mish", "Softplus", "Softsign", "Hardtanh", "Tanhshrink",
                      "LogSigmoid", "Hardshrink", "Softshrink", "ThresholdedReLU")
_BATCH_NORMS = ("BatchNorm1D", "BatchNorm2D", "BatchNorm3D")


def is_plain_pointwise(layer: Any) -> bool:
    """A built-in ``BatchNorm1D/2D/3D`` using its running statistics in eval mode (``use_global_stats`` not False) or a
    built-in parameter-free elementwise activation layer, running its own ``forward``: its output has its
    input's shape, and its refusals read no size but the channels (the batch norm's ``BatchNormInferMeta``
    checks the rank, the layout and the channels against its weights; an activation checks the dtype)."""
    import paddle.nn as nn

    kind = type(layer)
    if "forward" in layer.__dict__ or kind.__module__.split(".")[:2] != ["paddle", "nn"]:
        return False
    if kind.__name__ in _BATCH_NORMS and kind is getattr(nn, kind.__name__):
        return getattr(layer, "_use_global_stats", None) is not False  # (the eager check runs in eval mode)
    return kind.__name__ in _ACTIVATION_LAYERS and kind is getattr(nn, kind.__name__)


def is_plain(layer: Any) -> bool:
    """A layer the eager check runs on a crop: :func:`is_plain_conv`, :func:`is_plain_linear`,
    :func:`is_plain_attention` or :func:`is_plain_pointwise`."""
    return is_plain_conv(layer) or is_plain_linear(layer) or is_plain_attention(layer) or is_plain_pointwise(layer)


# A batch norm or activation is checked on a crop only from this many elements on: below it the crop costs more
# than the layer (a speed choice only: a crop and the whole input meet the same checks).
POINTWISE_CROP_FROM = 1 << 16


def _pointwise_crop(layer: Any, x: Any) -> Any:
    """``x`` cut to one element along every axis but a batch norm's channels."""
    shape = list(x.shape)
    keep = None
    if type(layer).__name__ in _BATCH_NORMS:
        fmt = str(getattr(layer, "_data_format", "NC"))
        keep = len(shape) - 1 if fmt.endswith("C") and fmt != "NC" else 1
    return x[tuple(slice(None) if i == keep else slice(0, 1) for i in range(len(shape)))]


def _non_negative(padding: Any) -> bool:
    """A padding form ('SAME', 2, [1, 2], [[0, 0], [1, 1]], ...) with no negative amount."""
    if isinstance(padding, str):
        return True
    if isinstance(padding, (list, tuple)):
        return all(_non_negative(p) for p in padding)
    return isinstance(padding, int) and padding >= 0


def _crop(layer: Any, x: Any) -> Any:
    """``x`` cut to one sample and, per spatial axis, to the kernel's dilated extent (None if not a plain input);
    for a Linear or an attention layer, to one element along every dimension but the last (its features)."""
    import paddle.nn as nn

    if isinstance(layer, (nn.Linear, nn.MultiHeadAttention, nn.TransformerEncoderLayer)):
        # (while checked, its forward is the stand-in's: is_plain_linear says no)
        return x[tuple([slice(0, 1)] * (len(x.shape) - 1) + [slice(None)])] if len(x.shape) >= 2 else None
    kernel, dilation = list(layer._kernel_size), list(layer._dilation)
    shape = list(x.shape)
    if len(shape) != len(kernel) + 2 or len(dilation) != len(kernel):
        return None
    if not _non_negative(getattr(layer, "_updated_padding", layer._padding)):
        return None  # (Paddle refuses negative padding; the crop's output is non-empty only without it)
    first = 1 if str(layer._data_format).endswith("C") else 2
    index = [slice(0, 1)] + [slice(None)] * (len(shape) - 1)
    for i, (k, d) in enumerate(zip(kernel, dilation)):
        index[first + i] = slice(0, min(shape[first + i], d * (k - 1) + 1))
    return x[tuple(index)]


_CONV_SETTINGS = ("_kernel_size", "_stride", "_padding", "_updated_padding", "_padding_algorithm", "_dilation",
                  "_groups", "_data_format", "_padding_mode", "_in_channels", "_out_channels")


def _verdict_key(layer: Any, small: Any, linear: bool) -> tuple:
    """What a plain conv's (or, ``linear``, a plain Linear's) forward on ``small`` reads: its type, settings, the
    shapes and dtypes of its weight, bias and input.  Paddle's checks of such a call are a function of these alone
    (the shapes, dtypes and attributes of its operands), so two calls with one key get one verdict: mobilenet_v2
    repeats 17 depthwise convolutions in 10 configurations, and a depthwise kernel costs per channel, crop or not
    (960 channels: 0.9 ms)."""

    def tensor(t: Any) -> tuple | None:
        return None if t is None else (tuple(t.shape), str(t.dtype))

    settings = () if linear else tuple(repr(getattr(layer, n, None)) for n in _CONV_SETTINGS)
    return (type(layer), settings, tensor(layer.weight), tensor(getattr(layer, "bias", None)), tensor(small),
            getattr(layer, "name", None) if linear else None)


def conv_stand_in(expected: dict[int, list[tuple[tuple, tuple]]]) -> Callable[[Any], Callable | None]:
    """For :func:`convcalc.trace.eager.eager_check`: layer -> the stand-in forward of a plain conv, Linear or
    attention layer (:func:`is_plain`) with expected calls.

    ``expected`` maps ``id(layer)`` to its calls in order, each ``(input shape, output shape)`` as
    the static program traced them; a call that does not match the next one runs in full.
    """
    import paddle

    seen: dict[int, int] = {}
    accepted: dict[tuple, Any] = {}  # a conv's or Linear's configuration and crop -> its output dtype, once accepted
    # id(layer) -> "pointwise", "conv" or "linear"; none for an attention layer (asked before the forwards are swapped)
    kinds: dict[int, str] = {}
    # The tensors the stand-ins made, id -> tensor, held weakly: each is freed when the forward no longer needs it (as
    # the layer's real output would be), and a freed one's id, reused, finds nothing.
    made: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
    # What stands in for an output: memory never written (its values are never read where a stand-in may run, and
    # filling it was a fifth of mobilenet_v2's check), or zeros where Paddle is told to refuse NaN and Inf values.
    fresh = paddle.zeros if paddle.get_flags(["FLAGS_check_nan_inf"]).get("FLAGS_check_nan_inf") else paddle.empty

    def forward(layer: Any, *args: Any, **kwargs: Any) -> Any:
        real = type(layer).forward
        calls = expected[id(layer)]
        k = seen.get(id(layer), 0)
        seen[id(layer)] = k + 1
        x = args[0] if len(args) == 1 and not kwargs else None
        if x is None or k >= len(calls) or tuple(int(d) for d in x.shape) != calls[k][0]:
            return real(layer, *args, **kwargs)
        kind = kinds.get(id(layer))
        if kind == "pointwise":
            if (calls[k][1] != calls[k][0] or math.prod(calls[k][0]) < POINTWISE_CROP_FROM or not x.shape
                    or made.get(id(x)) is not x):
                return real(layer, x)
            try:
                real(layer, _pointwise_crop(layer, x))
            except Exception:  # noqa: BLE001 - Paddle's verdict and message come from the real input
                return real(layer, x)
            # Its input, handed on: a stand-in's own tensor (never the user's input or a parameter, which code after
            # it might write in place), of the output's shape; its values stand in, as the stand-in's do.
            return x
        small = _crop(layer, x)
        if small is None:
            return real(layer, x)
        # (an attention layer's parts run inside its forward: no verdict is shared)
        key = _verdict_key(layer, small, kind == "linear") if kind is not None else None
        dtype = accepted.get(key) if key is not None else None
        if dtype is None:
            try:
                dtype = real(layer, small).dtype
            except Exception:  # noqa: BLE001 - Paddle's verdict and message come from the real input
                return real(layer, x)
            if key is not None:
                accepted[key] = dtype
        out = fresh(list(calls[k][1]), dtype)
        made[id(out)] = out
        return out

    def stand_in(layer: Any) -> Callable | None:  # (asked before the forwards are swapped)
        if id(layer) not in expected or not is_plain(layer):
            return None
        if is_plain_pointwise(layer):
            if not any(math.prod(shape) >= POINTWISE_CROP_FROM for shape, _ in expected[id(layer)]):
                return None  # (all its calls are small: its own forward is cheaper than a crop)
            kinds[id(layer)] = "pointwise"
        elif is_plain_conv(layer):
            kinds[id(layer)] = "conv"
        elif is_plain_linear(layer):
            kinds[id(layer)] = "linear"
        return forward

    return stand_in


def expected_calls(finished: list[dict], shapes: dict[str, tuple[int, ...]]) -> dict[int, list[tuple[tuple, tuple]]]:
    """Each plain conv's, Linear's or attention layer's calls in the static build:
    ``id(layer) -> [(input shape, output shape), ...]``."""
    out: dict[int, list[tuple[tuple, tuple]]] = {}
    for entry in sorted(finished, key=lambda e: e["order"]):
        layer = entry["layer"]
        if not is_plain(layer) or not entry.get("outputs"):
            continue
        out.setdefault(id(layer), []).append((tuple(entry.get("in_shape", ())), shapes.get(entry["outputs"][0], ())))
    return out


def stand_in_outputs(finished: list[dict]) -> set[str]:
    """The value ids of every call a stand-in may replace (a plain conv's or Linear's) in the static build."""
    return {v for entry in finished if is_plain(entry["layer"]) for v in entry.get("outputs", ())}


_READS = ("numpy", "item", "tolist", "__float__", "__int__", "__index__", "__array__")
_SHAPE_HOLDERS = ("paddle", "paddle.tensor", "paddle.tensor.attribute")
# Tensor methods whose result holds only (some of) the values of the tensor they are called on, unchanged:
# a part of ``paddle.shape(x)`` is still sizes.
_PARTS = ("__getitem__", "astype", "cast", "clone", "detach")
# Arithmetic and comparisons: sizes with sizes or Python numbers give sizes (``while w2 != w1``, ``h * 2``).
_SIZE_ARITHMETIC = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__floordiv__",
                    "__mod__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__")


@contextlib.contextmanager
def watching_value_reads() -> Iterator[list[str]]:
    """While active, each read of a tensor's values into Python is listed (by method name).

    Reads of sizes are not: a tensor ``paddle.shape`` returned, or a part of one (``paddle.shape(y)[2:]``,
    the usual ``F.interpolate`` size, read by Paddle with ``numpy()``), or arithmetic and comparisons of
    those with each other or with Python numbers, holds the sizes of a value, never values a stand-in
    changes (a stand-in hands on the output shape of the real call).  So does a tensor ``paddle.to_tensor``
    made of Python data (``paddle.to_tensor(x.shape[0] // 4, "int32")``, read back by ``reshape``:
    CSWin-Transformer's windows): a Python number holds no tensor's values unless one was read into it,
    and that read is listed where it happens.  A truth value (``__bool__``: an ``if`` or ``while`` on a
    tensor) is listed likewise unless the tensor holds sizes.
    """
    import importlib

    import paddle

    reads: list[str] = []
    sizes: dict[int, tuple[Any, int]] = {}  # id -> (the tensor, kept alive so its id is not reused; its version)
    real = {n: getattr(paddle.Tensor, n) for n in _READS if hasattr(paddle.Tensor, n)}
    parts = {n: getattr(paddle.Tensor, n) for n in _PARTS if hasattr(paddle.Tensor, n)}
    arithmetic = {n: getattr(paddle.Tensor, n) for n in _SIZE_ARITHMETIC if n in paddle.Tensor.__dict__}
    real["__bool__"] = paddle.Tensor.__bool__
    holders = [importlib.import_module(n) for n in _SHAPE_HOLDERS]
    real_shape = paddle.tensor.attribute.shape

    def mark(out: Any) -> Any:
        if isinstance(out, paddle.Tensor):
            sizes[id(out)] = (out, out._inplace_version())
        return out

    def is_sizes(t: Any) -> bool:
        """``t`` holds sizes: marked, and not written in place since (a view shares its base's version)."""
        held = sizes.get(id(t))
        return held is not None and held[0] is t and t._inplace_version() == held[1]

    def shape(*args, **kwargs):
        return mark(real_shape(*args, **kwargs))

    real_to_tensor = paddle.tensor.creation.to_tensor
    made_by = [m for m in (paddle, paddle.tensor, paddle.tensor.creation)
               if getattr(m, "to_tensor", None) is real_to_tensor]

    def holds_a_tensor(data: Any) -> bool:
        if isinstance(data, (list, tuple)):
            return any(holds_a_tensor(d) for d in data)
        return isinstance(data, paddle.Tensor) or hasattr(data, "get_defining_op")

    def to_tensor(data, *args, **kwargs):
        out = real_to_tensor(data, *args, **kwargs)
        return out if holds_a_tensor(data) else mark(out)

    def watched(name: str, fn: Callable) -> Callable:
        def reading(self, *args, **kwargs):
            if not is_sizes(self):
                reads.append(name)
            return fn(self, *args, **kwargs)

        return reading

    def part(fn: Callable) -> Callable:
        def taking(self, *args, **kwargs):
            out = fn(self, *args, **kwargs)
            return mark(out) if is_sizes(self) else out

        return taking

    def combined(fn: Callable) -> Callable:
        def computing(self, other):
            out = fn(self, other)
            if is_sizes(self) and (is_sizes(other) or (isinstance(other, (int, float)))):
                mark(out)
            return out

        return computing

    saved = [(h, h.shape) for h in holders]
    for h in holders:
        h.shape = shape
    for m in made_by:
        m.to_tensor = to_tensor
    for name, fn in real.items():
        setattr(paddle.Tensor, name, watched(name, fn))
    for name, fn in parts.items():
        setattr(paddle.Tensor, name, part(fn))
    for name, fn in arithmetic.items():
        setattr(paddle.Tensor, name, combined(fn))
    try:
        yield reads
    finally:
        for table in (real, parts, arithmetic):
            for name, fn in table.items():
                setattr(paddle.Tensor, name, fn)
        for h, fn in saved:
            h.shape = fn
        for m in made_by:
            m.to_tensor = real_to_tensor
