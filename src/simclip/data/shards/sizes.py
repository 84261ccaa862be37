"""Sample counts kept beside shards by other tools, so that a reader need not count them.

Two files are understood (``sizes.json`` first):

- ``sizes.json`` (OpenCLIP, img2dataset): ``{"000000.tar": 10000, "000001.tar": 9871, ...}``,
  keyed by shard file name. :func:`write_shards` writes it too.
- ``_info.json`` (the ``wids`` shard index of the ``webdataset`` package):
  ``{"shardlist": [{"url": "000000.tar", "nsamples": 10000}, ...]}``; a ``url`` counts by its
  file name.

They give counts only: classes and image layout still come from ``shards.json`` or, without
one, from reading the first shard.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from simclip.data.shards.errors import ShardError
from simclip.data.shards.location import join, read_optional

SIZES_NAME, INFO_NAME = "sizes.json", "_info.json"


def read_sizes(folder: str) -> dict[str, int] | None:
    """Shard file name -> sample count from ``folder``'s ``sizes.json`` or ``_info.json``
    (``folder`` a local folder or a URL), or None when it has neither."""
    for name in (SIZES_NAME, INFO_NAME):
        location = join(folder, name)
        raw = read_optional(location)
        if raw is None:
            continue
        try:
            data = json.loads(raw.decode("utf-8"))
            return _sizes(data) if name == SIZES_NAME else _info(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ShardError(f"{location}: not valid JSON ({err})") from None
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ShardError(f"{location}: malformed sample counts ({type(err).__name__}: "
                             f"{err})") from None
    return None


def write_sizes(folder: Path, counts: dict[str, int]) -> Path:
    """Write ``folder/sizes.json`` atomically; returns its path."""
    path = Path(folder) / SIZES_NAME
    tmp = path.with_name(f".{SIZES_NAME}.tmp")
    tmp.write_text(json.dumps(counts, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _sizes(data: object) -> dict[str, int]:
    if not isinstance(data, dict):
        raise TypeError("expected an object of shard name -> count")
    return {str(name): _count(value) for name, value in data.items()}


def _info(data: object) -> dict[str, int]:
    if not isinstance(data, dict):
        raise TypeError("expected an object with a 'shardlist'")
    return {str(item["url"]).rsplit("/", 1)[-1]: _count(item["nsamples"])
            for item in data["shardlist"]}


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or int(value) < 0:
        raise ValueError(f"a count must be a non-negative int, got {value!r}")
    return int(value)
