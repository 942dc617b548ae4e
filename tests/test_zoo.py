"""The model zoo: listing without paddle, name errors, file:Name loading, every model builds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from convcalc.errors import ModelLoadError, UnknownNameError
from convcalc.models.zoo import ZOO, BuiltModel, ZooEntry, build_model, get_entry, list_entries

DATA = Path(__file__).resolve().parent / "data" / "models"
TINY = DATA / "tiny_models.py"

# Named by the issue / the brief; every one must be in the zoo.
REQUIRED = [
    "book_lenet",
    "book_paddle_lenet",
    "book_resnet18",
    "book_resnet18_plain",
    "lenet",
    "alexnet",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "vgg11_bn",
    "vgg13_bn",
    "vgg16_bn",
    "vgg19_bn",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "resnext50_32x4d",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "squeezenet1_0",
    "squeezenet1_1",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_swish",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "densenet264",
    "googlenet",
    "inception_v3",
]
# What the default (non-slow) run builds, per the CI list.
LIGHT = sorted(name for name, entry in ZOO.items() if not entry.heavy)


def test_listing_does_not_import_paddle() -> None:
    code = textwrap.dedent(
        """
        import sys
        import convcalc.models
        from convcalc.models.zoo import list_entries, get_entry
        names = [e.name for e in list_entries()]
        assert convcalc.models.get_entry("resnet18").default_input == (3, 224, 224)
        try:
            get_entry("resnet19")
        except LookupError:
            pass
        assert "paddle" not in sys.modules, sorted(m for m in sys.modules if "paddle" in m)[:5]
        print(len(names))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == len(ZOO)


def test_entries_are_well_formed() -> None:
    entries = list_entries()
    assert [e.name for e in entries] == list(ZOO)
    assert entries[0].source == "book"
    for entry in entries:
        assert isinstance(entry, ZooEntry) and entry.name == get_entry(entry.name).name
        assert entry.source in ("book", "paddle.vision", "convcalc")
        assert entry.description and len(entry.description) < 100
        assert len(entry.default_input) == 3 and all(isinstance(d, int) and d > 0 for d in entry.default_input)
        assert callable(entry.factory)


def test_required_names_present_with_their_inputs() -> None:
    missing = [n for n in REQUIRED if n not in ZOO]
    assert not missing
    assert ZOO["book_lenet"].default_input == (1, 32, 32)
    assert ZOO["book_resnet18"].default_input == (1, 32, 32)
    assert ZOO["lenet"].default_input == (1, 28, 28)
    assert ZOO["inception_v3"].default_input == (3, 299, 299)
    assert ZOO["resnet50"].default_input == (3, 224, 224)
    assert {
        "book_lenet",
        "book_paddle_lenet",
        "book_resnet18",
        "book_resnet18_plain",
        "resnet18",
        "mobilenet_v2",
        "vgg11",
    } <= set(LIGHT)


def test_every_vision_model_function_in_this_paddle_is_listed() -> None:
    import inspect

    import paddle.vision.models as vision

    functions = {name for name, obj in vars(vision).items() if inspect.isfunction(obj)}
    assert len(functions) > 30
    assert functions - set(ZOO) == set()


@pytest.mark.parametrize("name", ["resnet19", "mobilenetv2", "book_lenet5", "densnet121"])
def test_unknown_name_suggests_close_names(name: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        get_entry(name)
    assert "did you mean" in str(info.value) and info.value.suggestions
    with pytest.raises(UnknownNameError):
        build_model(name)


def test_names_are_case_insensitive() -> None:
    assert get_entry("VGG11").name == "vgg11"
    assert get_entry("ResNet18").name == "resnet18"


def test_unknown_name_without_close_match_points_at_the_listing() -> None:
    with pytest.raises(UnknownNameError, match="convcalc models"):
        build_model("transformer")


# --------------------------------------------------------------- building


def _check_builds(name: str) -> BuiltModel:
    import paddle

    built = build_model(name)
    entry = ZOO[name]
    assert (built.name, built.default_input, built.source) == (name, entry.default_input, entry.source)
    assert isinstance(built.model, paddle.nn.Layer) and not built.model.training
    with paddle.no_grad():
        out = built.model(paddle.randn([1, *entry.default_input]))
    first = out[0] if isinstance(out, (tuple, list)) else out
    assert first.shape[0] == 1 and first.ndim == 2
    return built


@pytest.mark.parametrize("name", LIGHT)
def test_light_zoo_models_build_and_run(name: str) -> None:
    built = _check_builds(name)
    if name.startswith("book_"):
        assert sum(int(p.numel()) for p in built.model.parameters()) in (61706, 11185034)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(ZOO) - set(LIGHT)))
