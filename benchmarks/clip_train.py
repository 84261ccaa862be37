"""CLIP training speed: simclip vs OpenCLIP 3.x on the same small ViT-CLIP, in one process.

Both sides build the ``tiny-vit`` architecture (32x32 images in 4x4 patches, a 6-layer ViT of width
192 and a 4-layer text transformer of width 128 over 32 tokens, embeddings of 128; exact GELU),
from random init, and OpenCLIP's model is given simclip's weights so the two compute the same
function (checked: same parameter count, forward outputs compared in float32). Each step: forward
under bf16 autocast on the CPU, the library's own CLIP loss in float32, backward, AdamW (same
groups: no weight decay on gains, biases and the temperature), temperature clamp. The batch is the
same random images and token ids for both. Steps are timed after a warm-up; the two sides alternate
order over repeats and the median steps/s is reported, with the machine's load average beside it.
The ratio is taken on process CPU time with one thread (``--threads``): on a shared machine, wall
time mostly measures the other users, and OpenMP threads that wait for a busy core more so; wall
time is reported too.

    python benchmarks/clip_train.py                  # writes results/clip_train.json
    python benchmarks/clip_train.py --profile        # also prints where simclip's step spends time
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from simclip.clip import create_model, to_openai_layout
from simclip.losses import clip_loss
from simclip.train.optim import param_groups

HERE = Path(__file__).resolve().parent
ARCH = "tiny-vit"
LR, WEIGHT_DECAY, BETAS, EPS = 5e-4, 0.2, (0.9, 0.98), 1e-6  # CLIP's AdamW (Radford et al. 2021)


def build_pair(seed: int = 0):
    """simclip's model and an OpenCLIP model of the same architecture holding the same weights."""
    import open_clip
    from open_clip.model import CLIP as OpenCLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(seed)
    ours = create_model(ARCH)
    c, v, t = ours.config, ours.config.vision, ours.config.text
    theirs = OpenCLIP(embed_dim=c.embed_dim, quick_gelu=c.quick_gelu,
                      vision_cfg=CLIPVisionCfg(layers=v.layers, width=v.width, head_width=v.head_width,
                                               mlp_ratio=v.mlp_ratio, patch_size=v.patch_size,
                                               image_size=v.image_size),
                      text_cfg=CLIPTextCfg(context_length=t.context_length, vocab_size=t.vocab_size,
                                           width=t.width, heads=t.heads, layers=t.layers,
                                           mlp_ratio=t.mlp_ratio))
    state = to_openai_layout(ours.state_dict())
    missing, unexpected = theirs.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if k != "attn_mask"]:
        raise RuntimeError(f"architectures differ: missing {missing}, unexpected {unexpected}")
    return ours, theirs, open_clip.__version__


