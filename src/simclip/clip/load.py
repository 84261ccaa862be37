"""``load``: a CLIP checkpoint (OpenAI, OpenCLIP or simclip) -> ``(model, preprocess)``, exactly.

The architecture comes from the tensor shapes; the activation, which shapes cannot show, from the
caller, the file itself, or an OpenCLIP config next to it, in that order. A simclip training run
(its folder, or any weights file in it) says both in its ``config.json``. Building GELU for weights
trained with QuickGELU shifts every feature (OpenCLIP issue #771), so an undecidable case warns.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from simclip.clip.checkpoint_io import RawCheckpoint, read_checkpoint
from simclip.clip.config import CLIPConfig
from simclip.clip.convert import to_simclip_layout
from simclip.clip.infer import infer_config
from simclip.clip.model import CLIP
from simclip.clip.open_clip_hf import check_text_cfg, infer_hf_config, to_simclip_hf_keys, uses_hf_text
from simclip.clip.preprocess import ImagePreprocess
from simclip.clip.run_files import find_run_files

# OpenCLIP settings that change the computation without changing parameter names, with the value
# this implementation computes; any other value is refused rather than silently ignored.
_OPEN_CLIP_FIXED = {
    "vision_cfg": {"attentional_pool": False, "no_ln_pre": False,
                   "final_ln_after_pool": False, "pool_type": "tok", "pos_embed_type": "learnable",
                   "act_kwargs": None, "norm_kwargs": None, "ls_init_value": None,
                   "block_type": None, "qk_norm": False, "scaled_cosine_attn": False,
                   "scale_heads": False, "scale_attn_inner": False, "scale_attn": False,
                   "scale_fc": False},
    "text_cfg": {"pool_type": "argmax", "no_causal_mask": False,
                 "embed_cls": False, "proj_bias": False, "proj_type": "linear",
                 "final_ln_after_pool": False, "act_kwargs": None, "norm_kwargs": None,
                 "ls_init_value": None, "block_type": None, "qk_norm": False,
                 "scaled_cosine_attn": False, "scale_heads": False, "scale_attn_inner": False,
                 "scale_attn": False, "scale_fc": False},
}


def load(source: str | Path | Mapping[str, Any], *, pretrained: str | None = None,
         quick_gelu: bool | None = None, config: CLIPConfig | None = None, device: str = "cpu",
         cache_dir: str | Path | None = None) -> tuple[CLIP, ImagePreprocess]:
    """Load CLIP weights exactly and return ``(model in eval mode, preprocess)``.

    Args:
        source: a checkpoint file (OpenAI TorchScript ``.pt``, ``torch.save`` ``.pt``/``.bin``,
            ``.safetensors``), a state dict in memory, ``"hf-hub:org/name"``, with ``pretrained``
            a model name such as ``"ViT-B-32"``, or a ``simclip clip train`` run: its folder (the
            newest checkpoint) or any weights file in it. A run's ``config.json`` gives the
            architecture; a vocabulary it learned (``tokenizer.json``) is attached for
            :func:`get_tokenizer`.
        pretrained: a tag of :func:`list_pretrained` (``"openai"``, ``"laion2b_s34b_b79k"``, ...)
            naming released weights of ``source``, or a weights file. Resolved as the command line's
            ``--model NAME --pretrained TAG`` (:func:`resolve_pretrained`): names checked, the local
            cache (``cache_dir``, default ``$SIMCLIP_CACHE``) read first, a download only where
            allowed (not with ``SIMCLIP_OFFLINE`` or ``HF_HUB_OFFLINE`` set).
        quick_gelu: force the activation; by default the file (OpenAI archives: QuickGELU) or an
            ``open_clip_config.json`` beside it decides, else GELU with a warning.
        config: build this architecture instead of inferring it from shapes or taking the config a
            simclip checkpoint carries (see :func:`save`).
        device: where the model is put.

    Raises ``ValueError`` listing missing, unexpected and mis-shaped parameters, or naming a damaged
    file or an unknown model name or tag; ``FileNotFoundError`` for a missing file, or released
    weights neither cached nor downloadable (``WeightsNotFoundError``).
    """
    hint: bool | None = None
    if pretrained is not None:
        from simclip.clip.pretrained import release_quick_gelu
        from simclip.clip.pretrained_names import resolve_pretrained

        if not isinstance(source, str):
            raise ValueError(f"pretrained={pretrained!r} needs a model name as the source, got "
                             f"{type(source).__name__}")
        hint = release_quick_gelu(source, pretrained)
        source = resolve_pretrained(source, pretrained, cache_dir)
    elif isinstance(source, str) and source.startswith("hf-hub:"):
        from simclip.clip.pretrained import download_pretrained

        source, hint = download_pretrained(source, None, cache_dir=cache_dir)
    run = find_run_files(Path(source)) if isinstance(source, (str, Path)) else None
    raw = read_checkpoint(run.weights if run is not None else source)
    if run is not None and config is None and raw.clip_config is None:
        config = run.config  # a training checkpoint holds weights only: its run knows the rest
    state = to_simclip_layout(raw.state_dict)
    _check_open_clip_config((raw.open_clip_config or {}).get("model_cfg", {}), raw.origin)
    config = _resolve_config(raw, state, config, quick_gelu, hint)
    if config.text.kind == "hf":
        state = to_simclip_hf_keys(state)  # OpenCLIP's HFTextEncoder names the model "transformer"
    with torch.device("meta"):  # no random initialisation: every value comes from the checkpoint
        model = CLIP(config)
    model = model.to_empty(device="cpu")
    for module in model.modules():  # derived buffers (position ids, ...) are not in a state dict
        restore = getattr(module, "restore_buffers_", None)
        if callable(restore):
            restore()
    load_state_dict_exact(model, state, raw.origin)
    model = model.to(device).eval()
    if run is not None and run.tokenizer is not None:
        from simclip.text import load_bpe_tokenizer

        model.run_tokenizer = load_bpe_tokenizer(run.tokenizer, context_length=config.text.context_length)
    return model, ImagePreprocess(model.preprocess_cfg)


def _resolve_config(raw: RawCheckpoint, state: dict[str, torch.Tensor], config: CLIPConfig | None,
                    quick_gelu: bool | None, hint: bool | None) -> CLIPConfig:
    """The caller's config, else the one the checkpoint carries, else one inferred from the shapes;
    with the activation :func:`decide_quick_gelu` picks."""
    if config is None and raw.clip_config is not None:
        try:
            config = CLIPConfig.from_dict(raw.clip_config)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{raw.origin}: the CLIP config stored in it is invalid: {err}") from None
        if raw.quick_gelu_in_file is None:
            raw.quick_gelu_in_file = config.quick_gelu  # the config inside the file is the file's word
    act = decide_quick_gelu(quick_gelu, raw, hint, fallback=None if config is None else config.quick_gelu)
    if config is None and uses_hf_text(raw.open_clip_config):
        return infer_hf_config(state, act, raw.open_clip_config or {})
    if config is None:
        return infer_config(state, act, raw.open_clip_config)
    return config if config.quick_gelu == act else config.with_overrides(quick_gelu=act)


def decide_quick_gelu(explicit: bool | None, raw: RawCheckpoint, hint: bool | None = None,
                      fallback: bool | None = None) -> bool:
    """QuickGELU or GELU: the caller's choice, else the file's own evidence, else the release table's
    (``hint``), else ``open_clip_config.json`` (``model_cfg.quick_gelu``, absent meaning GELU as in
    OpenCLIP), else ``fallback`` (a config the caller gave), else GELU with a warning.
    Disagreements with the caller's choice warn."""
    in_file = raw.quick_gelu_in_file
    in_config = None
    if raw.open_clip_config is not None and "model_cfg" in raw.open_clip_config:
        in_config = bool(raw.open_clip_config["model_cfg"].get("quick_gelu", False))
    evidence = next((e for e in (in_file, hint, in_config) if e is not None), None)
    if explicit is not None:
        if evidence is not None and evidence != explicit:
            warnings.warn(f"{raw.origin} was trained with {_name(evidence)} but quick_gelu={explicit} "
                          f"builds {_name(explicit)}; features will differ from the original",
                          stacklevel=3)
        return bool(explicit)
    if in_file is not None and in_config is not None and in_file != in_config:
        warnings.warn(f"{raw.origin}: the file uses {_name(in_file)} but open_clip_config.json says "
                      f"{_name(in_config)}; using the file's", stacklevel=3)
    if evidence is None and fallback is not None:
        return fallback
    if evidence is None:
        warnings.warn(f"cannot tell whether {raw.origin} was trained with QuickGELU or GELU; building "
                      f"GELU. Pass quick_gelu=True for weights trained with QuickGELU (OpenAI's, "
                      f"OpenCLIP '-quickgelu' models)", stacklevel=3)
        return False
    return evidence


