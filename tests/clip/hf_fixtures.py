"""Tiny random Hugging Face models saved to a folder (config, weights, tokenizer): no download."""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = ["a", "photo", "of", "the", "cat", "dog", "red", "circle", "number", "three", "seven", "handwritten"]
SIZES = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=128)


def save_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """A 2-layer BERT of width 32 with a WordPiece vocabulary of the test words."""
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    vocab += [f"[unused{i}]" for i in range(SIZES["vocab_size"] - len(vocab))]
    transformers.BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(folder)
    torch.manual_seed(seed)
    model = transformers.BertModel(transformers.BertConfig(**SIZES, pad_token_id=0))
    model.save_pretrained(folder)
    return folder


def save_tiny_config(folder: Path, kind: str, seed: int = 0) -> Path:
    """A 2-layer random ``kind`` ("roberta", "gpt2") model folder: config and weights, no tokenizer."""
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if kind == "roberta":
        config = transformers.RobertaConfig(**{**SIZES, "max_position_embeddings": 130}, pad_token_id=1)
        model = transformers.RobertaModel(config, add_pooling_layer=True)
    else:
        config = transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=2, n_positions=128)
        model = transformers.GPT2Model(config)
    model.save_pretrained(folder)
    return folder
