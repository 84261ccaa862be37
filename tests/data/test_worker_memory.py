"""The loader workers' heap settings: taken by glibc, and the workers' batches unchanged."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from simclip.data.worker_memory import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_settings():
    code = "from simclip.data.worker_memory import keep_freed_memory as k; print(k())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def test_is_a_no_op_answer_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False
