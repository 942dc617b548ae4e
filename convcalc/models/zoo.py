"""The model zoo: names -> models with a default input, plus ``path/to/file.py:Name``.

Listing the zoo (:data:`ZOO`, :func:`list_entries`, :func:`get_entry`) never
imports paddle; each entry's ``factory`` imports paddle when called.

Zoo names
    The book's models (``book_*``, chapter 5.3-5.4), the classification
    models of ``paddle.vision.models`` that build offline with
    ``pretrained=False`` in Paddle 3.3.1, and two vision transformers written
    in plain ``paddle.nn`` (``vit_b_16``, ``deit_tiny``;
    :mod:`convcalc.models.transformers`).

User files
    ``build_model("path/to/net.py:Name")`` imports the file and uses ``Name``,
    which may be a ``paddle.nn.Layer`` subclass whose constructor needs no
    arguments, a zero-argument factory returning a Layer, or a Layer instance.
    The default inputs come from a ``CONVCALC_INPUT`` attribute, looked up on
    the object first and then on the module, in ``--input``'s terms: a string
    (``"3x32x32"``, ``"16x64"``, ``"12:int64"``), a list of them (one per
    ``forward`` argument) or the old ``(3, 32, 32)`` tuple; one sample each,
    no batch.  Without one the caller must pass ``--input``.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convcalc.errors import InputSpecError, ModelLoadError, UnknownNameError

__all__ = [
    "ZooEntry",
    "ZOO",
    "list_entries",
    "get_entry",
    "BuiltModel",
    "build_model",
    "INPUT_ATTRIBUTE",
]

INPUT_ATTRIBUTE = "CONVCALC_INPUT"

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ZooEntry:
    """One named model: how to build it and what input it expects.

    ``default_input`` is ``(C, H, W)`` without the batch dimension.  ``heavy``
    marks models too slow to build and trace in the default test run.
    """

    name: str
    description: str
    default_input: Shape
    source: str  # "book", "paddle.vision" or "convcalc"
    factory: Callable[[], Any] = field(repr=False, compare=False)
    heavy: bool = False


@dataclass(frozen=True)
class _BookFactory:
    """Zero-argument factory for one of :mod:`convcalc.models.book`'s models."""

    cls_name: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    def __call__(self) -> Any:
        from convcalc.models import book

        return getattr(book, self.cls_name)(**dict(self.kwargs))


@dataclass(frozen=True)
class _VisionFactory:
    """Zero-argument factory for ``paddle.vision.models.<fn_name>(pretrained=False, ...)``."""

    fn_name: str
    kwargs: tuple[tuple[str, Any], ...] = ()
    pretrained_arg: bool = True

    def __call__(self) -> Any:
        import paddle.vision.models as vision_models

        fn = getattr(vision_models, self.fn_name)
        kwargs = dict(self.kwargs)
        if self.pretrained_arg:
            kwargs["pretrained"] = False
        return fn(**kwargs)


@dataclass(frozen=True)
class _TransformerFactory:
    """Zero-argument factory for one of :mod:`convcalc.models.transformers`' models."""

    fn_name: str

    def __call__(self) -> Any:
        from convcalc.models import transformers

        return getattr(transformers, self.fn_name)()


_RGB224: Shape = (3, 224, 224)


def _book(name: str, description: str, cls_name: str, **kwargs: Any) -> ZooEntry:
    factory = _BookFactory(cls_name, tuple(sorted(kwargs.items())))
    return ZooEntry(name, description, (1, 32, 32), "book", factory)


def _vision(
    name: str,
    description: str,
    fn_name: str | None = None,
    default_input: Shape = _RGB224,
    heavy: bool = True,
    pretrained_arg: bool = True,
    **kwargs: Any,
) -> ZooEntry:
    factory = _VisionFactory(fn_name or name, tuple(sorted(kwargs.items())), pretrained_arg)
    return ZooEntry(name, description, default_input, "paddle.vision", factory, heavy)