def batch(model, size: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random normalised images and token ids ending in the end-of-text id (the largest), as the
    BPE tokenizer makes them; lengths vary per row."""
    g = torch.Generator().manual_seed(seed)
    v, t = model.config.vision, model.config.text
    images = torch.randn(size, v.in_channels, v.image_size, v.image_size, generator=g)
    tokens = torch.zeros(size, t.context_length, dtype=torch.long)
    lengths = torch.randint(4, t.context_length, (size,), generator=g)
    for i, n in enumerate(lengths.tolist()):
        tokens[i, 0] = t.vocab_size - 2  # start of text
        tokens[i, 1:n - 1] = torch.randint(1, t.vocab_size - 2, (n - 2,), generator=g)
        tokens[i, n - 1] = t.vocab_size - 1  # end of text
    return images, tokens


def step_fns(ours, theirs):
    """One training step of each side: (model, optimizer, step(images, tokens) -> loss)."""
    from open_clip.loss import ClipLoss

    open_clip_loss = ClipLoss()

    def simclip_step(model, images, tokens):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            image, text, scale = model(images, tokens)
        return clip_loss(image.float(), text.float(), scale)

    def open_clip_step(model, images, tokens):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            image, text, scale = model(images, tokens)
        return open_clip_loss(image.float(), text.float(), scale)

    sides = {}
    for name, model, fn in (("simclip", ours, simclip_step), ("open_clip", theirs, open_clip_step)):
        optimizer = torch.optim.AdamW(param_groups(model, WEIGHT_DECAY), lr=LR, betas=BETAS, eps=EPS)
        sides[name] = (model.train(), optimizer, fn)
    return sides


def run_steps(model, optimizer, fn, images, tokens, steps: int) -> tuple[float, float]:
    """Process CPU seconds and wall-clock seconds for ``steps`` training steps."""
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        loss = fn(model, images, tokens)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, 4.6052)
    return time.process_time() - c0, time.perf_counter() - t0


def same_function(ours, theirs, images, tokens) -> float:
    """Largest absolute difference of the normalised features in float32 (the weights are shared)."""
    with torch.no_grad():
        a, b = ours.eval()(images[:8], tokens[:8]), theirs.eval()(images[:8], tokens[:8])
    ours.train(), theirs.train()
    return max(float((x - y).abs().max()) for x, y in zip(a[:2], b[:2]))


def profile(side, images, tokens, steps: int = 5) -> str:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model, optimizer, fn = side
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        run_steps(model, optimizer, fn, images, tokens, steps)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side and repeat")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "clip_train.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ours, theirs, version = build_pair()
    images, tokens = batch(ours, args.batch)
    difference = same_function(ours, theirs, images, tokens)
    params = [sum(p.numel() for p in m.parameters()) for m in (ours, theirs)]
    if params[0] != params[1]:
        raise RuntimeError(f"parameter counts differ: simclip {params[0]}, open_clip {params[1]}")
    sides = step_fns(ours, theirs)
    for model, optimizer, fn in sides.values():
        run_steps(model, optimizer, fn, images, tokens, args.warmup)
    rates: dict[str, list[float]] = {name: [] for name in sides}
    wall_rates: dict[str, list[float]] = {name: [] for name in sides}
    loads = []
    for r in range(args.repeats):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        loads.append(os.getloadavg()[0])
        for name in order:
            cpu, wall = run_steps(*sides[name], images, tokens, args.steps)
            rates[name].append(args.steps / cpu)
            wall_rates[name].append(args.steps / wall)
        print(f"repeat {r}: " + ", ".join(f"{n} {rates[n][-1]:.2f} steps/CPU-s ({wall_rates[n][-1]:.2f}/s "
                                          f"wall)" for n in sides) + f", load {loads[-1]:.2f}")
    loads.append(os.getloadavg()[0])
    median = {name: statistics.median(v) for name, v in rates.items()}
    wall_median = {name: statistics.median(v) for name, v in wall_rates.items()}
    result = {
        "benchmark": "clip_train", "architecture": ARCH, "config": ours.config.to_dict(),
        "batch": args.batch, "steps_per_repeat": args.steps, "warmup_steps": args.warmup,
        "repeats": args.repeats, "precision": "bf16 autocast (CPU), loss in float32",
        "optimizer": {"name": "AdamW", "lr": LR, "weight_decay": WEIGHT_DECAY, "betas": BETAS, "eps": EPS},
        "parameters": params[0], "max_feature_difference_fp32": difference,
        "clock": "process CPU time", "threads": args.threads,
        "steps_per_cpu_s": rates, "median_steps_per_cpu_s": median,
        "ratio_simclip_over_open_clip": median["simclip"] / median["open_clip"],
        "steps_per_wall_s": wall_rates, "median_steps_per_wall_s": wall_median,
        "wall_ratio_simclip_over_open_clip": wall_median["simclip"] / wall_median["open_clip"],
        "target_ratio": 1.2, "load_average_1min": loads,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__, "open_clip": version, "threads": torch.get_num_threads()},
    }
    result["meets_target"] = result["ratio_simclip_over_open_clip"] >= result["target_ratio"]
    print(f"median: simclip {median['simclip']:.2f}, open_clip {median['open_clip']:.2f} steps/CPU-s, "
          f"ratio {result['ratio_simclip_over_open_clip']:.2f}x (max feature difference {difference:.1e})")
    if args.profile:
        for name in sides:
            print(f"--- {name}\n{profile(sides[name], images, tokens)}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
