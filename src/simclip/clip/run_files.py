"""The files of a ``simclip clip train`` run that :func:`~simclip.clip.load` needs.

A run folder holds ``config.json`` (the resolved training config: its ``"model"`` entry names the
architecture), ``checkpoints/step-NNNNNNNN.safetensors`` (weights only, no config inside, the newest
named by ``checkpoints/latest.json``), ``model.safetensors`` once training finished (weights with
their config) and, for a run that learned its own vocabulary, ``tokenizer.json``. A checkpoint file
alone cannot say its architecture's activation or its vocabulary: the run folder around it can.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simclip.clip.config import CLIPConfig
from simclip.clip.factory import get_model_config

RUN_CONFIG = "config.json"
RUN_TOKENIZER = "tokenizer.json"
FINAL_WEIGHTS = "model.safetensors"
CHECKPOINTS = "checkpoints"
_STEP = re.compile(r"^step-(\d{8})\.safetensors$")
_TRAINING_ONLY = ("lock_image", "lock_text")  # model options of training, not of the architecture


@dataclass
class RunFiles:
    """``weights``: the file to read; ``config``: the architecture from ``config.json``;
    ``tokenizer``: the run's learned vocabulary, if it has one."""

    run_dir: Path
    weights: Path
    config: CLIPConfig
    tokenizer: Path | None


def find_run_files(source: Path) -> RunFiles | None:
    """The run that ``source`` is (a run folder) or belongs to (its ``model.safetensors`` or one of
    its checkpoints); None for a file outside any simclip CLIP run."""
    if source.is_dir():
        run_dir, weights = source, None
        if not (run_dir / RUN_CONFIG).is_file():
            raise FileNotFoundError(f"{source} is a folder without {RUN_CONFIG}: not a simclip run "
                                    f"folder; give a checkpoint file or a run folder")
    elif source.is_file():
        weights = source
        parents = [source.parent] + ([source.parent.parent] if source.parent.name == CHECKPOINTS else [])
        found = next((p for p in parents if _run_config(p / RUN_CONFIG) is not None), None)
        if found is None:
            return None
        run_dir = found
    else:
        return None
    data = _run_config(run_dir / RUN_CONFIG)
    if data is None:
        raise ValueError(f"{run_dir / RUN_CONFIG} is not the config of a simclip run")
    if data.get("method") != "clip":
        raise ValueError(f"{run_dir} is a {data.get('method')!r} run, not a CLIP run; load a SimCLR "
                         f"run with simclip.recipes.load_simclr_run")
    tokenizer = run_dir / RUN_TOKENIZER
    return RunFiles(run_dir, weights or newest_weights(run_dir), run_model_config(data["model"], run_dir),
                    tokenizer if tokenizer.is_file() else None)


def newest_weights(run_dir: Path) -> Path:
    """The newest checkpoint's weights (``latest.json``, else the highest step), else the final
    ``model.safetensors``."""
    ckpt_dir = run_dir / CHECKPOINTS
    try:
        step = int(json.loads((ckpt_dir / "latest.json").read_text(encoding="utf-8"))["step"])
        latest = ckpt_dir / f"step-{step:08d}.safetensors"
    except (OSError, ValueError, KeyError, TypeError):
        latest = None
    if latest is not None and latest.is_file():
        return latest
    steps = sorted(ckpt_dir.glob("step-*.safetensors")) if ckpt_dir.is_dir() else []
    steps = [p for p in steps if _STEP.match(p.name)]
    if steps:
        return steps[-1]  # zero-padded step numbers sort as numbers
    if (run_dir / FINAL_WEIGHTS).is_file():
        return run_dir / FINAL_WEIGHTS
    raise FileNotFoundError(f"{run_dir} is a run folder without weights yet (no {CHECKPOINTS}/step-*."
                            f"safetensors, no {FINAL_WEIGHTS})")


def run_model_config(model: Any, run_dir: Path) -> CLIPConfig:
    """The architecture a run's ``"model"`` entry describes: ``{"name": NAME, **overrides}`` or
    ``{"config": CLIPConfig dict}`` (training-only options such as ``lock_text`` are ignored)."""
    if not isinstance(model, dict):
        raise ValueError(f"{run_dir / RUN_CONFIG}: 'model' must be an object, got {model!r}")
    fields = {k: v for k, v in model.items() if k not in _TRAINING_ONLY}
    try:
        if "config" in fields:
            return CLIPConfig.from_dict(fields["config"])
        name = fields.pop("name", None)
        if name is None:
            raise ValueError("it names no architecture (model.name)")
        config = get_model_config(name)
        return config.with_overrides(**fields) if fields else config
    except (TypeError, ValueError) as err:
        raise ValueError(f"{run_dir / RUN_CONFIG}: the model it describes is invalid: {err}") from None


def _run_config(path: Path) -> dict[str, Any] | None:
    """``config.json`` of a simclip run, or None for any other file (a Hugging Face
    ``config.json`` beside downloaded weights, say)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(data, dict) and "method" in data and "model" in data and "optim" in data:
        return data
    return None
