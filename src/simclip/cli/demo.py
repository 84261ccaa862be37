"""``simclip demo``: the main job on built-in data, on a CPU in a few minutes.

SimCLR on the built-in ``digits`` (no download): the augmentation figure, a time-bounded training
run, then linear-probe and kNN accuracy of the trained encoder beside the same encoder at random
initialisation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from simclip.augment import augmentation_grid
from simclip.data import load_dataset
from simclip.eval import evaluate_classification
from simclip.recipes import load_simclr_run, run_simclr, simclr_config
from simclip.train import OptimConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train and evaluate SimCLR on built-in data (a few CPU minutes)")
    p.add_argument("--out", default="demo-out", help="folder for the run and the figures")
    p.add_argument("--seconds", type=float, default=75.0, help="SimCLR training time budget")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_set = load_dataset("digits", split="train")
    test_set = load_dataset("digits", split="test")
    grid = augmentation_grid(train_set.images[0], out / "augmentations.png", seed=0)
    print(f"[1/3] augmentation figure -> {grid}")

    # digits: 1,437 training images of 28x28; batch 256 gives 5 steps per epoch, so the epoch bound
    # is loose and the time budget ends the run. Adam-style optimisers need no LR scaling here.
    cfg = simclr_config(out=str(out / "simclr-digits"), data="digits", batch_size=256, epochs=10_000,
                        time_budget=args.seconds, progress=not args.no_progress, log_every=5,
                        checkpoint_every=1000,
                        optim=OptimConfig(name="adamw", lr=2e-3, lr_scaling="none", weight_decay=1e-4,
                                          warmup_fraction=0.05),
                        model={"encoder": "small-cnn", "proj_hidden_dim": 256, "proj_dim": 128},
                        objective={"temperature": 0.2})
    print(f"[2/3] SimCLR on digits for {args.seconds:.0f} s -> {cfg.out}")
    result = run_simclr(cfg)
    print(f"      {result['steps']} steps, {result['images_per_s']:.0f} images/s; curves -> "
          f"{Path(cfg.out) / 'curves.png'}")

    print("[3/3] linear probe and kNN on frozen features (digits test split, 360 images)")
    rows = {}
    for label, random_init in (("random init", True), ("SimCLR", False)):
        model, _ = load_simclr_run(cfg.out, random_init=random_init)
        rows[label] = evaluate_classification(model.encode_image, train_set, test_set,
                                              protocols=("linear", "knn"))
    keys = ("linear_top1", "knn_top1")
    print(f"      {'encoder':<12} {'linear top-1':>13} {'kNN top-1':>10}")
    for label, metrics in rows.items():
        print(f"      {label:<12} {metrics[keys[0]]:>12.1f}% {metrics[keys[1]]:>9.1f}%")
    return 0
