"""``simclip pair train`` and ``simclip pair eval``: contrastive learning between two or more
modalities of a ``pairs:`` table (image, depth, audio, points, text), bound to an anchor modality."""

from __future__ import annotations

import argparse
import json
import sys

from simclip.errors import UsageError

MODALITIES = ("image", "depth", "audio", "points", "text")  # simclip.data.paired.MODALITIES, without torch


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pair", help="contrastive learning between modalities (image, depth, audio, points, "
                                    "text) of a pairs: table; retrieval across them")
    sp = p.add_subparsers(dest="pair_command", metavar="SUBCOMMAND", required=True)
    t = sp.add_parser("train", help="train (or --resume) one tower per modality",
                      description="The CLIP loss between the anchor modality and each other one (ImageBind), "
                                  "one learnable temperature per pair, trained by the same loop as simclr and "
                                  "clip. Example: simclip data make-world --out world && simclip pair train "
                                  "--data pairs:world/pairs.csv --modalities image,audio,depth --anchor image "
                                  "--time-budget 120 --out runs/p")
    t.add_argument("--data", default=None, help="pairs:FILE.csv|jsonl, or videos:DIR for --pair frame,audio "
                                                "(see 'simclip data make-world')")
    which = t.add_mutually_exclusive_group()
    which.add_argument("--modalities", default=None,
                       help=f"comma-separated columns to train together, two or more of {', '.join(MODALITIES)} "
                            "(image,audio)")
    which.add_argument("--pair", default=None, metavar="frame,audio",
                       help="audio-visual correspondence on videos:DIR: a frame (image tower) and the audio "
                            "around it (log-mel audio tower), from the same video")
    t.add_argument("--anchor", default=None, help="modality every other one is contrasted with (default: the first)")
    t.add_argument("--out", default="runs/pair", help="run folder (runs/pair)")
    t.add_argument("--resume", metavar="RUN", default=None, help="continue RUN from its newest checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, default=None, help="passes over the training objects (30)")
    length.add_argument("--steps", type=int, default=None,
                        help="optimiser steps, rounded up to whole epochs (the loop ends runs at epoch ends)")
    t.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after this much training time, with the LR schedule fitted to it")
    t.add_argument("--batch-size", type=int, default=None, help="objects per step (128)")
    t.add_argument("--lr", type=float, default=None, help="AdamW learning rate (2e-3)")
    t.add_argument("--embed-dim", type=int, default=None, help="width of the shared embedding (128)")
    t.add_argument("--eval", default=None, metavar="PROTOCOLS",
                   help="evaluated at the end: retrieval (default), knn, linear; 'none' for nothing")
    t.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS",
                   help="steps between checkpoints (200)")
    t.add_argument("--seed", type=int, default=None, help="seed of weights and batches (0)")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (cpu)")
    t.add_argument("--strict", action="store_true", help="any unusable file is an error (default: its row is skipped)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    t.set_defaults(func=_train)
    e = sp.add_parser("eval", help="linear/kNN per tower and cross-modal retrieval on held-out objects",
                      description="Features of each tower on the train and test split; linear probe and kNN "
                                  "(k=20) for every label column; recall@1/5 between the anchor and each other "
                                  "modality on the test objects, with chance (100 k / N) beside it.")
    e.add_argument("--run", required=True, help="run folder of 'simclip pair train'")
    e.add_argument("--protocol", default="linear,knn,retrieval", help="comma-separated: linear,knn,retrieval")
    e.add_argument("--labels", default=None, help="label columns to probe, e.g. shape,color (default: all)")
    e.add_argument("--data", default=None, help="pairs: spec (default: the run's training data)")
    e.add_argument("--device", default="cpu", help="torch device (cpu)")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.set_defaults(func=_eval)


def _modalities(args: argparse.Namespace) -> list[str]:
    if args.pair is None:
        return _split(args.modalities or "image,audio")
    pair = _split(args.pair)
    if sorted(pair) != ["audio", "frame"]:
        raise UsageError(f"--pair takes frame,audio (a video's frame and the sound around it), got {args.pair!r}")
    if not str(args.data).startswith("videos:"):
        raise UsageError(f"--pair frame,audio reads a video folder: --data videos:DIR, got --data {args.data}")
    return ["image" if m == "frame" else m for m in pair]


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _train(args: argparse.Namespace) -> int:
    from simclip.pairs.run import epochs_for_steps, load_pair_data, pair_config, run_pairs
    from simclip.train.config import read_run_config

    if args.resume:
        if args.overwrite:
            raise UsageError("--overwrite replaces a run; it cannot be combined with --resume")
        cfg, dataset = read_run_config(args.resume, "pair"), None
        cfg.out, cfg.progress = str(args.resume), not args.no_progress
        if args.epochs is not None:
            cfg.epochs = args.epochs
    else:
        if not args.data:
            raise UsageError("--data pairs:FILE.csv is required for a new run")
        modalities = _modalities(args)
        cfg = pair_config(data=args.data, out=args.out, overwrite=args.overwrite, strict=args.strict,
                          progress=not args.no_progress,
                          objective={"modalities": modalities, "anchor": args.anchor})
        for flag, key in (("batch_size", "batch_size"), ("seed", "seed"), ("device", "device"),
                          ("checkpoint_every", "checkpoint_every"), ("time_budget", "time_budget")):
            if getattr(args, flag) is not None:
                setattr(cfg, key, getattr(args, flag))
        if args.lr is not None:
            cfg.optim.lr = args.lr
        if args.embed_dim is not None:
            cfg.model = {**cfg.model, "embed_dim": args.embed_dim}
        if args.eval is not None:
            cfg.eval_protocols = () if args.eval == "none" else tuple(_split(args.eval))
        dataset = load_pair_data(cfg, "train")
        if args.steps is not None:
            cfg.epochs = epochs_for_steps(args.steps, len(dataset), cfg.batch_size)
        elif args.epochs is not None:
            cfg.epochs = args.epochs
        elif args.time_budget is not None:
            cfg.epochs = 100_000  # the budget ends the run
        skipped = f", {len(dataset.bad_files)} rows skipped" if dataset.bad_files else ""
        print(f"pair: {', '.join(dataset.modalities)} (anchor {cfg.objective['anchor'] or dataset.modalities[0]}), "
              f"{len(dataset)} training objects{skipped}, batch {cfg.batch_size}, -> {cfg.out}",
              file=sys.stderr if args.json else sys.stdout, flush=True)
    result = run_pairs(cfg, resume=bool(args.resume), dataset=dataset)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        state = "interrupted (checkpoint saved; continue with --resume)" if result.get("interrupted") else "done"
        print(f"{state}: {result['steps']} steps, {result['train_seconds']:.1f} s -> {cfg.out}")
        _print_metrics(result)
    return 130 if result.get("interrupted") else 0


def _eval(args: argparse.Namespace) -> int:
    from simclip.pairs import PROTOCOLS, evaluate_pairs, load_pair_run
    from simclip.pairs.run import load_pairs

    protocols = _split(args.protocol)
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad or not protocols:
        raise UsageError(f"--protocol: unknown {', '.join(bad) or '(none)'}; choose from {', '.join(PROTOCOLS)}")
    model, cfg = load_pair_run(args.run, args.device)
    spec = args.data or cfg.data
    needs_train = any(p in ("linear", "knn") for p in protocols)
    train = load_pairs(spec, "train", model.modalities, strict=cfg.strict) if needs_train else None
    test = load_pairs(spec, "test", model.modalities, strict=cfg.strict)
    labels = _split(args.labels) if args.labels else None
    result = evaluate_pairs(model, train, test, protocols, labels=labels, device=args.device)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.run}: {len(test)} held-out objects, anchor {model.anchor}")
        _print_metrics(result)
    return 0


def _print_metrics(result: dict) -> None:
    """Retrieval rows with chance beside them, then each probe row with its label's chance."""
    for key, value in result.items():
        if not isinstance(value, float) or key.startswith("chance.") or "chance_R@" in key:
            continue
        if key.startswith("retrieval."):
            k = key.rpartition("@")[2]
            chance = result.get(f"retrieval.chance_R@{k}")
            print(f"  {key:<36} {value:6.2f}   (chance {chance:.2f})")
        elif key.count(".") == 2:
            label = key.split(".")[1]
            print(f"  {key:<36} {value:6.2f}   (chance {result.get(f'chance.{label}', float('nan')):.2f})")
        elif key not in ("train_seconds", "images_per_s"):
            print(f"  {key:<36} {value:.2f}")
