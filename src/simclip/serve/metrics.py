"""``GET /metrics``: the service's counters in the Prometheus text exposition format (version 0.0.4).

  ``simclip_requests_total{route, method, status}``       requests answered
  ``simclip_request_duration_seconds{route}``             histogram of the time to answer
  ``simclip_batch_size{tower}``                           histogram of items per forward pass
  ``simclip_index_vectors``                               vectors in the served index
  ``simclip_gc_collections_total{generation}``            garbage collections (2: full passes)
  ``simclip_gc_pause_seconds_total{generation}``          time the process stood still in them
  ``simclip_gc_frozen_objects``                           start-up objects exempted (see heap.py)

``route`` is the route's template (``/api/search``, ``/images/{image_id:path}``), never the raw path,
so the number of series stays bounded whatever clients ask for; paths no route matches count as
``other``. Batch sizes exist only with request batching on; collections are counted once the
process has called :func:`simclip.serve.heap.freeze_startup_heap`, as a served worker does. The
format is plain text, written here: no client library is needed.

With several worker processes, each worker counts what it answers and writes a snapshot of its
counters to a shared folder every :data:`SNAPSHOT_EVERY_S` seconds; ``/metrics`` reports the sum over
the workers' latest snapshots and its own live counters.
"""

from __future__ import annotations

import bisect
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simclip.serve.heap import PAUSES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
SNAPSHOT_EVERY_S = 1.0
GC_SERIES = (("simclip_gc_collections_total", "collections", "Garbage collections, by generation (2: full)."),
             ("simclip_gc_pause_seconds_total", "pause_seconds", "Seconds spent in garbage collections, "
                                                                 "by generation."))


def _bucket_counts(buckets: tuple[float, ...], counts: dict[float, int]) -> list[int]:
    """Per-bucket (not cumulative) counts of the observed ``{value: times}``; the last slot is +Inf."""
    out = [0] * (len(buckets) + 1)
    for value, times in counts.items():
        out[bisect.bisect_left(buckets, value)] += times
    return out


