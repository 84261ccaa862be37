"""Where a search request's CPU time goes: decode, tokenize, embed, search and the HTTP stack.

Run: ``python benchmarks/service_profile.py`` (about 1 min). Two parts, on the model, index and
uploads of ``benchmarks/service_load.py`` (``tiny-vit``, 500 generated images, 640x480 JPEGs):

- components, in this process on one thread (``time.thread_time``, so time other processes take
  from the shared cores is not counted): decoding an upload (full size and at the reduced size the
  service uses), preprocessing, tokenizing a query, the ONNX Runtime towers (one thread) for one item
  alone and per item in a batch of 16 (text: with and without the padding to the context length,
  which the service cuts), the whole ``embed_*`` calls, and the exact search for ``k = 12``;
- whole requests: a server with the new configuration's settings but one worker (``--workers 1
  --threads 1 --max-batch 64 --backend onnx``) is loaded by 8 clients per route for ``--seconds``;
  the CPU seconds of the server process divided by the requests answered give the cost of a request
  as served (batched), ``GET /healthz`` that of the HTTP stack alone (uvicorn, FastAPI, the
  middleware). The client process's CPU per request (aiohttp) is recorded too: it shares the cores.

Writes ``benchmarks/results/service_profile.json`` with the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from service_load import (UPLOADS, WORDS, build_small_index, load_average, start_server,  # noqa: E402
                          stop_server, tree_cpu_s)

RESULTS = Path(__file__).parent / "results" / "service_profile.json"
SERVED = "--workers 1 --threads 1 --max-batch 64 --backend onnx"


def cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    """Thread CPU milliseconds of one ``fn()``, the mean of ``repeat`` calls after one warm-up call."""
    fn()
    start = time.thread_time()
    for _ in range(repeat):
        fn()
    return round((time.thread_time() - start) * 1e3 / repeat, 3)


def components(index_dir: Path, model: str, repeat: int) -> dict[str, float]:
    """CPU milliseconds per item of each step of a request, on one thread."""
    import faiss
    import torch

    from simclip.serve.embedder import load_embedder, trim_padding
    from simclip.serve.images import decode_image_bytes
    from simclip.serve.index import ImageIndex
    from simclip.serve.onnx_embedder import export_towers, onnx_embedder

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    clip = load_embedder(model=model)
    side = 2 * clip.preprocess.cfg.image_size  # what the service decodes uploads at (app.upload_decode_side)
    with tempfile.TemporaryDirectory() as tmp:
        onnx = onnx_embedder(clip, export_towers(clip, Path(tmp)), threads=1)
    index = ImageIndex(index_dir, clip.identity)
    upload, rng = UPLOADS[0], random.Random(0)
    queries = [" ".join(rng.sample(WORDS, rng.randint(1, 4))) for _ in range(16)]
    image = decode_image_bytes(upload, min_side=side)
    images = [image] * 16
    pixels = np.stack([clip.preprocess(image).numpy()] * 16)
    padded = clip.tokenizer(queries)
    tokens, one = trim_padding(padded).numpy(), trim_padding(padded[:1]).numpy()
    padded = padded.numpy()
    vector = onnx.embed_texts(queries[:1])
    return {
        "decode_jpeg_640x480_full": cpu_ms(lambda: decode_image_bytes(upload), repeat),
        "decode_jpeg_640x480_reduced": cpu_ms(lambda: decode_image_bytes(upload, min_side=side), repeat),
        "preprocess_image": cpu_ms(lambda: clip.preprocess(image), repeat),
        "tokenize_query": cpu_ms(lambda: clip.tokenizer(queries[:1]), repeat),
        "text_tower_batch_1_padded": cpu_ms(lambda: onnx._run("text", padded[:1]), repeat),
        "text_tower_batch_1": cpu_ms(lambda: onnx._run("text", one), repeat),
        "text_tower_per_item_batch_16_padded": cpu_ms(lambda: onnx._run("text", padded), repeat) / 16,
        "text_tower_per_item_batch_16": cpu_ms(lambda: onnx._run("text", tokens), repeat) / 16,
        "image_tower_batch_1": cpu_ms(lambda: onnx._run("image", pixels[:1]), repeat),
        "image_tower_per_item_batch_16": cpu_ms(lambda: onnx._run("image", pixels), repeat) / 16,
        "embed_texts_per_item_batch_16": cpu_ms(lambda: onnx.embed_texts(queries), repeat) / 16,
        "embed_images_per_item_batch_16": cpu_ms(lambda: onnx.embed_images(images), repeat) / 16,
        "search_k12": cpu_ms(lambda: index.search(vector, 12), repeat),
    }


async def hammer(base: str, route: str, clients: int, seconds: float) -> int:
    """``clients`` loops sending ``route`` requests for ``seconds``; the number answered with 2xx."""
    done, rng = [0], random.Random(0)
    stop_at = time.monotonic() + seconds

    async def one(http: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop_at:
            if route == "image":
                form = aiohttp.FormData()
                form.add_field("file", rng.choice(UPLOADS), filename="q.jpg", content_type="image/jpeg")
                request = http.post("/api/search/image", params={"k": 12}, data=form)
            elif route == "text":
                request = http.get("/api/search", params={"q": " ".join(rng.sample(WORDS, 2)), "k": 12})
            else:
                request = http.get("/healthz")
            async with request as r:
                await r.read()
                done[0] += r.ok

    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=0)) as http:
        await asyncio.gather(*[one(http) for _ in range(clients)])
    return done[0]


def requests(index_dir: Path, clients: int, seconds: float) -> dict[str, dict[str, float]]:
    """Server and client CPU milliseconds per answered request, by route."""
    proc, base = start_server(index_dir, SERVED, None)
    out = {}
    try:
        asyncio.run(hammer(base, "text", clients, 2.0))  # warm-up
        for route in ("healthz", "text", "image"):
            server, client, wall = tree_cpu_s(proc.pid), time.process_time(), time.monotonic()
            n = asyncio.run(hammer(base, route, clients, seconds))
            out[route] = {"requests": n, "requests_per_s": round(n / (time.monotonic() - wall), 1),
                          "server_cpu_ms": round((tree_cpu_s(proc.pid) - server) * 1e3 / max(n, 1), 3),
                          "client_cpu_ms": round((time.process_time() - client) * 1e3 / max(n, 1), 3)}
            print(route, out[route], flush=True)
    finally:
        stop_server(proc)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="load per route")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients per route")
    parser.add_argument("--repeat", type=int, default=200, help="calls per component")
    parser.add_argument("--model", default="tiny-vit")
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args()
    result: dict = {"benchmark": "service_profile", "model": args.model, "served_flags": SERVED,
                    "clients": args.clients, "seconds_per_route": args.seconds,
                    "load_average_before": load_average(),
                    "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}}
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = build_small_index(Path(tmp), 500, None, args.model)
        result["components_cpu_ms"] = components(index_dir, args.model, args.repeat)
        print(json.dumps(result["components_cpu_ms"], indent=1), flush=True)
        result["requests_cpu_ms"] = requests(index_dir, args.clients, args.seconds)
    result["load_average_after"] = load_average()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"load average before {result['load_average_before']}, after {result['load_average_after']}")
    print(f"-> {args.json}")


if __name__ == "__main__":
    main()
