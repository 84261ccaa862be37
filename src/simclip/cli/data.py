"""``simclip data shard``: write WebDataset tar shards from any dataset spec."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="dataset tools: shard")
    sp = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    s = sp.add_parser("shard", help="write WebDataset tar shards (image + label/caption)",
                      description="Train from them with --data wds:DIR (or wds:DIR/{000000..000009}.tar).")
    s.add_argument("--data", required=True, help="source dataset spec")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--shard-size", type=int, default=10_000, help="samples per shard (10000)")
    s.add_argument("--split", default="train", choices=("train", "test"), help="which split to write (train)")
    cap = s.add_mutually_exclusive_group()
    cap.add_argument("--captions", dest="captions", action="store_true", default=None,
                     help="also write class-template captions for labelled sources")
    cap.add_argument("--no-captions", dest="captions", action="store_false",
                     help="write no captions, even for captioned sources")
    s.add_argument("--overwrite", action="store_true", help="replace existing shards")
    s.set_defaults(func=_shard)


def _shard(args: argparse.Namespace) -> int:
    from simclip.data.shards.write import write_shards

    paths = write_shards(args.data, args.out, shard_size=args.shard_size, split=args.split,
                         captions=args.captions, overwrite=args.overwrite)
    print(f"wrote {len(paths)} shard(s) to {args.out}")
    return 0
