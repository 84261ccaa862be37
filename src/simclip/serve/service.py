"""Running the service: what to serve (:class:`ServiceConfig`), the embedder it needs, and one or
several worker processes behind one port.

With ``workers > 1``, :func:`simclip.serve.workers.run_workers` starts ``workers`` processes, each
listening on the port with its own ``SO_REUSEPORT`` socket (the kernel spreads connections evenly);
each builds its app from the configuration handed down in the environment
(:func:`app_from_env`), loading the model itself and opening the index memory-mapped, read-only: the
vectors sit once in the page cache however many workers search them. With ``backend="onnx"`` the
graphs are exported and checked once, before any worker starts, and every worker loads those files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simclip.errors import UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from simclip.serve.embedder import ClipEmbedder, Embedder

ENV_VAR = "SIMCLIP_SERVE_CONFIG"
BACKENDS = ("torch", "onnx")
# Requests let into the model at once per worker when batching. Every request let in shares the
# worker's core with the others, so letting in every open request (as ``max_batch`` did) spreads the
# CPU over all of them and the heavy ones, image uploads, finish last, far behind the median; with a
# small bound the others wait in the gate's first-come, first-served queue, and each request let in
# finishes sooner. A batch fills only from requests let in together, so the bound is not smaller than
# the batches the towers form under load (see BENCHMARKS.md, service section).
BATCHED_CONCURRENCY = 8


@dataclass
class ServiceConfig:
    """Everything a worker needs to build the same service as its siblings.

    Model source: exactly one of ``checkpoint``, ``run``, ``model``. ``max_batch``: most items in one
    batched forward pass (see :mod:`simclip.serve.batcher`); 1 turns request batching off, and then up
    to ``max_concurrency`` requests run the model side by side. ``threads``: intra-op threads of each
    worker's model, PyTorch's and ONNX Runtime's (``None``: the usable cores divided by ``workers``,
    so the workers together use each core once). ``max_concurrency`` ``None``: 4 requests in the model at
    once, or :data:`BATCHED_CONCURRENCY` (at most ``max_batch``) with batching.
    """

    index: str
    checkpoint: str | None = None
    run: str | None = None
    model: str | None = None
    tokenizer: str | None = "clip"
    device: str = "cpu"
    backend: str = "torch"
    threads: int | None = None
    max_batch: int = 64
    workers: int = 1
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 10 * 1024 * 1024
    max_concurrency: int | None = None
    request_timeout_s: float = 10.0
    onnx_dir: str | None = None  # set by run_service: where the exported graphs are
    metrics_dir: str | None = None  # set by run_service: where workers share their counters

    def check(self) -> None:
        """Raise :class:`~simclip.errors.UsageError` naming the first field that cannot work."""
        if self.backend not in BACKENDS:
            raise UsageError(f"--backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.workers < 1:
            raise UsageError(f"--workers must be >= 1, got {self.workers}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {self.threads}")
        if self.max_batch < 1:
            raise UsageError(f"--max-batch must be >= 1, got {self.max_batch}")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise UsageError(f"--max-concurrency must be >= 1, got {self.max_concurrency}")
        if self.workers > 1 and self.device != "cpu":
            raise UsageError("--workers > 1 runs one model per process; use it with --device cpu")

    @property
    def concurrency(self) -> int:
        if self.max_concurrency is not None:
            return self.max_concurrency
        return min(self.max_batch, BATCHED_CONCURRENCY) if self.batching else 4

    @property
    def batching(self) -> bool:
        return self.max_batch > 1

    @property
    def threads_per_worker(self) -> int:
        return self.threads or max(1, usable_cpus() // self.workers)


def usable_cpus() -> int:
    """The cores this process may run on (its affinity, e.g. a container's ``--cpuset-cpus``), which
    ``os.cpu_count`` overstates when the machine has more."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def index_embedder(index: str | Path, checkpoint: str | None = None, run: str | None = None,
                   model: str | None = None, tokenizer: str | None = "clip", device: str = "cpu") -> ClipEmbedder:
    """The embedder named by ``checkpoint``/``run``/``model``; with none, the one recorded in ``index``
    (its checkpoint file, or its architecture name at seed 0)."""
    from simclip.serve.embedder import load_embedder
    from simclip.serve.index import index_info

    if checkpoint or run or model:
        return load_embedder(checkpoint, run=run, model=model, tokenizer=tokenizer, device=device)
    identity = index_info(index)["identity"]
    if identity.get("checkpoint"):
        return load_embedder(identity["checkpoint"], tokenizer=tokenizer, device=device)
    return load_embedder(model=identity["model"], tokenizer=tokenizer, device=device)


