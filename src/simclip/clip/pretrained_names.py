"""Released weights named as OpenCLIP and CLIP_benchmark name them: ``(model, pretrained tag)``,
e.g. ``("ViT-B-32", "openai")``, found in the local cache before any download.

:func:`resolve_pretrained` checks the name and the tag (a mistake names the close matches), looks in
the cache (``$SIMCLIP_CACHE``, default ``~/.cache/simclip``: ``openai/MODEL.pt`` and the Hugging Face
layout under ``hf/``), and downloads only when that is allowed: not when ``SIMCLIP_OFFLINE`` or
``HF_HUB_OFFLINE`` is set, where a miss is one line saying where the weights were looked for and how
to provide them. A tag that is a path is that file (``--model ViT-B-32 --pretrained ./w.pt``).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from simclip.clip import pretrained as releases
from simclip.errors import SimclipError, UnknownNameError

OFFLINE_VARIABLES = ("SIMCLIP_OFFLINE", "HF_HUB_OFFLINE")


class WeightsNotFoundError(SimclipError, FileNotFoundError):
    """Released weights that are neither in the local cache nor downloadable here."""


def offline() -> bool:
    """Whether downloads are switched off (``SIMCLIP_OFFLINE`` or ``HF_HUB_OFFLINE`` set, not 0)."""
    return any(os.environ.get(v, "0").lower() not in ("0", "", "false", "no") for v in OFFLINE_VARIABLES)


def close_matches(word: str, choices: list[str]) -> str:
    """``"close matches: a, b; "`` for ``word`` among ``choices`` (empty when none is close)."""
    found = difflib.get_close_matches(word, choices, n=4, cutoff=0.5)
    if not found:  # case or separators differ: ViT-B/32, vit-b-32
        norm = {c.lower().replace("/", "-").replace("_", "-"): c for c in choices}
        found = [norm[k] for k in difflib.get_close_matches(word.lower().replace("/", "-").replace("_", "-"),
                                                            list(norm), n=4, cutoff=0.5)]
    return f"close matches: {', '.join(found)}; " if found else ""


def check_pretrained(model: str, tag: str) -> None:
    """An :class:`UnknownNameError` naming the close matches unless ``(model, tag)`` is released."""
    pairs = releases.list_pretrained()
    models = sorted({m for m, _ in pairs})
    if model not in models:
        raise UnknownNameError(f"no released weights for model {model!r}; {close_matches(model, models)}"
                               f"'simclip models --pretrained' lists all (model, tag) pairs")
    tags = sorted(t for m, t in pairs if m == model)
    if tag not in tags:
        raise UnknownNameError(f"model {model} has no pretrained tag {tag!r}; {close_matches(tag, tags)}"
                               f"its tags: {', '.join(tags)}")


def cached_path(model: str, tag: str, cache_dir: str | Path | None = None) -> Path | None:
    """The local file of released weights ``(model, tag)``, or None when they are not cached."""
    cache = Path(cache_dir) if cache_dir is not None else releases.default_cache_dir()
    if tag == "openai":
        path = cache / "openai" / f"{model}.pt"
        return path if path.is_file() else None
    repo = releases._HF_HUB.get((model, tag))
    if repo is None:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for name in releases._HF_WEIGHTS:
        found = try_to_load_from_cache(repo, name, cache_dir=cache / "hf")
        if isinstance(found, str):
            return Path(found)
    return None


def _where(model: str, tag: str, cache: Path) -> str:
    if tag == "openai":
        return str(cache / "openai" / f"{model}.pt")
    repo = releases._HF_HUB[(model, tag)]
    return f"{cache / 'hf'} (Hugging Face layout, repository {repo}: {' or '.join(releases._HF_WEIGHTS)})"


def resolve_pretrained(model: str, tag: str, cache_dir: str | Path | None = None,
                       download: bool | None = None) -> Path:
    """The local weights file of ``model`` with ``tag`` (a file path as ``tag`` is returned as is).

    ``download``: fetch what is not cached (default: unless :func:`offline`). Raises
    :class:`UnknownNameError` for unknown names and :class:`WeightsNotFoundError` when the weights
    are neither cached nor downloadable.
    """
    if Path(tag).expanduser().is_file():
        return Path(tag).expanduser()
    check_pretrained(model, tag)
    cache = Path(cache_dir) if cache_dir is not None else releases.default_cache_dir()
    found = cached_path(model, tag, cache)
    damaged = ""
    if found is not None and tag == "openai" and releases._sha256(found) != releases._OPENAI_SHA256[model]:
        found, damaged = None, " (a file is there but its SHA-256 is not the published one)"
    if found is not None:
        return found
    how = (f"download them once with network access (python -c \"import simclip.clip as c; "
           f"c.load('{model}', pretrained='{tag}')\"; SIMCLIP_CACHE sets the folder) and copy them "
           f"there, or pass the file itself: --pretrained PATH")
    if download is False or (download is None and offline()):
        raise WeightsNotFoundError(f"pretrained weights {model}/{tag} are not available offline: looked "
                                   f"for {_where(model, tag, cache)}{damaged}; {how}")
    try:
        return releases.download_pretrained(model, tag, cache_dir=cache)[0]
    except (ConnectionError, OSError) as err:
        raise WeightsNotFoundError(f"pretrained weights {model}/{tag} are not cached ({_where(model, tag, cache)}) "
                                   f"and the download failed ({str(err).split(';')[0]}); {how}") from None


__all__ = ["WeightsNotFoundError", "cached_path", "check_pretrained", "close_matches", "offline",
           "resolve_pretrained"]