def _make_zoo() -> dict[str, ZooEntry]:
    entries = [
        # The book's models (5.3.2, 5.4.1), all at the book's 1x32x32 MNIST input.
        _book(
            "book_lenet",
            "The book's LeNet-5 from its loop Conv2D/Pool2D operators (5.3.2); slow forward",
            "Model_LeNet",
            in_channels=1,
            num_classes=10,
        ),
        _book(
            "book_lenet_vectorized",
            "The book's LeNet-5 with the vectorised Conv2D/Pool2D twins; same parameters, fast",
            "Model_LeNet",
            in_channels=1,
            num_classes=10,
            vectorized=True,
        ),
        _book(
            "book_paddle_lenet",
            "The book's LeNet-5 from paddle.nn layers (Paddle_LeNet, 5.3.2)",
            "Paddle_LeNet",
            in_channels=1,
            num_classes=10,
        ),
        _book(
            "book_resnet18",
            "The book's ResNet18 with residual connections (Model_ResNet18, 5.4.1)",
            "Model_ResNet18",
            in_channels=1,
            num_classes=10,
            use_residual=True,
        ),
        _book(
            "book_resnet18_plain",
            "The book's ResNet18 without residual connections (use_residual=False, 5.4.2)",
            "Model_ResNet18",
            in_channels=1,
            num_classes=10,
            use_residual=False,
        ),
        # paddle.vision classification models (pretrained=False, 1000 classes).
        _vision(
            "lenet",
            "paddle.vision LeNet: two convs, three linears, 10 classes, for 28x28 MNIST",
            "LeNet",
            default_input=(1, 28, 28),
            heavy=False,
            pretrained_arg=False,
        ),
        _vision("alexnet", "AlexNet (Krizhevsky 2012): five convs, three linears"),
    ]
    for depth in (11, 13, 16, 19):
        entries.append(
            _vision(
                f"vgg{depth}",
                f"VGG-{depth}: stacked 3x3 convs, no batch norm",
                heavy=depth != 11,
            )
        )
        entries.append(
            _vision(
                f"vgg{depth}_bn",
                f"VGG-{depth} with batch norm after every conv",
                f"vgg{depth}",
                batch_norm=True,
            )
        )
    for depth, kind in ((18, "basic"), (34, "basic"), (50, "bottleneck"), (101, "bottleneck"), (152, "bottleneck")):
        entries.append(
            _vision(
                f"resnet{depth}",
                f"ResNet-{depth} ({kind} blocks, He et al. 2015)",
                heavy=depth != 18,
            )
        )
    entries += [
        _vision("wide_resnet50_2", "Wide ResNet-50-2: ResNet-50 with twice as wide bottlenecks"),
        _vision("wide_resnet101_2", "Wide ResNet-101-2: ResNet-101 with twice as wide bottlenecks"),
    ]
    for depth in (50, 101, 152):
        for groups, width in ((32, 4), (64, 4)):
            entries.append(
                _vision(
                    f"resnext{depth}_{groups}x{width}d",
                    f"ResNeXt-{depth} {groups}x{width}d: grouped-conv bottlenecks, cardinality {groups}",
                )
            )
    entries += [
        _vision("mobilenet_v1", "MobileNetV1: depthwise-separable convolutions"),
        _vision(
            "mobilenet_v2",
            "MobileNetV2: inverted residuals with linear bottlenecks",
            heavy=False,
        ),
        _vision("mobilenet_v3_small", "MobileNetV3-Small: inverted residuals, SE, hardswish"),
        _vision("mobilenet_v3_large", "MobileNetV3-Large: inverted residuals, SE, hardswish"),
        _vision("squeezenet1_0", "SqueezeNet 1.0: fire modules (squeeze 1x1, expand 1x1/3x3)"),
        _vision("squeezenet1_1", "SqueezeNet 1.1: fire modules, cheaper stem"),
    ]
    for width in ("0_25", "0_33", "0_5", "1_0", "1_5", "2_0"):
        entries.append(
            _vision(
                f"shufflenet_v2_x{width}",
                f"ShuffleNetV2 x{width.replace('_', '.')}: channel split and shuffle",
            )
        )
    entries.append(_vision("shufflenet_v2_swish", "ShuffleNetV2 x1.0 with swish activations"))
    for depth, growth in ((121, 32), (161, 48), (169, 32), (201, 32), (264, 32)):
        entries.append(
            _vision(
                f"densenet{depth}",
                f"DenseNet-{depth}: dense blocks joined by concatenation, growth {growth}",
            )
        )
    entries += [
        _vision(
            "googlenet",
            "GoogLeNet (Inception v1); forward returns (logits, aux1, aux2)",
        ),
        _vision(
            "inception_v3",
            "Inception v3: factorised inception blocks, for 299x299 inputs",
            default_input=(3, 299, 299),
        ),
    ]
    entries += [
        ZooEntry("vit_b_16", "ViT-B/16 (Dosovitskiy et al. 2021): 12 pre-norm blocks, width 768, 12 heads",
                 _RGB224, "convcalc", _TransformerFactory("vit_b_16"), heavy=True),
        ZooEntry("deit_tiny", "DeiT-Ti (Touvron et al. 2021): ViT with width 192, 3 heads, 12 blocks",
                 _RGB224, "convcalc", _TransformerFactory("deit_tiny"), heavy=False),
    ]
    return {entry.name: entry for entry in entries}


