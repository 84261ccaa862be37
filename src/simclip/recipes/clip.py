"""CLIP runs: image-caption data -> a named dual encoder -> the CLIP (or SigLIP) objective -> the loop,
with zero-shot and retrieval evaluation (:func:`simclip.eval.evaluate`) on the test split."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch

from simclip.augment import create_policy
from simclip.clip import CLIP, create_model, get_tokenizer, preprocess_tensor, save
from simclip.clip.config import CLIPConfig
from simclip.data import load_caption_dataset
from simclip.eval import evaluate
from simclip.train import OptimConfig, TrainConfig, train
from simclip.train.checkpoint import load_checkpoint, load_weights_into
from simclip.train.config import ConfigError, check_protocols, read_run_config
from simclip.train.distributed import setup as setup_distributed
from simclip.train.objectives import CLIPObjective
from simclip.train.objectives.config import CLIPObjectiveConfig

# Keys of TrainConfig.objective understood by CLIP, with their defaults (CLIPObjectiveConfig's).
OBJECTIVE_DEFAULTS: dict[str, Any] = CLIPObjectiveConfig().to_dict()
TOKENIZER_FILE = "tokenizer.json"  # a BPE vocabulary learned from the run's own captions
EVAL_PROTOCOLS = ("zeroshot", "retrieval")
LOCK_KEYS = ("lock_image", "lock_text")  # model options applied after the model is built
IMAGE_WEIGHTS_KEY = "image_tower_weights"  # the image tower's encoder starts from this file (or hf-hub:)


def clip_config(**overrides: Any) -> TrainConfig:
    """A bare CLIP TrainConfig (no recipe applied; see :func:`simclip.recipes.resolve_config`): AdamW
    (beta2 0.98, eps 1e-6, weight decay 0.2 on weights only), lr 5e-4 without batch scaling, warm-up
    then cosine decay (Radford et al. 2021, Table 19)."""
    cfg = TrainConfig(method="clip", out="runs/clip", data="shapes", model={"name": "tiny-vit"},
                      optim=OptimConfig(name="adamw", lr=5e-4, lr_scaling="none", weight_decay=0.2,
                                        betas=(0.9, 0.98), eps=1e-6, warmup_fraction=0.1),
                      eval_protocols=EVAL_PROTOCOLS)
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise ConfigError(f"unknown config field {key!r}")
        setattr(cfg, key, value)
    return cfg


def build_model(model_cfg: dict[str, Any]) -> CLIP:
    """``{"name": NAME, **overrides}`` (a named architecture) or ``{"config": CLIPConfig dict}``;
    ``lock_image`` / ``lock_text`` (booleans) freeze that tower as in LiT (Zhai et al. 2022), see
    :meth:`CLIP.lock_image_tower` and :meth:`CLIP.lock_text_tower`."""
    cfg = dict(model_cfg)
    locks = {key: cfg.pop(key, False) for key in LOCK_KEYS}
    cfg.pop(IMAGE_WEIGHTS_KEY, None)  # read once, by run_clip, when a new run starts
    for key, value in locks.items():
        if not isinstance(value, bool):
            raise ConfigError(f"model.{key} must be true or false, got {value!r}")
    if "config" in cfg:
        model = CLIP(CLIPConfig.from_dict(cfg["config"]))
    else:
        name = cfg.pop("name", None)
        if name is None:
            raise ConfigError("model.name is required for a clip run (see 'simclip clip models')")
        model = create_model(name, **cfg)
    if locks["lock_image"]:
        model.lock_image_tower()
    if locks["lock_text"]:
        model.lock_text_tower()
    return model


def tokenizer_for(model: CLIP) -> Callable[[list[str]], torch.Tensor]:
    """The tokenizer that matches the model's text tower: :func:`simclip.clip.get_tokenizer`."""
    return get_tokenizer(model)


def build_clip(cfg: TrainConfig, dataset) -> tuple[CLIP, CLIPObjective]:
    """The model and objective for ``cfg``, with the resolved settings written back into ``cfg``."""
    obj = CLIPObjectiveConfig.from_dict(cfg.objective)
    run_tokenizer = _run_tokenizer(obj.bpe_vocab_size, Path(cfg.out), dataset)
    if run_tokenizer is not None:  # the text tower's vocabulary is the learned one
        cfg.model = {**cfg.model, "text": {**cfg.model.get("text", {}), "vocab_size": run_tokenizer.vocab_size}}
    model = build_model(cfg.model)
    model.run_tokenizer = run_tokenizer
    if dataset.channels not in (1, 3):
        raise ConfigError(f"{cfg.data} has {dataset.channels} channels; CLIP needs 1 or 3")
    cfg.objective = obj.to_dict()
    augment = None
    if obj.policy:
        augment = create_policy(obj.policy, size=dataset.image_size, channels=dataset.channels,
                                **obj.policy_options)
    info = setup_distributed(cfg.device)
    pre = model.preprocess_cfg
    objective = CLIPObjective(tokenizer_for(model), lambda x: preprocess_tensor(x, pre), loss=obj.loss,
                              augment=augment, seed=cfg.seed + 7919 * info.rank,
                              distributed=info.enabled, channels_last=cfg.channels_last)
    return model, objective