def _name(quick_gelu: bool) -> str:
    return "QuickGELU" if quick_gelu else "GELU"


def _check_open_clip_config(model_cfg: dict[str, Any], origin: str) -> None:
    refused = []
    if (model_cfg.get("text_cfg") or {}).get("hf_model_name"):  # its own settings, checked there
        check_text_cfg(model_cfg["text_cfg"], origin)
        model_cfg = {k: v for k, v in model_cfg.items() if k != "text_cfg"}
    for tower, fixed in _OPEN_CLIP_FIXED.items():
        for key, value in (model_cfg.get(tower) or {}).items():
            if key in fixed and value != fixed[key] and not (value in (None, False) and
                                                               fixed[key] in (None, False)):
                refused.append(f"{tower}.{key}={value!r}")
    if refused:
        raise ValueError(f"{origin}: the OpenCLIP config uses settings this CLIP does not implement: "
                         f"{', '.join(refused)}")


def load_state_dict_exact(model: CLIP, state: dict[str, torch.Tensor], origin: str) -> None:
    """Copy ``state`` (simclip layout) into ``model``; every parameter and buffer must be present with
    its shape. Batch-norm step counters may be absent (they do not affect the forward pass)."""
    own = model.state_dict()
    state = dict(state)
    for key in own:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    if "logit_scale" in state and state["logit_scale"].numel() == 1:
        state["logit_scale"] = state["logit_scale"].reshape(own["logit_scale"].shape)
    if "logit_bias" in state and "logit_bias" in own and state["logit_bias"].numel() == 1:
        state["logit_bias"] = state["logit_bias"].reshape(own["logit_bias"].shape)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in set(own) & set(state) if state[k].shape != own[k].shape)
    if missing or unexpected or shapes:
        parts = [f"{label} ({len(items)}): {', '.join(items[:20])}{' ...' if len(items) > 20 else ''}"
                 for label, items in (("missing", missing), ("unexpected", unexpected),
                                      ("shape mismatch", shapes)) if items]
        raise ValueError(f"checkpoint {origin} does not fit the model: " + "; ".join(parts))
    non_float = [k for k, v in state.items() if own[k].is_floating_point() and not v.is_floating_point()]
    if non_float:
        raise ValueError(f"checkpoint {origin}: non-float values for float parameters: {non_float[:10]}")
    model.load_state_dict(state, strict=True)
