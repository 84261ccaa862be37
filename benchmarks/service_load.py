"""Load test of the search service: a latency-vs-throughput curve, the former configuration beside the
new one in the same run.

Run: ``python benchmarks/service_load.py [--levels 1,5,10,20,35,50,64] [--seconds 10]`` (about 4 min).
Builds a small index of generated shape images in a temporary folder and starts one ``simclip serve``
process per configuration (``--old`` and ``--new`` flags, both on free loopback ports, both up for the
whole run). At each client count the configurations take turns (old, then new) so that a change in
the machine's background load reaches both alike; ``--clients`` asyncio+aiohttp clients loop for
``--seconds``: a text search with probability ``1 - --image-fraction`` (default 0.9), else an image
upload, a 640x480 photo-like JPEG (about 80 KB, what a page that scales photos before upload sends).
Each point records requests/s, latency p50/p99 of 2xx answers, the status counts and the CPU seconds
the server processes and the client process spent. At ``--mix-clients`` both configurations are also
measured at ``--mix-image-fraction`` uploads, to show how the answer depends on the mix. The load
average (``/proc/loadavg``) is recorded before and after. Writes ``benchmarks/results/service_load_curve.json``
and ``.png``. Nothing leaves the machine: the servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import httpx
import numpy as np
from PIL import Image, ImageDraw

RESULTS = Path(__file__).parent / "results" / "service_load_curve.json"
WORDS = ("red", "green", "blue", "yellow", "circle", "square", "triangle", "small", "large", "shape",
         "a photo of", "on grey", "bright", "dark")
# The service as it was: one process embedding each request alone, 4 model calls at once.
OLD = "--workers 1 --max-batch 1 --max-concurrency 4 --backend torch"
# One worker per core, one intra-op thread each, continuous batching, ONNX Runtime.
NEW = "--workers 2 --threads 1 --max-batch 64 --backend onnx"


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


def photo_jpeg(rng: random.Random, width: int = 640, height: int = 480) -> bytes:
    """A photo-like JPEG (quality 85): smooth colour fields, a few discs and sensor-like noise, so that
    it compresses and decodes like a photo rather than like a flat drawing."""
    g = np.random.default_rng(rng.randrange(2**32))
    image = Image.fromarray(g.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8))
    image = image.resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(20, 120)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    pixels = np.asarray(image, np.float64) + g.normal(0, 8, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=85)
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


def workers_ready(port: int, workers: int) -> bool:
    """True once ``workers`` sockets listen on ``port`` (Linux: each worker listens on its own); elsewhere,
    once one answers. Connections made before the last worker listens would all stay with the others."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if workers == 1 or not tables[0].exists():
        return True
    listening = 0
    for table in tables:
        for line in table.read_text().splitlines()[1:] if table.exists() else []:
            local, state = line.split()[1], line.split()[3]
            listening += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return listening >= workers


