"""How the static build drives Paddle's ``to_static``: forwards run as written, Paddle's slow paths bypassed.

``paddle.jit.to_static`` normally rewrites the source of every ``forward`` it meets (dy2static:
``inspect.getsource``, tokenize, AST transformers, ``compile``) so that Python control flow on
tensors becomes static control flow.  convcalc never wants that control flow: it follows the
path Paddle's eager forward took (:mod:`convcalc.trace.branches`).  So :func:`plain_forwards`
tells dy2static that no function needs the transformation, and does itself, while the program
is built, the few things the rewrite did that the program depends on:

- a tensor's truth value (``if``/``while``/``assert``/``and``/``or``/``not`` on a tensor, in the
  user's code) comes from the same :class:`~convcalc.trace.branches.Decisions` the rewritten
  ``IfElse``/``While`` follow (a probe answers ``False``: an ``if`` takes its ``else``, a
  ``while`` runs no iteration, and the question is recorded);
- ``x.shape`` read by the user's code gives, for a size the program does not know (``-1``), the
  tensor ``paddle.shape(x)[i]``, as the rewrite's ``convert_shape`` does;
- a custom ``PyLayer``'s ``apply`` builds the static ``pylayer`` op, as the rewrite's
  ``convert_load`` arranges;
- ``s[i] = v`` is rewritten to rebind ``s`` to the written value; without that, a size tensor
  written in place (``s = paddle.shape(y); s[2] = s[2] * s[3]; y.reshape(s)``) reaches Paddle's
  shape inference as the unwritten ``shape64``, which then gives the old sizes, silently.  So an
  integer value written in place by user code stops the plain build (a float one cannot be a size).

Code inside Paddle sees Paddle's own behaviour (its frames are told apart by file, as the shape
guards do).  Whatever else the rewrite would have done differently makes the plain build fail;
the caller then builds once more the usual way (:func:`transformed_forwards`).

Both ways bypass Paddle 3.3.1's slow paths while the program is built (and only then):

- ``name_struct`` (entered by every layer call in static mode) takes ``len()`` of the list of all
  ops so far twice per call, O(n^2) over a program, only to label ops with a ``struct_name`` the
  trace drops: a no-op;
- every parameter gets its own initializer op in the startup program, which is never run: one
  per shape and dtype (:func:`_lean_create_parameter`); and the model's parameters and buffers,
  which to_static turns into program values one at a time at the start of a build, are turned
  into the same ops in one batch (:func:`_batched_param_guard`);
- after the build, every op's call stack is rewritten to name the user's source lines (the trace
  drops ``op_callstack``), and the program is searched for views written in place, which would
  make the *static* program compute other values than the eager forward (the trace reads no
  values, and Paddle's eager forward runs such a model): both skipped;
- dy2static's function cache is keyed by the *bound* method, a temporary object, so every layer
  instance's ``forward`` is transformed anew (memoised here by the function itself), and
  ``is_unsupported`` lists every function of numpy, math, ... on each call (memoised per
  function): these matter to the transformed build only.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from convcalc.trace.branches import Decisions

__all__ = ["plain_forwards", "transformed_forwards", "self_named_forward"]


_DEFAULT_OPTIMIZE_ATTR = {"learning_rate": 1.0}


def _startup_zeros(cache: dict, startup: Any, meta: Any) -> Any:
    """The one ``full`` of zeros in ``startup`` that initialises every parameter of ``meta``'s shape and dtype (the
    startup program is never run); call it with ``startup`` current."""
    import paddle
    from paddle.base.framework import _current_expected_place

    key = (id(startup), tuple(meta.shape), meta.dtype)
    init = cache.get(key)
    if init is None:
        init = cache[key] = paddle._C_ops.full(meta.shape, 0.0, meta.dtype, _current_expected_place())
        init.persistable = True
    return init


def _parameter_flags(param: Any, trainable: bool, optimize_attr: Any = _DEFAULT_OPTIMIZE_ATTR,
                     regularizer: Any = None, do_model_average: Any = None, need_clip: bool = True) -> Any:
    """A ``builtin.parameter`` value's flags, as ``paddle.pir.core.create_parameter`` sets them."""
    param.trainable = trainable
    param.stop_gradient = not trainable
    param.optimize_attr = dict(optimize_attr) if optimize_attr is _DEFAULT_OPTIMIZE_ATTR else optimize_attr
    param.regularizer = regularizer
    param.do_model_average = do_model_average
    param.need_clip = need_clip
    param.is_distributed = False
    param.is_parameter = True
    return param


