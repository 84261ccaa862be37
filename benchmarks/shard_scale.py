"""Peak memory and images/s of ``simclip data shard`` on image folders of growing size.

Run: ``python benchmarks/shard_scale.py [--counts 20000,200000] [--runs process:2,thread:2,none:0]``
Writes ``benchmarks/results/shard_scale.json`` (runs of other counts or pools already there are
kept, so the sizes can be measured one invocation at a time).

Source: a ``folder:`` of ``count`` 64x64 JPEG files (quality 95) in 10 class folders, written
once into ``--cache`` (default ``$TMPDIR/simclip-shard-scale``) and reused; the files are 500
distinct random-texture images repeated under new names, so generating 200,000 takes seconds and
about 1 GB of disk (``du`` is recorded). Each run shards the folder with
``simclip data shard --format jpeg --quality 90 --shard-size 10000`` in a fresh child process.

Reported per run: wall seconds of the child (start-up, listing and header scan included), the
images/s the command prints (its own timer: listing, encoding and writing), ``ru_maxrss`` of the
largest process (the command or one worker) and the peak over time of the summed proportional set
size (PSS, from ``/proc/PID/smaps_rollup``, sampled every 0.1 s) of the command and its workers,
which counts memory shared between forked workers once. The target is a peak under 1 GB at
200,000 images, flat in the image count.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

RESULTS = Path(__file__).parent / "results" / "shard_scale.json"
CLASSES, DISTINCT, SIDE = 10, 500, 64


def make_folder(root: Path, count: int) -> Path:
    """``root/n{count}``: ``count`` JPEG files in ``CLASSES`` class folders (reused when complete)."""
    folder = root / f"n{count}"
    done = folder / ".complete"
    if done.is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(DISTINCT):  # smooth random textures: JPEG sizes like photos', not like noise
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((SIDE, SIDE), Image.Resampling.BICUBIC)
        path = Path(tempfile.mktemp(suffix=".jpg"))
        image.save(path, quality=95)
        blobs.append(path.read_bytes())
        path.unlink()
    for c in range(CLASSES):
        (folder / f"class{c}").mkdir(parents=True)
    for i in range(count):
        (folder / f"class{i % CLASSES}" / f"{i:07d}.jpg").write_bytes(blobs[i % DISTINCT])
    done.write_text("ok\n")
    return folder


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def pss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def shard_once(folder: Path, out: Path, pool: str, workers: int) -> dict:
    """Run the command in a child process; wall time, its printed rate, peak memory."""
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, "-m", "simclip.cli", "data", "shard", "--data", f"folder:{folder}",
            "--out", str(out), "--format", "jpeg", "--quality", "90", "--shard-size", "10000",
            "--workers", str(workers), "--pool", pool]
    peak, stop = [0.0], threading.Event()
    logs = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=logs[0], stderr=logs[1],
                             env={**os.environ, "OMP_NUM_THREADS": "1"})

    def sample() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], pss_mib(descendants(child.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4: this child's own usage, its reaped workers included (ru_maxrss: the largest one)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    stdout, stderr = (log.seek(0) or log.read() for log in logs)
    if child.returncode != 0:
        raise SystemExit(f"shard failed ({child.returncode}): {stderr.strip()}")
    line = stdout.strip().splitlines()[-1]
    images = int(re.search(r"\((\d+) images\)", line).group(1))
    rate = float(re.search(r"([\d.]+) images/s", line).group(1))
    shards = sorted(out.glob("*.tar"))
    return {"pool": pool, "workers": workers, "wall_s": round(wall, 2), "images_per_s": rate,
            "wall_images_per_s": round(images / wall, 1),
            "peak_pss_mib": round(peak[0], 1),
            "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "shards": len(shards), "shard_mib": round(sum(p.stat().st_size for p in shards) / 2**20, 1),
            "output": line}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="20000,200000", help="image counts, comma-separated")
    parser.add_argument("--runs", default="process:2,thread:2,none:0",
                        help="POOL:WORKERS pairs, comma-separated (none:0 encodes in the command)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "simclip-shard-scale"),
                        help="folder for the generated image folders (kept for reruns)")
    args = parser.parse_args()
    cache = Path(args.cache)
    results = []
    for count in [int(c) for c in args.counts.split(",")]:
        made = time.perf_counter()
        folder = make_folder(cache, count)
        disk = subprocess.run(["du", "-sm", str(folder)], capture_output=True, text=True).stdout.split()[0]
        print(f"{count} images in {folder} ({disk} MiB, {time.perf_counter() - made:.0f} s)", flush=True)
        for run in args.runs.split(","):
            pool, workers = run.split(":")
            result = shard_once(folder, cache / "out", "process" if pool == "none" else pool, int(workers))
            results.append({"images": count, "source_mib": int(disk), **result})
            print(json.dumps(results[-1]), flush=True)
    shutil.rmtree(cache / "out", ignore_errors=True)
    RESULTS.parent.mkdir(exist_ok=True)
    if RESULTS.is_file():  # keep earlier runs of other counts or pools; a rerun replaces its own
        ran = {(r["images"], r["pool"], r["workers"]) for r in results}
        earlier = json.loads(RESULTS.read_text())["runs"]
        results = [r for r in earlier if (r["images"], r["pool"], r["workers"]) not in ran] + results
    RESULTS.write_text(json.dumps({
        "benchmark": "shard_scale", "image": f"{SIDE}x{SIDE} JPEG, {CLASSES} class folders",
        "command": "simclip data shard --format jpeg --quality 90 --shard-size 10000",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_before": os.getloadavg()},
        "target": {"peak_mib": 1024, "images": 200_000}, "runs": results}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
