"""WebDataset-style tar shards: reading (``wds:`` specs, :class:`ShardedDataset`), streaming
batches from them, and writing any dataset as shards (:func:`write_shards`).

The reading side sits below :mod:`simclip.data.load` (which opens ``wds:`` specs through it); the
writer sits above it (it loads any spec in order to shard it), so it is imported on first use of
``write_shards`` (PEP 562) rather than here, where it would import ``load`` while ``load`` imports
this package.

Modules: ``location`` (local files, ``pipe:``, http(s) and fsspec URLs), ``errors``,
``tar_samples`` (tar members <-> samples), ``index`` (``shards.json``), ``sizes`` (``sizes.json``,
``_info.json``), ``decode`` (a sample's pixels, label, captions), ``webdataset`` (the dataset),
``stream`` (batches), ``write`` (:func:`write_shards`).
"""
from __future__ import annotations

from typing import Any

from simclip.data.shards.decode import BadSample, SampleFormat
from simclip.data.shards.errors import ShardError
from simclip.data.shards.webdataset import ShardedDataset, load_sharded

__all__ = ["BadSample", "SampleFormat", "ShardError", "ShardedDataset", "load_sharded", "write_shards"]


def __getattr__(name: str) -> Any:
    if name == "write_shards":
        from simclip.data.shards.write import write_shards

        return write_shards
    raise AttributeError(f"module 'simclip.data.shards' has no attribute {name!r}")
