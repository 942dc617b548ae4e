"""The models of the real-library corpus: PaddleSeg 2.8.0 and PaddleClas 2.6.0, built without weights.

Names only at import time (no paddle, no library): a worker builds one model by name with
:func:`build`.  PaddleSeg models take 1x3x256x256 and 19 classes, with the backbones of
PaddleSeg's own configs (the smallest variant where a family has several); PaddleClas gives one
backbone per family (its smallest 224x224 variant) plus the ones issue 20 names (HRNet_W18_C,
EfficientNetV2_S, ...).  PaddleClas is imported as ``ppcls`` from inside its installed folder,
never as ``paddleclas`` (whose ``__init__`` needs faiss): :func:`ppcls_folder` finds the folder
without executing the package.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

__all__ = ["SEG_MODELS", "CLAS_MODELS", "FAST", "INPUTS", "library_of", "all_models", "build", "ppcls_folder"]

SEG_INPUT = (1, 3, 256, 256)
CLAS_INPUT = (1, 3, 224, 224)
NUM_CLASSES = 19

# name -> (model class, backbone class or "", keyword arguments): read by _build_seg.
SEG_MODELS: dict[str, tuple[str, str, dict]] = {
    "UNet": ("UNet", "", {}),
    "AttentionUNet": ("AttentionUNet", "", {}),
    "UNetPlusPlus": ("UNetPlusPlus", "", {}),
    "UNet3Plus": ("UNet3Plus", "", {}),
    "U2Netp": ("U2Netp", "", {}),
    "FastSCNN": ("FastSCNN", "", {}),
    "BiSeNetV2": ("BiSeNetV2", "", {}),
    "STDCSeg_STDC1": ("STDCSeg", "STDC1", {}),
    "PPLiteSeg_STDC1": ("PPLiteSeg", "STDC1", {}),
    "DDRNet_23": ("DDRNet_23", "", {}),
    "ENet": ("ENet", "", {}),
    "ESPNetV2": ("ESPNetV2", "", {}),
    "SegFormer_B0": ("SegFormer", "MixVisionTransformer_B0", {"embedding_dim": 256}),
    "SegNeXt_MSCAN_T": ("SegNeXt", "MSCAN_T", {"decoder_cfg": {
        "channels": 256, "ham_channels": 256, "ham_kwargs": {"MD_R": 16}, "dropout_rate": 0.1,
        "align_corners": False}}),
    "TopFormer_Tiny": ("TopFormer", "TopTransformer_Tiny", {}),
    "RTFormer": ("RTFormer", "", {}),
    "PPMobileSeg_Tiny": ("PPMobileSeg", "MobileSeg_Tiny", {}),
    "LRASPP_MobileNetV3_large": ("LRASPP", "MobileNetV3_large_x1_0", {}),
    "OCRNet_HRNetW18": ("OCRNet", "HRNet_W18", {"backbone_indices": [0]}),
    "FCN_HRNetW18": ("FCN", "HRNet_W18", {"backbone_indices": [-1]}),
    "DeepLabV3P_ResNet50_vd": ("DeepLabV3P", "ResNet50_vd", {"backbone_indices": (0, 3)}),
    "PSPNet_ResNet50_vd": ("PSPNet", "ResNet50_vd", {"backbone_indices": (2, 3)}),
    "CCNet_ResNet18_vd": ("CCNet", "ResNet18_vd", {"backbone_indices": (2, 3)}),
}
_BACKBONE_ARGS = {  # backbone keyword arguments, as in PaddleSeg's configs for these models
    "MobileSeg_Tiny": {"inj_type": "AAMSx8", "out_feat_chs": [32, 64, 128]},
    "ResNet50_vd": {"output_stride": 8},
    "ResNet18_vd": {"output_stride": 8},
}

CLAS_MODELS: tuple[str, ...] = (
    "AlexNet", "CSPDarkNet53", "CSWinTransformer_tiny_224", "ConvNeXt_tiny", "CvT_13_224", "DLA34", "DPN68",
    "DSNet_tiny", "DarkNet53", "DeiT_tiny_patch16_224", "DenseNet121", "ESNet_x0_25", "EfficientNetB0",
    "EfficientNetV2_S", "FasterNet_T0", "GhostNet_x0_5", "GoogLeNet", "HRNet_W18_C", "HarDNet39_ds", "InceptionV3",
    "InceptionV4", "LeViT_128S", "MicroNet_M0", "MixNet_S", "MobileNeXt_x0_35", "MobileNetV1_x0_25",
    "MobileNetV2_x0_25", "MobileNetV3_small_x0_35", "MobileNetV3_large_x1_0", "MobileNetV4_conv_small",
    "MobileViT_XXS", "MobileViTV2_x0_5", "MobileViTV3_XXS", "NextViT_small_224", "PPHGNet_tiny", "PPHGNetV2_B0",
    "PPLCNet_x0_25", "PPLCNetV2_small", "PVT_V2_B0", "PeleeNet", "ReXNet_1_0", "RedNet26", "RegNetX_200MF",
    "RepVGG_A0", "Res2Net50_26w_4s", "ResNeSt50_fast_1s1x64d", "ResNeXt50_32x4d", "ResNet18", "ResNet50_vd",
    "SE_ResNet18_vd", "SE_ResNeXt50_32x4d", "ShuffleNetV2_x0_25", "SqueezeNet1_0", "StarNet_S1",
    "SwinTransformer_tiny_patch4_window7_224", "SwinTransformerV2_tiny_patch4_window8_256", "TNT_small",
    "TinyNet_E", "UniFormer_small", "VAN_B0", "VGG11", "ViT_small_patch16_224", "Xception41", "alt_gvt_small",
    "pcpvt_small", "MOCOV3_vit_small", "CLIP_vit_base_patch32_224", "SVTR_tiny",
)

# Inputs other than the library's default (the model is made for that size).
INPUTS: dict[str, tuple[int, ...]] = {
    "MobileViTV2_x0_5": (1, 3, 256, 256),
    "SwinTransformerV2_tiny_patch4_window8_256": (1, 3, 256, 256),
}

# The CI subset (`--fast`): the failure modes issue 20 names (sizes read at run time: UNet, SegFormer,
# FastSCNN; a refusal: PP-LiteSeg), HRNet's depth, and plain backbones that must stay right.
FAST: tuple[str, ...] = ("UNet", "FastSCNN", "SegFormer_B0", "PPLiteSeg_STDC1", "ResNet18",
                         "MobileNetV3_small_x0_35", "HRNet_W18_C")


def all_models() -> list[str]:
    """Every model name: PaddleSeg's first, then PaddleClas's."""
    return [*SEG_MODELS, *CLAS_MODELS]


def library_of(name: str) -> str:
    return "PaddleSeg" if name in SEG_MODELS else "PaddleClas"


def input_of(name: str) -> tuple[int, ...]:
    return INPUTS.get(name, SEG_INPUT if name in SEG_MODELS else CLAS_INPUT)


@functools.cache
def ppcls_folder() -> str:
    """The installed ``paddleclas`` folder (it holds ``ppcls``), found without importing ``paddleclas``.

    (Once that folder is on ``sys.path`` the name finds ``paddleclas/paddleclas.py`` instead: asked once.)
    """
    import importlib.util

    spec = importlib.util.find_spec("paddleclas")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'paddleclas'")
    return list(spec.submodule_search_locations)[0]


def import_libraries() -> None:
    """Import what building the networks needs (raises what the import raises)."""
    import paddleseg.models  # noqa: F401
    import paddleseg.models.backbones  # noqa: F401

    _ppcls_backbones()


def _ppcls_backbones() -> Any:
    folder = ppcls_folder()
    if folder not in sys.path:
        sys.path.insert(0, folder)
    from ppcls.utils import logger

    logger.init_logger()
    import ppcls.arch.backbone as backbones

    return backbones


def build(name: str) -> Any:
    """Model ``name`` of either library, without pretrained weights, in eval mode (``paddle.seed(0)`` first)."""
    import paddle

    paddle.seed(0)
    if name in SEG_MODELS:
        import paddleseg.models as models
        import paddleseg.models.backbones as backbones

        cls, backbone, kwargs = SEG_MODELS[name]
        if backbone:
            kwargs = {**kwargs, "backbone": getattr(backbones, backbone)(**_BACKBONE_ARGS.get(backbone, {}))}
        model = getattr(models, cls)(num_classes=NUM_CLASSES, **kwargs)
    elif name in CLAS_MODELS:
        import inspect

        factory = getattr(_ppcls_backbones(), name)
        kwargs = {"pretrained": False} if "pretrained" in inspect.signature(factory).parameters else {}
        model = factory(**kwargs)
    else:
        raise KeyError(name)
    model.eval()
    return model
