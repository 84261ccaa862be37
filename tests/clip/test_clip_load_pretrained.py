"""``load(name, pretrained=TAG)`` resolves released weights as ``--model NAME --pretrained TAG`` does:
names checked, the local cache (OpenAI files and the Hugging Face layout) read before any download,
one error naming where the weights were looked for when downloads are off. Nothing is downloaded."""

from __future__ import annotations

import hashlib
import urllib.request

import pytest
import torch

from simclip.clip import create_model, load, resolve_pretrained, save
from simclip.clip import pretrained as releases
from simclip.clip.pretrained_names import WeightsNotFoundError
from simclip.errors import UnknownNameError

MODEL = "small-cnn-32"


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty cache in ``$SIMCLIP_CACHE``; downloads off, and failing loudly if tried anyway."""
    root = tmp_path / "cache"
    (root / "openai").mkdir(parents=True)
    monkeypatch.setenv("SIMCLIP_CACHE", str(root))
    monkeypatch.setenv("SIMCLIP_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(releases, "_from_hf_hub", no_network)
    return root


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return create_model(MODEL).eval()


def _same_features(a, b) -> bool:
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        return torch.equal(a.encode_image(images), b.encode_image(images))


def test_a_cached_openai_release_loads_by_name_and_tag(cache, model, monkeypatch):
    weights = save(model, cache / "openai" / f"{MODEL}.pt")
    monkeypatch.setitem(releases._OPENAI_SHA256, MODEL, hashlib.sha256(weights.read_bytes()).hexdigest())
    loaded, _ = load(MODEL, pretrained="openai")
    assert _same_features(loaded, model)
    assert not loaded.config.quick_gelu  # the file's own config decides, as for --checkpoint


def test_a_cached_hub_release_loads_by_name_and_tag(cache, model, monkeypatch):
    snapshot = cache / "hf" / "models--tiny-org--tiny-clip" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (cache / "hf" / "models--tiny-org--tiny-clip" / "refs").mkdir()
    (cache / "hf" / "models--tiny-org--tiny-clip" / "refs" / "main").write_text("0" * 40)
    save(model, snapshot / "open_clip_model.safetensors")
    monkeypatch.setitem(releases._HF_HUB, (MODEL, "tiny-hub"), "tiny-org/tiny-clip")
    loaded, _ = load(MODEL, pretrained="tiny-hub")
    assert _same_features(loaded, model)


def test_a_file_as_the_tag_is_that_file(cache, model, tmp_path):
    weights = save(model, tmp_path / "mine.safetensors")
    assert _same_features(load("any-name", pretrained=str(weights))[0], model)


def test_weights_not_cached_offline_give_the_command_lines_error(cache):
    with pytest.raises(WeightsNotFoundError) as by_api:
        load("ViT-B-32", pretrained="openai")
    with pytest.raises(WeightsNotFoundError) as by_name:
        resolve_pretrained("ViT-B-32", "openai")
    assert str(by_api.value) == str(by_name.value)
    assert "not available offline: looked for" in str(by_api.value)
    assert str(cache / "openai" / "ViT-B-32.pt") in str(by_api.value)


def test_a_damaged_cached_file_is_not_loaded(cache, model, monkeypatch):
    save(model, cache / "openai" / f"{MODEL}.pt")
    monkeypatch.setitem(releases._OPENAI_SHA256, MODEL, "0" * 64)
    with pytest.raises(WeightsNotFoundError, match="SHA-256 is not the published one"):
        load(MODEL, pretrained="openai")


def test_misspelt_names_and_tags_name_close_matches(cache):
    with pytest.raises(UnknownNameError, match="close matches: openai"):
        load("ViT-B-32", pretrained="opnai")
    with pytest.raises(UnknownNameError, match="close matches: ViT-B-32"):
        load("ViT-B-23", pretrained="openai")
