"""A pretrained starting point: encoder weights from a file or the Hugging Face cache, loaded exactly,
and one clear error naming the file and the first key that does not fit."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from simclip.models import create_encoder
from simclip.models.weights import EncoderWeightsError, load_encoder_weights

pytest.importorskip("timm")


def _random_encoder(seed: int, **options):
    torch.manual_seed(seed)
    return create_encoder("timm:resnet18", **options)


def _assert_same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sb[key], sa[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("fmt", ["safetensors", "pth", "wrapped"])
def test_loaded_encoder_equals_the_saved_one(tmp_path, fmt):
    source = _random_encoder(1, in_channels=1)
    state = source.state_dict()
    path = tmp_path / f"w.{'safetensors' if fmt == 'safetensors' else 'pth'}"
    if fmt == "safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save({"state_dict": state, "epoch": 3} if fmt == "wrapped" else state, path)
    target = _random_encoder(2, in_channels=1)
    assert not torch.equal(target.conv1.weight, source.conv1.weight)
    assert load_encoder_weights(target, str(path)) == path
    _assert_same(source, target)


def test_published_weights_skip_the_classifier_and_adapt_the_first_conv(tmp_path):
    torch.manual_seed(3)
    import timm

    published = timm.create_model("resnet18", num_classes=10)  # 3 channels and a classifier `fc`
    torch.save(published.state_dict(), tmp_path / "w.pth")
    gray = _random_encoder(4, in_channels=1)
    load_encoder_weights(gray, tmp_path / "w.pth")
    torch.testing.assert_close(gray.conv1.weight, published.conv1.weight.sum(1, keepdim=True))
    torch.testing.assert_close(gray.layer4[1].bn2.running_var, published.layer4[1].bn2.running_var)


def test_vit_weights_for_another_image_size_get_resampled_positions(tmp_path):
    torch.manual_seed(5)
    big = create_encoder("timm:vit_tiny_patch16_224", depth=1)
    save_file({k: v.contiguous() for k, v in big.state_dict().items()}, str(tmp_path / "v.safetensors"))
    small = create_encoder("timm:vit_tiny_patch16_224", depth=1, image_size=32)
    load_encoder_weights(small, tmp_path / "v.safetensors")
    assert small.pos_embed.shape == (1, 5, 192)
    torch.testing.assert_close(small.pos_embed[:, 0], big.pos_embed[:, 0])  # the class token's
    torch.testing.assert_close(small.blocks[0].attn.qkv.weight, big.blocks[0].attn.qkv.weight)


def test_missing_file_wrong_shape_and_unexpected_key_name_the_file_and_key(tmp_path):
    encoder = _random_encoder(6)
    with pytest.raises(EncoderWeightsError, match="nowhere.pth: no such file"):
        load_encoder_weights(encoder, tmp_path / "nowhere.pth")
    state = dict(encoder.state_dict())
    state["layer2.0.conv1.weight"] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(EncoderWeightsError, match=r"shape.pth: 'layer2.0.conv1.weight' has shape \(3, 3\)"):
        load_encoder_weights(encoder, tmp_path / "shape.pth")
    state = dict(encoder.state_dict())
    del state["layer3.1.bn1.bias"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "keys.pth")
    with pytest.raises(EncoderWeightsError, match="keys.pth: missing key 'layer3.1.bn1.bias'"):
        load_encoder_weights(encoder, tmp_path / "keys.pth")
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(EncoderWeightsError, match="junk.safetensors: cannot be read"):
        load_encoder_weights(encoder, tmp_path / "junk.safetensors")


def test_hf_hub_weights_come_from_the_cache_only(tmp_path, monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setattr(hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    encoder = _random_encoder(7)
    with pytest.raises(EncoderWeightsError, match="huggingface-cli download org/tiny-resnet"):
        load_encoder_weights(encoder, "hf-hub:org/tiny-resnet")
    # the cache's layout: models--ORG--NAME/{refs/main, snapshots/REVISION/FILE}
    repo = tmp_path / "hub" / "models--org--tiny-resnet"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    source = _random_encoder(8)
    save_file(dict(source.state_dict()), str(repo / "snapshots" / "abc123" / "model.safetensors"))
    load_encoder_weights(encoder, "hf-hub:org/tiny-resnet")
    _assert_same(source, encoder)
