"""Tokenizers: CLIP's byte-level BPE (token-exact with the reference) and BPE trained on one's captions."""

from simclip.text.cleaning import clean_text
from simclip.text.clip_tokenizer import Tokenizer, default_vocab_path
from simclip.text.packing import pack_token_ids
from simclip.text.protocol import TextTokenizer, get_tokenizer
from simclip.text.trained_bpe import BPETokenizer, load_bpe_tokenizer, train_bpe_tokenizer

__all__ = ["BPETokenizer", "TextTokenizer", "Tokenizer", "clean_text", "default_vocab_path",
           "get_tokenizer", "load_bpe_tokenizer", "pack_token_ids", "train_bpe_tokenizer"]
