import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from simclip.serve.embedder import (ClipEmbedder, Embedder, embedder_from_checkpoint, file_sha256,
                                    load_embedder, same_identity, trim_padding)
from tests.serve.conftest import FakeEmbedder, draw_shape


def test_clip_embedder_gives_unit_float32_rows(clip_embedder):
    images = [draw_shape(s, (200, 30, 30), 9) for s in ("circle", "square", "triangle")]
    vectors = clip_embedder.embed_images(images)
    texts = clip_embedder.embed_texts(["a circle", "a square"])
    assert vectors.dtype == texts.dtype == np.float32
    assert vectors.shape == (3, 128) and texts.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(np.concatenate([vectors, texts]), axis=1), 1, atol=1e-5)
    assert clip_embedder.embed_images([]).shape == (0, 128)
    assert isinstance(clip_embedder, Embedder) and isinstance(FakeEmbedder(), Embedder)


def test_batching_does_not_change_the_vectors(clip_embedder):
    images = [draw_shape("circle", (c, 40, 200), 5 + c // 40) for c in range(0, 250, 25)]
    whole = clip_embedder.embed_images(images)
    small = ClipEmbedder(clip_embedder.model, clip_embedder.preprocess, clip_embedder.tokenizer,
                         clip_embedder.identity, batch_size=3).embed_images(images)
    np.testing.assert_allclose(whole, small, atol=1e-5)


def test_random_init_identity_is_reproducible(clip_embedder):
    again = load_embedder(model="tiny-vit")
    assert again.identity == clip_embedder.identity and len(again.identity["sha256"]) == 64
    other = load_embedder(model="tiny-vit", device="cpu")
    assert same_identity(other.identity, clip_embedder.identity)


@pytest.mark.filterwarnings("ignore:cannot tell whether")  # a bare state dict does not say its activation
def test_checkpoint_identity_is_the_file_hash(tmp_path, clip_embedder):
    path = tmp_path / "tiny.safetensors"
    save_file(clip_embedder.model.state_dict(), str(path))
    loaded = embedder_from_checkpoint(path)
    assert loaded.identity["sha256"] == file_sha256(path)
    assert loaded.identity["embed_dim"] == 128 and loaded.identity["checkpoint"] == str(path.resolve())
    texts = ["a red circle", "two squares"]
    np.testing.assert_allclose(loaded.embed_texts(texts), clip_embedder.embed_texts(texts), atol=1e-5)


def test_load_embedder_needs_exactly_one_source(tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        load_embedder()
    with pytest.raises(ValueError, match="exactly one"):
        load_embedder(tmp_path / "a.pt", model="tiny-vit")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_embedder(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="not a simclip run folder|a simclip run folder"):
        load_embedder(run=tmp_path)


def test_identity_must_be_complete(clip_embedder):
    with pytest.raises(ValueError, match="sha256"):
        ClipEmbedder(clip_embedder.model, clip_embedder.preprocess, clip_embedder.tokenizer,
                     {"model": "x", "embed_dim": 128})


def test_queries_are_embedded_without_their_padding_and_equal_the_padded_rows(clip_embedder):
    texts = ["red", "a large dark green triangle on grey", "circle"]
    tokens = clip_embedder.tokenizer(texts)
    trimmed = trim_padding(tokens)
    assert trimmed.shape[1] < tokens.shape[1] and torch.equal(trimmed, tokens[:, :trimmed.shape[1]])
    assert not tokens[:, trimmed.shape[1]:].any() and trimmed[:, -1].any()
    with torch.inference_mode():
        padded = clip_embedder.model.encode_text(tokens, normalize=True).numpy()
    np.testing.assert_allclose(clip_embedder.embed_texts(texts), padded, atol=1e-5)
    assert trim_padding(torch.zeros(2, 8, dtype=torch.long)).shape == (2, 1)