def _lean_create_parameter(real: Callable[..., Any]) -> Callable[..., Any]:
    """``paddle.pir.core.create_parameter`` without its per-parameter initializer op.

    to_static turns every parameter and buffer of the model into a program value through it: an
    initializer op in the startup program (a ``full`` of zeros: the values are never used),
    registered as the parameter, then a ``builtin.parameter`` op in the main program.  Here one
    ``full`` per shape and dtype serves every parameter of that type (the startup program is never
    run); the main program gets the very same op.  Distributed parameters take Paddle's own path.
    """
    import paddle
    from paddle._pir_ops import parameter, set_parameter
    from paddle.base import unique_name
    from paddle.base.libpaddle import DataType
    from paddle.base.libpaddle.pir import reset_insertion_point_to_start
    from paddle.pir.core import ParameterMeta, convert_np_dtype_to_dtype_, program_guard

    zeros: dict = {}

    def create_parameter(dtype, shape, name=None, **kwargs):
        if "initializer" not in kwargs or (kwargs.get("placements") and kwargs.get("process_mesh")):
            return real(dtype, shape, name, **kwargs)
        if dtype is not None and not isinstance(dtype, DataType):
            dtype = convert_np_dtype_to_dtype_(dtype)
        value_name = name or unique_name.generate("parameter")
        startup = paddle.static.default_startup_program()
        main = paddle.static.default_main_program()
        meta = ParameterMeta(shape, dtype)
        with program_guard(startup):
            set_parameter(_startup_zeros(zeros, startup, meta), value_name)
        main.set_parameters_from(startup)
        with program_guard(main):
            reset_insertion_point_to_start()
            param = parameter(value_name)
            param.persistable = True
        return _parameter_flags(param, kwargs.get("trainable", True),
                                kwargs.get("optimize_attr", _DEFAULT_OPTIMIZE_ATTR), kwargs.get("regularizer"),
                                kwargs.get("do_model_average"), kwargs.get("need_clip", True))

    return create_parameter


def _batched_param_guard(real: Callable[..., Any]) -> Callable[..., Any]:
    """``paddle.base.dygraph.base.param_guard`` as to_static uses it, with every tensor converted in one batch.

    At the start of a build to_static turns every parameter (then every buffer) of the model into a program
    value, one at a time, through the parameter recorder: per tensor a lock, two ``program_guard`` switches,
    a ``set_parameter`` op in the startup program, a copy of the startup program's parameter table into the
    main program, and a ``builtin.parameter`` op at the start of the main program (a third of the build of
    a network of many small layers: mobilenet_v2 11 of 30 ms).  Here the same ops are made in the same
    order, with one switch per program and one copy of the table, and the recorder is given the same
    entries (later reads of a tensor find its value there).  Anything unusual (distributed tensors, a
    list of tensors, a tensor already converted) takes Paddle's own path.
    """
    import paddle
    from paddle._pir_ops import parameter, set_parameter
    from paddle.base.dygraph.base import in_to_static_mode
    from paddle.base.libpaddle.pir import reset_insertion_point_to_start
    from paddle.framework import core
    from paddle.jit.dy2static.parameter_recorder import _global_parameter_recorder as recorder
    from paddle.pir.core import ParameterMeta, program_guard, vartype_to_datatype

    zeros: dict = {}

    def batchable(parameters) -> bool:
        return (in_to_static_mode() and not paddle.in_dynamic_mode() and bool(parameters)
                and all(isinstance(t, paddle.Tensor) and not t.placements and not t.process_mesh
                        for t in parameters.values()))

    @contextlib.contextmanager
    def param_guard(parameters):
        if not batchable(parameters):
            with real(parameters):
                yield
            return
        main = paddle.static.default_main_program()
        startup = paddle.static.default_startup_program()
        key = id(main)  # (the recorder's own key: program_translator._program_hash)
        held = recorder.params_dict.setdefault(key, set())
        mappings = recorder.tensor2value.setdefault(key, {})
        tensors = list(parameters.values())
        if any(id(t) in mappings for t in tensors) or len({id(t) for t in tensors}) != len(tensors):
            with real(parameters):
                yield
            return
        where = paddle.pir.get_current_insertion_point()
        metas = []
        for t in tensors:
            dtype = t.dtype
            if isinstance(dtype, core.VarDesc.VarType):
                dtype = vartype_to_datatype[dtype]
            metas.append(ParameterMeta(t.shape, dtype))
        with program_guard(startup):
            for t, meta in zip(tensors, metas):
                set_parameter(_startup_zeros(zeros, startup, meta), t.name)
        main.set_parameters_from(startup)
        values = []
        with program_guard(main):
            for t in tensors:
                reset_insertion_point_to_start()
                value = parameter(t.name)
                value.persistable = "__non_persistable" not in t.name  # (as _convert_into_value marks it)
                _parameter_flags(value, not t.stop_gradient)
                held.add(t)
                mappings[id(t)] = value
                values.append(value)
        paddle.pir.set_insertion_point(where)
        origin = parameters.copy()
        try:
            for name, value in zip(list(parameters), values):
                parameters[name] = value
            yield
        finally:
            parameters.update(origin)

    return param_guard