def test_heavy_zoo_models_build_and_run(name: str) -> None:
    _check_builds(name)


# ------------------------------------------------------------ file:Name


def test_file_class_uses_module_input() -> None:
    built = build_model(f"{TINY}:TinyNet")
    assert built.source == "file" and built.name.endswith("tiny_models.py:TinyNet")
    assert built.default_input == (3, 16, 16)
    assert built.description == "A two-conv network with a linear head."
    assert not built.model.training


def test_file_class_input_overrides_module_input() -> None:
    assert build_model(f"{TINY}:GrayNet").default_input == (1, 8, 8)


def test_file_factory_and_instance() -> None:
    import paddle

    built = build_model(f"{TINY}:make_tiny")
    out = built.model(paddle.randn([2, 3, 16, 16]))
    assert list(out.shape) == [2, 10]
    assert build_model(f"{TINY}:ready_model").default_input == (3, 16, 16)


def test_file_without_input_gives_none(tmp_path: Path) -> None:
    path = tmp_path / "plain.py"
    path.write_text("from paddle import nn\n\ndef make():\n    return nn.Conv2D(1, 2, 3)\n")
    assert build_model(f"{path}:make").default_input is None


def _load_error(spec: str) -> str:
    with pytest.raises(ModelLoadError) as info:
        build_model(spec)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_file_missing() -> None:
    assert "does not exist" in _load_error(str(DATA / "nope.py") + ":Net")


def test_file_not_python(tmp_path: Path) -> None:
    text = tmp_path / "net.txt"
    text.write_text("x")
    assert "not a Python file" in _load_error(f"{text}:Net")
    assert "not a Python file" in _load_error(f"{tmp_path}:Net")


def test_file_import_error_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import paddle\nimport convcalc_no_such_module_xyz\n")
    message = _load_error(f"{broken}:Net")
    assert "ModuleNotFoundError" in message and "convcalc_no_such_module_xyz" in message
    syntax = tmp_path / "syntax.py"
    syntax.write_text("def f(:\n    pass\n")
    message = _load_error(f"{syntax}:Net")
    assert "SyntaxError" in message and "line 1" in message


def test_file_name_missing_lists_candidates() -> None:
    message = _load_error(f"{TINY}:TinyNett")
    assert "has no 'TinyNett'" in message and "did you mean 'TinyNet'" in message
    for name in ("TinyNet", "GrayNet", "make_tiny", "ready_model"):
        assert name in message
    assert "make_with_args" not in message and "SOME_CONSTANT" not in message
    assert "Name" in _load_error(str(TINY))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NeedsArgs", "needs constructor arguments (width)"),
        ("make_with_args", "needs factory arguments (width)"),
        ("NotALayer", "not a paddle.nn.Layer subclass"),
        ("make_number", "returned a int"),
        ("SOME_CONSTANT", "is a int, not a model"),
        ("Explodes", "RuntimeError: constructor exploded"),
    ],
)
def test_file_name_is_not_a_buildable_layer(name: str, expected: str) -> None:
    assert expected in _load_error(f"{TINY}:{name}")


def test_file_bad_input_attribute(tmp_path: Path) -> None:
    path = tmp_path / "badinput.py"
    path.write_text("from paddle import nn\nCONVCALC_INPUT = (3, 0, 5)\n\ndef make():\n    return nn.Conv2D(3, 2, 3)\n")
    assert "CONVCALC_INPUT" in _load_error(f"{path}:make")
