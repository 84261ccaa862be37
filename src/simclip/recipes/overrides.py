"""Config values by dotted key: ``--set objective.temperature=0.2``, config files, preset values.

Keys name a :class:`~simclip.train.TrainConfig` field (``batch_size``), a field of its optimiser
(``optim.lr``) or an entry of its free-form sections, at any depth (``model.encoder``,
``objective.policy_options.flip_p``, ``model.text.context_length``). Values given as text are read
as JSON when they parse (``0.2``, ``true``, ``[0.2, 1.0]``, ``null``) and as a string otherwise.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from simclip.train.config import ConfigError, OptimConfig, TrainConfig

_FREE_FORM = ("model", "objective")  # dict sections whose keys the method checks when it builds
_TOP = {f.name: f for f in fields(TrainConfig)}
_OPTIM = {f.name: f for f in fields(OptimConfig)}


def parse_assignments(items: list[str] | None, flag: str = "--set") -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": 1, "c": "x"}``; a malformed item names itself."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE, e.g. {flag} objective.temperature=0.2")
        out[key] = parse_value(text.strip())
    return out


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def flatten(d: dict[str, Any], source: str) -> dict[str, Any]:
    """A (partial) config as in a ``config.json`` -> dotted keys; the free-form sections and
    ``optim`` are split into their entries so that each entry overrides only itself."""
    if not isinstance(d, dict):
        raise ConfigError(f"{source}: a config must be a JSON object of fields, got {type(d).__name__}")
    out: dict[str, Any] = {}
    for key, value in d.items():
        if key in ("optim", *_FREE_FORM):
            if value is None:  # an empty section, as TrainConfig.from_dict reads it
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: field {key} must be an object, got {type(value).__name__}")
            out.update(_flatten_section(key, value))
        else:
            out[key] = value
    return out


def _flatten_section(prefix: str, d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        # policy options merge per option; other nested values (a model's tower dict) stay whole
        if prefix == "objective" and key == "policy_options" and isinstance(value, dict):
            out.update({f"{prefix}.{key}.{k}": v for k, v in value.items()})
        else:
            out[f"{prefix}.{key}"] = value
    return out


def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any], source: str = "--set") -> TrainConfig:
    """Set each dotted key of ``overrides`` in ``cfg`` (in place; also returned). Unknown fields and
    values of the wrong type raise :class:`ConfigError` naming ``source`` and the key."""
    for key, value in overrides.items():
        set_value(cfg, key, value, source)
    return cfg


def set_value(cfg: TrainConfig, key: str, value: Any, source: str = "--set") -> None:
    parts = key.split(".")
    head = parts[0]
    if head not in _TOP:
        raise ConfigError(f"{source} {key}: unknown config field {head!r}; fields: {', '.join(_TOP)}")
    if head == "optim":
        if len(parts) != 2 or parts[1] not in _OPTIM:
            raise ConfigError(f"{source} {key}: unknown optimiser field; optim fields: {', '.join(_OPTIM)}")
        setattr(cfg.optim, parts[1], _coerce(str(_OPTIM[parts[1]].type), value, key, source))
        return
    if head in _FREE_FORM:
        if len(parts) == 1:
            if not isinstance(value, dict):
                raise ConfigError(f"{source} {key}: must be an object, got {value!r}")
            setattr(cfg, head, dict(value))
            return
        section = getattr(cfg, head)
        for part in parts[1:-1]:
            inner = section.get(part)
            if inner is None:
                inner = section[part] = {}
            elif not isinstance(inner, dict):
                raise ConfigError(f"{source} {key}: {part} is {inner!r}, not an object")
            else:
                inner = section[part] = dict(inner)
            section = inner
        section[parts[-1]] = _plain(value)
        return
    if len(parts) != 1:
        raise ConfigError(f"{source} {key}: {head} has no fields")
    setattr(cfg, head, _coerce(str(_TOP[head].type), value, key, source))


def _coerce(kind: str, value: Any, key: str, source: str) -> Any:
    """JSON gives lists for tuples, ints for floats, and strings for comma lists of protocols."""
    if kind.startswith("tuple"):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            return tuple(value)
    if kind.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind.startswith("int") and isinstance(value, float) and value.is_integer() and "float" not in kind:
        return int(value)
    return value


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
