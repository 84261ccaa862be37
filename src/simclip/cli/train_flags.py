"""Flags shared by every method's ``train`` command, and how they become a run's config.

What the user says becomes one ordered dict of dotted config keys — the ``--config`` file's
fields, then the flags, then ``--set`` assignments — that :func:`simclip.recipes.resolve_config`
applies on top of the chosen recipe. Importing this module imports no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

# flag attribute -> dotted config key
_FLAG_KEYS = {"data": "data", "out": "out", "epochs": "epochs", "batch_size": "batch_size",
              "time_budget": "time_budget", "seed": "seed", "device": "device", "precision": "precision",
              "eval_every": "eval_every", "checkpoint_every": "checkpoint_every",
              "keep_checkpoints": "keep_checkpoints", "micro_batch": "micro_batch",
              "max_bad_fraction": "max_bad_fraction", "optimizer": "optim.name", "lr": "optim.lr",
              "lr_scaling": "optim.lr_scaling", "weight_decay": "optim.weight_decay",
              "warmup": "optim.warmup_fraction", "clip_grad": "optim.clip_grad_norm", "logger": "loggers"}
_SWITCHES = {"no_channels_last": ("channels_last", False), "compile": ("compile", True),
             "no_progress": ("progress", False), "strict": ("strict", True), "overwrite": ("overwrite", True)}


def add_train_arguments(t: argparse.ArgumentParser, method: str) -> None:
    """Flags shared by every method's ``train``."""
    t.add_argument("--recipe", default=None, metavar="NAME",
                   help="named recipe the unset values come from (default auto: derived from the "
                        "data and the run length); 'simclip recipes' lists them")
    t.add_argument("--set", action="append", default=None, metavar="KEY=VALUE", dest="assignments",
                   help="set any config field, e.g. --set objective.temperature=0.2 --set optim.lr=1e-3 "
                        "(repeatable; wins over the recipe, --config and the other flags)")
    t.add_argument("--data", default=None, help="dataset spec (default digits for simclr, shapes for clip)")
    t.add_argument("--out", default=None, help=f"run folder (default runs/{method})")
    t.add_argument("--config", default=None,
                   help="JSON config file, whole or partial (a run's config.json replays it)")
    t.add_argument("--resume", metavar="RUN", default=None,
                   help="continue RUN from its newest checkpoint, exactly where it stopped")
    t.add_argument("--init-from", metavar="RUN|CHECKPOINT", default=None,
                   help="start a new run (fresh optimiser and schedule, step 0) from the weights of a run "
                        "folder or one of its checkpoints" + (", or of CLIP weights (see also --model "
                                                              "--pretrained)" if method == "clip" else "")
                        + "; the architecture is the checkpoint's")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its checkpoints, metrics and TensorBoard "
                        "files); without it a new run there is refused")
    t.add_argument("--epochs", type=int, default=None,
                   help="passes over the training data (default: the recipe's; auto plans a few "
                        "thousand steps)")
    t.add_argument("--batch-size", type=int, default=None, help="images per step and process (default: the recipe's)")
    t.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after this much training time, with the LR schedule fitted to it")
    t.add_argument("--optimizer", choices=("sgd", "adamw", "lars"), default=None)
    t.add_argument("--lr", type=float, default=None,
                   help="learning rate (at batch 256 when --lr-scaling is linear or sqrt)")
    t.add_argument("--lr-scaling", choices=("linear", "sqrt", "none"), default=None)
    t.add_argument("--weight-decay", type=float, default=None)
    t.add_argument("--warmup", type=float, default=None, help="warm-up fraction of the run")
    t.add_argument("--clip-grad", type=float, default=None, help="clip the gradient norm to this")
    t.add_argument("--seed", type=int, default=None, help="seed of weights, batches and augmentations (0)")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
    t.add_argument("--precision", choices=("bf16", "fp32"), default=None, help="autocast precision (bf16)")
    t.add_argument("--no-channels-last", action="store_true", help="keep NCHW memory layout")
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--micro-batch", type=int, default=None, metavar="N",
                   help="gradient cache: embed the batch in chunks of N inputs (same gradients, less memory)")
    t.add_argument("--eval", default=None, metavar="PROTOCOLS",
                   help="evaluate at the end (and every --eval-every epochs), e.g. "
                        + ("linear,knn" if method == "simclr" else "zeroshot,retrieval"))
    t.add_argument("--eval-every", type=int, default=None, metavar="EPOCHS")
    t.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS")
    t.add_argument("--keep-checkpoints", type=int, default=None, metavar="N",
                   help="how many newest checkpoints to keep (2)")
    t.add_argument("--strict", action="store_true", help="any unreadable sample is an error")
    t.add_argument("--max-bad-fraction", type=float, default=None, metavar="F",
                   help="stop when more than this fraction of samples is unreadable (0.05)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--logger", default=None, metavar="NAMES",
                   help="experiment trackers, comma-separated: tensorboard, wandb, mlflow (jsonl, i.e. "
                        "RUN/metrics.jsonl, is always written; default: tensorboard when installed)")
    t.add_argument("--json", action="store_true", help="print the final metrics as JSON")