def start_server(index: Path, flags: str, checkpoint: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1] / "src"),
                                                                       os.environ.get("PYTHONPATH")]))}
    model = ["--checkpoint", checkpoint] if checkpoint else []
    proc = subprocess.Popen([sys.executable, "-m", "simclip.cli", "serve", "--index", str(index), "--port",
                             str(port), *model, *shlex.split(flags)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers = int(flags.split("--workers")[1].split()[0]) if "--workers" in flags else 1
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200 and workers_ready(port, workers):
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("server did not become ready within 300 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def client(http: aiohttp.ClientSession, stop_at: float, budget: list[int], image_fraction: float,
                 seed: int, uploads: list[bytes], records: list[tuple[str, int, float]]) -> None:
    """One client: a request, its answer read whole, the next request, until ``stop_at``."""
    rng = random.Random(seed)
    while time.monotonic() < stop_at and budget[0] > 0:
        budget[0] -= 1
        kind = "image" if rng.random() < image_fraction else "text"
        start = time.perf_counter()
        try:
            if kind == "text":
                request = http.get("/api/search", params={"q": " ".join(rng.sample(WORDS, rng.randint(1, 4))),
                                                          "k": 12})
            else:
                form = aiohttp.FormData()
                form.add_field("file", rng.choice(uploads), filename="q.jpg", content_type="image/jpeg")
                request = http.post("/api/search/image", params={"k": 12}, data=form)
            async with request as r:
                await r.read()
                status = r.status
        except (TimeoutError, aiohttp.ClientError):
            status = 0  # connection failure or client timeout
        records.append((kind, status, (time.perf_counter() - start) * 1e3))


def latency(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {}
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "mean_ms": round(float(np.mean(ms)), 2), "count": len(ms)}


UPLOADS = [photo_jpeg(random.Random(i)) for i in range(16)]


async def load(base: str, clients: int, seconds: float, image_fraction: float,
               max_requests: int = 1_000_000) -> tuple[list, float]:
    records: list[tuple[str, int, float]] = []
    budget = [max_requests]
    # aiohttp rather than httpx: the clients share the 2 cores with the servers, and aiohttp spends
    # 0.15 ms of CPU on a request where httpx spends 0.6-0.8 ms (measured on GET /healthz here)
    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:
        start = time.monotonic()
        await asyncio.gather(*[client(http, start + seconds, budget, image_fraction, i, UPLOADS, records)
                               for i in range(clients)])
        return records, time.monotonic() - start


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its live descendants (Linux)."""
    tick, total, todo = os.sysconf("SC_CLK_TCK"), 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def measured(server: tuple[subprocess.Popen, str], clients: int, seconds: float, image_fraction: float) -> dict:
    """One point: :func:`point` plus the CPU the server processes and this client process spent."""
    proc, base = server
    server_before, client_before = tree_cpu_s(proc.pid), time.process_time()
    records, elapsed = asyncio.run(load(base, clients, seconds, image_fraction))
    p = point(records, elapsed, clients)
    p["server_cpu_ms_per_request"] = round((tree_cpu_s(proc.pid) - server_before) * 1e3 / max(len(records), 1), 2)
    p["client_cpu_ms_per_request"] = round((time.process_time() - client_before) * 1e3 / max(len(records), 1), 2)
    p["image_fraction"] = image_fraction
    return p


def point(records: list, elapsed: float, clients: int) -> dict:
    """One point of the curve: throughput, latency of the 2xx answers, status counts."""
    statuses = Counter(status for _, status, _ in records)
    ok = [ms for _, status, ms in records if 200 <= status < 300]
    return {
        "clients": clients, "elapsed_s": round(elapsed, 2), "requests": len(records),
        "requests_per_s": round(len(records) / elapsed, 1), "latency_2xx": latency(ok),
        "latency_by_kind": {kind: latency([ms for k, s, ms in records if k == kind and 200 <= s < 300])
                            for kind in ("text", "image")},
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "non_2xx": sum(v for k, v in statuses.items() if not 200 <= k < 300),
    }


def load_average() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return list(os.getloadavg())


def plot(result: dict, path: Path) -> None:
    """Left: latency p50/p99 against requests/s (labels: clients). Right: requests/s against clients."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    for (name, run), colour in zip(result["configs"].items(), ("tab:grey", "tab:blue")):
        points = run["points"]
        rps = [p["requests_per_s"] for p in points]
        for stat, style in (("p99_ms", "-"), ("p50_ms", "--")):
            ax.plot(rps, [p["latency_2xx"].get(stat, np.nan) for p in points], style, marker="o",
                    color=colour, label=f"{name} {stat[:3]}")
        for p in points:
            ax.annotate(str(p["clients"]), (p["requests_per_s"], p["latency_2xx"].get("p99_ms", np.nan)),
                        textcoords="offset points", xytext=(3, 4), fontsize=7, color=colour)
        right.plot([p["clients"] for p in points], rps, marker="o", color=colour, label=name)
    ax.set(xlabel="requests/s", ylabel="latency (ms), 2xx answers", yscale="log")
    ax.set_title("latency vs throughput (labels: clients)", fontsize=10)
    right.set(xlabel="concurrent clients", ylabel="requests/s")
    right.set_title("throughput", fontsize=10)
    for a in (ax, right):
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle(f"simclip serve on loopback, {result['model']}, {result['index_images']} images, "
                 f"{result['image_fraction']:.0%} uploads (640x480 JPEG), 2 shared cores", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,5,10,20,35,50,64", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per point and configuration")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before the first point")
    parser.add_argument("--images", type=int, default=500, help="size of the generated index")
    parser.add_argument("--image-fraction", type=float, default=0.1, help="share of image uploads (0.1)")
    parser.add_argument("--mix-clients", type=int, default=50, help="client count of the mix check (0: none)")
    parser.add_argument("--mix-image-fraction", type=float, default=0.3, help="upload share of the mix check")
    parser.add_argument("--model", default="tiny-vit", help="architecture, random init (default tiny-vit)")
    parser.add_argument("--checkpoint", default=None, help="CLIP weights instead of --model")
    parser.add_argument("--old", default=OLD, help="serve flags of the former configuration")
    parser.add_argument("--new", default=NEW, help="serve flags of the new configuration")
    parser.add_argument("--note", default="", help="conditions of the run, stored in the JSON")
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    configs = {"old": args.old, "new": args.new}
    result: dict = {"benchmark": "service_load_curve", "levels": levels, "seconds_per_point": args.seconds,
                    "index_images": args.images, "image_fraction": args.image_fraction,
                    "uploads": f"640x480 photo-like JPEG, quality 85, "
                               f"{np.mean([len(u) for u in UPLOADS]) / 1e3:.0f} KB mean",
                    "mix_check": {"clients": args.mix_clients, "image_fraction": args.mix_image_fraction},
                    "model": args.checkpoint or args.model, "load_average_before": load_average(),
                    "configs": {name: {"flags": flags, "points": []} for name, flags in configs.items()},
                    "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "note": args.note}
    with tempfile.TemporaryDirectory() as tmp:
        index = build_small_index(Path(tmp), args.images, args.checkpoint, args.model)
        servers = {}
        try:
            for name, flags in configs.items():
                servers[name] = start_server(index, flags, args.checkpoint)
                asyncio.run(load(servers[name][1], 8, args.warmup, args.image_fraction))
            runs = [(clients, args.image_fraction, "points") for clients in levels]
            if args.mix_clients:
                runs.append((args.mix_clients, args.mix_image_fraction, "mix_check"))
            for clients, fraction, key in runs:
                for name in configs:
                    p = measured(servers[name], clients, args.seconds, fraction)
                    result["configs"][name].setdefault(key, []).append(p)
                    print(f"{name:>4} {clients:3d} clients, {fraction:.0%} uploads: {p['requests_per_s']:7.1f} req/s  "
                          f"p50 {p['latency_2xx'].get('p50_ms')} ms  p99 {p['latency_2xx'].get('p99_ms')} ms  "
                          f"non-2xx {p['non_2xx']}  server CPU {p['server_cpu_ms_per_request']} ms/req", flush=True)
        finally:
            for proc, _ in servers.values():
                stop_server(proc)
    result["load_average_after"] = load_average()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    plot(result, Path(args.json).with_suffix(".png"))
    print(f"load average before {result['load_average_before']}, after {result['load_average_after']}")
    print(f"-> {args.json} and {Path(args.json).with_suffix('.png')}")


if __name__ == "__main__":
    main()
