"""OpenCLIP models whose text tower is a Hugging Face model load with parity: a small random
OpenCLIP ``CustomTextCLIP`` on a tiny local RoBERTa / BERT folder, saved as OpenCLIP releases are
(weights + ``open_clip_config.json``), gives the same features through ``simclip.clip.load``."""

from __future__ import annotations

import json
import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("transformers")
open_clip = pytest.importorskip("open_clip")

from simclip.clip import load  # noqa: E402
from tests.clip.hf_fixtures import save_tiny_bert, save_tiny_config  # noqa: E402

VISION = dict(image_size=32, patch_size=16, width=64, layers=1, head_width=32)
EMBED = 24


def _save_reference(tmp_path, hf_folder, pooler, proj):
    text_cfg = dict(hf_model_name=str(hf_folder), hf_tokenizer_name=str(hf_folder), hf_pooler_type=pooler,
                    hf_proj_type=proj, hf_model_pretrained=False, context_length=16)
    torch.manual_seed(0)
    ref = open_clip.CustomTextCLIP(EMBED, VISION, text_cfg).eval()
    with torch.no_grad():
        for p in ref.parameters():  # move every value away from its initialisation
            p.add_(0.05 * torch.randn_like(p))
    torch.save(ref.state_dict(), tmp_path / "open_clip_pytorch_model.bin")
    config = {"model_cfg": {"embed_dim": EMBED, "vision_cfg": VISION, "text_cfg": text_cfg},
              "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}
    (tmp_path / "open_clip_config.json").write_text(json.dumps(config))
    return ref


@pytest.mark.parametrize("kind, pooler, proj, pooling", [
    ("roberta", "mean_pooler", "mlp", "mean"),
    ("roberta", "cls_pooler", "linear", "pooler"),
    ("bert", "cls_last_hidden_state_pooler", "mlp", "cls"),
])
def test_text_and_image_features_match_open_clip(tmp_path, kind, pooler, proj, pooling):
    folder = (save_tiny_config(tmp_path / "hf", "roberta") if kind == "roberta"
              else save_tiny_bert(tmp_path / "hf"))
    ref = _save_reference(tmp_path, folder, pooler, proj)
    model, preprocess = load(tmp_path / "open_clip_pytorch_model.bin")
    assert model.config.text.kind == "hf" and model.config.text.pooling == pooling
    assert model.config.text.proj_type == proj and model.config.image_mean == (0.5, 0.5, 0.5)
    pad = ref.text.config.pad_token_id
    tokens = torch.tensor([[0, 7, 8, 9, 2] + [pad] * 3, [0, 10, 11, 12, 13, 14, 15, 2],
                           [0, 5, 2] + [pad] * 5])
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text(tokens), ref.encode_text(tokens), atol=1e-5, rtol=0)
        torch.testing.assert_close(model.encode_image(images), ref.encode_image(images), atol=1e-5, rtol=0)
        assert not torch.equal(model.encode_text(tokens)[0], model.encode_text(tokens)[2])
    assert all(p.requires_grad for p in model.text.encoder.parameters())  # OpenCLIP trains it all


def test_unsupported_pooler_and_missing_model_are_one_line(tmp_path):
    folder = save_tiny_config(tmp_path / "hf", "roberta")
    _save_reference(tmp_path, folder, "max_pooler", "mlp")
    with pytest.raises(ValueError, match="hf_pooler_type='max_pooler' is not supported"):
        load(tmp_path / "open_clip_pytorch_model.bin")
    _save_reference(tmp_path, folder, "mean_pooler", "mlp")
    config = json.loads((tmp_path / "open_clip_config.json").read_text())
    config["model_cfg"]["text_cfg"]["hf_model_name"] = "no-such-org/no-such-model"
    (tmp_path / "open_clip_config.json").write_text(json.dumps(config))
    with pytest.raises(FileNotFoundError, match="not in the Hugging Face cache .*hf download"):
        load(tmp_path / "open_clip_pytorch_model.bin")
