"""Weight transfer (book §5.3.2 LeNet <-> Paddle_LeNet, 5.4.4 vision resnet18 -> book ResNet18).

BatchNorm weights *and running statistics* are randomised first: with fresh
BatchNorm layers (identities) a wrong mapping would pass unnoticed, which is
exactly how the book's 'shorcutt' typo went unseen.  Outputs are compared in
eval and train mode; the max |diff| is printed (``pytest -s``).
"""

from __future__ import annotations

import numpy as np
import paddle
import pytest
from paddle import nn
from paddle.vision.models import resnet18, resnet34

from convcalc.models.book import Model_LeNet, Model_ResNet18, Paddle_LeNet
from convcalc.models.transfer import (
    WeightTransferError,
    book_resnet18_from_vision,
    max_abs_diff,
    resnet18_key_map,
    transfer_lenet,
    transfer_resnet18,
)

TINY = 1e-5  # float32 round-off; the measured difference is 0.0


def randomize_batchnorm(model: nn.Layer, seed: int = 0) -> None:
    """Give every BatchNorm random scale, shift, running mean and running variance."""
    rng = np.random.default_rng(seed)
    for layer in model.sublayers():
        if isinstance(layer, nn.BatchNorm2D):
            n = layer.weight.shape[0]
            layer.weight.set_value(rng.uniform(0.5, 1.5, n).astype("float32"))
            layer.bias.set_value(rng.normal(0.0, 0.5, n).astype("float32"))
            layer._mean.set_value(rng.normal(0.0, 0.5, n).astype("float32"))
            layer._variance.set_value(rng.uniform(0.5, 2.0, n).astype("float32"))


@pytest.fixture(scope="module")
def vision_resnet18() -> nn.Layer:
    paddle.seed(7)
    model = resnet18(pretrained=False)
    randomize_batchnorm(model)
    return model


@pytest.fixture(scope="module")
def fresh_vision() -> nn.Layer:
    """A vision resnet18 whose BatchNorm layers are still identities (read only)."""
    paddle.seed(2)
    return resnet18(pretrained=False).eval()


@pytest.fixture(scope="module")
def scratch_book() -> Model_ResNet18:
    """A book ResNet18 for transfers that must fail (and therefore write nothing)."""
    return Model_ResNet18(3, 1000)


def _both_modes_diff(a: nn.Layer, b: nn.Layer, x: paddle.Tensor) -> dict[str, float]:
    diffs = {}
    for mode in ("eval", "train"):
        for m in (a, b):
            m.train() if mode == "train" else m.eval()
        diffs[mode] = max_abs_diff(a, b, x)
    a.eval()
    b.eval()
    return diffs


# ----------------------------------------------------------------- ResNet18


def test_vision_resnet18_to_book_is_exact_in_eval_and_train(vision_resnet18) -> None:
    book = Model_ResNet18(in_channels=3, num_classes=1000)
    book.net[0][0].bias.set_value(np.ones(64, "float32"))  # must be zeroed by the transfer
    report = transfer_resnet18(vision_resnet18, book)
    assert report.zero_filled == ("net.0.0.bias",)
    assert report.count == len(book.state_dict())
    assert ("layer2.0.downsample.1._variance", "net.2.0.bn3._variance") in report.assigned
    np.testing.assert_array_equal(
        book.net[2][0].bn3._mean.numpy(), vision_resnet18.layer2[0].downsample[1]._mean.numpy()
    )
    x = paddle.to_tensor(np.random.default_rng(3).standard_normal((2, 3, 64, 64)), "float32")
    diffs = _both_modes_diff(vision_resnet18, book, x)
    print(f"\nvision resnet18 -> book Model_ResNet18: max |diff| {diffs}")
    assert diffs["eval"] <= TINY and diffs["train"] <= TINY


def test_book_resnet18_from_vision_reads_channels_and_classes() -> None:
    paddle.seed(1)
    vision = resnet18(pretrained=False, num_classes=10)
    randomize_batchnorm(vision, seed=5)
    vision.eval()
    book = book_resnet18_from_vision(vision)
    assert isinstance(book, Model_ResNet18) and not book.training
    x = paddle.randn([1, 3, 32, 32])
    assert max_abs_diff(vision, book, x) <= TINY


