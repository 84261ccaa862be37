"""SimCLR presets: ``auto`` (the default, derived from the data and the run length) and named ones.

``auto`` — the rule, with S the image side, C the channels, N the training images:

================  ==============================================================================
setting           rule
================  ==============================================================================
encoder           ``small-cnn`` for S <= 64 on a CPU; ``resnet18`` otherwise (CIFAR stem for
                  S <= 64 on an accelerator)
batch_size        on a CPU 128, or 64 when that leaves fewer than 1,000 steps in the run (short
                  runs and small data sets gain more from more updates than from more negatives);
                  on an accelerator 512 (256 when N < 10,000)
epochs            when neither epochs nor a time budget is given: about 3,000 steps (10 to 1,000
                  epochs); under a time budget the budget ends the run
optimizer         LARS (lr 0.3 x batch/256, weight decay 1e-6, T 0.1 — the paper's ImageNet
                  recipe) only for batches of 1,024 or more planned for 100 epochs or more;
                  otherwise AdamW, lr 2e-3 (x sqrt(batch/128) above 128), weight decay 0.1,
                  5% warm-up
temperature       0.15 with AdamW
view_size         one-channel (or gray) images with S <= 64: 0.64 S (18 for 28x28; the pooled
                  encoder is evaluated on whole images, training below the test resolution as in
                  FixRes); colour images: S; at most 96 on a CPU and 224 on an accelerator
crop scale        (0.25, 1) for S <= 64, else the paper's (0.08, 1)
flips             none for one-channel images (glyphs and handwriting: a mirrored symbol is
                  another symbol), p 0.5 for colour images
rotation          within +-20 degrees, p 0.5, for S <= 64
colour            C = 1 (or gray content): brightness/contrast jitter s 0.8, p 0.8; colour: jitter
                  s 1.0, p 0.8, grayscale p 0.2
blur              p 0.5 for C = 1 or S > 64; none for small colour images (paper B.9)
head              hidden width = the encoder's features, 128-d output
================  ==============================================================================

The values for one-channel 28x28 data come from trials on MNIST and the built-in digits; the
colour branch from the paper and trials on the built-in shapes labelled by shape (full-size views
and jitter s 1.0 won there). BENCHMARKS.md lists the trials and
the held-out data sets the rule was then reported on.
"""

from __future__ import annotations

import math

from simclip.recipes.presets import Recipe, put_optimizer, put_run_length, register_preset
from simclip.recipes.profile import DataProfile

SMALL = 64  # images up to this side count as small


def _batch(p: DataProfile) -> tuple[int, str]:
    if p.batch_size is not None:
        return p.batch_size, "given"
    if p.accelerator:
        return (256, "accelerator, under 10,000 images") if p.n_images < 10_000 else (512, "accelerator")
    steps = DataProfile(**{**p.__dict__, "batch_size": 128}).planned_steps(128)
    if steps is not None and steps < 1000:
        return 64, f"batch 128 would give only {steps} steps"
    return 128, "CPU"


@register_preset("simclr", "auto", "derived from the data and the run length (the default; rule in "
                                   "simclip.recipes.simclr_presets)")
def auto(p: DataProfile) -> Recipe:
    r = Recipe()
    small, gray = p.image_size <= SMALL, p.channels == 1 or p.gray
    if small and not p.accelerator:
        r.put("model.encoder", "small-cnn", f"{p.image_size}px images on a CPU")
    else:
        r.put("model.encoder", "resnet18", "accelerator" if small else f"{p.image_size}px images")
        if small:
            r.put("model.encoder_options", {"cifar_stem": True}, "small images: 3x3 stem, no max-pool")
    batch, why = _batch(p)
    r.put("batch_size", batch, why)
    put_run_length(r, p, batch, steps=3000)
    epochs = p.epochs if p.epochs is not None else p.planned_epochs(batch)
    if batch >= 1024 and epochs >= 100 and p.time_budget is None:
        put_optimizer(r, "lars", 0.3, "linear", 1e-6, 10 / epochs, why=f"batch {batch} for {epochs} epochs",
                      lr_why="x batch/256 (SimCLR B.1); 10 epochs of warm-up")
        r.put("objective.temperature", 0.1, "SimCLR ImageNet")
    else:
        lr = round(2e-3 * math.sqrt(max(batch, 128) / 128), 6)
        put_optimizer(r, "adamw", lr, "none", 0.1, 0.05, why="short run or small batch",
                      lr_why="2e-3, x sqrt(batch/128) above batch 128")
        r.put("objective.temperature", 0.15)
    if small and gray:
        view = max(8, round(0.64 * p.image_size))
        r.put("objective.view_size", view, f"0.64 x {p.image_size}px; evaluated on whole images")
    elif small:
        r.put("objective.view_size", p.image_size, "colour images: views at the image size")
    else:
        view = min(p.image_size, 224 if p.accelerator else 96)
        r.put("objective.view_size", view, "capped for speed" if view < p.image_size else "image size")
    r.put("model.proj_dim", 128)
    r.put("objective.policy", "simclr-gray" if gray else ("simclr-cifar" if small else "simclr"))
    opts: dict = {"crop_scale": (0.25, 1.0) if small else (0.08, 1.0),
                  "flip_p": 0.0 if gray else 0.5}
    if small:
        opts.update(rotation_p=0.5, rotation_degrees=20.0)
    if gray:
        opts.update(jitter_strength=0.8, jitter_p=0.8, blur_p=0.5)
    else:
        opts.update(jitter_strength=1.0)
    r.put("objective.policy_options", opts,
          "no flips for one-channel images" if gray else "colour policy of the paper")
    return r


