"""CLIP tokenizer: token-exact against OpenCLIP's reference on hostile text, round trips, truncation."""

from __future__ import annotations

import gzip

import open_clip
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simclip.text import Tokenizer, clean_text
from simclip.text.clip_tokenizer import _WORD_PATTERN

HOSTILE = [
    "",
    " ",
    "\t\n  \r\n\u3000\u00a0",
    "a photo of a cat",
    "A   PHOTO\tof\n\na Cat.",
    "café naïve façade Ångström déjà-vu",
    "東京タワーの写真",  # CJK
    "한국어 문장입니다",
    "مرحبا بالعالم",  # RTL Arabic
    "שלום עולם",  # RTL Hebrew
    "\u202eevil\u202c override",  # bidi control characters
    "😀👍🏽👨‍👩‍👧‍👦 🇫🇷 emoji",
    "Tom &amp; Jerry &lt;b&gt; &amp;amp; &#39;quoted&#39; &quot;x&quot; &nbsp;",
    "Ã©tÃ© mojibake",  # ftfy repairs this
    "don't won't it's we're they've I'm you'll he'd",
    "3.14159 1,000,000 2024-01-01 #hashtag @user",
    "http://example.com/a?b=c&d=e",
    "zero\u200bwidth joiner\u200d",
    "combining e\u0301 and n\u0303",
    "ﬁ ligature ＦＵＬＬＷＩＤＴＨ",
    "word " * 100,  # longer than the context: truncated
    "supercalifragilisticexpialidocious" * 20,
    "!!!???...,,,;;;",
    "\x00\x01\x07 control",
]


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer()


def test_vocabulary_shape(tok):
    assert tok.vocab_size == 49408
    assert (tok.sot_token_id, tok.eot_token_id) == (49406, 49407)
    assert tok.context_length == 77


@pytest.mark.parametrize("text", HOSTILE)
def test_matches_reference_on_hostile_text(tok, text):
    assert torch.equal(tok(text), open_clip.tokenize(text))
    assert tok.encode(text) == open_clip.tokenizer._tokenizer.encode(text)


def test_batch_and_other_context_length(tok):
    out = tok(HOSTILE, context_length=16)
    assert out.shape == (len(HOSTILE), 16) and out.dtype == torch.long
    assert torch.equal(out, open_clip.tokenize(HOSTILE, context_length=16))


_FRAGMENTS = st.sampled_from(["&amp;", "&lt;", "&#39;", "'s", "'ll", "  ", "\t", "\n", "é", "ß",
                              "東", "😀", "🏽", "\u200d", "1", "42", ".", "-", "Ã©", "\u0301"])
_TEXT = st.lists(st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
                           _FRAGMENTS), max_size=12).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_property_same_ids_as_reference(text):
    tok = _shared()
    assert tok.encode(text) == open_clip.tokenizer._tokenizer.encode(text)


@settings(max_examples=150, deadline=None)
@given(_TEXT)
def test_property_decode_inverts_encode_on_cleaned_words(text):
    # decode(encode(x)) gives the cleaned text's words (CLIP's pre-tokenization) joined by spaces.
    tok = _shared()
    words = _WORD_PATTERN.findall(clean_text(text))
    assert tok.decode(tok.encode(text)) == " ".join(words)


_TOK: list[Tokenizer] = []


def _shared() -> Tokenizer:
    if not _TOK:
        _TOK.append(Tokenizer())
    return _TOK[0]


def test_decode_packed_row_stops_at_end_token(tok):
    row = tok("Hello,   World!")[0]
    assert tok.decode(row) == "hello , world !"
    assert tok.decode(row.tolist()) == "hello , world !"


def test_truncate_end_keeps_end_token_last(tok):
    text = "word " * 100
    row = tok(text, truncate="end")[0]
    assert row[0] == tok.sot_token_id and row[-1] == tok.eot_token_id
    assert (row[1:-1] == tok.encode("word")[0]).all()
    # exactly full: 75 words + start + end fit without truncation
    fits = tok("word " * 75, truncate="error")[0]
    assert fits[-1] == tok.eot_token_id


def test_truncate_error_names_text_and_length(tok):
    with pytest.raises(ValueError, match=r"text 1 is 102 tokens long.*context_length=77"):
        tok(["short", "word " * 100], truncate="error")


def test_special_token_text_is_not_injected(tok):
    # The reference maps the literal string to the end id (49407); here it stays plain text, so the
    # text tower still pools at the real end of the caption.
    ids = tok.encode("a <end_of_text> b")
    assert tok.eot_token_id not in ids and tok.sot_token_id not in ids
    assert tok.decode(ids) == "a < end _ of _ text > b"
    assert tok.eot_token_id in open_clip.tokenizer._tokenizer.encode("a <end_of_text> b")


@pytest.mark.parametrize("bad, match", [(None, "texts must be"), ([1, 2], r"texts\[0\] must be a str"),
                                        (b"bytes", "texts must be"), (["ok", None], r"texts\[1\]")])
def test_bad_texts(tok, bad, match):
    with pytest.raises(TypeError, match=match):
        tok(bad)


def test_any_iterable_of_texts(tok):
    assert torch.equal(tok(("a", "b")), tok(["a", "b"]))
    assert torch.equal(tok(t for t in ["a", "b"]), tok(["a", "b"]))


def test_bad_options(tok):
    with pytest.raises(ValueError, match="truncate"):
        tok("x", truncate="start")
    with pytest.raises(ValueError, match="context_length"):
        tok("x", context_length=1)
    with pytest.raises(ValueError, match="token id 49408"):
        tok.decode([49408])
    with pytest.raises(TypeError, match="integers"):
        tok.decode([1.5])
    with pytest.raises(TypeError, match="str"):
        tok.encode(b"bytes")


def test_missing_and_corrupt_vocab_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt.gz"):
        Tokenizer(tmp_path / "nope.txt.gz")
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="bad.txt.gz"):
        Tokenizer(bad)
    short = tmp_path / "short.txt.gz"
    with gzip.open(short, "wt") as f:
        f.write("#version\na b\n")
    with pytest.raises(ValueError, match="short.txt.gz"):
        Tokenizer(short)
