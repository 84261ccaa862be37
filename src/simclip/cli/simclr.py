"""``simclip simclr train``: self-supervised training of an image encoder."""

from __future__ import annotations

import argparse
import json

from simclip.recipes import run_simclr, simclr_config
from simclip.train import TrainConfig
from simclip.train.config import ConfigError, read_run_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simclr", help="SimCLR: train an encoder from unlabeled images")
    sp = p.add_subparsers(dest="simclr_command", metavar="SUBCOMMAND", required=True)
    t = sp.add_parser("train", help="train (or --resume) a SimCLR run",
                      description="Train SimCLR. Example: simclip simclr train --data "
                                  "mnist:../shared/data/mnist --encoder small-cnn --epochs 1 --out runs/a")
    add_train_arguments(t)
    t.add_argument("--encoder", default=None, help="encoder name (see 'simclip models'); default small-cnn")
    t.add_argument("--proj-dim", type=int, default=None, help="projection output dimension (128)")
    t.add_argument("--proj-hidden-dim", type=int, default=None, help="projection hidden width (= features)")
    t.add_argument("--proj-layers", type=int, default=None, help="projection head depth (2)")
    t.add_argument("--temperature", type=float, default=None, help="NT-Xent temperature (0.5)")
    t.add_argument("--views", type=int, default=None, help="views per image (2)")
    t.add_argument("--policy", default=None,
                   help="augmentation policy: simclr | simclr-cifar | simclr-gray (default by data)")
    t.add_argument("--view-size", type=int, default=None, metavar="PIXELS",
                   help="side of the augmented views (default: the images' size); smaller views "
                        "train faster and the encoder is still evaluated on whole images")
    t.set_defaults(func=_train)


def add_train_arguments(t: argparse.ArgumentParser) -> None:
    """Flags shared by every method's ``train``."""
    t.add_argument("--data", default=None, help="dataset spec (default digits)")
    t.add_argument("--out", default=None, help="run folder (default runs/<method>)")
    t.add_argument("--config", default=None, help="JSON config file (a run's config.json replays it)")
    t.add_argument("--resume", metavar="RUN", default=None,
                   help="continue RUN from its newest checkpoint, exactly where it stopped")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its checkpoints, metrics and TensorBoard "
                        "files); without it a new run there is refused")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after this much training time, with the LR schedule fitted to it")
    t.add_argument("--optimizer", choices=("sgd", "adamw", "lars"), default=None)
    t.add_argument("--lr", type=float, default=None, help="base learning rate at batch 256")
    t.add_argument("--lr-scaling", choices=("linear", "sqrt", "none"), default=None)
    t.add_argument("--weight-decay", type=float, default=None)
    t.add_argument("--warmup", type=float, default=None, help="warm-up fraction of the run (0.1)")
    t.add_argument("--clip-grad", type=float, default=None, help="clip the gradient norm to this")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
    t.add_argument("--precision", choices=("bf16", "fp32"), default=None)
    t.add_argument("--no-channels-last", action="store_true", help="keep NCHW memory layout")
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--micro-batch", type=int, default=None, metavar="N",
                   help="gradient cache: embed the batch in chunks of N inputs (same gradients, less memory)")
    t.add_argument("--eval", default=None, metavar="PROTOCOLS",
                   help="evaluate at the end (and every --eval-every epochs), e.g. linear,knn")
    t.add_argument("--eval-every", type=int, default=None, metavar="EPOCHS")
    t.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS")
    t.add_argument("--keep-checkpoints", type=int, default=None, metavar="N",
                   help="how many newest checkpoints to keep (2)")
    t.add_argument("--strict", action="store_true", help="any unreadable sample is an error")
    t.add_argument("--max-bad-fraction", type=float, default=None, metavar="F",
                   help="stop when more than this fraction of samples is unreadable (0.05)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--json", action="store_true", help="print the final metrics as JSON")


_OPTIM_FLAGS = {"optimizer": "name", "lr": "lr", "lr_scaling": "lr_scaling",
                "weight_decay": "weight_decay", "warmup": "warmup_fraction", "clip_grad": "clip_grad_norm"}
_TOP_FLAGS = ("data", "out", "epochs", "batch_size", "time_budget", "seed", "device", "precision",
              "eval_every", "checkpoint_every", "keep_checkpoints", "micro_batch",
              "max_bad_fraction")


def config_from_args(args: argparse.Namespace, base: TrainConfig) -> TrainConfig:
    """Apply the command-line flags that were given on top of ``base``."""
    cfg = base
    if args.config:
        cfg = TrainConfig.load(args.config)
    for flag in _TOP_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            setattr(cfg, flag, value)
    for flag, field in _OPTIM_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            setattr(cfg.optim, field, value)
    if args.no_channels_last:
        cfg.channels_last = False
    if args.compile:
        cfg.compile = True
    if args.no_progress:
        cfg.progress = False
    if args.strict:
        cfg.strict = True
    if args.overwrite:
        cfg.overwrite = True
    if args.eval:
        cfg.eval_protocols = tuple(p.strip() for p in args.eval.split(",") if p.strip())
    return cfg


def resume_config(args: argparse.Namespace) -> TrainConfig:
    """The config of the run ``--resume`` names; only ``--epochs`` and ``--no-progress`` apply on top."""
    if args.overwrite:
        raise ConfigError("--overwrite replaces a run with a new one; it cannot be combined with --resume")
    cfg = read_run_config(args.resume)
    cfg.out = str(args.resume)  # a moved or copied run folder continues where it now is
    if args.epochs is not None:
        cfg.epochs = args.epochs
    cfg.progress = not args.no_progress
    return cfg


def _train(args: argparse.Namespace) -> int:
    if args.resume:
        cfg = resume_config(args)
    else:
        cfg = config_from_args(args, simclr_config(out="runs/simclr"))
        for flag, key in (("encoder", "encoder"), ("proj_dim", "proj_dim"),
                          ("proj_hidden_dim", "proj_hidden_dim"), ("proj_layers", "proj_layers")):
            if getattr(args, flag) is not None:
                cfg.model[key] = getattr(args, flag)
        for flag, key in (("temperature", "temperature"), ("views", "n_views"), ("policy", "policy"),
                          ("view_size", "view_size")):
            if getattr(args, flag) is not None:
                cfg.objective[key] = getattr(args, flag)
        if cfg.method != "simclr":
            raise ConfigError(f"--config describes a {cfg.method!r} run, not simclr")
    result = run_simclr(cfg, resume=bool(args.resume))
    print_result(result, cfg.out, args.json)
    return 130 if result.get("interrupted") else 0


def print_result(result: dict, out: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    state = "interrupted (checkpoint saved; continue with --resume)" if result.get("interrupted") else "done"
    print(f"{state}: {result['steps']} steps, {result['epochs']} epochs, "
          f"{result['train_seconds']:.1f} s, {result['images_per_s']:.0f} images/s -> {out}")
    for key, value in result.items():
        if key not in ("steps", "epochs", "train_seconds", "images_per_s", "interrupted", "skipped_steps"):
            print(f"  {key:<28} {value:.2f}" if isinstance(value, float) else f"  {key:<28} {value}")
    if result.get("skipped_steps"):
        print(f"  skipped {result['skipped_steps']} steps with a non-finite loss")
