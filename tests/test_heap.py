import platform
import subprocess
import sys

import pytest

from simclip import heap as allocator
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


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_a_loader_worker_takes_the_settings():
    code = "from simclip.heap import init_loader_worker, keep_freed_memory as k; init_loader_worker(0); print(k())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
