"""``simclip demo``: the main jobs on built-in data, on a CPU in a few minutes.

1. SimCLR on the built-in ``digits`` (no download): the augmentation figure, a time-bounded run,
   then linear-probe and kNN accuracy of the trained encoder beside the same encoder at random
   initialisation.
2. CLIP on the built-in ``shapes``: a time-bounded run, then zero-shot accuracy on the held-out
   colour x shape combinations (never seen in training) and one slide-like top-5.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train and evaluate SimCLR and CLIP on built-in data (CPU minutes)",
                       description="SimCLR on the built-in digits with the default recipe (auto): the "
                                   "augmentation figure, a time-bounded run, linear-probe and kNN accuracy "
                                   "against the same encoder untrained; then CLIP on the built-in shapes "
                                   "(auto): zero-shot accuracy on colour x shape pairs never seen in "
                                   "training. Needs no download.")
    p.add_argument("--out", default="demo-out", help="folder for the runs and the figures")
    p.add_argument("--seconds", type=float, default=60.0, help="training time budget of each run")
    p.add_argument("--skip-clip", action="store_true", help="only the SimCLR part")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    simclr_demo(out, args.seconds, not args.no_progress)
    if not args.skip_clip:
        clip_demo(out, args.seconds, not args.no_progress)
    return 0


def simclr_demo(out: Path, seconds: float, progress: bool) -> None:
    from simclip.augment import augmentation_grid
    from simclip.data import images_in_memory, load_dataset
    from simclip.eval import evaluate
    from simclip.recipes import load_simclr_run, resolve_config, run_simclr
    from simclip.recipes.resolve import describe

    train_set = images_in_memory(load_dataset("digits", split="train"))
    test_set = load_dataset("digits", split="test")
    grid = augmentation_grid(train_set.images[0], out / "augmentations.png", seed=0)
    print(f"[SimCLR 1/3] augmentation figure -> {grid}")
    # The default recipe (auto), as 'simclip simclr train --data digits --time-budget S' resolves it.
    # The demo's folder is its own: a re-run replaces it.
    given = {"data": "digits", "time_budget": seconds, "out": str(out / "simclr-digits"), "progress": progress,
             "log_every": 5, "checkpoint_every": 1000, "overwrite": True}
    cfg, recipe, profile, dataset = resolve_config("simclr", given)
    print(f"[SimCLR 2/3] training on digits for {seconds:.0f} s -> {cfg.out}")
    print("\n".join("             " + line for line in describe(cfg, recipe, profile, {}).splitlines()))
    result = run_simclr(cfg, dataset=dataset)
    print(f"             {result['steps']} steps, {result['images_per_s']:.0f} images/s; curves -> "
          f"{Path(cfg.out) / 'curves.png'}")
    print("[SimCLR 3/3] linear probe and kNN on frozen features (digits test split, 360 images)")
    print(f"             {'encoder':<12} {'linear top-1':>13} {'kNN top-1':>10}")
    for label, random_init in (("random init", True), ("SimCLR", False)):
        model, _ = load_simclr_run(cfg.out, random_init=random_init)
        m = evaluate(model, ("linear", "knn"), train=train_set, test=test_set)
        print(f"             {label:<12} {m['linear_top1']:>12.1f}% {m['knn_top1']:>9.1f}%")


def clip_demo(out: Path, seconds: float, progress: bool) -> None:
    from simclip.data import load_caption_dataset
    from simclip.eval import evaluate
    from simclip.recipes import load_clip_run, resolve_config, run_clip

    # 4,000 shapes with compositional captions; the test split holds only colour x shape pairs
    # that training never shows. The default recipe (auto), as 'simclip clip train' resolves it.
    given = {"data": "shapes", "time_budget": seconds, "out": str(out / "clip-shapes"), "progress": progress,
             "log_every": 5, "checkpoint_every": 1000, "eval_protocols": (), "overwrite": True}
    cfg, _, _, dataset = resolve_config("clip", given)
    print(f"[CLIP 1/2] training on shapes for {seconds:.0f} s -> {cfg.out}")
    result = run_clip(cfg, dataset=dataset)
    print(f"           {result['steps']} steps, {result['images_per_s']:.0f} image-text pairs/s")
    model, _ = load_clip_run(cfg.out)
    print("[CLIP 2/2] zero-shot on held-out colour x shape combinations (prompt 'a photo of a {}.')")
    for label in ("shape", "color"):
        test = load_caption_dataset(f"shapes?label={label}", split="test")
        m = evaluate(model, "zeroshot", test=test)
        chance = 100.0 / len(test.classes)
        print(f"           by {label:<6} top-1 {m['zeroshot_top1']:5.1f}%  (chance {chance:.1f}%, "
              f"{len(test.classes)} classes, {len(test)} images)")
    _slide(model, load_caption_dataset("shapes?label=pair", split="test"))


def _slide(model, test) -> None:
    """One test image ranked against every colour-shape pair, like the CLIP paper's figures."""
    import torch

    from simclip.clip import preprocess_tensor
    from simclip.eval import rank_labels, zero_shot_classifier
    from simclip.recipes.clip import tokenizer_for

    tokenize = tokenizer_for(model)
    with torch.inference_mode():
        classifier = zero_shot_classifier(lambda t: model.encode_text(t, normalize=True), tokenize,
                                          test.classes, ["a photo of a {}."])
        feature = model.encode_image(preprocess_tensor(test.images[:1], model.preprocess_cfg), normalize=True)
        ranked = rank_labels(feature[0], classifier, logit_scale=float(model.logit_scale.exp()))
    truth = test.classes[int(test.labels[0])]
    print(f"           test image 0: \"{test.captions[0][0]}\"")
    for i, p in ranked[:5]:
        print(f"             {test.classes[i]:<16} {100 * p:5.1f}%  {'#' * round(40 * p)}")
    rank = [test.classes[i] for i, _ in ranked].index(truth) + 1
    print(f"           correct label: {truth} — ranked {rank} out of {len(test.classes)} labels")