def _swap_bn2_bn3(key: str) -> str | None:
    new = resnet18_key_map(key)
    if new is None or not new.startswith("net.2.0."):
        return new
    if ".bn2." in new:
        return new.replace(".bn2.", ".bn3.")
    return new.replace(".bn3.", ".bn2.")


def test_wrong_mapping_with_matching_shapes_is_caught_by_outputs(vision_resnet18) -> None:
    book = Model_ResNet18(3, 1000)
    transfer_resnet18(vision_resnet18, book, key_map=_swap_bn2_bn3)  # shapes all agree
    x = paddle.randn([2, 3, 64, 64])
    diffs = _both_modes_diff(vision_resnet18, book, x)
    print(f"\nbn2<->bn3 swapped: max |diff| {diffs}")
    assert diffs["eval"] > 1e-2 and diffs["train"] > 1e-2


def test_wrong_mapping_passes_with_fresh_batchnorm_which_is_why_we_randomise(
    fresh_vision,
) -> None:
    book = Model_ResNet18(3, 1000)
    transfer_resnet18(fresh_vision, book, key_map=_swap_bn2_bn3)
    book.eval()
    assert max_abs_diff(fresh_vision, book, paddle.randn([1, 3, 32, 32])) <= TINY


def _book_mapping(params: dict) -> dict:
    """The book's 5.4.4 mapping, verbatim in logic (typo 'shorcutt' and slices included)."""
    new_params = {}
    for key in params:
        if "layer" in key:
            if "downsample.0" in key:
                new_params["net." + key[5:8] + ".shortcut" + key[-7:]] = params[key]
            elif "downsample.1" in key:
                new_params["net." + key[5:8] + ".shorcutt" + key[23:]] = params[key]
            else:
                new_params["net." + key[5:]] = params[key]
        elif "conv1.weight" == key:
            new_params["net.0.0.weight"] = params[key]
        elif "bn1" in key:
            new_params["net.0.1" + key[3:]] = params[key]
        elif "fc" in key:
            new_params["net.7" + key[2:]] = params[key]
    return new_params


def test_the_books_mapping_only_passes_with_fresh_batchnorm(vision_resnet18, fresh_vision) -> None:
    paddle.seed(4)
    x = paddle.randn([1, 3, 32, 32])
    book = Model_ResNet18(3, 1000)
    book.set_state_dict(_book_mapping(fresh_vision.state_dict()))  # skips 'shorcutt' keys
    book.eval()
    assert max_abs_diff(fresh_vision, book, x) <= TINY  # the book's "[0.]"
    book = Model_ResNet18(3, 1000)
    book.set_state_dict(_book_mapping(vision_resnet18.state_dict()))
    book.eval()
    vision_resnet18.eval()
    assert max_abs_diff(vision_resnet18, book, x) > 1e-2


def test_the_books_typo_is_rejected_by_transfer(vision_resnet18, scratch_book) -> None:
    def typo(key: str) -> str | None:
        new = resnet18_key_map(key)
        return new.replace(".bn3.", ".shorcutt.") if new else new

    stem = scratch_book.net[0][0].weight.numpy().copy()
    with pytest.raises(WeightTransferError) as info:
        transfer_resnet18(vision_resnet18, scratch_book, key_map=typo)
    message = str(info.value)
    assert "shorcutt" in message and "net.2.0.bn3._mean" in message and "unassigned" in message
    np.testing.assert_array_equal(scratch_book.net[0][0].weight.numpy(), stem)  # nothing written


