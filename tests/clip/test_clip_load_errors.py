"""Bad checkpoints give clear errors that name the file or the offending keys."""

from __future__ import annotations

import json
import urllib.error

import pytest
import torch
from safetensors.torch import save_file

from simclip.clip import create_model, load
from simclip.clip import pretrained as pretrained_mod
from simclip.clip.pretrained_names import WeightsNotFoundError

from .reference_models import reference_model

# torch.jit is deprecated upstream, but OpenAI released their weights as TorchScript archives.
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning"),
              pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")]


@pytest.fixture(scope="module")
def state_dict():
    return reference_model("vit", quick_gelu=True).state_dict()


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load(tmp_path / "nothing.pt")


@pytest.mark.parametrize("fmt", ["pt", "safetensors", "torchscript"])
def test_truncated_files_are_named(state_dict, tmp_path, fmt):
    path = tmp_path / f"model.{'safetensors' if fmt == 'safetensors' else 'pt'}"
    if fmt == "pt":
        torch.save(state_dict, path)
    elif fmt == "safetensors":
        save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
    else:
        torch.jit.script(reference_model("vit", quick_gelu=True)).save(str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=path.name):
        load(path, quick_gelu=True)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(b"\x00\x01 definitely not a checkpoint" * 10)
    with pytest.raises(ValueError, match="garbage.bin"):
        load(path, quick_gelu=True)


class _Payload:  # pickled objects other than tensors are refused (weights_only=True)
    pass


def test_pickled_objects_are_not_run(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "obj": _Payload()}, path)
    with pytest.raises(ValueError, match="evil.pt.*weights-only"):
        load(path, quick_gelu=True)


def test_missing_and_unexpected_keys_are_listed(state_dict):
    sd = dict(state_dict)
    del sd["visual.ln_post.weight"]
    sd["visual.extra.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"missing \(1\): visual.ln_post.weight.*"
                                         r"unexpected \(1\): visual.extra.weight"):
        load(sd, quick_gelu=True)


def test_shape_mismatch_is_listed(state_dict):
    config = load(state_dict, quick_gelu=True)[0].config.with_overrides(embed_dim=32)
    with pytest.raises(ValueError, match=r"shape mismatch.*visual.proj: checkpoint \(128, 64\) vs "
                                         r"model \(128, 32\)"):
        load(state_dict, config=config)


def test_not_a_clip_state_dict():
    with pytest.raises(ValueError, match="does not hold a state dict"):
        load({})
    with pytest.raises(ValueError, match="image tower"):
        load({"text_projection": torch.zeros(4, 4), "weight": torch.zeros(2)}, quick_gelu=False)
    with pytest.raises(TypeError, match="source"):
        load(42)


def test_non_square_grid_is_refused(state_dict):
    sd = dict(state_dict)
    sd["visual.positional_embedding"] = torch.zeros(1 + 4 * 5, 128)
    with pytest.raises(ValueError, match="visual.positional_embedding has 20 grid positions"):
        load(sd, quick_gelu=True)


def test_encoder_tower_checkpoint_needs_its_config(tmp_path):
    model = create_model("small-cnn-28")
    with pytest.raises(ValueError, match="needs its config"):
        load(model.state_dict(), quick_gelu=False)
    loaded, preprocess = load(model.state_dict(), config=model.config)
    assert preprocess.cfg.mean == (0.1307,)
    images = torch.randn(2, 1, 28, 28)
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.encode_image(images), model.encode_image(images))


def test_unsupported_open_clip_settings_are_refused(state_dict, tmp_path):
    torch.save(state_dict, tmp_path / "w.bin")
    cfg = {"model_cfg": {"quick_gelu": True, "vision_cfg": {"final_ln_after_pool": True},
                         "text_cfg": {"pool_type": "last"}}}
    (tmp_path / "open_clip_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="final_ln_after_pool=True.*pool_type='last'"):
        load(tmp_path / "w.bin")


@pytest.fixture()
def online(monkeypatch):
    """Downloads allowed (no offline switch set), so that a failing one is what is tested."""
    for name in ("SIMCLIP_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch, online):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(pretrained_mod.urllib.request, "urlopen", offline)
    with pytest.raises(WeightsNotFoundError, match="not cached .*download failed .*cannot download "
                                                   "https://openaipublic.*ViT-B-32.pt"):
        load("ViT-B-32", pretrained="openai", cache_dir=tmp_path)
    assert not list(tmp_path.rglob("*.pt"))  # nothing half-written under the final name


def test_failed_hub_download_is_a_clear_error(tmp_path, monkeypatch, online):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(WeightsNotFoundError, match="laion/CLIP-ViT-B-32-laion2B-s34B-b79K"):
        load("ViT-B-32", pretrained="laion2b_s34b_b79k", cache_dir=tmp_path)


def test_unknown_pretrained_tag_lists_known():
    with pytest.raises(ValueError, match="no pretrained tag 'nonexistent'; its tags: .*openai"):
        load("ViT-B-32", pretrained="nonexistent")


def test_cached_openai_file_is_used_without_network(state_dict, tmp_path, monkeypatch):
    # A file already in the cache with the right SHA-256 is used; no download is attempted.
    target = tmp_path / "openai" / "RN50.pt"
    target.parent.mkdir()
    torch.save(state_dict, target)
    monkeypatch.setitem(pretrained_mod._OPENAI_SHA256, "RN50", pretrained_mod._sha256(target))
    monkeypatch.setattr(pretrained_mod.urllib.request, "urlopen", lambda *a, **k: 1 / 0)
    model, _ = load("RN50", pretrained="openai", cache_dir=tmp_path)
    assert model.config.quick_gelu  # OpenAI releases use QuickGELU
