"""SimCLR and CLIP training speed and the CLIP loss at N = 65,536 on one GPU, side by side with
lightly and OpenCLIP in the same process.

- SimCLR, ResNet-18, batch 512, bf16 autocast, channels_last, at 32x32 (CIFAR stem) and 224x224:
  ``simclip`` is the training loop's own step (``simclip.train.loop._step``: batch to the device,
  batched GPU augmentation of two views, forward, NT-Xent, backward, finiteness check, LARS).
  ``simclip_network`` and ``lightly_network`` get the same pre-augmented views (network, loss and
  optimiser only); ``lightly_pipeline`` is how lightly users train: ``SimCLRTransform`` on PIL
  images in DataLoader workers, then torchvision ResNet-18 + ``SimCLRProjectionHead`` +
  ``NTXentLoss`` + lightly's LARS.
- CLIP, ViT-B-32 shapes with random weights, bf16 autocast: ``simclip.clip.create_model`` with
  ``CLIPObjective`` and the loop's step (fused AdamW) vs ``open_clip.create_model`` with
  ``ClipLoss`` and torch AdamW as OpenCLIP's training script builds it; both get the same
  preprocessed pixels and token ids (no tokenising or image decoding in the timed step).
- The CLIP loss alone, float32 features [N, d], forward + backward: ``simclip.losses.clip_loss``
  (tiled) vs OpenCLIP's ``ClipLoss`` (two N x N logit matrices); an out-of-memory is recorded.
- NT-Xent alone, two float32 views [N, d] (2N anchors): ``simclip.losses.nt_xent`` (tiled, half
  the Gram matrix) vs lightly's ``NTXentLoss`` (the 2N x 2N logit matrix).

Images/s are source images (SimCLR: two views each) or image-text pairs per second. Peak memory is
``torch.cuda.max_memory_allocated`` over the side's warm-up and timed steps (its model, optimiser
state and activations, plus the inputs that both sides share); on a CPU, the process's peak RSS.
Ratios are simclip / peer: above 1 is faster for images/s, below 1 is better for seconds and MB.

    python benchmarks/gpu.py                       # full run on cuda, results/gpu.json (~3 min on an H200)
    python benchmarks/gpu.py --tiny --device cpu   # every code path at tiny sizes, in seconds
    python benchmarks/gpu.py --only loss           # re-run some sections; the file keeps the others

Each section records when and at which commit it was measured (``measured``; the commit from
``git rev-parse HEAD``, or ``SIMCLIP_COMMIT`` where the checkout has no git).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"  # run from a checkout without installing
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from simclip.clip import create_model  # noqa: E402
from simclip.losses import clip_loss, nt_xent  # noqa: E402
from simclip.losses.reductions import default_block_size  # noqa: E402
from simclip.recipes.clip import clip_config  # noqa: E402
from simclip.recipes.simclr import build_simclr, simclr_config  # noqa: E402
from simclip.train import build_optimizer  # noqa: E402
from simclip.train.distributed import DistInfo  # noqa: E402
from simclip.train.loop import LoopState, _Run, _step  # noqa: E402
from simclip.train.objectives import CLIPObjective  # noqa: E402

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# Full sizes. SimCLR cases: (name, source side, view side, CIFAR stem, simclip policy). ImageNet-like
# sources are 256x256 uint8 (no JPEG decoding on either side), cropped and resized to 224.
SIMCLR_SIDES = {
    "simclip": "the training loop's step (simclip.train.loop._step): a uint8 CPU batch copied to the "
               "device, two views by the batched GPU policy, forward of 2B views, NT-Xent, backward, "
               "gradient finiteness check, LARS",
    "simclip_network": "the same step on the given pre-augmented views: forward, NT-Xent, backward, check, LARS",
    "lightly_network": "the same pre-augmented views, normalised on the device: torchvision resnet18 + "
                       "SimCLRProjectionHead(512, 512, 128), one forward per view, NTXentLoss, backward, "
                       "lightly LARS (no weight decay on BN and biases)",
    "lightly_pipeline": "lightly end to end: PIL images -> SimCLRTransform in DataLoader workers (pinned "
                        "memory) -> the lightly_network step; batches after the first workers + warm-up",
}
CLIP_SIDES = {
    "simclip": "simclip.clip.create_model + CLIPObjective (clip_loss with its logit workspace) in the loop's "
               "step: forward, float32 loss, backward, finiteness check, fused AdamW, logit-scale clamp",
    "open_clip": "open_clip.create_model + ClipLoss under autocast, backward, torch AdamW (foreach) with "
                 "open_clip_train's parameter groups, logit-scale clamp",
    "inputs": "both get the same normalised pixels and token ids on the device (no decoding or tokenising)",
}
LOSS_SIDES = {
    "simclip": "simclip.losses.clip_loss, defaults (tiled with the device's default tile, "
               "default_block_size; logits recomputed in backward above 1 GiB)",
    "simclip_block_N": "the same with block_size=N",
    "simclip_keep_logits": "the same with keep_logits=True (the N x N float32 logits kept for backward)",
    "open_clip": "open_clip.loss.ClipLoss (dense: two N x N logit matrices and their softmaxes)",
    "measure": "median of repeats after one warm-up, torch.autograd.grad w.r.t. both features and the "
               "scale; peak memory above the inputs",
}
NT_XENT_SIDES = {
    "simclip": "simclip.losses.nt_xent(z0, z1, temperature=0.5), defaults (at the full size: tiled with the "
               "device's default tile, over half the 2N x 2N Gram matrix)",
    "simclip_block_N": "the same with block_size=N",
    "lightly": "lightly.loss.NTXentLoss(temperature=0.5) (dense: four N x N products, concatenated to 2N x 2N)",
    "measure": "median of repeats after one warm-up, torch.autograd.grad w.r.t. both views; peak memory "
               "above the inputs",
}
FULL = {"batch": 512, "warmup": 5, "steps": 20, "pipeline_batches": 48, "pipeline_seconds": 40.0,
        "simclr": [("32", 32, 32, True, "simclr-cifar"), ("224", 256, 224, False, "simclr")],
        "clip_batch": 512, "clip_model": {}, "loss_n": 65536, "loss_d": 512, "loss_repeats": 3,
        "loss_blocks": (1024, 2048, 8192), "ntxent_n": 32768, "ntxent_d": 128}
CLIP_TINY = {"embed_dim": 32, "vision": {"image_size": 32, "patch_size": 16, "width": 64, "layers": 1,
                                         "head_width": 32},
             "text": {"width": 64, "heads": 2, "layers": 1}}
TINY = {"batch": 4, "warmup": 0, "steps": 1, "pipeline_batches": 2, "pipeline_seconds": 20.0,
        "simclr": [("32", 8, 8, True, "simclr-cifar"), ("224", 20, 16, False, "simclr")],
        "clip_batch": 4, "clip_model": CLIP_TINY, "loss_n": 256, "loss_d": 32, "loss_repeats": 2,
        "loss_blocks": (64,), "ntxent_n": 128, "ntxent_d": 32}


# ------------------------------------------------------------------------------------ measuring


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fresh_memory(device: torch.device) -> None:
    """Free what the previous side left and start a new peak."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def time_steps(step, batches, warmup: int, steps: int, batch: int, device: torch.device) -> dict:
    """Run ``warmup`` then ``steps`` calls of ``step(next batch)``; images/s, ms per step, peak MB."""
    for i in range(warmup):
        step(batches(i))
    sync(device)
    start = time.perf_counter()
    for i in range(steps):
        step(batches(warmup + i))
    sync(device)
    seconds = (time.perf_counter() - start) / steps
    return {"images_per_s": batch / seconds, "ms_per_step": 1000 * seconds, "peak_memory_mb": peak_mb(device)}


