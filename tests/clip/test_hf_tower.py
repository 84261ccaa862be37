"""Any ``transformers`` model as the text tower: poolings against references on the hidden states,
defaults per model type, projections, locking, and a CLIP with such a tower round-tripping save/load."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("transformers")

from simclip.clip import CLIPConfig, get_tokenizer, load, save  # noqa: E402
from simclip.clip.hf_models import hf_sizes  # noqa: E402
from simclip.clip.hf_text import HFTextTower  # noqa: E402
from simclip.clip.model import CLIP  # noqa: E402
from tests.clip.hf_fixtures import save_tiny_bert, save_tiny_config  # noqa: E402

TEXTS = ["a photo of the cat", "a red circle", "the number three handwritten seven"]


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return save_tiny_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def roberta(tmp_path_factory):
    return save_tiny_config(tmp_path_factory.mktemp("roberta"), "roberta")


def _reference(tower: HFTextTower, tokens: torch.Tensor):
    mask = (tokens != tower.pad_id).long()
    with torch.no_grad():
        return tower.encoder(input_ids=tokens, attention_mask=mask), mask


@pytest.mark.parametrize("pooling", ["mean", "cls", "pooler", "last"])
def test_poolings_match_the_hidden_states(bert, pooling):
    tower = HFTextTower(bert, embed_dim=8, pooling=pooling, context_length=16).eval()
    tokens = tower.tokenize(TEXTS)
    assert (tokens == 0).any()  # rows of different lengths: padding is exercised
    out, mask = _reference(tower, tokens)
    hidden = out.last_hidden_state
    rows = [hidden[i, : int(mask[i].sum())] for i in range(len(TEXTS))]
    expected = {"mean": torch.stack([r.mean(0) for r in rows]), "cls": hidden[:, 0],
                "last": torch.stack([r[-1] for r in rows]),
                "pooler": out.pooler_output if pooling == "pooler" else None}[pooling]
    with torch.no_grad():
        torch.testing.assert_close(tower.pooled(tokens), expected, atol=1e-6, rtol=0)
        assert tower(tokens).shape == (len(TEXTS), 8)


def test_default_pooling_per_model_type(bert, tmp_path):
    assert HFTextTower(bert, embed_dim=8).pooling == "mean"
    gpt2 = HFTextTower(save_tiny_config(tmp_path / "gpt2", "gpt2"), embed_dim=8, context_length=16)
    assert gpt2.pooling == "last"
    tokens = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
    out, _ = _reference(gpt2, tokens)
    with torch.no_grad():
        torch.testing.assert_close(gpt2.pooled(tokens), out.last_hidden_state[:, -1], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="gpt2 models have no pooling layer"):
        HFTextTower(tmp_path / "gpt2", embed_dim=8, pooling="pooler")


def test_pretrained_weights_are_read_and_random_start_differs(bert):
    import transformers

    saved = transformers.BertModel.from_pretrained(bert).state_dict()
    tower = HFTextTower(bert, embed_dim=8)
    own = tower.encoder.state_dict()
    assert all(torch.equal(own[k], saved[k]) for k in own)
    torch.manual_seed(5)
    fresh = HFTextTower(bert, embed_dim=8, pretrained=False).encoder.state_dict()
    key = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(fresh[key], own[key])


@pytest.mark.parametrize("proj_type, keys", [("linear", {"proj.weight"}),
                                             ("mlp", {"proj.0.weight", "proj.2.weight"})])
def test_projection_and_locking(bert, proj_type, keys):
    tower = HFTextTower(bert, embed_dim=8, proj_type=proj_type)
    assert {n for n, p in tower.named_parameters() if p.requires_grad} == keys  # locked: LiT
    tower.lock(1)
    trainable = {n for n, p in tower.named_parameters() if p.requires_grad}
    assert any(n.startswith("encoder.encoder.layer.1.") for n in trainable)
    assert not any(n.startswith(("encoder.encoder.layer.0.", "encoder.embeddings.")) for n in trainable)
    tower.lock(2)  # all layers: the whole model trains
    assert all(p.requires_grad for p in tower.parameters())
    with pytest.raises(ValueError, match="text.proj_type 'none' needs the model width"):
        HFTextTower(bert, embed_dim=8, proj_type="none")


def _clip_config(folder, **text) -> CLIPConfig:
    import transformers

    sizes = hf_sizes(transformers.AutoConfig.from_pretrained(folder))
    return CLIPConfig(embed_dim=16, vision=dict(kind="vit", image_size=16, patch_size=8, width=32, layers=1,
                                                head_width=16),
                      text=dict(kind="hf", hf_model=str(folder), context_length=16, **sizes, **text))


def test_clip_with_roberta_tower_round_trips(roberta, tmp_path):
    torch.manual_seed(0)
    model = CLIP(_clip_config(roberta, proj_type="mlp", unlocked_layers=2)).eval()
    assert model.text.pooling == "mean" and model.text.pad_id == 1
    path = save(model, tmp_path / "m.safetensors")
    loaded, _ = load(path)  # built on "meta": RoBERTa's derived buffers must be rebuilt
    tokens = torch.tensor([[0, 7, 8, 9, 2, 1, 1], [0, 10, 11, 12, 13, 14, 2]])
    with torch.no_grad():
        assert torch.equal(model.encode_text(tokens), loaded.encode_text(tokens))
    assert loaded.config == model.config and loaded.config.text.pooling is None


def test_tokenizer_of_a_config_and_size_check(bert):
    tokenize = get_tokenizer(_clip_config(bert))
    assert tokenize(["a red circle"]).tolist() == [[2, 5, 11, 12, 3]]  # [CLS] a red circle [SEP]
    with pytest.raises(ValueError, match="text.width=64 but the model has 32"):
        CLIP(_clip_config(bert).with_overrides(text={"width": 64}))