def test_missing_key_shape_mismatch_extra_key_and_collision(vision_resnet18, scratch_book) -> None:
    state = {k: v.numpy() for k, v in vision_resnet18.state_dict().items()}
    missing = {k: v for k, v in state.items() if k != "layer3.1.bn2._variance"}
    with pytest.raises(WeightTransferError, match=r"unassigned: net\.3\.1\.bn2\._variance"):
        transfer_resnet18(missing, scratch_book)
    one_channel = {**state, "conv1.weight": state["conv1.weight"][:, :1]}
    with pytest.raises(WeightTransferError, match=r"shape mismatch conv1.weight \[64, 1, 7, 7\]"):
        transfer_resnet18(one_channel, scratch_book)
    ten_classes = {**state, "fc.weight": state["fc.weight"][:, :10]}
    with pytest.raises(WeightTransferError, match="shape mismatch fc.weight"):
        transfer_resnet18(ten_classes, scratch_book)
    unknown = {**state, "head.weight": state["fc.weight"]}
    with pytest.raises(WeightTransferError, match="no mapping for source keys head.weight"):
        transfer_resnet18(unknown, scratch_book)
    with pytest.raises(WeightTransferError, match="both map to"):
        transfer_resnet18(
            state,
            scratch_book,
            key_map=lambda k: (
                "net.7.bias" if k == "fc.bias" else "net.7.bias" if k == "fc.weight" else resnet18_key_map(k)
            ),
        )


@pytest.mark.slow
def test_deeper_vision_resnet_is_rejected(scratch_book) -> None:
    with pytest.raises(WeightTransferError, match="target lacks: layer1.2"):
        transfer_resnet18(resnet34(pretrained=False), scratch_book)


# ----------------------------------------------------------------- LeNet


def _random_lenet_state(model: nn.Layer, seed: int) -> None:
    """Random weights of fan-in scale (outputs stay O(1)) and random, non-zero biases."""
    rng = np.random.default_rng(seed)
    for key, value in model.state_dict().items():
        shape = list(value.shape)
        if key.endswith(".bias"):
            scale = 0.1
        elif key.startswith("conv"):
            scale = 1.0 / np.sqrt(np.prod(shape[1:]))
        else:
            scale = 1.0 / np.sqrt(shape[0])
        value.set_value(rng.normal(0.0, scale, shape).astype("float32"))


def test_model_lenet_to_paddle_lenet_seed_5_3_2() -> None:
    # vectorised operators here (equal to the loop ones, tests/test_models_book.py);
    # the loop model is exercised in the next test
    ours = Model_LeNet(in_channels=1, num_classes=10, vectorized=True)
    _random_lenet_state(ours, seed=11)
    theirs = Paddle_LeNet(in_channels=1, num_classes=10)
    report = transfer_lenet(ours, theirs)
    assert set(report.reshaped) == {"conv1.bias", "conv3.bias", "conv5.bias"}
    assert list(theirs.conv1.bias.shape) == [6]
    x = paddle.randn([1, 1, 32, 32])
    diff = max_abs_diff(ours, theirs, x)
    print(f"\nModel_LeNet -> Paddle_LeNet: max |diff| {diff}")
    assert diff <= TINY


def test_paddle_lenet_to_model_lenet_both_variants() -> None:
    theirs = Paddle_LeNet(1, 10)
    _random_lenet_state(theirs, seed=12)
    x = paddle.randn([2, 1, 32, 32])
    for vectorized in (True, False):
        ours = Model_LeNet(1, 10, vectorized=vectorized)
        transfer_lenet(theirs, ours)
        assert list(ours.conv5.bias.shape) == [120, 1]
        assert max_abs_diff(theirs, ours, x) <= TINY
        x = x[:1]  # the loop model is slow; one image is enough


def test_lenet_transfer_rejects_other_class_counts_and_bad_reshapes() -> None:
    with pytest.raises(WeightTransferError, match="shape mismatch linear7.weight"):
        transfer_lenet(Model_LeNet(1, 10, vectorized=True), Paddle_LeNet(1, 5))
    state = dict(Paddle_LeNet(1, 10).state_dict())
    state["linear7.bias"] = state["linear7.bias"].reshape([10, 1])  # only conv biases reshape
    with pytest.raises(WeightTransferError, match="shape mismatch linear7.bias"):
        transfer_lenet(state, Model_LeNet(1, 10, vectorized=True))
