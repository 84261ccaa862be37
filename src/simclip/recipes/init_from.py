"""Starting a new run from the weights of an earlier one (``--init-from``): fine-tuning, or a
second stage, with a fresh optimiser, schedule and step counter.

The source is a run folder of the same method (its newest checkpoint), one checkpoint file of such
a run (``RUN/checkpoints/step-N.safetensors``), or, for CLIP, any weights file
:func:`simclip.clip.load` reads (OpenAI, OpenCLIP, simclip; ``--model NAME --pretrained TAG``
names a released one). The architecture is the source's: a new run's model flags must agree with it
or be left out; training-only model options (``lock_image``, ``lock_text``) stay the user's. The
source is recorded as the run's ``init_from`` in ``config.json``; a resumed run continues from its
own checkpoints and does not read it again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from simclip.train.config import ConfigError

TRAINING_ONLY = ("lock_image", "lock_text", "encoder_weights")  # model options that are not architecture
_STEP = re.compile(r"^step-(\d+)\.safetensors$")


def _source_run(source: Path) -> tuple[Path, int | None] | None:
    """``(run folder, step or None for the newest)`` when ``source`` is a run or one of its checkpoints."""
    if source.is_dir():
        return source, None
    match = _STEP.match(source.name)
    if match and source.parent.name == "checkpoints" and (source.parent.parent / "config.json").is_file():
        return source.parent.parent, int(match.group(1))
    return None


def source_model(method: str, source: str | Path) -> dict[str, Any]:
    """The architecture (the ``model`` section of a run config) that ``source`` holds."""
    from simclip.train.config import read_run_config

    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"--init-from {source}: no such run folder or weights file")
    run = _source_run(path)
    if run is not None:
        cfg = read_run_config(run[0])
        if cfg.method != method:
            raise ConfigError(f"--init-from {source} is a {cfg.method} run; a {method} run starts from a "
                              f"{method} run" + (" or CLIP weights" if method == "clip" else ""))
        if method == "clip" and (run[0] / "tokenizer.json").is_file():
            raise ConfigError(f"--init-from {source}: that run learned its own vocabulary (tokenizer.json); "
                              f"starting from it is not supported, resume it instead")
        return {k: v for k, v in cfg.model.items() if k not in TRAINING_ONLY}
    if method != "clip":
        raise ConfigError(f"--init-from {source}: a SimCLR run starts from a SimCLR run folder or one of "
                          f"its checkpoints (RUN/checkpoints/step-N.safetensors)")
    from simclip.clip import load

    return {"config": load(path)[0].config.to_dict()}


def source_weights(method: str, source: str | Path) -> dict[str, torch.Tensor]:
    """The state dict ``source`` holds (the newest checkpoint of a run folder)."""
    from simclip.train.checkpoint import load_checkpoint

    run = _source_run(Path(source))
    if run is not None:
        return load_checkpoint(run[0], run[1])[0]
    from simclip.clip import load

    return load(source)[0].state_dict()


def init_values(method: str, source: str, values: dict[str, Any]) -> dict[str, Any]:
    """The user's dotted config ``values`` with the architecture of ``source`` and ``init_from`` set;
    a model flag that contradicts the source is a :class:`ConfigError` naming both."""
    if values.get("model.encoder_weights"):
        raise ConfigError("--encoder-weights and --init-from both set the starting weights; give one")
    model = source_model(method, source)
    for key, value in values.items():
        if key == "model":
            if not isinstance(value, dict):
                continue
            clash = {k: v for k, v in value.items() if k not in TRAINING_ONLY and model.get(k) != v}
        elif key.startswith("model.") and key.split(".")[1] not in TRAINING_ONLY:
            node: Any = model
            for part in key.split(".")[1:]:
                node = node.get(part) if isinstance(node, dict) else None
            clash = {key[len("model."):]: value} if node != value else {}
        else:
            continue
        if clash:
            name, wanted = next(iter(clash.items()))
            has = model.get(name, "(not set)") if "." not in name else "a different value"
            raise ConfigError(f"model.{name}={wanted!r} does not match --init-from {source} (its model.{name} "
                              f"is {has!r}); the architecture comes from the checkpoint: leave the flag out")
    kept = {k: v for k, v in values.items() if not (k == "model" or k.startswith("model.")) or
            k.split(".")[-1] in TRAINING_ONLY}
    training = {k: v for k, v in values.items() if k == "model" and isinstance(v, dict)}
    model.update({k: v for d in training.values() for k, v in d.items() if k in TRAINING_ONLY})
    return {"model": model, **kept, "init_from": str(source)}  # the whole section first, then locks


def init_weights_(model: torch.nn.Module, method: str, source: str) -> None:
    """Copy the weights of ``source`` into the new run's ``model`` (every key, every shape)."""
    from simclip.train.checkpoint import load_weights_into

    load_weights_into(model, source_weights(method, source), f"--init-from {source}")


__all__ = ["init_values", "init_weights_", "source_model", "source_weights"]
