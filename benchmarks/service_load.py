"""Load test of the search service: concurrent clients on loopback, mixed text and image queries.

Run: ``python benchmarks/service_load.py [--clients 50] [--seconds 30] [--model tiny-vit | --checkpoint FILE]``.
Builds a small index of generated shape images in a temporary folder, starts ``simclip.serve.serve`` in
a child process on a free loopback port, then runs ``--clients`` asyncio+httpx clients for
``--seconds`` (and at most ``--max-requests`` requests), each looping: a text search with probability
``1 - --image-fraction``, else an image upload. Reports requests/s, latency p50/p99 (overall and per
kind) and status counts; the target is zero 5xx responses. Writes ``benchmarks/results/service_load.json``.
Nothing leaves the machine: the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw

RESULTS = Path(__file__).parent / "results" / "service_load.json"
WORDS = ("red", "green", "blue", "yellow", "circle", "square", "triangle", "small", "large", "shape",
         "a photo of", "on grey", "bright", "dark")
SERVER = """
import sys
from simclip.serve.app import serve
from simclip.serve.embedder import load_embedder
index, port, checkpoint, model, concurrency = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
embedder = load_embedder(checkpoint or None, model=None if checkpoint else model)
serve(index, embedder, port=port, max_concurrency=concurrency)
"""


def shape_png(rng: random.Random, side: int = 64) -> bytes:
    image = Image.new("RGB", (side, side), tuple(rng.randrange(150, 230) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    colour = tuple(rng.randrange(256) for _ in range(3))
    x, y, r = rng.randrange(16, side - 16), rng.randrange(16, side - 16), rng.randrange(6, 16)
    kind = rng.choice(("ellipse", "rectangle", "polygon"))
    if kind == "polygon":
        draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=colour)
    else:
        getattr(draw, kind)((x - r, y - r, x + r, y + r), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def build_small_index(folder: Path, n_images: int, checkpoint: str | None, model: str) -> Path:
    from simclip.serve.embedder import load_embedder
    from simclip.serve.index import build_index

    rng = random.Random(0)
    images = folder / "images"
    images.mkdir()
    for i in range(n_images):
        (images / f"img_{i:05d}.png").write_bytes(shape_png(rng))
    embedder = load_embedder(checkpoint, model=None if checkpoint else model)
    build_index(embedder, images, folder / "index", progress=False)
    return folder / "index"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: Path, port: int, args: argparse.Namespace) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1] / "src"),
                                                                       os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(index), str(port), args.checkpoint or "",
                             args.model, str(args.max_concurrency)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("server did not become healthy within 120 s")


async def client(base: str, stop_at: float, budget: list[int], image_fraction: float, seed: int,
                 records: list[tuple[str, int, float]]) -> None:
    rng = random.Random(seed)
    uploads = [shape_png(rng) for _ in range(8)]
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while time.monotonic() < stop_at and budget[0] > 0:
            budget[0] -= 1
            kind = "image" if rng.random() < image_fraction else "text"
            start = time.perf_counter()
            try:
                if kind == "text":
                    q = " ".join(rng.sample(WORDS, rng.randint(1, 4)))
                    r = await http.get("/api/search", params={"q": q, "k": 12})
                else:
                    r = await http.post("/api/search/image", params={"k": 12},
                                        files={"file": ("q.png", rng.choice(uploads), "image/png")})
                status = r.status_code
            except httpx.HTTPError:
                status = 0  # connection failure or client timeout
            records.append((kind, status, (time.perf_counter() - start) * 1e3))


def latency(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {}
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "mean_ms": round(float(np.mean(ms)), 2), "count": len(ms)}


async def load(base: str, args: argparse.Namespace) -> tuple[list, float]:
    records: list[tuple[str, int, float]] = []
    budget = [args.max_requests]
    start = time.monotonic()
    await asyncio.gather(*[client(base, start + args.seconds, budget, args.image_fraction, i, records)
                           for i in range(args.clients)])
    return records, time.monotonic() - start


def report(records: list, elapsed: float, args: argparse.Namespace) -> dict:
    statuses = Counter(status for _, status, _ in records)
    ok = [ms for _, status, ms in records if 200 <= status < 300]
    result = {
        "benchmark": "service_load", "clients": args.clients, "seconds": args.seconds,
        "elapsed_s": round(elapsed, 2), "index_images": args.images, "image_fraction": args.image_fraction,
        "model": args.checkpoint or args.model, "max_concurrency": args.max_concurrency,
        "requests": len(records), "requests_per_s": round(len(records) / elapsed, 1),
        "latency_2xx": latency(ok),
        "latency_by_kind": {kind: latency([ms for k, s, ms in records if k == kind and 200 <= s < 300])
                            for kind in ("text", "image")},
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "non_2xx": sum(v for k, v in statuses.items() if not 200 <= k < 300),
        "5xx": sum(v for k, v in statuses.items() if k >= 500), "connection_errors": statuses.get(0, 0),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "note": args.note,
    }
    result["meets_target_zero_5xx"] = result["5xx"] == 0 and result["connection_errors"] == 0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many in all")
    parser.add_argument("--images", type=int, default=500, help="size of the generated index")
    parser.add_argument("--image-fraction", type=float, default=0.3, help="share of image uploads")
    parser.add_argument("--model", default="tiny-vit", help="architecture, random init (default tiny-vit)")
    parser.add_argument("--checkpoint", default=None, help="CLIP weights instead of --model")
    parser.add_argument("--max-concurrency", type=int, default=4)
    parser.add_argument("--note", default="", help="conditions of the run, stored in the JSON")
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        index = build_small_index(Path(tmp), args.images, args.checkpoint, args.model)
        port = free_port()
        server = start_server(index, port, args)
        try:
            records, elapsed = asyncio.run(load(f"http://127.0.0.1:{port}", args))
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    result = report(records, elapsed, args)
    print(json.dumps({k: result[k] for k in ("requests", "requests_per_s", "latency_2xx", "status_counts",
                                             "5xx")}, indent=2))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"-> {args.json}")


if __name__ == "__main__":
    main()
