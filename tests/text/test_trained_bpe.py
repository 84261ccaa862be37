"""A BPE tokenizer trained on one's captions: CLIP's call signature, saved and loaded exactly."""

from __future__ import annotations

import pytest
import torch

from simclip.text import (BPETokenizer, TextTokenizer, Tokenizer, clean_text, get_tokenizer,
                          load_bpe_tokenizer, train_bpe_tokenizer)
from simclip.text.clip_tokenizer import _WORD_PATTERN

CAPTIONS = [f"a photo of a {c} {a}" for c in ["cat", "dog", "bird", "horse", "truck"]
            for a in ["sitting", "running", "on the grass", "in the city", "at night"]] * 4


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> BPETokenizer:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    return train_bpe_tokenizer(CAPTIONS, vocab_size=300, out_path=path)


def test_vocabulary_and_special_ids(trained):
    assert 258 <= trained.vocab_size <= 300
    assert trained.eot_token_id == trained.vocab_size - 1  # the largest id: the text tower pools there
    assert trained.sot_token_id == trained.vocab_size - 2
    assert isinstance(trained, TextTokenizer) and isinstance(Tokenizer(), TextTokenizer)


def test_merges_are_learned(trained):
    # frequent words become single tokens; an unseen word falls back to its word marker and bytes
    assert len(trained.encode("photo")) == 1
    assert len(trained.encode("zyx")) == 4


def test_call_signature_and_packing(trained):
    out = trained(["A photo of a CAT", "x " * 200], context_length=20)
    assert out.shape == (2, 20) and out.dtype == torch.long
    assert out[0, 0] == trained.sot_token_id
    assert out[1, -1] == trained.eot_token_id
    n = len(trained.encode("A photo of a CAT"))
    assert out[0, n + 1] == trained.eot_token_id and (out[0, n + 2:] == 0).all()
    with pytest.raises(ValueError, match="text 1"):
        trained(["ok", "x " * 200], truncate="error")


@pytest.mark.parametrize("text", ["a photo of a cat", "Unseen WORDS, 東京 😀 &amp; 42!", ""])
def test_round_trip(trained, text):
    words = _WORD_PATTERN.findall(clean_text(text))
    assert trained.decode(trained.encode(text)) == " ".join(words)
    assert trained.decode(trained(text)[0]) == " ".join(words)


def test_special_token_text_is_plain(trained):
    assert trained.eot_token_id not in trained.encode("<end_of_text>")


def test_save_and_load_give_same_ids(trained):
    loaded = load_bpe_tokenizer(trained.path)
    texts = ["a photo of a dog at night", "something else entirely, 123"]
    assert torch.equal(loaded(texts), trained(texts))
    assert loaded.vocab_size == trained.vocab_size
    assert torch.equal(get_tokenizer(trained.path)(texts), trained(texts))
    assert isinstance(get_tokenizer("clip"), Tokenizer)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="vocab_size"):
        train_bpe_tokenizer(CAPTIONS, vocab_size=100, out_path=tmp_path / "t.json")
    with pytest.raises(ValueError, match="captions is empty"):
        train_bpe_tokenizer([], vocab_size=300, out_path=tmp_path / "t.json")
    with pytest.raises(TypeError, match="captions"):
        train_bpe_tokenizer("one string", vocab_size=300, out_path=tmp_path / "t.json")
    with pytest.raises(FileNotFoundError, match="missing"):
        train_bpe_tokenizer(CAPTIONS, vocab_size=300, out_path=tmp_path / "missing" / "t.json")
    with pytest.raises(FileNotFoundError, match="none.json"):
        load_bpe_tokenizer(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_bpe_tokenizer(bad)
    with pytest.raises(TypeError, match="tokenizer spec"):
        get_tokenizer(3)
