"""Where the time of a training step goes: data, augmentation/preprocessing, forward, loss,
backward and optimiser, for a SimCLR step and a CLIP step, measured with the real objectives.

    python benchmarks/profile_step.py                 # writes results/profile_step.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from simclip.data import batches, load_caption_dataset, load_dataset
from simclip.recipes.clip import build_clip, clip_config
from simclip.recipes.simclr import build_simclr, simclr_config
from simclip.train import build_optimizer
from simclip.heap import keep_freed_memory

HERE = Path(__file__).resolve().parent
PHASES = ("data", "augment", "forward", "loss", "backward", "optimizer")


def profile(model, objective, dataset, cfg, steps: int, warmup: int) -> dict[str, float]:
    model.train()
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = build_optimizer(model, cfg.optim)
    it = (b for epoch in range(10**6) for b in batches(dataset, cfg.batch_size, seed=0, epoch=epoch))
    totals = dict.fromkeys(PHASES, 0.0)
    for step in range(warmup + steps):
        t = [time.perf_counter()]
        batch = next(it)
        t.append(time.perf_counter())
        inputs = objective.inputs(batch)
        t.append(time.perf_counter())
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            reps = objective.embed(model, inputs)
        t.append(time.perf_counter())
        loss, _ = objective.loss(model, reps)
        t.append(time.perf_counter())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t.append(time.perf_counter())
        opt.step()
        t.append(time.perf_counter())
        if step >= warmup:
            for name, a, b in zip(PHASES, t, t[1:]):
                totals[name] += b - a
    per_step = {k: 1000 * v / steps for k, v in totals.items()}
    total = sum(per_step.values())
    return {"ms_per_step": per_step, "total_ms": total,
            "share": {k: v / total for k, v in per_step.items()},
            "batch_size": cfg.batch_size, "images_per_s": cfg.batch_size / (total / 1000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "profile_step.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    # as the training loop does: without it each step page-faults its tensors in anew
    results = {"machine": {"platform": platform.platform(), "torch": torch.__version__,
                           "threads": torch.get_num_threads()},
               "keep_freed_memory": keep_freed_memory()}

    mnist = HERE.parent.parent / "shared" / "data" / "mnist"
    spec = f"mnist:{mnist}" if mnist.exists() else "digits"
    cfg = simclr_config(data=spec, batch_size=512,
                        model={"encoder": "small-cnn", "proj_hidden_dim": 256, "proj_dim": 128},
                        objective={"temperature": 0.2})
    data = load_dataset(spec)
    model, objective = build_simclr(cfg, data)
    results["simclr"] = {"data": spec, "model": "small-cnn + 256-256-128 head",
                         **profile(model, objective, data, cfg, args.steps, args.warmup)}

    cfg = clip_config(data="shapes", batch_size=256, model={"name": "small-cnn-32"})
    data = load_caption_dataset("shapes")
    model, objective = build_clip(cfg, data)
    results["clip"] = {"data": "shapes", "model": "small-cnn-32",
                       **profile(model, objective, data, cfg, args.steps, args.warmup)}

    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    for name in ("simclr", "clip"):
        r = results[name]
        row = "  ".join(f"{k} {v:6.1f}" for k, v in r["ms_per_step"].items())
        print(f"{name:<7} batch {r['batch_size']}: {row}  total {r['total_ms']:.1f} ms "
              f"({r['images_per_s']:.0f} images/s)")


if __name__ == "__main__":
    main()
