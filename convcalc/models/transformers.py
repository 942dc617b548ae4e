"""Vision transformers as plain ``paddle.nn`` code: ViT-B/16 and DeiT-tiny.

The configurations are the papers': ViT-B/16 (Dosovitskiy et al. 2021,
Table 1: 12 layers, width 768, MLP 3072, 12 heads, patch 16) and DeiT-Ti
(Touvron et al. 2021, Table 1: 12 layers, width 192, 3 heads, MLP 768,
without the distillation token).  At 224x224 they hold 86,567,656 and
5,717,416 parameters.  Each encoder block is Paddle's own pre-norm
``nn.TransformerEncoderLayer`` (``normalize_before=True``, GELU, LayerNorm
eps 1e-6), so a report shows attention and MLP per block, each row carrying
its matmuls, softmax and projections.
"""

from __future__ import annotations

import paddle
import paddle.nn as nn

__all__ = ["PatchEmbedding", "VisionTransformer", "vit_b_16", "deit_tiny"]


class PatchEmbedding(nn.Layer):
    """Patches -> tokens: a stride-``patch`` conv, the class token in front, learned positions added."""

    def __init__(self, image_size: int = 224, patch_size: int = 16, in_channels: int = 3, dim: int = 768):
        super().__init__()
        self.proj = nn.Conv2D(in_channels, dim, patch_size, stride=patch_size)
        tokens = (image_size // patch_size) ** 2 + 1
        self.cls_token = self.create_parameter([1, 1, dim], default_initializer=nn.initializer.Constant(0.0))
        self.pos_embed = self.create_parameter(
            [1, tokens, dim], default_initializer=nn.initializer.TruncatedNormal(std=0.02)
        )

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose([0, 2, 1])           # [B, N, D]
        cls = self.cls_token.expand([x.shape[0], -1, -1])
        return paddle.concat([cls, x], axis=1) + self.pos_embed


class VisionTransformer(nn.Layer):
    """ViT: patch embedding, ``depth`` pre-norm encoder blocks, LayerNorm, a linear head on the class token."""

    def __init__(
        self,
        image_size: int = 224,
        patch_size: int = 16,
        dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        mlp_dim: int = 3072,
        num_classes: int = 1000,
        in_channels: int = 3,
    ):
        super().__init__()
        self.embed = PatchEmbedding(image_size, patch_size, in_channels, dim)
        self.blocks = nn.LayerList([
            nn.TransformerEncoderLayer(dim, heads, mlp_dim, dropout=0.0, activation="gelu",
                                       normalize_before=True, layer_norm_eps=1e-6)
            for _ in range(depth)
        ])
        self.norm = nn.LayerNorm(dim, epsilon=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.embed(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


def vit_b_16(num_classes: int = 1000) -> VisionTransformer:
    """ViT-B/16 at 224x224: 86,567,656 parameters."""
    return VisionTransformer(224, 16, 768, 12, 12, 3072, num_classes)


def deit_tiny(num_classes: int = 1000) -> VisionTransformer:
    """DeiT-Ti (no distillation token) at 224x224: 5,717,416 parameters."""
    return VisionTransformer(224, 16, 192, 12, 3, 768, num_classes)
