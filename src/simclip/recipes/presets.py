"""Named recipes (presets): a registry of functions from a :class:`DataProfile` to config values.

A preset returns a :class:`Recipe`: dotted config keys (``"optim.lr"``,
``"objective.policy_options.flip_p"``, ``"batch_size"``) mapped to a value and the reason for it.
:func:`simclip.recipes.resolve_config` applies it on top of the method's base config and then the
user's own values (config file, flags, ``--set``) on top of that, so a preset only ever fills in
what the user left open. ``simclip recipes`` lists them. The built-in presets
(``simclr_presets``, ``clip_presets``) register themselves when ``simclip.recipes`` is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simclip.recipes.profile import DataProfile
from simclip.train.config import ConfigError


class Recipe(dict):
    """``{dotted key: (value, reason)}`` in the order the rule decided them."""

    def put(self, key: str, value: Any, why: str = "") -> None:
        self[key] = (value, why)

    def settings(self) -> dict[str, Any]:
        """``{dotted key: value}`` without the reasons."""
        return {key: value for key, (value, _) in self.items()}


@dataclass(frozen=True)
class Preset:
    """A named recipe of one method: ``build(profile) -> Recipe``."""

    method: str
    name: str
    summary: str
    build: Callable[[DataProfile], Recipe]


_PRESETS: dict[tuple[str, str], Preset] = {}
METHODS = ("simclr", "clip")


def register_preset(method: str, name: str, summary: str) -> Callable[[Callable[[DataProfile], Recipe]],
                                                                          Callable[[DataProfile], Recipe]]:
    """Decorator: register ``build(profile) -> Recipe`` as preset ``name`` of ``method``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")

    def register(build: Callable[[DataProfile], Recipe]) -> Callable[[DataProfile], Recipe]:
        _PRESETS[(method, name)] = Preset(method, name, summary, build)
        return build
    return register


def list_presets(method: str | None = None) -> list[Preset]:
    """The registered presets (of ``method``), ``auto`` first, then by name."""
    found = [p for p in _PRESETS.values() if method is None or p.method == method]
    return sorted(found, key=lambda p: (p.method, p.name != "auto", p.name))


def get_preset(method: str, name: str) -> Preset:
    """Preset ``name`` of ``method``; a :class:`ConfigError` lists the valid names."""
    if (method, name) not in _PRESETS:
        names = ", ".join(p.name for p in list_presets(method))
        raise ConfigError(f"unknown {method} recipe {name!r}; choose from {names} (see 'simclip recipes')")
    return _PRESETS[(method, name)]


def put_run_length(r: Recipe, p: DataProfile, batch: int, steps: int) -> None:
    """``epochs`` for about ``steps`` optimisation steps when the user fixed no run length; under
    a time budget, an epoch bound the budget always reaches first."""
    if p.epochs is None and p.time_budget is None:
        r.put("epochs", p.planned_epochs(batch, steps=steps), f"about {steps:,} steps")
    elif p.epochs is None:
        r.put("epochs", 10_000, "the time budget ends the run")


def put_optimizer(r: Recipe, name: str, lr: float, scaling: str, weight_decay: float, warmup: float,
                  why: str = "", lr_why: str = "", **options: object) -> None:
    """The ``optim.*`` values of a recipe; ``options`` are further ``OptimConfig`` fields (betas, eps)."""
    r.put("optim.name", name, why)
    r.put("optim.lr", lr, lr_why)
    r.put("optim.lr_scaling", scaling)
    r.put("optim.weight_decay", weight_decay)
    r.put("optim.warmup_fraction", warmup)
    for key, value in options.items():
        r.put(f"optim.{key}", value)
