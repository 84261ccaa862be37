"""simclip serve as a running service: several worker processes on one loopback port, each with the
index memory-mapped and a listening socket of its own; the configuration checks that stop a bad start
with one line."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from simclip.errors import UsageError
from simclip.serve.service import BATCHED_CONCURRENCY, ServiceConfig
from simclip.serve.workers import reuseport_socket
from tests.serve.test_metrics import sample

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on ``port`` (from /proc/net/tcp)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {row[9] for row in rows if row[3] == "0A" and int(row[1].rsplit(":", 1)[1], 16) == port}


def socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def maps_file(pid: int, name: str) -> bool:
    try:
        return any(line.rstrip().endswith(name) for line in Path(f"/proc/{pid}/maps").read_text().splitlines())
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads worker mappings from /proc")
def test_two_workers_start_share_the_mapped_index_and_answer(built_index):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "simclip.cli", "serve", "--index", str(built_index),
                             "--port", str(port), "--workers", "2", "--threads", "1", "--max-batch", "16"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        workers: list[int] = []
        while len(workers) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "workers did not start within 90 s"
            time.sleep(0.5)
            try:
                ready = httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            workers = [c for c in children(proc.pid) if maps_file(c, "index.faiss")] if ready else []
            if len(listening_inodes(port)) < 2:
                workers = []  # a worker that has mapped the index may not listen yet
        statuses = [httpx.get(f"{base}/api/search", params={"q": f"shape {i}", "k": 3}, timeout=30).status_code
                    for i in range(12)]
        assert statuses == [200] * 12
        time.sleep(2.5)  # each worker writes its counters at least once a second
        text = httpx.get(f"{base}/metrics", timeout=10).text
        assert sample(text, "simclip_requests_total", route="/api/search", method="GET", status="200") == 12
        assert sample(text, "simclip_index_vectors") == 36
        assert sample(text, "simclip_gc_frozen_objects") > 0  # the workers froze their start-up heaps
        assert len(workers) == 2
        # each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads connections
        listening = listening_inodes(port)
        assert len(listening) == 2 and all(len(socket_inodes(w) & listening) == 1 for w in workers)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_port_in_use_is_named_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}"):
            reuseport_socket("127.0.0.1", port)
    first = reuseport_socket("127.0.0.1", 0)
    second = reuseport_socket("127.0.0.1", first.getsockname()[1])  # the workers' sockets share the port
    first.close()
    second.close()


@pytest.mark.parametrize("field, value, flag", [
    ("backend", "tensorrt", "--backend"), ("workers", 0, "--workers"), ("threads", 0, "--threads"),
    ("max_batch", 0, "--max-batch"),
    ("max_concurrency", 0, "--max-concurrency")])
def test_config_checks_name_the_flag(field, value, flag):
    with pytest.raises(UsageError, match=flag):
        ServiceConfig(index="idx", **{field: value}).check()


def test_concurrency_follows_batching():
    assert ServiceConfig(index="i").concurrency == BATCHED_CONCURRENCY == 8  # not all 64 a batch may hold
    assert ServiceConfig(index="i", max_batch=4).concurrency == 4
    assert ServiceConfig(index="i", max_batch=1).concurrency == 4
    assert ServiceConfig(index="i", max_batch=8, max_concurrency=3).concurrency == 3
    assert ServiceConfig(index="i", workers=2, threads=None).threads_per_worker >= 1


def test_threads_per_worker_share_the_usable_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the machine's; the process may use 2 of them
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert ServiceConfig(index="i", workers=2).threads_per_worker == 1
    assert ServiceConfig(index="i", workers=1).threads_per_worker == 2
    assert ServiceConfig(index="i", workers=4).threads_per_worker == 1
    assert ServiceConfig(index="i", workers=2, threads=3).threads_per_worker == 3