def note(message: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {message}", flush=True)


def ratio(a: dict | None, b: dict | None, key: str) -> float | None:
    if not a or not b or key not in a or key not in b:
        return None
    return a[key] / b[key]


# --------------------------------------------------------------------------------------- SimCLR


def simclip_simclr(size: int, cifar_stem: bool, policy: str, batch: int, device: torch.device):
    """The model, objective and loop step of a SimCLR run (LARS, lr 0.3 x batch/256, T = 0.5)."""
    cfg = simclr_config(data="synthetic", device=str(device), batch_size=batch,
                        model={"encoder": "resnet18", "encoder_options": {"cifar_stem": cifar_stem},
                               "in_channels": 3, "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
                        objective={"temperature": 0.5, "policy": policy, "view_size": size})
    model, objective = build_simclr(cfg, SimpleNamespace(channels=3, image_size=size))
    model.to(device).to(memory_format=torch.channels_last).train()
    run = _Run(cfg=cfg, model=model, step_model=model, objective=objective,
               optimizer=build_optimizer(model, cfg.optim), dist=DistInfo(), device=device, run_dir=Path("."))
    lr, state = cfg.optim.peak_lr(batch), LoopState()
    return run, (lambda b: _step(run, b, lr, state))


def lightly_simclr(cifar_stem: bool, batch: int, device: torch.device):
    """torchvision ResNet-18 + lightly's projection head, NT-Xent and LARS, as lightly's examples."""
    import torchvision
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead
    from lightly.models.utils import get_weight_decay_parameters
    from lightly.utils.lars import LARS

    resnet = torchvision.models.resnet18()
    if cifar_stem:
        resnet.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        resnet.maxpool = nn.Identity()
    resnet.fc = nn.Identity()
    head = SimCLRProjectionHead(512, 512, 128)
    model = nn.Sequential(resnet, head).to(device).to(memory_format=torch.channels_last).train()
    decay, no_decay = get_weight_decay_parameters([resnet, head])
    optimizer = LARS([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}],
                     lr=0.3 * batch / 256, momentum=0.9, weight_decay=1e-6)
    criterion = NTXentLoss(temperature=0.5)

    def step(x0: torch.Tensor, x1: torch.Tensor) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            z0, z1 = model(x0), model(x1)  # one forward per view, as lightly's examples
        loss = criterion(z0.float(), z1.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def simclr_case(name: str, source: int, size: int, cifar_stem: bool, policy: str, sizes: dict,
                device: torch.device, workers: int) -> dict:
    batch, warmup, steps = sizes["batch"], sizes["warmup"], sizes["steps"]
    gen = torch.Generator().manual_seed(0)
    pool = torch.randint(0, 256, (2 * batch, 3, source, source), dtype=torch.uint8, generator=gen)
    out = {"source_size": source, "view_size": size, "batch": batch, "views_per_image": 2,
           "encoder": "resnet18" + (", CIFAR stem (3x3 conv, no max-pool)" if cifar_stem else ""),
           "simclip_policy": policy, "includes": SIMCLR_SIDES}

    fresh_memory(device)
    run, step = simclip_simclr(size, cifar_stem, policy, batch, device)
    half = lambda i: (pool[(i % 2) * batch:(i % 2 + 1) * batch],)  # noqa: E731 a CPU batch, as the loop's
    out["simclip"] = time_steps(step, half, warmup, steps, batch, device)
    note(f"simclr {name} simclip: {out['simclip']}")
    # the same views for both networks, made once by simclip's policy on the device
    views = run.objective.inputs((pool[:batch].to(device),))[0].contiguous(memory_format=torch.channels_last)
    del run, step
    fresh_memory(device)
    run, step = simclip_simclr(size, cifar_stem, policy, batch, device)
    run.objective.inputs = lambda b: b  # network, loss and optimiser only
    out["simclip_network"] = time_steps(step, lambda i, v=views: (v,), warmup, steps, batch, device)
    note(f"simclr {name} simclip_network: {out['simclip_network']}")
    del run, step
    fresh_memory(device)
    lightly_step = lightly_simclr(cifar_stem, batch, device)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    x0, x1 = ((v - mean) / std for v in views.chunk(2))  # lightly's transform normalises on the CPU
    # the names are bound as defaults: the `del` below frees them, which pyflakes reads as unbound
    out["lightly_network"] = time_steps(lambda b, f=lightly_step: f(*b), lambda i, x=(x0, x1): x,
                                        warmup, steps, batch, device)
    note(f"simclr {name} lightly_network: {out['lightly_network']}")
    del lightly_step, views, x0, x1
    fresh_memory(device)
    out["lightly_pipeline"] = lightly_pipeline(pool, size, cifar_stem, sizes, device, workers)
    note(f"simclr {name} lightly_pipeline: {out['lightly_pipeline']}")
    out["ratios"] = {"network_images_per_s": ratio(out["simclip_network"], out["lightly_network"], "images_per_s"),
                     "network_peak_memory": ratio(out["simclip_network"], out["lightly_network"], "peak_memory_mb"),
                     "end_to_end_images_per_s": ratio(out["simclip"], out["lightly_pipeline"], "images_per_s")}
    return out


class PILImages(torch.utils.data.Dataset):
    """``length`` items cycling over a pool of PIL images, each through ``transform``."""

    def __init__(self, images: list, length: int, transform) -> None:
        self.images, self.length, self.transform = images, length, transform

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        return self.transform(self.images[i % len(self.images)])


def lightly_pipeline(pool: torch.Tensor, size: int, cifar_stem: bool, sizes: dict, device: torch.device,
                     workers: int) -> dict:
    """lightly end to end: PIL images -> SimCLRTransform in DataLoader workers -> GPU step. Images/s
    over the batches after the first ``workers`` (which arrive together once the workers start)."""
    from PIL import Image
    from lightly.transforms import SimCLRTransform

    batch = sizes["batch"]
    # CIFAR-10 settings of lightly's examples at 32x32 (s = 0.5, no blur), its defaults at 224
    transform = (SimCLRTransform(input_size=size, cj_strength=0.5, gaussian_blur=0.0) if cifar_stem
                 else SimCLRTransform(input_size=size))
    images = [Image.fromarray(img.permute(1, 2, 0).numpy()) for img in pool[:256]]
    n_batches = max(sizes["pipeline_batches"], 3 * max(workers, 1))
    loader = torch.utils.data.DataLoader(PILImages(images, n_batches * batch, transform), batch_size=batch,
                                         shuffle=True, drop_last=True, num_workers=workers,
                                         pin_memory=device.type == "cuda")
    step = lightly_simclr(cifar_stem, batch, device)
    skip = max(workers, 1) + sizes["warmup"]
    done, start = 0, None
    try:
        for i, (x0, x1) in enumerate(loader):
            x0, x1 = (x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                      for x in (x0, x1))
            step(x0, x1)
            if i + 1 == skip:
                sync(device)
                start = time.perf_counter()
            elif i + 1 > skip:
                done += 1
                if time.perf_counter() - start > sizes["pipeline_seconds"] and done >= 2:
                    break
        sync(device)
    except RuntimeError as err:  # e.g. workers killed for want of shared memory
        return {"status": f"failed: {str(err).splitlines()[0][:200]}", "workers": workers}
    if done == 0:
        return {"status": "too few batches", "workers": workers}
    seconds = (time.perf_counter() - start) / done
    return {"images_per_s": batch / seconds, "ms_per_step": 1000 * seconds, "peak_memory_mb": peak_mb(device),
            "workers": workers, "timed_batches": done}


# ----------------------------------------------------------------------------------------- CLIP


def clip_inputs(batch: int, image_size: int, context: int, vocab: int, device: torch.device):
    """Normalised pixels and CLIP-style token ids (start, random ids, end token, zero padding)."""
    gen = torch.Generator().manual_seed(1)
    pixels = torch.randn(batch, 3, image_size, image_size, generator=gen)
    tokens = torch.zeros(batch, context, dtype=torch.long)
    lengths = torch.randint(3, context + 1, (batch,), generator=gen)
    for row, n in enumerate(lengths.tolist()):
        tokens[row, 0], tokens[row, n - 1] = vocab - 2, vocab - 1
        tokens[row, 1:n - 1] = torch.randint(1, vocab - 2, (n - 2,), generator=gen)
    return pixels.to(device).contiguous(memory_format=torch.channels_last), tokens.to(device)


def simclip_clip(overrides: dict, batch: int, device: torch.device):
    cfg = clip_config(device=str(device), batch_size=batch, model={"name": "ViT-B-32", **overrides})
    model = create_model("ViT-B-32", **overrides).to(device).to(memory_format=torch.channels_last).train()
    objective = CLIPObjective(tokenize=None, preprocess=None, channels_last=True)
    objective.inputs = lambda b: b  # pixels and token ids are given
    run = _Run(cfg=cfg, model=model, step_model=model, objective=objective,
               optimizer=build_optimizer(model, cfg.optim), dist=DistInfo(), device=device, run_dir=Path("."))
    lr, state = cfg.optim.peak_lr(batch), LoopState()
    return model, (lambda b: _step(run, b, lr, state))


def open_clip_clip(overrides: dict, device: torch.device):
    """OpenCLIP's model, ClipLoss and AdamW as its training script (``open_clip_train``) sets them up."""
    import open_clip
    from open_clip.loss import ClipLoss

    kwargs = {}
    if overrides:  # the same tiny shapes, in OpenCLIP's config keys
        kwargs = {"embed_dim": overrides["embed_dim"], "vision_cfg": {**overrides["vision"]},
                  "text_cfg": {"context_length": 77, "vocab_size": 49408, **overrides["text"]}}
    model = open_clip.create_model("ViT-B-32", device=device, output_dict=True, **kwargs)
    model.to(memory_format=torch.channels_last).train()
    exclude = lambda n, p: p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n  # noqa: E731
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if exclude(n, p)], "weight_decay": 0.0},
              {"params": [p for n, p in named if not exclude(n, p)], "weight_decay": 0.2}]
    optimizer = torch.optim.AdamW(groups, lr=5e-4, betas=(0.9, 0.98), eps=1e-6)
    criterion = ClipLoss()

    def step(batch: tuple) -> None:
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out = model(*batch)
            loss = criterion(out["image_features"], out["text_features"], out["logit_scale"])
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))

    return model, step


