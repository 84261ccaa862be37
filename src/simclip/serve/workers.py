"""Several worker processes on one port, each accepting on its own listening socket (``SO_REUSEPORT``).

uvicorn's own supervisor shares one listening socket among its workers, and a connection goes to
whichever worker's event loop takes it first. Clients keep their connections open, so that choice
lasts: on the 2-core machine of ``benchmarks/service_load.py``, 50 keep-alive clients ended up 46 on
one worker and 4 on the other, and the busy worker's queue set the tail latency while the other
idled. Here each worker binds its own socket to the same address with ``SO_REUSEPORT``, and Linux
spreads new connections over the sockets by a hash of the connection's addresses, so each worker gets
about its share whatever the event loops do (50 clients: 27 and 23). Other systems that have the
option let the sockets share the port but need not spread the connections.

The parent binds the address once before starting anything (a port in use fails there, in one line),
starts the workers (``multiprocessing`` spawn) and waits. A worker that dies after it has served for
a while is replaced; one that dies within :data:`STARTUP_S` of its start stops the service, since it
would only die again. SIGINT or SIGTERM to the parent stops the workers gracefully (SIGTERM each).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import socket
import threading
import time
from typing import Any

from simclip.errors import UsageError

STARTUP_S = 60.0


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEPORT`` (not yet listening)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise UsageError("--workers > 1 needs SO_REUSEPORT, which this platform lacks; use --workers 1")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.set_inheritable(True)
    return sock


def serve_one(factory: str, host: str, port: int, options: dict[str, Any]) -> None:
    """One worker: the app of ``factory`` (``"module:function"``) on its own socket, until signalled."""
    import uvicorn

    from simclip.serve.heap import freeze_startup_heap

    module, name = factory.split(":")
    app = getattr(importlib.import_module(module), name)()
    freeze_startup_heap()  # the start-up objects out of the collector's full passes (see heap.py)
    sock = reuseport_socket(host, port)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options)).run(sockets=[sock])


def run_workers(factory: str, workers: int, host: str, port: int, options: dict[str, Any]) -> None:
    """Run ``workers`` processes of :func:`serve_one` on ``host:port`` until SIGINT or SIGTERM.

    ``options``: further :class:`uvicorn.Config` arguments. Each worker inherits the environment, which
    is how ``factory`` learns what to build.
    """
    reserved = reuseport_socket(host, port)  # the address is checked here, once, and kept ours
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> tuple[Any, float]:
        process = context.Process(target=serve_one, args=(factory, host, port, options), daemon=False)
        process.start()
        return process, time.monotonic()

    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    procs = [start() for _ in range(workers)]
    try:
        while not stop.wait(0.5):
            for i, (process, started) in enumerate(procs):
                if process.is_alive():
                    continue
                if time.monotonic() - started < STARTUP_S:
                    raise RuntimeError(f"worker {process.pid} exited with code {process.exitcode} "
                                       f"{time.monotonic() - started:.0f} s after its start")
                procs[i] = start()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for process, _ in procs:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)  # graceful; a second SIGINT would force uvicorn
        deadline = time.monotonic() + float(options.get("timeout_graceful_shutdown") or 5) + 10
        for process, _ in procs:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
                process.join()
        reserved.close()
