"""Time the named augmentation policies on typical SimCLR batches (two views per image).

Run: ``python benchmarks/augment.py [--repeats 20] [--threads N] [--json out.json]``. Prints the
fastest and the median wall-clock milliseconds of ``two_views(policy, batch)`` on a uint8 batch;
informal, not a test. On a shared machine the fastest run is the better estimate of the cost.
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


def time_case(name: str, batch: int, channels: int, side: int, repeats: int) -> tuple[float, float]:
    """(fastest, median) milliseconds of one two-view augmentation of a uint8 batch."""
    policy = create_policy(name, size=side, channels=channels)
    images = torch.randint(0, 256, (batch, channels, side, side), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    two_views(policy, images, generator)  # warm-up: first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        two_views(policy, images, generator)
        times.append((time.perf_counter() - start) * 1e3)
    return min(times), statistics.median(times)


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
        fastest, median = time_case(name, batch, channels, side, args.repeats)
        results.append({"policy": name, "batch": batch, "channels": channels, "side": side, "views": 2,
                        "fastest_ms": round(fastest, 3), "median_ms": round(median, 3)})
        print(f"{name:13s} B={batch:4d} C={channels} {side:3d}x{side:<3d} x2 views: "
              f"{fastest:8.2f} ms fastest, {median:8.2f} ms median")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": torch.get_num_threads(), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
