"""The CLIP dual encoder: one interface for every tower, temperature handling, input checks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from simclip.clip import CLIP, CLIPConfig, Tokenizer, create_model, get_model_config, list_models

SMALL = ["tiny-vit", "small-cnn-28"]
_TOKENIZER: list[Tokenizer] = []


def _tokens(model: CLIP, texts=("a photo of a cat", "two dogs", "")) -> torch.Tensor:
    if not _TOKENIZER:
        _TOKENIZER.append(Tokenizer())
    return _TOKENIZER[0](list(texts), context_length=model.config.text.context_length)


def _images(model: CLIP, batch: int = 3) -> torch.Tensor:
    v = model.config.vision
    return torch.randn(batch, v.in_channels, v.image_size, v.image_size,
                       generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module", params=SMALL)
def small(request) -> CLIP:
    torch.manual_seed(0)
    return create_model(request.param).eval()


def test_interface(small):
    images, tokens = _images(small), _tokens(small)
    e = small.embed_dim
    with torch.no_grad():
        img, txt = small.encode_image(images), small.encode_text(tokens)
        img_n, txt_n, scale = small(images, tokens)
    assert img.shape == (3, e) and txt.shape == (3, e)
    assert torch.allclose(img_n, F.normalize(img, dim=-1)) and torch.allclose(txt_n, F.normalize(txt, dim=-1))
    assert torch.allclose(small.encode_image(images, normalize=True).norm(dim=-1), torch.ones(3))
    assert scale.item() == pytest.approx(1 / 0.07, rel=1e-6)
    assert small.logit_bias is None


def test_text_pools_at_end_token_and_ignores_padding(small):
    tokens = _tokens(small)
    with torch.no_grad():
        full = small.encode_text(tokens)
        # the causal mask makes features at the end token independent of what follows it
        garbage = tokens.clone()
        garbage[0, 8:] = 5
        garbage[0, 7] = 49407  # CLIP's end-of-text id
        garbage_start = small.encode_text(garbage[:1, :8])
        short = small.encode_text(tokens[:, :8])
    assert torch.allclose(full, short, atol=1e-6)
    assert torch.allclose(small.encode_text(garbage[:1]).detach(), garbage_start, atol=1e-6)


def test_training_step_updates_both_towers(small):
    # a small vocabulary keeps the dense embedding gradient cheap
    model = create_model(small.config, text={"vocab_size": 512})
    images = _images(model, 4)
    tokens = torch.randint(1, 511, (4, 6), generator=torch.Generator().manual_seed(0))
    tokens[:, -1] = 511
    img, txt, scale = model(images, tokens)
    logits = scale * img @ txt.T
    labels = torch.arange(4)
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    loss.backward()
    assert model.logit_scale.grad is not None
    assert all(p.grad is not None for p in model.visual.parameters() if p.requires_grad)
    assert model.text.token_embedding.weight.grad.abs().sum() > 0


def test_clamp_logit_scale():
    model = create_model("tiny-vit")
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == pytest.approx(math.log(100))
    with torch.no_grad():
        model.logit_scale.fill_(-1.0)
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == 0.0


def test_siglip_mode():
    model = create_model("tiny-vit", logit_bias=True)
    assert model.logit_scale.item() == pytest.approx(math.log(10))
    assert model.logit_bias.item() == -10.0
    assert "logit_bias" in dict(model.named_parameters())


def test_encoder_tower_uses_simclr_registry():
    from simclip.models import create_encoder

    model = create_model("small-cnn-28")
    ref = create_encoder("small-cnn", in_channels=1)
    assert type(model.visual.encoder) is type(ref)
    assert model.visual.proj.in_features == ref.num_features == 256
    assert model.preprocess_cfg.mean == (0.1307,) and model.preprocess_cfg.image_size == 28


@pytest.mark.parametrize("name", list_models())
def test_every_named_model_builds_and_round_trips_its_config(name):
    config = get_model_config(name)
    assert CLIPConfig.from_dict(config.to_dict()) == config
    with torch.device("meta"):
        model = CLIP(config)
    assert model.config is config and model.preprocess_cfg.image_size == config.vision.image_size


def test_overrides():
    model = create_model("tiny-vit", embed_dim=32, text={"vocab_size": 300, "context_length": 8},
                         quick_gelu=True)
    assert model.embed_dim == 32 and model.text.token_embedding.num_embeddings == 300
    assert model.config.vision == get_model_config("tiny-vit").vision
    assert model.config.quick_gelu
    with pytest.raises(ValueError, match="unknown field.*'colour'"):
        create_model("tiny-vit", vision={"colour": 1})
    with pytest.raises(ValueError, match="unknown field.*'depth'"):
        create_model("tiny-vit", depth=3)


def test_unknown_name_lists_models():
    with pytest.raises(ValueError, match="unknown CLIP model 'ViT-Z'.*RN50.*tiny-vit"):
        create_model("ViT-Z")


def test_bad_inputs_are_named():
    model = create_model("tiny-vit").eval()
    with pytest.raises(ValueError, match="the model expects 3"):
        model.encode_image(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="expects 32x32"):
        model.encode_image(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="float tensor"):
        model.encode_image(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="length 40 > context_length 32"):
        model.encode_text(torch.zeros(1, 40, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 49408\)"):
        model.encode_text(torch.full((1, 4), 49408))
    with pytest.raises(ValueError, match="integer tensor"):
        model.encode_text(torch.zeros(1, 4))
    with pytest.raises(TypeError, match="CLIPConfig"):
        CLIP({"embed_dim": 3})
