"""``simclip simclr train``: self-supervised training of an image encoder."""

from __future__ import annotations

import argparse

from simclip.cli.train_flags import add_train_arguments, new_run_config, print_result, resume_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simclr", help="SimCLR: train an encoder from unlabeled images")
    sp = p.add_subparsers(dest="simclr_command", metavar="SUBCOMMAND", required=True)
    t = sp.add_parser("train", help="train (or --resume) a SimCLR run",
                      description="Train SimCLR. Values left unset come from the recipe (--recipe, "
                                  "default auto: chosen from the data's image size, channels and size "
                                  "and the run length; printed at the start and kept in config.json). "
                                  "Example: simclip simclr train --data digits --epochs 20 --out runs/a")
    add_train_arguments(t, "simclr")
    t.add_argument("--encoder", default=None,
                   help="encoder name (see 'simclip models'), or timm:NAME for any timm model; "
                        "default: the recipe's (auto: small-cnn for small images on a CPU, else resnet18)")
    t.add_argument("--encoder-weights", default=None, metavar="FILE|hf-hub:REPO",
                   help="start the encoder from these weights: a .safetensors/.pth state dict, or "
                        "hf-hub:REPO from the local Hugging Face cache (never downloaded); e.g. with "
                        "--encoder timm:resnet18. Only the new run reads it: the run reloads from its "
                        "checkpoints")
    t.add_argument("--proj-dim", type=int, default=None, help="projection output dimension (128)")
    t.add_argument("--proj-hidden-dim", type=int, default=None, help="projection hidden width (= features)")
    t.add_argument("--proj-layers", type=int, default=None, help="projection head depth (2)")
    t.add_argument("--temperature", type=float, default=None, help="NT-Xent temperature (auto: 0.15)")
    t.add_argument("--views", type=int, default=None, help="views per image (2)")
    t.add_argument("--policy", default=None,
                   help="augmentation policy: simclr | simclr-cifar | simclr-gray (default by data)")
    t.add_argument("--view-size", type=int, default=None, metavar="PIXELS",
                   help="side of the augmented views (auto: 0.64 x the image side for small images); "
                        "the encoder is still evaluated on whole images")
    t.add_argument("--positives", default=None, metavar="frames:K",
                   help="with --data videos:DIR, take the two views of a clip from frames at most K apart "
                        "(temporal positives; default: both from one frame)")
    t.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from simclip.recipes import run_simclr

    if args.resume:
        cfg, dataset = resume_config(args, "simclr"), None
    else:
        cfg, dataset = new_run_config("simclr", args, {
            "model.encoder": args.encoder, "model.encoder_weights": args.encoder_weights,
            "model.proj_dim": args.proj_dim,
            "model.proj_hidden_dim": args.proj_hidden_dim, "model.proj_layers": args.proj_layers,
            "objective.temperature": args.temperature, "objective.n_views": args.views,
            "objective.policy": args.policy, "objective.view_size": args.view_size,
            "objective.positives": args.positives})
    result = run_simclr(cfg, resume=bool(args.resume), dataset=dataset)
    print_result(result, cfg.out, args.json)
    return 130 if result.get("interrupted") else 0
