"""A generator run on disk: ``config.json`` (the :class:`GeneratorTrainConfig`, resolved) and
``generator.safetensors`` (weights and BatchNorm statistics), read back by :func:`load_generator`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from simclip.generate.config import ConfigError, GeneratorTrainConfig
from simclip.generate.model import Generator

CONFIG_FILE, WEIGHTS_FILE = "config.json", "generator.safetensors"


def save_generator(model: Generator, cfg: GeneratorTrainConfig, out: str | Path) -> Path:
    """Write ``cfg`` and ``model``'s weights into the folder ``out`` (atomically); returns the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = out / (WEIGHTS_FILE + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, out / WEIGHTS_FILE)
    (out / CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    return out


def load_generator(run: str | Path, device: str = "cpu") -> Generator:
    """The generator of a ``simclip generator train`` run folder, in eval mode."""
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"generator run {run} is not a folder")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run} is not a generator run: {name} is missing")
    try:
        raw = json.loads((run / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{run / CONFIG_FILE} is not valid JSON: {err}") from None
    cfg = GeneratorTrainConfig.from_dict(raw)
    model = Generator(cfg.generator)
    state = load_file(str(run / WEIGHTS_FILE))
    if "latent_bank" in state:  # its length is the number of training images kept
        model.latent_bank = torch.empty_like(state["latent_bank"])
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # a tensor of the wrong shape
        raise ConfigError(f"{run / WEIGHTS_FILE} does not fit {run / CONFIG_FILE}: "
                          f"{str(err).splitlines()[-1].strip()}") from None
    if missing or unexpected:
        raise ConfigError(f"{run / WEIGHTS_FILE} does not fit {run / CONFIG_FILE}: missing "
                          f"{sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}")
    return model.to(device).eval()
