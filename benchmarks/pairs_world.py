"""Contrastive learning across modalities on the built-in world: image, sound, depth and point
cloud of 2,000 objects, bound to the image (ImageBind's anchored CLIP loss), trained for a fixed
wall-clock budget; then recall@1/5 of each modality retrieving its own object's image among the
400 held-out objects (beside chance, 100 k / 400) and linear/kNN probes of every tower for shape
and colour, beside the same towers untrained. A sound only tells shape, colour and size, so
audio->image recall is also reported against its ceiling (ties among objects alike in those).

    python benchmarks/pairs_world.py --seconds 120 [--out runs/bench-pairs]

The same run from the command line:

    simclip data make-world --out world
    simclip pair train --data pairs:world/pairs.csv --modalities image,audio,depth,points \\
        --anchor image --time-budget 120 --out runs/p
    simclip pair eval --run runs/p --labels shape,color
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODALITIES = ["image", "audio", "depth", "points"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="training budget (120)")
    parser.add_argument("--objects", type=int, default=2000, help="objects in the world (2000)")
    parser.add_argument("--out", default="runs/bench-pairs", help="folder for the world and the run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the world and the run (0)")
    parser.add_argument("--json", default=str(HERE / "results" / "pairs_world.json"), help="result file")
    args = parser.parse_args()

    import torch

    from simclip.data.paired import load_paired_dataset
    from simclip.data.world import make_world
    from simclip.pairs import (PairModel, PairModelConfig, PairObjectiveConfig, evaluate_pairs, load_pair_run,
                               pair_config, run_pairs)

    out = Path(args.out)
    t0 = time.perf_counter()
    table = make_world(out / "world", args.objects, args.seed, overwrite=True)
    world_seconds = time.perf_counter() - t0
    spec = f"pairs:{table}"
    t0 = time.perf_counter()
    train = load_paired_dataset(spec, "train", MODALITIES)
    test = load_paired_dataset(spec, "test", MODALITIES)
    load_seconds = time.perf_counter() - t0
    cfg = pair_config(data=spec, out=str(out / "run"), overwrite=True, time_budget=args.seconds, epochs=100_000,
                      seed=args.seed, progress=False, eval_protocols=(),
                      objective={"modalities": MODALITIES, "anchor": "image"})
    trained = run_pairs(cfg, dataset=train)
    model, _ = load_pair_run(cfg.out)
    labels = ["shape", "color"]
    result_trained = evaluate_pairs(model, train, test, labels=labels)
    torch.manual_seed(args.seed)
    untrained = PairModel(PairModelConfig.from_dict(cfg.model), PairObjectiveConfig.from_dict(cfg.objective))
    result_untrained = evaluate_pairs(untrained, train, test, labels=labels)
    report = {
        "command": f"python benchmarks/pairs_world.py --seconds {args.seconds:g}",
        "conditions": {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                       "load_average_at_end": os.getloadavg(), "machine": platform.machine()},
        "world": {"objects": args.objects, "train": len(train), "test": len(test),
                  "write_seconds": round(world_seconds, 1), "read_seconds": round(load_seconds, 1)},
        "training": {k: trained[k] for k in ("steps", "epochs", "train_seconds", "images_per_s")},
        "config": cfg.to_dict(),
        "audio_ceiling": audio_ceiling(test),
        "trained": result_trained,
        "untrained": result_untrained,
    }
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    for key, value in result_trained.items():
        print(f"{key:<36} {value:7.2f}   untrained {result_untrained.get(key, float('nan')):7.2f}")
    print(f"audio->image ceiling (shape, colour, size ties): {report['audio_ceiling']}")
    print(f"{trained['steps']} steps in {trained['train_seconds']:.0f} s; world written in {world_seconds:.1f} s "
          f"-> {args.json}")
    return 0


def audio_ceiling(test) -> dict[str, float]:
    """The best recall audio->image can reach: a sound tells shape, colour and size, so an audio
    query that recovers all three still ties with every held-out object of the same three; a
    uniform pick among them hits with probability min(1, k / group size)."""
    from collections import Counter

    keys = list(zip(*(test.labels[c].tolist() for c in ("shape", "color", "size"))))
    size = Counter(keys)
    return {f"R@{k}": 100.0 * sum(min(1.0, k / size[key]) for key in keys) / len(keys) for k in (1, 5)}


if __name__ == "__main__":
    raise SystemExit(main())