def _run_tokenizer(vocab_size: int | None, run_dir: Path, dataset):
    """None (``objective.tokenizer`` ``"clip"``): CLIP's vocabulary. ``N`` (``"bpe:N"``): a byte-level
    BPE of at most N ids learned from the training captions and saved as ``RUN/tokenizer.json``
    (reused when it exists)."""
    from simclip.text import load_bpe_tokenizer, train_bpe_tokenizer

    if vocab_size is None:
        return None
    path = run_dir / TOKENIZER_FILE
    if path.exists():
        return load_bpe_tokenizer(path)
    captions = getattr(dataset, "captions", None)
    if captions is None:
        raise ConfigError("a BPE tokenizer is learned from in-memory captions; this dataset streams")
    run_dir.mkdir(parents=True, exist_ok=True)
    return train_bpe_tokenizer([c for caps in captions for c in caps], vocab_size, path)


def eval_options(protocols: tuple[str, ...] | list[str], templates: list[str] | None) -> dict[str, Any]:
    """:func:`simclip.eval.evaluate`'s options for a run's ``eval_protocols`` and prompt templates
    (``objective.templates``; None: the test set's own)."""
    return {"zeroshot": {"templates": templates}} if templates and "zeroshot" in protocols else {}


def run_clip(cfg: TrainConfig, resume: bool = False, dataset=None) -> dict[str, Any]:
    """Train CLIP as ``cfg`` says; the final model is also written as ``RUN/model.safetensors``
    (readable by :func:`simclip.clip.load`). ``dataset``: the training split when already loaded."""
    cfg.validate()
    check_protocols(cfg.eval_protocols, EVAL_PROTOCOLS)
    CLIPObjectiveConfig.from_dict(cfg.objective)  # before any data is read
    if dataset is None:
        dataset = load_caption_dataset(cfg.data, split="train", strict=cfg.strict)
    torch.manual_seed(cfg.seed)  # the model's initial weights are part of the seeded run
    model, objective = build_clip(cfg, dataset)
    if not resume and cfg.init_from:  # a resumed run reloads its own checkpoint instead
        from simclip.recipes.init_from import init_weights_

        init_weights_(model, "clip", cfg.init_from)
    if not resume and cfg.model.get(IMAGE_WEIGHTS_KEY):
        _load_image_tower_weights(model, cfg.model[IMAGE_WEIGHTS_KEY])
    run_eval = None
    if cfg.eval_protocols:
        test = load_caption_dataset(cfg.data, split="test", strict=cfg.strict)

        def run_eval(m: CLIP) -> dict[str, float]:
            return evaluate(m, cfg.eval_protocols, test=test, device=cfg.device,
                            options=eval_options(cfg.eval_protocols, cfg.objective.get("templates")))
    result = train(cfg, model, objective, dataset, evaluate=run_eval, resume=resume)
    if setup_distributed(cfg.device).is_main:
        save(model, Path(cfg.out) / "model.safetensors")
    return result


def _load_image_tower_weights(model: CLIP, source: str) -> None:
    """Start the image tower's encoder (``--image-tower ENCODER``) from the weights ``source`` names."""
    from simclip.models.weights import load_encoder_weights

    encoder = getattr(model.visual, "encoder", None)
    if not isinstance(encoder, torch.nn.Module):
        raise ConfigError(f"model.{IMAGE_WEIGHTS_KEY} needs an encoder image tower (--image-tower ENCODER), "
                          f"not vision.kind={model.config.vision.kind!r}")
    load_encoder_weights(encoder, source)


def load_clip_run(run_dir: str | Path, device: str = "cpu") -> tuple[CLIP, TrainConfig]:
    """The trained model of a CLIP run (its newest checkpoint) and the run's config."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir, "clip")
    model = build_model(cfg.model)
    if (run_dir / TOKENIZER_FILE).exists():
        from simclip.text import load_bpe_tokenizer

        model.run_tokenizer = load_bpe_tokenizer(run_dir / TOKENIZER_FILE)
    weights, _, step = load_checkpoint(run_dir)
    load_weights_into(model, weights, f"checkpoint step {step} of {run_dir}")
    return model.to(device).eval(), cfg


def load_clip_model(run: str | Path | None = None, checkpoint: str | Path | None = None,
                    device: str = "cpu") -> CLIP:
    """A CLIP model from a training run folder or from any checkpoint :func:`simclip.clip.load` reads
    (OpenAI TorchScript, OpenCLIP or simclip files)."""
    if run is not None and checkpoint is None:
        return load_clip_run(run, device)[0]
    if checkpoint is None or run is not None:
        raise ValueError("give exactly one of --run RUN or --checkpoint FILE")
    from simclip.clip import load

    model, _ = load(checkpoint, device=device)
    return model.eval()