@contextlib.contextmanager
def _paddle_fast_paths() -> Iterator[None]:
    """Paddle's slow paths bypassed while a program is built: see the module docstring."""
    import paddle.nn.layer.layers as layers
    import paddle.pir.core as pir_core
    from paddle.jit.dy2static import convert_call_func as ccf
    from paddle.jit.dy2static import program_translator as pt

    real_name_struct = layers.name_struct
    real_convert = pt.FunctionCache.convert_with_cache
    real_unsupported = ccf.is_unsupported
    real_create_parameter = pir_core.create_parameter
    real_origin = pt.update_op_callstack_with_origin_info
    real_view_check = pt.check_view_api_used_by_inplace
    real_param_guard = pt.param_guard
    converted: dict = {}
    unsupported: dict = {}

    @contextlib.contextmanager
    def no_name_struct(prefix: Any = None) -> Iterator[None]:
        yield

    def convert_with_cache(self, func):
        key = getattr(inspect.unwrap(func), "__func__", func)
        try:
            return converted[key]
        except KeyError:
            out = converted[key] = real_convert(self, func)
            return out
        except TypeError:  # unhashable
            return real_convert(self, func)

    def is_unsupported(func):
        try:
            return unsupported[func]
        except KeyError:
            out = unsupported[func] = real_unsupported(func)
            return out
        except TypeError:
            return real_unsupported(func)

    layers.name_struct = no_name_struct
    pt.FunctionCache.convert_with_cache = convert_with_cache
    ccf.is_unsupported = is_unsupported
    pir_core.create_parameter = _lean_create_parameter(real_create_parameter)
    pt.update_op_callstack_with_origin_info = lambda program: program  # (the trace drops op_callstack)
    pt.check_view_api_used_by_inplace = lambda program: None
    pt.param_guard = _batched_param_guard(real_param_guard)
    try:
        yield
    finally:
        layers.name_struct = real_name_struct
        pt.FunctionCache.convert_with_cache = real_convert
        ccf.is_unsupported = real_unsupported
        pir_core.create_parameter = real_create_parameter
        pt.update_op_callstack_with_origin_info = real_origin
        pt.check_view_api_used_by_inplace = real_view_check
        pt.param_guard = real_param_guard


@contextlib.contextmanager
def transformed_forwards() -> Iterator[None]:
    """The usual build (dy2static rewrites each forward), with the fast paths."""
    with _paddle_fast_paths():
        yield


def _in_paddle(paddle_dir: str) -> Callable[[int], bool]:
    def inside(depth: int) -> bool:
        return sys._getframe(depth + 1).f_code.co_filename.startswith(paddle_dir)

    return inside


