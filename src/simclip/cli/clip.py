"""``simclip clip train`` and ``simclip clip models``: contrastive image-text training."""

from __future__ import annotations

import argparse

from simclip.cli.simclr import add_train_arguments, config_from_args, print_result, resume_config
from simclip.recipes import clip_config, run_clip
from simclip.train.config import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clip", help="CLIP: train an image and a text encoder on image-caption pairs")
    sp = p.add_subparsers(dest="clip_command", metavar="SUBCOMMAND", required=True)
    t = sp.add_parser("train", help="train (or --resume) a CLIP run",
                      description="Train CLIP on image-caption pairs. Example: simclip clip train "
                                  "--data shapes --model small-cnn-32 --epochs 5 --out runs/c. Data: "
                                  "captions:FILE.csv|jsonl, shapes, mnist:PATH / digits (generated "
                                  "captions), labelled folders (class-name templates), wds:SHARDS.")
    add_train_arguments(t)
    t.add_argument("--model", default=None, help="architecture name (see 'simclip clip models')")
    t.add_argument("--loss", choices=("clip", "siglip"), default=None)
    t.add_argument("--policy", default=None, help="optional image augmentation policy for training")
    t.add_argument("--tokenizer", default=None, metavar="clip|bpe:N",
                   help="CLIP's vocabulary (default), or a byte-level BPE of N ids learned from the "
                        "training captions and saved with the run")
    t.add_argument("--lock-image", action="store_true",
                   help="freeze the image tower (e.g. pretrained weights; LiT's reverse)")
    t.add_argument("--lock-text", action="store_true",
                   help="freeze the text tower (LiT: e.g. --model small-cnn-28-minilm)")
    t.set_defaults(func=_train)
    m = sp.add_parser("models", help="list the named CLIP architectures")
    m.set_defaults(func=_models)


def _train(args: argparse.Namespace) -> int:
    if args.resume:
        cfg = resume_config(args)
    else:
        cfg = config_from_args(args, clip_config())
        if args.model is not None:
            cfg.model = {"name": args.model}
        for flag in ("lock_image", "lock_text"):
            if getattr(args, flag):
                cfg.model[flag] = True
        if args.loss is not None:
            cfg.objective["loss"] = args.loss
        if args.policy is not None:
            cfg.objective["policy"] = args.policy
        if args.tokenizer is not None:
            cfg.objective["tokenizer"] = args.tokenizer
        if cfg.method != "clip":
            raise ConfigError(f"--config describes a {cfg.method!r} run, not clip")
    result = run_clip(cfg, resume=bool(args.resume))
    print_result(result, cfg.out, args.json)
    return 130 if result.get("interrupted") else 0


def _models(args: argparse.Namespace) -> int:
    from simclip.clip import get_model_config, list_models

    for name in list_models():
        cfg = get_model_config(name)
        v = cfg.vision
        tower = v.encoder if v.kind == "encoder" else v.kind
        print(f"{name:<16} image {tower:<9} {v.image_size:>3}px  text {cfg.text.layers}x{cfg.text.width}  "
              f"embed {cfg.embed_dim}")
    return 0