@register_preset("simclr", "handwriting", "28x28 one-channel handwriting (MNIST, digits): small-cnn, "
                                          "batch 128, AdamW, T 0.15, 18x18 views, no flips")
def handwriting(p: DataProfile) -> Recipe:
    r = Recipe()
    r.put("model.encoder", "small-cnn")
    r.put("model.proj_hidden_dim", 256)
    r.put("model.proj_dim", 128)
    r.put("batch_size", 128)
    put_run_length(r, p, 128, steps=3000)
    put_optimizer(r, "adamw", 2e-3, "none", 0.1, 0.05)
    r.put("objective.temperature", 0.15)
    r.put("objective.policy", "simclr-gray")
    r.put("objective.view_size", 18)
    r.put("objective.policy_options", {"crop_scale": (0.25, 1.0), "flip_p": 0.0, "jitter_strength": 0.8,
                                       "jitter_p": 0.8, "rotation_p": 0.5, "rotation_degrees": 20.0,
                                       "blur_p": 0.5})
    return r


@register_preset("simclr", "imagenet", "the paper's ImageNet recipe: ResNet-50, batch 4096, LARS lr "
                                       "0.3 x batch/256, T 0.1, 100 epochs, full colour policy")
def imagenet(p: DataProfile) -> Recipe:
    r = Recipe()
    r.put("model.encoder", "resnet50")
    r.put("model.proj_dim", 128)
    r.put("batch_size", 4096)
    r.put("epochs", 100)
    put_optimizer(r, "lars", 0.3, "linear", 1e-6, 0.1)
    r.put("objective.temperature", 0.1)
    r.put("objective.policy", "simclr")
    return r


@register_preset("simclr", "cifar", "the paper's CIFAR-10 setting (B.9): ResNet-18 with the CIFAR stem, "
                                    "batch 512, LARS lr 0.075 x sqrt(batch), T 0.5, s 0.5, no blur")
def cifar(p: DataProfile) -> Recipe:
    r = Recipe()
    r.put("model.encoder", "resnet18")
    r.put("model.encoder_options", {"cifar_stem": True})
    r.put("model.proj_dim", 128)
    r.put("batch_size", 512)
    r.put("epochs", 200)
    put_optimizer(r, "lars", 1.2, "sqrt", 1e-6, 0.05,
                  lr_why="sqrt scaling: 1.2 x sqrt(batch)/16 = 0.075 x sqrt(batch) (SimCLR B.1)")
    r.put("objective.temperature", 0.5)
    r.put("objective.policy", "simclr-cifar" if p.channels == 3 else "simclr-gray")
    return r


@register_preset("simclr", "small-data", "auto for data sets of a few thousand images: batch 64, "
                                         "weight decay 0.3, about 6,000 steps")
def small_data(p: DataProfile) -> Recipe:
    r = auto(DataProfile(**{**p.__dict__, "batch_size": p.batch_size or 64}))
    r.put("batch_size", p.batch_size or 64, "many updates over few images")
    put_run_length(r, p, p.batch_size or 64, steps=6000)
    r.put("optim.weight_decay", 0.3, "stronger regularisation for few images")
    return r