@contextlib.contextmanager
def plain_forwards(decisions: Decisions, raw_shape: Callable[[Any], Any]) -> Iterator[None]:
    """The plain build: no forward is rewritten (see the module docstring).

    ``raw_shape`` is Paddle's own ``Value.shape`` getter (read before anything wrapped it); the
    ``Value.shape`` in place when this is entered (the shape guards' one) serves the user's code.
    """
    import paddle
    import paddle.jit.dy2static.utils as d2s_utils
    from paddle.autograd import PyLayer
    from paddle.jit.dy2static.py_layer import StaticPyLayer
    from paddle.pir import Value

    inside_paddle = _in_paddle(os.path.dirname(paddle.__file__) + os.sep)
    options = d2s_utils.TransformOptions
    real_check = options.__dict__["check_fn_need_transform"]
    real_bool = Value.__dict__.get("__bool__")
    user_shape = Value.shape
    real_apply = PyLayer.__dict__.get("apply")  # (None in Paddle 3.3.1: apply is core.eager.PyLayer's)
    real_setitem = Value.__dict__["__setitem__"]

    def truth(self) -> bool:
        if inside_paddle(1):  # Paddle's own code: its own refusal of bool(Tensor) in static mode
            if real_bool is None:
                raise TypeError("bool(Value) in static mode")
            return real_bool(self)
        return decisions.next(False)

    def shape(self):
        if inside_paddle(1):
            return raw_shape(self)
        dims = user_shape.fget(self)
        if any(not isinstance(d, int) or d < 0 for d in dims):  # what dy2static's convert_shape gives
            sizes = paddle.shape(self)
            dims = [sizes[i] if not isinstance(d, int) or d < 0 else d for i, d in enumerate(dims)]
        return dims

    def apply(cls, *args, **kwargs):
        return StaticPyLayer(cls).apply(*args, **kwargs)

    def setitem(self, item, value):
        if not inside_paddle(1) and "INT" in str(self.dtype).upper():
            raise TypeError("an integer value written in place by the forward: built with dy2static's rewrite")
        return real_setitem(self, item, value)

    options.check_fn_need_transform = staticmethod(lambda fn, mode: False)
    Value.__bool__ = truth
    Value.shape = property(shape)
    PyLayer.apply = classmethod(apply)
    Value.__setitem__ = setitem
    try:
        with _paddle_fast_paths():
            yield
    finally:
        options.check_fn_need_transform = real_check
        Value.shape = user_shape
        Value.__setitem__ = real_setitem
        if real_bool is None:
            del Value.__bool__
        else:
            Value.__bool__ = real_bool
        if real_apply is None:
            del PyLayer.apply
        else:
            PyLayer.apply = real_apply


@contextlib.contextmanager
def self_named_forward(model: Any) -> Iterator[None]:
    """While the program is built, the root's ``forward`` takes its first argument under the name ``self``.

    ``to_static`` reads a forward's argument names from its function and drops the first only when it is
    called ``self`` (Paddle 3.3.1, ``dy2static.utils.parse_arg_and_kwargs``), so ``def forward(this, x)``
    -- which Paddle's eager forward runs -- stopped the build ("``forward()`` requires ``x`` arguments").
    The method put in place calls the class's own ``forward`` and only renames that argument.
    """
    import types

    own = None if "forward" in model.__dict__ else getattr(type(model), "forward", None)  # (a swapped one: as is)
    try:
        signature = inspect.signature(own)
        params = list(signature.parameters.values())
        first = params[0]
        renamed = signature.replace(parameters=[first.replace(name="self"), *params[1:]])
    except (TypeError, ValueError, IndexError):  # not a plain function, no argument, or one more named self
        yield
        return
    if first.name == "self" or first.kind not in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD):
        yield
        return

    def forward(self, *args, **kwargs):
        return own(self, *args, **kwargs)

    forward.__signature__ = renamed
    object.__setattr__(model, "forward", types.MethodType(forward, model))
    try:
        yield
    finally:  # (to_static may have put its own forward over this one: the build takes that away)
        if getattr(model.__dict__.get("forward"), "__func__", None) is forward:
            del model.__dict__["forward"]