#: Every zoo model by name, in listing order (book models first).
ZOO: dict[str, ZooEntry] = _make_zoo()


def list_entries() -> list[ZooEntry]:
    """All zoo entries, book models first; does not import paddle."""
    return list(ZOO.values())


def get_entry(name: str) -> ZooEntry:
    """The entry called ``name`` (any letter case); :class:`UnknownNameError` with close names."""
    entry = ZOO.get(name) or ZOO.get(name.lower())
    if entry is not None:
        return entry
    close = difflib.get_close_matches(name.lower(), list(ZOO), n=3, cutoff=0.5)
    if close:
        fix = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        fix = "run `convcalc models` to list them, or give a file as path/to/file.py:Name"
    error = UnknownNameError("model", name, ZOO, fix=fix)
    error.suggestions = close
    raise error


@dataclass
class BuiltModel:
    """A ready model (in eval mode) with where it came from and its default input."""

    name: str
    model: Any  # paddle.nn.Layer
    default_input: Shape | None
    description: str
    source: str  # "book", "paddle.vision" or "file"
    default_inputs: tuple[str, ...] = ()  # the default --input arguments, one per forward argument


def build_model(spec: str, lazy: bool = False) -> BuiltModel:
    """Build a zoo model by name, or a user model from ``path/to/file.py:Name``.

    ``lazy``: build a zoo model under ``paddle.LazyGuard``, its weights not initialised (a report needs their
    shapes; the trace gives them memory, and values only where its eager check may read them:
    :mod:`convcalc.trace.weights`).  User files are built as they are written.

    Raises :class:`UnknownNameError` for an unknown zoo name and
    :class:`ModelLoadError` for a file that is missing, not Python, fails to
    import, lacks ``Name``, or whose ``Name`` is not (and does not build) a
    ``paddle.nn.Layer`` without arguments.
    """
    spec = str(spec).strip()
    from convcalc.trace.program import is_program_path

    if is_program_path(spec):  # an exported inference program (.json / .pdmodel + .pdiparams)
        return _build_from_program(spec)
    if _looks_like_file(spec):
        return _build_from_file(spec)
    entry = get_entry(spec)
    try:
        if lazy:
            import paddle

            with paddle.LazyGuard():
                model = entry.factory()
        else:
            model = entry.factory()
    except Exception as err:  # pragma: no cover - zoo entries are tested to build
        raise ModelLoadError(
            f"building zoo model {entry.name!r} failed: {type(err).__name__}: {_one_line(err)}",
            "this Paddle version may not provide it; pick another from `convcalc models`",
        ) from err
    model.eval()
    return BuiltModel(entry.name, model, entry.default_input, entry.description, entry.source,
                      ("x".join(str(d) for d in entry.default_input),))


def _build_from_program(spec: str) -> BuiltModel:
    from convcalc.trace.program import load_program

    program = load_program(spec)
    kind = "PIR program" if spec.lower().endswith(".json") else "ProgramDesc"
    default = program.default_input
    texts = ("x".join(str(d) for d in default),) if default else ()
    return BuiltModel(spec, program, default, f"exported inference {kind} {spec}", "program", texts)


# ----------------------------------------------------------------- user files


def _looks_like_file(spec: str) -> bool:
    if spec in ZOO or spec.lower() in ZOO:
        return False
    path_part = spec.rsplit(":", 1)[0] if ":" in spec else spec
    return ":" in spec or path_part.endswith(".py") or "/" in path_part or "\\" in path_part or Path(path_part).exists()


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _build_from_file(spec: str) -> BuiltModel:
    if ":" in spec:
        path_text, name = spec.rsplit(":", 1)
    else:
        path_text, name = spec, ""
    path = Path(path_text).expanduser()
    if not path.exists():
        raise ModelLoadError(
            f"model file {path_text!r} does not exist",
            "check the path (relative to the current directory) or use a zoo name from `convcalc models`",
        )
    if path.is_dir() or path.suffix != ".py":
        raise ModelLoadError(
            f"model file {path_text!r} is not a Python file",
            "give a .py file and a name in it, e.g. path/to/net.py:MyNet",
        )
    module = _import_file(path)
    candidates = _candidates(module)
    if not name:
        raise ModelLoadError(
            f"no model name given after {path_text!r}",
            f"write {path_text}:Name" + _found(candidates),
        )
    if not hasattr(module, name):
        raise ModelLoadError(
            f"{path_text!r} has no {name!r}",
            "use one of the names defined there" + _found(candidates, name),
        )
    obj = getattr(module, name)
    model = _instantiate(obj, name, path_text)
    default_inputs = _default_inputs(obj, module, path_text)
    default_input = None
    if len(default_inputs) == 1 and ":" not in default_inputs[0]:
        from convcalc.trace.inputs import parse_input

        default_input = parse_input(default_inputs[0])[0]
    doc = inspect.getdoc(obj) if inspect.isclass(obj) or callable(obj) else None
    description = (doc or "").strip().splitlines()[0] if doc else f"{name} from {path_text}"
    model.eval()
    return BuiltModel(f"{path_text}:{name}", model, default_input, description, "file", default_inputs)


