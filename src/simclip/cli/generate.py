"""``simclip generator train`` and ``simclip edit``: a small generator, steered by CLIP (StyleCLIP)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simclip.errors import UsageError
from simclip.generate.config import (
    GENERATOR_SPLITS,
    PROMPT_SETS,
    DirectionConfig,
    GeneratorTrainConfig,
    LatentEditConfig,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generator", help="train a small image generator (a VAE) for 'simclip edit'")
    sp = p.add_subparsers(dest="generator_command", metavar="SUBCOMMAND", required=True)
    t = sp.add_parser("train", help="train a generator on a dataset",
                      description="Train a convolutional VAE whose decoder is the generator that "
                                  "'simclip edit' steers. Example: simclip generator train --data "
                                  "shapes --out runs/g (a few minutes on a CPU).")
    train = GeneratorTrainConfig()
    t.add_argument("--data", default=train.data, help=f"dataset spec (default {train.data})")
    t.add_argument("--split", choices=GENERATOR_SPLITS, default=train.split,
                   help=f"which of the data's splits to train on ({train.split}); all: train and test, "
                        "which for the built-in shapes adds the colour x shape pairs the train split holds out")
    t.add_argument("--out", default="runs/generator", help="run folder (default runs/generator)")
    t.add_argument("--overwrite", action="store_true", help="replace a generator run already in --out")
    t.add_argument("--image-size", type=int, default=None,
                   help="square side, a power of two (default: the data's, rounded up to one)")
    t.add_argument("--latent-dim", type=int, default=train.generator.latent_dim,
                   help=f"latent channels ({train.generator.latent_dim})")
    t.add_argument("--width", type=int, default=train.generator.width,
                   help=f"channels of the decoder's 4x4 map ({train.generator.width})")
    t.add_argument("--beta", type=float, default=train.beta,
                   help=f"weight of the KL term ({train.beta:g}; 1 is a plain VAE, smoother and blurrier)")
    t.add_argument("--edge-weight", type=float, default=train.edge_weight,
                   help=f"weight of a Sobel edge term in the reconstruction loss ({train.edge_weight:g}: "
                        "sharper outlines; 0 turns it off, see BENCHMARKS.md for what it does to edits)")
    t.add_argument("--epochs", type=int, default=train.epochs, help=f"passes over the data ({train.epochs})")
    t.add_argument("--batch-size", type=int, default=train.batch_size)
    t.add_argument("--lr", type=float, default=train.lr, help=f"Adam learning rate, cosine-decayed ({train.lr:g})")
    t.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after the first epoch that ends past this many seconds")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    t.set_defaults(func=_train)

    e = sub.add_parser("edit", help="edit a generated image with a text prompt (StyleCLIP)",
                       description="StyleCLIP (Patashnik et al. 2021) on a 'simclip generator train' "
                                   "run, judged by a CLIP run: latent optimisation (CLIP distance to "
                                   "--text plus an L2 pull to the start latent, Eq. 1, and with "
                                   "--neutral a directional CLIP loss) and/or the "
                                   "global direction from --neutral to --text. Writes before_after.png, "
                                   "one strength grid per method and result.json into --out.")
    e.add_argument("--generator", required=True, metavar="RUN", help="a 'simclip generator train' folder")
    e.add_argument("--clip", required=True, metavar="RUN|CHECKPOINT", help="a CLIP run folder or weights")
    e.add_argument("--text", required=True, help='what the edited image should show, e.g. "a blue star"')
    start = e.add_mutually_exclusive_group(required=True)
    start.add_argument("--image", help="edit this image (encoded by the generator's encoder)")
    start.add_argument("--seed", type=int, help="edit the image of the latent drawn under this seed")
    e.add_argument("--neutral", default=None,
                   help='what the start image shows, e.g. "a red star": the global direction starts '
                        "from it (needed by --method global and both) and latent optimisation's "
                        "directional term (--direction-weight) uses it")
    e.add_argument("--method", choices=("latent", "global", "both"), default=None,
                   help="default: both when --neutral is given, else latent")
    lat, glo = LatentEditConfig(), DirectionConfig()
    e.add_argument("--steps", type=int, default=lat.steps, help=f"latent optimisation: Adam steps ({lat.steps})")
    e.add_argument("--lr", type=float, default=lat.lr, help=f"latent optimisation: learning rate ({lat.lr:g})")
    e.add_argument("--l2-weight", type=float, default=lat.l2_weight,
                   help=f"latent optimisation: weight of ||z - z_start||^2 (the paper's lambda_L2; {lat.l2_weight:g})")
    e.add_argument("--prompts", default=lat.prompts, metavar="SET|TEMPLATE",
                   help="latent optimisation: the text's embedding is the mean over these prompt templates "
                        f"({', '.join(PROMPT_SETS)}, or one template with {{}}; default {lat.prompts})")
    e.add_argument("--direction-weight", type=float, default=lat.direction_weight,
                   help="latent optimisation: weight of the directional CLIP loss from --neutral to --text "
                        f"(used only with --neutral; {lat.direction_weight:g})")
    e.add_argument("--restarts", type=int, default=lat.restarts,
                   help="latent optimisation: starts optimised at once, the start latent and points around "
                        f"it; the one with the lowest objective is kept ({lat.restarts})")
    e.add_argument("--restart-noise", type=float, default=lat.restart_noise,
                   help="latent optimisation: how far the other starts lie, in latent standard deviations "
                        f"({lat.restart_noise:g})")
    e.add_argument("--views", type=int, default=lat.views,
                   help="latent optimisation: CLIP's distance is averaged over this many random crops and "
                        f"flips of the image at each step, so that no single view can be fooled ({lat.views})")
    e.add_argument("--strength", type=float, default=glo.strength, help=f"global direction: alpha ({glo.strength:g})")
    e.add_argument("--threshold", type=float, default=glo.threshold,
                   help=f"global direction: beta, the least relevance a latent channel needs ({glo.threshold:g})")
    e.add_argument("--samples", type=int, default=glo.samples,
                   help=f"global direction: latents on which each channel's effect is measured ({glo.samples})")
    e.add_argument("--grid", default="0,1,2,3,4,5", metavar="A,B,...",
                   help="strengths of the grid figure (global: alpha; latent: multiples of the step "
                        "found); default 0,1,2,3,4,5")
    e.add_argument("--out", default="edits", help="folder for the figures and result.json (edits)")
    e.add_argument("--device", default="cpu")
    e.add_argument("--json", action="store_true", help="print result.json")
    e.set_defaults(func=_edit)


def _train(args: argparse.Namespace) -> int:
    from simclip.generate.checkpoint import CONFIG_FILE
    from simclip.generate.config import GeneratorConfig, GeneratorTrainConfig
    from simclip.generate.train import train_generator, training_images

    if (Path(args.out) / CONFIG_FILE).exists() and not args.overwrite:
        raise UsageError(f"--out {args.out} already holds a generator run; pass --overwrite to replace it")
    images = training_images(args.data, args.split, args.image_size)
    size = images.shape[-1]
    cfg = GeneratorTrainConfig(
        data=args.data, split=args.split, out=args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        beta=args.beta, edge_weight=args.edge_weight, seed=args.seed, time_budget=args.time_budget,
        generator=GeneratorConfig(latent_dim=args.latent_dim, image_size=size, channels=images.shape[1],
                                  width=args.width))
    _, metrics = train_generator(cfg, images, log=None if args.json else print)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"done: {metrics['step']} steps, {metrics['seconds']:.0f} s, mse {metrics['mse']:.5f} -> {args.out}")
    return 0


def _strengths(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--grid must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise UsageError("--grid needs at least one strength")
    return values


def _edit(args: argparse.Namespace) -> int:
    from simclip.generate.run import EditRequest, run_edit

    method = args.method or ("both" if args.neutral else "latent")
    if method != "latent" and not args.neutral:
        raise UsageError(f"--method {method} needs --neutral TEXT (the global direction goes from it to --text)")
    request = EditRequest(generator=args.generator, clip=args.clip, text=args.text, neutral=args.neutral,
                          method=method, image=args.image, seed=args.seed, steps=args.steps, lr=args.lr,
                          l2_weight=args.l2_weight, prompts=args.prompts,
                          direction_weight=args.direction_weight, restarts=args.restarts,
                          restart_noise=args.restart_noise, views=args.views, strength=args.strength,
                          threshold=args.threshold,
                          samples=args.samples, grid=_strengths(args.grid), out=args.out, device=args.device)
    result = run_edit(request)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for name, r in result["methods"].items():
        print(f"{name:<7} D_CLIP {r['distance_before']:.3f} -> {r['distance_after']:.3f}  "
              f"({r['steps']} steps, {r['seconds']:.2f} s)")
    for figure in result["figures"]:
        print(f"figure -> {figure}")
    return 0
