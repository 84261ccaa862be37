"""Time the named augmentation policies on typical SimCLR batches (two views per image).

Run: ``python benchmarks/augment.py [--repeats 20] [--threads N] [--json out.json]``. Prints, for
``two_views(policy, batch)`` on a uint8 batch, the fastest and median wall-clock milliseconds and
the fastest CPU milliseconds of the calling thread (with one torch thread, the latter is the
cost on a busy shared machine, where wall time includes waiting for a core). Informal, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from simclip.augment import create_policy, two_views

# (policy, batch, channels, side): MNIST-like and CIFAR-like batches of a SimCLR step.
CASES = (
    ("simclr-gray", 512, 1, 28),
    ("simclr-cifar", 256, 3, 32),
    ("simclr", 256, 3, 32),
    ("simclr", 64, 3, 224),
)


def time_case(name: str, batch: int, channels: int, side: int, repeats: int) -> dict[str, float]:
    """Wall and thread-CPU milliseconds of one two-view augmentation of a uint8 batch."""
    policy = create_policy(name, size=side, channels=channels)
    images = torch.randint(0, 256, (batch, channels, side, side), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    two_views(policy, images, generator)  # warm-up: first-call allocations
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.thread_time()
        two_views(policy, images, generator)
        wall.append((time.perf_counter() - start_wall) * 1e3)
        cpu.append((time.thread_time() - start_cpu) * 1e3)
    return {"wall_fastest_ms": min(wall), "wall_median_ms": statistics.median(wall), "cpu_fastest_ms": min(cpu)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    results = []
    for name, batch, channels, side in CASES:
        times = time_case(name, batch, channels, side, args.repeats)
        results.append({"policy": name, "batch": batch, "channels": channels, "side": side, "views": 2,
                        **{k: round(v, 3) for k, v in times.items()}})
        print(f"{name:13s} B={batch:4d} C={channels} {side:3d}x{side:<3d} x2 views: wall "
              f"{times['wall_fastest_ms']:8.2f} ms fastest, {times['wall_median_ms']:8.2f} ms median; "
              f"thread CPU {times['cpu_fastest_ms']:8.2f} ms fastest")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": torch.get_num_threads(), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
