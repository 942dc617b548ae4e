"""Parameters corpus: tied and shared weights, layers called twice, frozen weights (both ways),
root- and container-owned parameters used functionally, reparametrised and subclassed layers,
BatchNorm statistics, buffers, a layer that never runs.

Each case also carries the counts worked out by hand (``hand``): total and
trainable parameters used at this input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convcalc.checks.corpus import Case, lazy_model

KIND = "parameters"



def hand(total: int, trainable: int, in_model: int | None = None) -> Callable[[Any, Any], list[str]]:
    """A check against counts made by hand: parameters used, trainable ones, and all the model holds."""

    def check(report: Any, truth: Any) -> list[str]:
        t = report.totals
        want = {"params": total, "trainable params": trainable, "params in the model": in_model or total}
        got = {"params": int(t.params), "trainable params": int(t.params_trainable),
               "params in the model": int(t.params_in_model)}
        return [f"{k} {got[k]:,} vs {want[k]:,} counted by hand" for k in want if got[k] != want[k]]

    return check


def _case(name: str, cls: str, total: int, trainable: int, shape=(1, 3, 16, 16), in_model: int | None = None,
          note: str = "", dtype: str = "float32") -> Case:
    return Case.one_input(name, KIND, lazy_model("_params_models", cls), shape, dtype,
                          checks=(hand(total, trainable, in_model),), note=note)


CASES = [
    _case("tied_autoencoder", "TiedAutoencoder", 224 + 72 + 8, 304,
          note="dec.weight = enc.weight: the 64 tied weights once"),
    _case("tied_root_weight", "TiedOutsideOrder", 576 + 32 + 8, 616,
          note="one root-created weight set on two convs; shown on the root row"),
    _case("conv_called_three_times", "RecurrentBlock", 448 + 2320, 2768,
          note="one conv applied three times: counted once"),
    _case("siamese_alias", "SiameseAliases", 224 + 68, 292, note="one conv under two names, two branches"),
    _case("layerlist_same_block", "SharedBlocks", 224 + 584 + 32, 824,
          note="nn.LayerList([block] * 3): one block, three calls"),
    _case("frozen_stop_gradient", "FrozenBackbone", 1424 + 85, 85,
          note="backbone frozen after construction with p.stop_gradient = True"),
    _case("frozen_paramattr", "FrozenByParamAttr", 224 + 584 + 32, 576,
          note="ParamAttr(trainable=False) on weights, biases and a BatchNorm"),
    _case("root_param_never_read", "UnreadProjection", 224 + 16 + 8, 248, in_model=224 + 16 + 8 + 32,
          note="a root-held proj the forward never reads (MoCo v3, CLIP): not used; a root-held scale: used"),
    _case("vit_root_embeddings", "TinyViT", 3088 + 16 + 272 + 32 + 170, 3578, shape=(1, 3, 32, 32),
          note="cls_token and pos_embed created on the root model"),
    _case("root_projection_method_only", "UnreadRootProjection", 3088 + 32 + 170, 3290, shape=(1, 3, 32, 32),
          in_model=3290 + 128, note="a root-held projection the forward never reads: held, not used"),
    _case("container_functional_conv", "FunctionalNet", 256 + 616 + 90, 930,
          note="containers hold conv weights used by F.conv2d; the root holds an F.linear head"),
    _case("weight_norm", "WeightNormNet", 232 + 40, 272,
          note="paddle.nn.utils.weight_norm: weight_g and weight_v instead of weight"),
    _case("spectral_norm", "SpectralNormNet", 224 + 73, 297,
          note="paddle.nn.utils.spectral_norm: weight_orig, u and v are buffers"),
    _case("lora_linear_subclass", "LoRAClassifier", 224 + 192 + 148, 224 + 64 + 84,
          note="a Linear subclass adding LoRA A/B matrices, base weight frozen"),
    _case("conv2d_subclass_gain", "ScaledConvNet", 232 + 584, 816,
          note="an nn.Conv2D subclass adding a per-channel gain parameter"),
    _case("batchnorm_statistics", "BNNet", 216 + 32 + 32, 248,
          note="running mean/variance are non-trainable parameters, as paddle.summary counts them"),
    _case("buffer_not_parameter", "BufferNet", 112, 112, note="register_buffer: state, not a parameter"),
    _case("tied_embedding_lm_head", "TiedLM", 800 + 272 + 32 + 50, 1154, shape=(1, 12), dtype="int64",
          note="token ids in, logits out through the embedding matrix; a root-owned output bias"),
    _case("aux_head_never_runs", "AuxHeadNet", 224 + 36, 260, in_model=278,
          note="a training-only auxiliary head never runs at inference"),
]
