"""Run every benchmark in turn (each writes its JSON into benchmarks/results/); BENCHMARKS.md
summarises them. Run on an otherwise idle machine: the figures are wall-clock.

    python benchmarks/run_all.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "losses": ["losses.py"],
    "simclr_mnist": ["simclr_mnist.py", "--seconds", "120"],
    "profile_step": ["profile_step.py"],
    "clip_train": ["clip_train.py"],
    "clip_mnist": ["clip_mnist.py"],
    "index_search": ["index_search.py"],
    "service_load": ["service_load.py"],
    "service_profile": ["service_profile.py"],
    "onnx_export": ["onnx_export.py"],
    "reliability": ["reliability.py"],
    "shard_scale": ["shard_scale.py"],
    "pairs_world": ["pairs_world.py", "--seconds", "120"],
    "video_world": ["video_world.py", "--seconds", "60"],
    "input_pipeline": ["input_pipeline.py"],
    "styleclip_edits": ["styleclip_edits.py"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    args = parser.parse_args()
    failed = []
    for name, cmd in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        script = HERE / cmd[0]
        if not script.exists():
            print(f"== {name}: {script.name} missing, skipped")
            continue
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        t0 = time.time()
        rc = subprocess.call([sys.executable, str(script), *cmd[1:]])
        print(f"== {name}: exit {rc} after {time.time() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