def user_values(args: argparse.Namespace, method_flags: dict[str, Any]) -> dict[str, Any]:
    """The user's values by dotted key: ``--config`` file, then flags (``method_flags`` are the
    method's own, already as dotted keys), then ``--set``."""
    from simclip.recipes.overrides import flatten, parse_assignments
    from simclip.train.config import ConfigError

    values: dict[str, Any] = {}
    if args.config:
        try:
            with open(args.config, encoding="utf-8-sig") as f:
                raw = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(f"cannot read config {args.config}: {err}") from None
        values.update(flatten(raw, f"--config {args.config}"))
    for flag, key in _FLAG_KEYS.items():
        if getattr(args, flag) is not None:
            values[key] = getattr(args, flag)
    for flag, (key, value) in _SWITCHES.items():
        if getattr(args, flag):
            values[key] = value
    if args.eval:
        values["eval_protocols"] = tuple(p.strip() for p in args.eval.split(",") if p.strip())
    values.update({k: v for k, v in method_flags.items() if v is not None})
    if args.recipe:
        values["recipe"] = args.recipe
    values.update(parse_assignments(args.assignments))
    return values


def new_run_config(method: str, args: argparse.Namespace, method_flags: dict[str, Any]):
    """Resolve a new run's config and print the recipe; returns ``(config, training dataset)``."""
    from simclip.recipes.resolve import describe, resolve_config

    values = user_values(args, method_flags)
    if getattr(args, "init_from", None):
        from simclip.recipes.init_from import init_values

        values = init_values(method, args.init_from, values)
    cfg, recipe, profile, dataset = resolve_config(method, values)
    if _prints():
        print(describe(cfg, recipe, profile, values), file=sys.stderr if args.json else sys.stdout, flush=True)
    return cfg, dataset


def _prints() -> bool:
    """Whether this process prints the recipe and the result: under torchrun, rank 0 alone (the
    other ranks train the same run and would repeat them)."""
    from simclip.train.distributed import launched_rank

    return launched_rank() == 0


def resume_config(args: argparse.Namespace, method: str):
    """The config of the run ``--resume`` names; only ``--epochs``, ``--no-progress`` and
    ``--logger`` apply on top."""
    from simclip.train.config import ConfigError, read_run_config

    if args.overwrite:
        raise ConfigError("--overwrite replaces a run with a new one; it cannot be combined with --resume")
    ignored = [f"--{name}" for name in ("recipe", "config") if getattr(args, name)]
    ignored += ["--set"] if args.assignments else []
    if ignored:
        raise ConfigError(f"{', '.join(ignored)} cannot change a resumed run: it continues with the "
                          f"config in {args.resume}/config.json")
    if getattr(args, "init_from", None):
        raise ConfigError("--init-from starts a new run; a resumed run continues from its own checkpoint")
    cfg = read_run_config(args.resume)
    if cfg.method != method:
        other = "simclip simclr train" if cfg.method == "simclr" else "simclip clip train"
        raise ConfigError(f"{args.resume} is a {cfg.method.upper() if cfg.method == 'clip' else 'SimCLR'} run; "
                          f"resume it with '{other} --resume {args.resume}'")
    cfg.out = str(args.resume)  # a moved or copied run folder continues where it now is
    if args.epochs is not None:
        cfg.epochs = args.epochs
    cfg.progress = not args.no_progress
    if args.logger is not None:  # trackers record the run; they do not change it
        cfg.loggers = tuple(n.strip() for n in args.logger.split(",") if n.strip())
    return cfg


def print_result(result: dict, out: str, as_json: bool) -> None:
    """The final metrics of a run, as a table or JSON (by rank 0 alone under torchrun)."""
    if not _prints():
        return
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
