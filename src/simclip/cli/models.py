"""``simclip models``: the SimCLR encoders and the named CLIP architectures."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list SimCLR encoders (--encoder) and CLIP architectures (--model)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from simclip.cli.clip import _models
    from simclip.models import list_encoders

    print("SimCLR encoders (simclr train --encoder NAME):")
    for name in list_encoders():
        print(f"  {name}")
    print("CLIP architectures (clip train --model NAME):")
    _models(args)
    return 0
