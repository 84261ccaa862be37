"""``simclip models``: the SimCLR encoders and the named CLIP architectures."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list SimCLR encoders (--encoder) and CLIP architectures (--model)")
    p.add_argument("--pretrained", action="store_true",
                   help="list the (model, tag) pairs of released CLIP weights for --model NAME "
                        "--pretrained TAG, marking those in the local cache")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.pretrained:
        return _pretrained()
    from simclip.cli.clip import _models
    from simclip.models import list_encoders

    print("SimCLR encoders (simclr train --encoder NAME):")
    for name in list_encoders():
        print(f"  {name}")
    print("  timm:NAME       any timm model, e.g. timm:resnet18 (pip install 'simclip[timm]'); also "
          "'clip train --image-tower'")
    print("CLIP architectures (clip train --model NAME):")
    _models(args)
    return 0


def _pretrained() -> int:
    from simclip.clip import list_pretrained
    from simclip.clip.pretrained import default_cache_dir
    from simclip.clip.pretrained_names import cached_path

    print(f"released CLIP weights (--model NAME --pretrained TAG); cache: {default_cache_dir()}")
    for model, tag in list_pretrained():
        mark = "  (cached)" if cached_path(model, tag) is not None else ""
        print(f"  {model:<14} {tag}{mark}")
    return 0
