"""Encoders that other packages provide: entry points of the group ``simclip.encoders``.

A package declares ``[project.entry-points."simclip.encoders"] my-net = "my_pkg.nets:build"``; the
factory is called as ``build(in_channels=C, **options)`` and returns a module mapping
``[B, C, H, W] -> [B, num_features]`` with an integer ``num_features``. ``create_encoder("my-net")``
then builds it like a built-in encoder, and a run made with it reloads from its ``config.json``
wherever the package is installed. Built-in names win over an entry point of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from torch import nn

from simclip.errors import UsageError

GROUP = "simclip.encoders"


def plugin_names() -> list[str]:
    """Encoder names installed packages register, sorted (the factories are not imported)."""
    return sorted({ep.name for ep in metadata.entry_points(group=GROUP)})


def find_plugin(name: str) -> Callable[..., nn.Module] | None:
    """The factory an installed package registers as ``name``, or None when none does."""
    for ep in metadata.entry_points(group=GROUP):
        if ep.name == name:
            try:
                factory = ep.load()
            except Exception as err:  # the package's own import error: say whose it is
                dist = getattr(ep, "dist", None)
                owner = f" (package {dist.name})" if dist is not None else ""
                raise UsageError(f"encoder {name!r}: entry point {ep.value!r}{owner} cannot be loaded: "
                                 f"{type(err).__name__}: {err}") from None
            if not callable(factory):
                raise UsageError(f"encoder {name!r}: entry point {ep.value!r} is not callable")
            return factory
    return None
