"""``simclip recipes``: the named recipes of each method, and what one resolves to on given data."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipes", help="list the named recipes (--recipe NAME), or show what one resolves to",
                       description="Without --show: the recipes of each method. With --show NAME: the "
                                   "values recipe NAME gives on --data (and --epochs / --time-budget / "
                                   "--batch-size / --device), as a train command would print them.")
    p.add_argument("--method", choices=("simclr", "clip"), default=None, help="only this method's recipes")
    p.add_argument("--show", default=None, metavar="NAME", help="resolve this recipe on --data and print it")
    p.add_argument("--data", default=None, help="dataset spec for --show (default digits / shapes)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default=None)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from simclip.recipes import list_presets

    if args.show is None:
        for method in ((args.method,) if args.method else ("simclr", "clip")):
            print(f"{method} train --recipe NAME:")
            for preset in list_presets(method):
                print(f"  {preset.name:<12} {preset.summary}")
        return 0
    from simclip.recipes.resolve import describe, resolve_config

    values = {k: v for k, v in (("data", args.data), ("epochs", args.epochs), ("time_budget", args.time_budget),
                                ("batch_size", args.batch_size), ("device", args.device)) if v is not None}
    cfg, recipe, profile, _ = resolve_config(args.method or "simclr", values, recipe=args.show)
    print(describe(cfg, recipe, profile, values))
    return 0