def _merge(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Add snapshot ``part`` into ``total`` (both as :meth:`Metrics.snapshot` returns them)."""
    for key, value in part.items():
        if isinstance(value, dict):
            _merge(total.setdefault(key, {}), value)
        elif isinstance(value, list):
            current = total.setdefault(key, [0] * len(value))
            total[key] = [a + b for a, b in zip(current, value)]
        else:
            total[key] = total.get(key, 0) + value


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def _histogram(lines: list[str], name: str, buckets: tuple[float, ...], series: dict[str, Any],
               label: str) -> None:
    for key, h in sorted(series.items()):
        cumulative = 0
        for bound, count in zip((*buckets, float("inf")), h["buckets"]):
            cumulative += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            lines.append(f"{name}_bucket{_labels(**{label: key, 'le': le})} {cumulative}")
        lines.append(f"{name}_sum{_labels(**{label: key})} {h['sum']:.6f}")
        lines.append(f"{name}_count{_labels(**{label: key})} {h['count']}")


class Metrics:
    """Counters of one process. ``batch_sizes``: returns ``{tower: {size: batches}}`` (cumulative) when
    request batching is on; ``index_size``: the number of vectors served. ``share_dir``: the folder
    where the workers of one service exchange snapshots (``None`` for a single process)."""

    def __init__(self, index_size: Callable[[], int],
                 batch_sizes: Callable[[], dict[str, dict[int, int]]] | None = None,
                 share_dir: str | Path | None = None) -> None:
        self.index_size, self.batch_sizes = index_size, batch_sizes
        self.share_dir = Path(share_dir) if share_dir is not None else None
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._latency: dict[str, dict[str, Any]] = {}
        if self.share_dir is not None:
            threading.Thread(target=self._share, name="metrics-snapshot", daemon=True).start()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        with self._lock:
            key = (route, method, str(status))
            self._requests[key] = self._requests.get(key, 0) + 1
            h = self._latency.setdefault(route, {"buckets": [0] * (len(LATENCY_BUCKETS) + 1),
                                                 "sum": 0.0, "count": 0})
            h["buckets"][bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            h["sum"] += seconds
            h["count"] += 1

    def snapshot(self) -> dict[str, Any]:
        """This process's counters as plain JSON-able data."""
        with self._lock:
            requests = {"|".join(key): n for key, n in self._requests.items()}
            latency = json.loads(json.dumps(self._latency))
        batches = {}
        for tower, counts in (self.batch_sizes() if self.batch_sizes else {}).items():
            batches[tower] = {"buckets": _bucket_counts(BATCH_BUCKETS, {float(k): n for k, n in counts.items()}),
                              "sum": sum(size * n for size, n in counts.items()),
                              "count": sum(counts.values())}
        return {"requests": requests, "latency": latency, "batch": batches, "gc": PAUSES.snapshot()}

    def write_snapshot(self) -> None:
        """Replace this process's file in ``share_dir`` with its current counters."""
        if self.share_dir is None:
            return
        path = self.share_dir / f"{os.getpid()}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        os.replace(tmp, path)

    def _share(self) -> None:
        while True:
            time.sleep(SNAPSHOT_EVERY_S)
            try:
                self.write_snapshot()
            except OSError:  # the folder went away: the service is shutting down
                return

    def combined(self) -> dict[str, Any]:
        """The sum of this process's live counters and the other workers' latest snapshots."""
        total = self.snapshot()
        if self.share_dir is not None:
            mine = f"{os.getpid()}.json"
            for path in sorted(self.share_dir.glob("*.json")):
                if path.name != mine:
                    try:
                        _merge(total, json.loads(path.read_text(encoding="utf-8")))
                    except (OSError, ValueError):  # a worker that is being replaced or has gone
                        continue
        return total

    def render(self) -> str:
        """All series in the text exposition format."""
        data = self.combined()
        lines = ["# HELP simclip_requests_total Requests answered, by route template, method and status.",
                 "# TYPE simclip_requests_total counter"]
        for key, n in sorted(data["requests"].items()):
            route, method, status = key.split("|")
            lines.append(f"simclip_requests_total{_labels(route=route, method=method, status=status)} {n}")
        lines += ["# HELP simclip_request_duration_seconds Time from request to response, by route template.",
                  "# TYPE simclip_request_duration_seconds histogram"]
        _histogram(lines, "simclip_request_duration_seconds", LATENCY_BUCKETS, data["latency"], "route")
        lines += ["# HELP simclip_batch_size Items embedded per forward pass, by tower.",
                  "# TYPE simclip_batch_size histogram"]
        _histogram(lines, "simclip_batch_size", BATCH_BUCKETS, data["batch"], "tower")
        gc_data = data.get("gc", {})
        for name, key, help_text in GC_SERIES:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            lines += [f"{name}{_labels(generation=g)} {v:.6f}" if isinstance(v, float) else
                      f"{name}{_labels(generation=g)} {v}" for g, v in sorted(gc_data.get(key, {}).items())]
        lines += ["# HELP simclip_gc_frozen_objects Start-up objects exempted from garbage collection.",
                  "# TYPE simclip_gc_frozen_objects gauge",
                  f"simclip_gc_frozen_objects {gc_data.get('frozen_objects', 0)}"]
        lines += ["# HELP simclip_index_vectors Vectors in the served index.",
                  "# TYPE simclip_index_vectors gauge", f"simclip_index_vectors {self.index_size()}"]
        return "\n".join(lines) + "\n"


class RequestMetrics:
    """ASGI middleware: every HTTP request counted in ``metrics`` under its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets when the app fails before starting a response

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"
            self.metrics.observe(route, scope.get("method", ""), status, time.perf_counter() - start)