def clip_case(sizes: dict, device: torch.device) -> dict:
    batch, overrides = sizes["clip_batch"], sizes["clip_model"]
    image_size = overrides.get("vision", {}).get("image_size", 224)
    fresh_memory(device)
    inputs = clip_inputs(batch, image_size, 77, 49408, device)
    out = {"model": "ViT-B-32" + (" (tiny overrides)" if overrides else ""), "batch": batch,
           "image_size": image_size, "context_length": 77, "includes": CLIP_SIDES}
    for name, build in (("simclip", lambda: simclip_clip(overrides, batch, device)),
                        ("open_clip", lambda: open_clip_clip(overrides, device))):
        fresh_memory(device)
        model, step = build()
        out[name] = {"parameters": sum(p.numel() for p in model.parameters()),
                     **time_steps(step, lambda i: inputs, sizes["warmup"], sizes["steps"], batch, device)}
        note(f"clip {name}: {out[name]}")
        del model, step
    out["ratios"] = {"images_per_s": ratio(out["simclip"], out["open_clip"], "images_per_s"),
                     "peak_memory": ratio(out["simclip"], out["open_clip"], "peak_memory_mb")}
    return out


# ------------------------------------------------------------------------------------- CLIP loss


def loss_side(fn, n: int, d: int, repeats: int, device: torch.device, with_scale: bool = True) -> dict:
    """Median forward + backward seconds after one warm-up, and the peak memory above the inputs:
    ``fn(a, b, scale)`` (gradients of a, b and scale) or, without ``with_scale``, ``fn(a, b)``."""
    gen = torch.Generator().manual_seed(2)
    feats = [nn.functional.normalize(torch.randn(n, d, generator=gen), dim=1).to(device).requires_grad_()
             for _ in range(2)]
    scale = [torch.tensor(1 / 0.07, device=device, requires_grad=True)] if with_scale else []
    fresh_memory(device)
    base = torch.cuda.memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0
    times = []
    try:
        for _ in range(repeats + 1):
            sync(device)
            start = time.perf_counter()
            grads = torch.autograd.grad(fn(*feats, *scale), [*feats, *scale])
            sync(device)
            times.append(time.perf_counter() - start)
            del grads
    except torch.OutOfMemoryError as err:
        return {"status": f"out of memory: {str(err).splitlines()[0][:200]}"}
    times = sorted(times[1:])
    note(f"loss: {times}")
    extra = peak_mb(device) - base
    return {"seconds": times[len(times) // 2], "peak_extra_memory_mb": extra}


def loss_case(sizes: dict, device: torch.device) -> dict:
    from open_clip.loss import ClipLoss

    n, d, repeats = sizes["loss_n"], sizes["loss_d"], sizes["loss_repeats"]
    out = {"n": n, "d": d, "dtype": "float32", "logit_matrix_gb": n * n * 4 / 1e9,
           "default_block_size": default_block_size(device), "includes": LOSS_SIDES}
    out["simclip"] = loss_side(lambda i, t, s: clip_loss(i, t, s), n, d, repeats, device)
    for block in sizes["loss_blocks"]:
        out[f"simclip_block_{block}"] = loss_side(
            lambda i, t, s, block=block: clip_loss(i, t, s, block_size=block), n, d, repeats, device)
    if device.type == "cpu" or n * n * 4 < 0.5 * torch.cuda.get_device_properties(device).total_memory:
        out["simclip_keep_logits"] = loss_side(lambda i, t, s: clip_loss(i, t, s, keep_logits=True),
                                               n, d, repeats, device)
    open_clip_loss = ClipLoss()
    out["open_clip"] = loss_side(lambda i, t, s: open_clip_loss(i, t, s), n, d, repeats, device)
    fresh_memory(device)
    out["ratios"] = {"seconds": ratio(out["simclip"], out["open_clip"], "seconds"),
                     "peak_extra_memory": ratio(out["simclip"], out["open_clip"], "peak_extra_memory_mb")}
    return out


def nt_xent_case(sizes: dict, device: torch.device) -> dict:
    from lightly.loss import NTXentLoss

    n, d, repeats = sizes["ntxent_n"], sizes["ntxent_d"], sizes["loss_repeats"]
    out = {"n_per_view": n, "anchors": 2 * n, "d": d, "dtype": "float32", "logit_matrix_gb": (2 * n) ** 2 * 4 / 1e9,
           "default_block_size": default_block_size(device), "includes": NT_XENT_SIDES}
    out["simclip"] = loss_side(lambda a, b: nt_xent(a, b, temperature=0.5), n, d, repeats, device, False)
    for block in sizes["loss_blocks"]:
        out[f"simclip_block_{block}"] = loss_side(
            lambda a, b, block=block: nt_xent(a, b, temperature=0.5, block_size=block),
            n, d, repeats, device, False)
    lightly_loss = NTXentLoss(temperature=0.5)
    out["lightly"] = loss_side(lambda a, b: lightly_loss(a, b), n, d, repeats, device, False)
    fresh_memory(device)
    out["ratios"] = {"seconds": ratio(out["simclip"], out["lightly"], "seconds"),
                     "peak_extra_memory": ratio(out["simclip"], out["lightly"], "peak_extra_memory_mb")}
    return out


# ----------------------------------------------------------------------------------------- main


def environment(device: torch.device) -> dict:
    import lightly
    import open_clip
    import torchvision

    env = {"device_type": device.type, "device_name": platform.processor() or platform.machine(),
           "torch": torch.__version__, "torchvision": torchvision.__version__, "cuda": torch.version.cuda,
           "lightly": lightly.__version__, "open_clip": open_clip.__version__, "python": platform.python_version(),
           "platform": platform.platform(), "cpu_count": os.cpu_count(),
           "float32_matmul_precision": torch.get_float32_matmul_precision(),
           "cudnn_benchmark": torch.backends.cudnn.benchmark, "bf16_autocast": True, "channels_last": True}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(device_name=props.name, device_memory_gb=props.total_memory / 1e9,
                   capability=f"{props.major}.{props.minor}")
    return env


def commit() -> str | None:
    """The checkout's commit (SIMCLIP_COMMIT where set, e.g. on a machine that got no .git)."""
    if os.environ.get("SIMCLIP_COMMIT"):
        return os.environ["SIMCLIP_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def kept_sections(out: Path, rerun: set[str], environment: dict) -> dict:
    """The sections of an earlier result file that this run does not measure, each with the
    environment it was measured in where that differs from this run's."""
    if not out.exists():
        return {}
    earlier = json.loads(out.read_text())
    kept = {name: earlier[name] for name in ("simclr", "clip", "clip_loss", "nt_xent_loss")
            if name in earlier and name not in rerun}
    if earlier.get("environment") not in (None, environment):
        for section in kept.values():
            section.setdefault("measured", {}).setdefault("environment", earlier["environment"])
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: every code path in seconds")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, default=None,
                        help="DataLoader workers of lightly's pipeline (default: CPUs - 1; 0 with --tiny)")
    parser.add_argument("--only", nargs="*", choices=("simclr", "clip", "loss"), default=None,
                        help="run these sections (loss: the CLIP loss and NT-Xent); an existing --out "
                             "file keeps its other sections")
    parser.add_argument("--out", default=str(HERE / "results" / "gpu.json"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device here; use --device cpu (with --tiny for a quick run)")
    sizes = TINY if args.tiny else FULL
    workers = args.workers if args.workers is not None else (0 if args.tiny else max(1, (os.cpu_count() or 2) - 1))
    if args.tiny and device.type == "cpu":
        # one thread: on a busy machine two spin-waiting threads made a tiny step 10x slower
        torch.set_num_threads(1)
    torch.manual_seed(0)
    started = time.perf_counter()
    results = {"benchmark": "gpu", "mode": "tiny" if args.tiny else "full", "environment": environment(device),
               "settings": {k: v for k, v in sizes.items() if k != "simclr"}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sections = [("simclr", "simclr", lambda: {c[0]: simclr_case(*c, sizes, device, workers)
                                               for c in sizes["simclr"]}),
                ("clip", "clip", lambda: clip_case(sizes, device)),
                ("loss", "clip_loss", lambda: loss_case(sizes, device)),
                ("loss", "nt_xent_loss", lambda: nt_xent_case(sizes, device))]
    sections = [s for s in sections if not args.only or s[0] in args.only]
    if args.only:
        results.update(kept_sections(out, {name for _, name, _ in sections}, results["environment"]))
    failed, revision = [], commit()
    for _, name, section in sections:
        t0 = time.perf_counter()
        date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            results[name] = section()
        except Exception as err:  # keep the other sections' figures; the exit status says it failed
            traceback.print_exc()
            results[name] = {"status": f"failed: {type(err).__name__}: {str(err).splitlines()[0][:300]}"}
            failed.append(name)
        results[name]["measured"] = {"date": date, "commit": revision, "mode": results["mode"],
                                     "seconds": time.perf_counter() - t0}
        print(f"== {name} ({time.perf_counter() - t0:.0f} s)\n{json.dumps(results[name], indent=1)}", flush=True)
        results["wall_seconds"] = time.perf_counter() - started
        out.write_text(json.dumps(results, indent=2) + "\n")  # after each section: a cut-off run keeps the rest
    print(f"wrote {out} after {results['wall_seconds']:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
