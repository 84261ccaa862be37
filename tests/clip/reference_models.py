"""Small OpenCLIP models (random weights, no download) used as the reference in parity tests."""

from __future__ import annotations

import open_clip
import torch
from open_clip.model import CLIP as OpenCLIPModel

TEXT_CFG = dict(context_length=20, vocab_size=49408, width=128, heads=2, layers=2)
VISION_CFGS = {
    "vit": dict(layers=2, width=128, patch_size=8, image_size=32, head_width=64),
    "resnet": dict(layers=[1, 2, 1, 1], width=32, image_size=64, head_width=64),
}
EMBED_DIM = 64
CAPTIONS = ["a photo of a cat", "a dog running on the grass at night", "", "東京 😀 &amp; more"]


def reference_model(family: str, quick_gelu: bool, seed: int = 0,
                    vision_overrides: dict | None = None) -> OpenCLIPModel:
    """An OpenCLIP CLIP of ``family`` ("vit"/"resnet") in eval mode, with every parameter and batch-norm
    statistic moved away from its initial value (zero-initialised weights would hide errors)."""
    torch.manual_seed(seed)
    vision = {**VISION_CFGS[family], **(vision_overrides or {})}
    model = OpenCLIPModel(EMBED_DIM, vision, TEXT_CFG, quick_gelu=quick_gelu).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0.0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
    return model


def inputs(family: str, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``[4, 3, S, S]`` and CLIP tokens ``[4, 20]`` for the reference models."""
    size = VISION_CFGS[family]["image_size"]
    images = torch.randn(len(CAPTIONS), 3, size, size, generator=torch.Generator().manual_seed(seed))
    return images, open_clip.tokenize(CAPTIONS, context_length=TEXT_CFG["context_length"])


def max_differences(reference: OpenCLIPModel, model, images, tokens) -> dict[str, float]:
    """Largest absolute differences of image features, text features and image->text logits."""
    with torch.no_grad():
        ref_img, ref_txt = reference.encode_image(images), reference.encode_text(tokens)
        ref_logits, _ = reference.get_logits(images, tokens)
        img, txt = model.encode_image(images), model.encode_text(tokens)
        img_n, txt_n, scale = model(images, tokens)
        logits = scale * img_n @ txt_n.T
    return {"image": (ref_img - img).abs().max().item(), "text": (ref_txt - txt).abs().max().item(),
            "logits": (ref_logits - logits).abs().max().item()}
