import sys

import pytest

from simclip.train import allocator
from simclip.train.config import ConfigError, TrainConfig


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings are Linux-only")
def test_keep_freed_memory_applies_once_and_says_so(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", False)
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True  # idempotent


def test_keep_freed_memory_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", False)
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.keep_freed_memory() is False


def test_keep_freed_memory_config_must_be_a_bool():
    with pytest.raises(ConfigError, match="keep_freed_memory"):
        TrainConfig(keep_freed_memory="yes").validate()
