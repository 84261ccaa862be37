"""Typed training configuration: the single source of truth for a run, written to ``config.json``."""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from simclip.errors import SimclipError
from simclip.train.loggers import logger_names


class ConfigError(SimclipError, ValueError):
    """A configuration value is out of range; the message names the field."""


@dataclass
class OptimConfig:
    """Optimiser and schedule. ``lr`` is the learning rate at batch 256: the applied peak rate is
    ``lr * batch/256`` (``lr_scaling="linear"``, SimCLR sec. B.1) or ``lr * sqrt(batch)/16``
    (``"sqrt"``, better for small batches in the paper's Figure B.1) or ``lr`` itself (``"none"``)."""

    name: str = "lars"  # sgd | adamw | lars
    lr: float = 0.3
    lr_scaling: str = "linear"  # linear | sqrt | none
    weight_decay: float = 1e-6
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    trust_coefficient: float = 0.001  # LARS eta
    warmup_fraction: float = 0.1  # of the whole run (steps, or the time budget)
    min_lr_fraction: float = 0.0  # cosine decays to lr * min_lr_fraction
    clip_grad_norm: float | None = None

    def validate(self) -> None:
        if self.name not in ("sgd", "adamw", "lars"):
            raise ConfigError(f"optim.name must be sgd, adamw or lars, got {self.name!r}")
        if self.lr_scaling not in ("linear", "sqrt", "none"):
            raise ConfigError(f"optim.lr_scaling must be linear, sqrt or none, got {self.lr_scaling!r}")
        _positive("optim.lr", self.lr)
        _range("optim.weight_decay", self.weight_decay, 0.0, math.inf)
        _range("optim.warmup_fraction", self.warmup_fraction, 0.0, 1.0)
        _range("optim.min_lr_fraction", self.min_lr_fraction, 0.0, 1.0)
        if self.clip_grad_norm is not None:
            _positive("optim.clip_grad_norm", self.clip_grad_norm)

    def peak_lr(self, batch_size: int) -> float:
        if self.lr_scaling == "linear":
            return self.lr * batch_size / 256
        if self.lr_scaling == "sqrt":
            return self.lr * math.sqrt(batch_size) / 16
        return self.lr


@dataclass
class TrainConfig:
    """One training run. ``epochs`` bounds the run; ``time_budget`` (seconds), when set, ends it
    earlier at that wall-clock time with the schedule fitted to the budget."""

    out: str = "runs/simclr"
    data: str = "digits"
    method: str = "simclr"
    recipe: str | None = None  # the preset the run's values were resolved from (simclip.recipes)
    model: dict[str, Any] = field(default_factory=dict)
    objective: dict[str, Any] = field(default_factory=dict)
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_size: int = 256
    epochs: int = 10
    time_budget: float | None = None
    seed: int = 0
    device: str = "cpu"
    precision: str = "bf16"  # bf16 | fp32
    channels_last: bool = True
    compile: bool = False
    keep_freed_memory: bool = True  # glibc malloc settings: no page faults for each step's tensors
    overwrite: bool = False  # a new run where one already is: False refuses, True replaces it
    micro_batch: int | None = None  # gradient cache: embed in chunks of this many inputs
    log_every: int = 10
    eval_every: int = 0  # epochs; 0 = only at the end when eval_protocols are set
    eval_protocols: tuple[str, ...] = ()
    checkpoint_every: int = 200  # steps; a checkpoint is also written at every epoch end
    keep_checkpoints: int = 2
    max_bad_steps: int = 5  # consecutive non-finite losses before the run stops
    max_bad_fraction: float = 0.05  # skipped (undecodable) samples beyond which the run stops
    strict: bool = False  # any bad sample is an error
    progress: bool = True
    # experiment trackers beside metrics.jsonl (always written): tensorboard, wandb, mlflow;
    # None: tensorboard when it is installed (simclip.train.loggers)
    loggers: tuple[str, ...] | None = None
    init_from: str | None = None  # weights a new run started from (--init-from; simclip.recipes.init_from)

    def validate(self) -> None:
        _check_types(self)
        _check_types(self.optim, "optim.")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        _range("max_bad_fraction", self.max_bad_fraction, 0.0, 1.0)
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be at least 2 (contrastive losses need negatives), "
                              f"got {self.batch_size}")
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")
        if self.time_budget is not None:
            _positive("time_budget", self.time_budget)
        if self.precision not in ("bf16", "fp32"):
            raise ConfigError(f"precision must be bf16 or fp32, got {self.precision!r}")
        for name in ("log_every", "checkpoint_every", "keep_checkpoints", "max_bad_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.micro_batch is not None and self.micro_batch < 1:
            raise ConfigError(f"micro_batch must be at least 1, got {self.micro_batch}")
        if self.eval_every < 0:
            raise ConfigError(f"eval_every must be >= 0, got {self.eval_every}")
        self.optim.validate()
        logger_names(self.loggers)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"a config must be a JSON object of fields, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        d = dict(d)
        optim = d.pop("optim", {}) or {}
        if not isinstance(optim, dict):
            raise ConfigError(f"config field optim must be an object, got {type(optim).__name__}")
        bad = set(optim) - {f.name for f in fields(OptimConfig)}
        if bad:
            raise ConfigError(f"unknown optim field(s): {', '.join(sorted(bad))}")
        if isinstance(optim.get("betas"), list):
            optim["betas"] = tuple(optim["betas"])
        for key in ("eval_protocols", "loggers"):
            if isinstance(d.get(key), list):
                d[key] = tuple(d[key])
        return cls(optim=OptimConfig(**optim), **d)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8-sig")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(f"cannot read config {path}: {err}") from None


def read_run_config(run_dir: str | Path, method: str | None = None) -> TrainConfig:
    """The ``config.json`` of a run folder; ``method`` (``"simclr"``, ``"clip"``) when the caller
    needs a run of that kind."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a simclip run folder?")
    cfg = TrainConfig.load(path)
    if method is not None and cfg.method != method:
        raise ConfigError(f"{run_dir} is a {cfg.method!r} run, not {method}")
    return cfg


def check_protocols(protocols: tuple[str, ...], allowed: Collection[str]) -> None:
    """Evaluation protocol names, checked before a run starts rather than after it ends."""
    bad = [p for p in protocols if p not in allowed]
    if bad:
        raise ConfigError(f"unknown evaluation protocol(s) {', '.join(bad)}; choose from "
                          f"{', '.join(allowed)}")


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")


def _range(name: str, value: float, lo: float, hi: float) -> None:
    if not (isinstance(value, (int, float)) and lo <= value <= hi):
        raise ConfigError(f"{name} must be in [{lo}, {hi}], got {value!r}")


def _check_types(cfg: Any, prefix: str = "") -> None:
    """Each field holds a value of its declared kind (JSON configs can hold anything)."""
    for f in fields(cfg):
        value, kind = getattr(cfg, f.name), str(f.type)
        if value is None and "None" in kind:
            continue
        ok = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "str": lambda v: isinstance(v, str), "bool": lambda v: isinstance(v, bool),
              "dict": lambda v: isinstance(v, dict), "tuple": lambda v: isinstance(v, tuple)}
        base = next((k for k in ("tuple", "dict", "bool", "float", "int", "str") if kind.startswith(k)), None)
        if base is not None and not ok[base](value):
            raise ConfigError(f"{prefix}{f.name} must be of type {kind}, got {value!r}")
