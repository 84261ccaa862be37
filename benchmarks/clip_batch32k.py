"""A few CLIP steps at the paper's batch of 32,768 on this CPU, with the gradient cache.

The model is CPU-sized (`small-cnn-32` on the built-in shapes); the batch is what the CLIP paper
used. The gradient cache embeds micro-batches without a graph, computes the exact full-batch loss
(tiled: the 32,768 x 32,768 logit matrix, 4 GB in float32, is never formed) and back-propagates
micro-batch by micro-batch. Records seconds per step and the process's peak resident memory.

    python benchmarks/clip_batch32k.py --steps 3     # writes results/clip_batch32k.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import torch

from simclip.data import batches, load_caption_dataset
from simclip.recipes.clip import build_clip, clip_config
from simclip.train import build_optimizer, forward_backward

HERE = Path(__file__).resolve().parent


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32768)
    parser.add_argument("--micro-batch", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "clip_batch32k.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    data = load_caption_dataset(f"shapes?n={args.batch}")
    cfg = clip_config(data="shapes", batch_size=args.batch, model={"name": "small-cnn-32"},
                      micro_batch=args.micro_batch)
    model, objective = build_clip(cfg, data)
    model.to(memory_format=torch.channels_last).train()
    opt = build_optimizer(model, cfg.optim)
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    before = peak_rss_mb()
    steps = []
    for step in range(args.steps):
        batch = next(batches(data, args.batch, seed=0, epoch=step))  # the whole set, reshuffled
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss, _ = forward_backward(objective, model, batch, autocast=autocast, micro_batch=args.micro_batch)
        opt.step()
        objective.after_step(model)
        steps.append({"seconds": time.perf_counter() - t0, "loss": loss})
        print(f"step {len(steps)}: loss {loss:.4f}, {steps[-1]['seconds']:.1f} s, peak RSS {peak_rss_mb():.0f} MB",
              flush=True)
    result = {"benchmark": "clip_batch32k", "batch": args.batch, "micro_batch": args.micro_batch,
              "model": "small-cnn-32", "precision": "bf16 autocast, loss float32", "steps": steps,
              "median_seconds_per_step": sorted(s["seconds"] for s in steps)[len(steps) // 2],
              "peak_rss_mb": peak_rss_mb(), "rss_before_training_mb": before,
              "dense_logit_matrix_gb": args.batch ** 2 * 4 / 1e9,
              "machine": {"platform": platform.platform(), "torch": torch.__version__,
                          "threads": torch.get_num_threads()}}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "steps"}, indent=2))


if __name__ == "__main__":
    main()