def _clip_embedder(config: ServiceConfig) -> ClipEmbedder:
    return index_embedder(config.index, config.checkpoint, config.run, config.model, config.tokenizer,
                          config.device)


def make_embedder(config: ServiceConfig, clip: ClipEmbedder | None = None) -> Embedder:
    """The embedder ``config`` asks for: PyTorch or ONNX Runtime, wrapped for request batching when
    ``max_batch > 1``. ``clip``: the already loaded :class:`ClipEmbedder` of the same model."""
    import torch

    from simclip.serve.batcher import BatchingEmbedder

    # Each worker gets its share of the cores and no more: on a machine with as many workers as cores,
    # one thread each; more threads per process would only contend (PyTorch's and ONNX Runtime's pools
    # spin while they wait for work).
    torch.set_num_threads(config.threads_per_worker)
    clip = clip if clip is not None else _clip_embedder(config)
    embedder: Embedder = clip
    if config.backend == "onnx":
        from simclip.serve.onnx_embedder import onnx_embedder

        if config.onnx_dir is None:
            raise UsageError("backend 'onnx' needs the exported graphs (run_service writes them)")
        embedder = onnx_embedder(clip, config.onnx_dir, threads=config.threads_per_worker)
    if config.batching:
        embedder = BatchingEmbedder(embedder, config.max_batch)
    return embedder


def build_app(config: ServiceConfig, clip: ClipEmbedder | None = None) -> FastAPI:
    """The FastAPI app of one worker (see :func:`simclip.serve.app.create_app`)."""
    from simclip.serve.app import create_app

    return create_app(config.index, make_embedder(config, clip), max_upload_bytes=config.max_upload_bytes,
                      max_concurrency=config.concurrency, request_timeout_s=config.request_timeout_s,
                      metrics_dir=config.metrics_dir)


def app_from_env() -> FastAPI:
    """uvicorn's app factory in each worker process: the app of the config in ``$SIMCLIP_SERVE_CONFIG``."""
    raw = os.environ.get(ENV_VAR)
    if not raw:
        raise RuntimeError(f"{ENV_VAR} is not set; start workers with simclip.serve.service.run_service")
    return build_app(ServiceConfig(**json.loads(raw)))


def run_service(config: ServiceConfig) -> None:
    """Serve until interrupted: the model and the index are checked once here, then ``config.workers``
    processes (or this one) answer requests."""
    import uvicorn

    from simclip.serve.index import ImageIndex

    config.check()
    clip = _clip_embedder(config)
    ImageIndex(config.index, clip.identity)  # a model/index mismatch fails here, once, not in each worker
    with tempfile.TemporaryDirectory(prefix="simclip-serve-") as tmp:
        if config.backend == "onnx":
            from simclip.serve.onnx_embedder import export_towers

            config.onnx_dir = str(export_towers(clip, Path(tmp) / "onnx"))
        options: dict[str, Any] = {"host": config.host, "port": config.port, "log_level": "info",
                                   "timeout_graceful_shutdown": 5}
        if config.workers == 1:
            from simclip.serve.heap import freeze_startup_heap

            app = build_app(config, clip)
            freeze_startup_heap()  # the start-up objects out of the collector's full passes
            try:
                uvicorn.run(app, **options)
            finally:
                close = getattr(app.state.embedder, "close", None)
                if close is not None:
                    close()
            return
        from simclip.serve.workers import run_workers

        del clip  # each worker loads its own copy
        config.metrics_dir = str(Path(tmp) / "metrics")
        Path(config.metrics_dir).mkdir()
        os.environ[ENV_VAR] = json.dumps(dataclasses.asdict(config))
        # each worker on its own SO_REUSEPORT socket: uvicorn's shared socket let one worker take most
        # keep-alive connections (see simclip.serve.workers)
        run_workers(f"{__name__}:app_from_env", config.workers, config.host, config.port,
                    {key: value for key, value in options.items() if key not in ("host", "port")})