def _import_file(path: Path) -> Any:
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    module_name = f"convcalc_user_{resolved.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:  # pragma: no cover - .py always has a loader
        raise ModelLoadError(f"cannot import {str(path)!r}", "give a plain .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    folder = str(resolved.parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(module_name, None)
        where = ""
        if isinstance(err, SyntaxError) and err.lineno:
            where = f" (line {err.lineno})"
        raise ModelLoadError(
            f"importing {str(path)!r} failed{where}: {type(err).__name__}: {_one_line(err)}",
            "fix the error in that file (try `python " + str(path) + "`)",
        ) from err
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:  # pragma: no cover - the file removed it itself
            pass
    return module


def _required_params(obj: Any) -> list[str]:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # builtins without a signature
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _candidates(module: Any) -> list[str]:
    """Layer classes, Layer instances and zero-argument functions defined in ``module``."""
    from paddle import nn

    found = []
    for attr, value in vars(module).items():
        if attr.startswith("_"):
            continue
        if inspect.isclass(value):
            if issubclass(value, nn.Layer) and value.__module__ == module.__name__:
                found.append(attr)
        elif isinstance(value, nn.Layer):
            found.append(attr)
        elif inspect.isfunction(value) and value.__module__ == module.__name__:
            if not _required_params(value):
                found.append(attr)
    return found


def _found(candidates: list[str], name: str | None = None) -> str:
    if not candidates:
        return "; the file defines no paddle.nn.Layer class or zero-argument factory"
    text = "; found: " + ", ".join(candidates)
    if name:
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
        if close:
            text = f" (did you mean {close[0]!r}?)" + text
    return text


def _instantiate(obj: Any, name: str, where: str) -> Any:
    from paddle import nn

    if isinstance(obj, nn.Layer):
        return obj
    if inspect.isclass(obj) and not issubclass(obj, nn.Layer):
        raise ModelLoadError(
            f"{name!r} in {where!r} is a class but not a paddle.nn.Layer subclass",
            "point at a paddle.nn.Layer subclass or a factory function returning one",
        )
    if not callable(obj):
        raise ModelLoadError(
            f"{name!r} in {where!r} is a {type(obj).__name__}, not a model",
            "point at a paddle.nn.Layer subclass or a factory function returning one",
        )
    required = _required_params(obj)
    if required:
        kind = "constructor" if inspect.isclass(obj) else "factory"
        raise ModelLoadError(
            f"{name!r} in {where!r} needs {kind} arguments ({', '.join(required)})",
            "give them defaults, or add a zero-argument factory such as "
            f"`def make_model(): return {name}(...)` and use {where}:make_model",
        )
    try:
        result = obj()
    except Exception as err:
        raise ModelLoadError(
            f"calling {name}() from {where!r} raised {type(err).__name__}: {_one_line(err)}",
            "fix the model's constructor (it must build with no arguments)",
        ) from err
    if not isinstance(result, nn.Layer):
        raise ModelLoadError(
            f"{name}() from {where!r} returned a {type(result).__name__}, not a paddle.nn.Layer",
            "make the factory return the model (a paddle.nn.Layer)",
        )
    return result


def _default_inputs(obj: Any, module: Any, where: str) -> tuple[str, ...]:
    """``CONVCALC_INPUT`` as ``--input`` arguments: a string, a list of strings, or the old (C, H, W) tuple."""
    from convcalc.trace.inputs import parse_input

    value = getattr(obj, INPUT_ATTRIBUTE, None)
    if value is None:
        value = getattr(module, INPUT_ATTRIBUTE, None)
    if value is None:
        return ()
    problem = f"{INPUT_ATTRIBUTE} = {value!r} in {where!r} is not an input like --input's"
    fix = f'write e.g. {INPUT_ATTRIBUTE} = "3x32x32" (one sample), or a list such as ["16x64", "16:int64"]'
    if isinstance(value, str):
        texts: list[str] = [value]
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        texts = list(value)
    elif (isinstance(value, (list, tuple)) and value
          and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value)):
        texts = ["x".join(str(d) for d in value)]
    else:
        raise ModelLoadError(problem, fix)
    for text in texts:
        try:
            parse_input(text)
        except InputSpecError as err:
            raise ModelLoadError(f"{problem} ({err.problem})", fix) from None
    return tuple(t.strip() for t in texts)
