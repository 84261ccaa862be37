"""``simclip data shard``: write WebDataset tar shards from any dataset spec."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="dataset tools: shard, make-world")
    sp = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    s = sp.add_parser("shard", help="write WebDataset tar shards (image + label/caption)",
                      description="Train from them with --data wds:DIR (or wds:DIR/{000000..000009}.tar). "
                                  "Running the same command again resumes an interrupted run.")
    s.add_argument("--data", required=True, help="source dataset spec")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--shard-size", type=int, default=10_000, help="samples per shard (10000)")
    s.add_argument("--split", default="train", choices=("train", "test"), help="which split to write (train)")
    cap = s.add_mutually_exclusive_group()
    cap.add_argument("--captions", dest="captions", action="store_true", default=None,
                     help="also write class-template captions for labelled sources")
    cap.add_argument("--no-captions", dest="captions", action="store_false",
                     help="write no captions, even for captioned sources")
    s.add_argument("--format", dest="image_format", default="png", choices=("png", "jpeg"),
                   help="image encoding: png (lossless, default) or jpeg")
    s.add_argument("--quality", type=int, default=90, help="JPEG quality 1..95 (90)")
    s.add_argument("--workers", type=int, default=0,
                   help="processes that decode and encode images (0: in this process)")
    s.add_argument("--pool", default="process", choices=("process", "thread"),
                   help="run --workers as processes (default) or threads")
    s.add_argument("--overwrite", action="store_true",
                   help="replace existing shards (else the same job resumes and another one is refused)")
    s.set_defaults(func=_shard)
    w = sp.add_parser("make-world", help="write the built-in multimodal world: image, depth, sound, "
                                         "point cloud and caption files per object, and pairs.csv",
                      description="Train on it with simclip pair train --data pairs:DIR/pairs.csv; on its "
                                  "video clips with simclip simclr train --data videos:DIR/videos "
                                  "--positives frames:4, or simclip pair train --data videos:DIR/videos "
                                  "--pair frame,audio.")
    w.add_argument("--out", required=True, help="output folder")
    w.add_argument("--objects", type=int, default=2000, help="number of objects (2000; 20%% held out)")
    w.add_argument("--videos", type=int, default=200,
                   help="MP4 clips of moving objects with their sound, under DIR/videos (200; 0 for none)")
    w.add_argument("--seed", type=int, default=0, help="seed of the objects and their files (0)")
    w.add_argument("--overwrite", action="store_true", help="replace a world already in --out")
    w.set_defaults(func=_make_world)


def _shard(args: argparse.Namespace) -> int:
    from simclip.data.shards.write import shard_dataset

    report = shard_dataset(args.data, args.out, shard_size=args.shard_size, split=args.split,
                           captions=args.captions, overwrite=args.overwrite,
                           image_format=args.image_format, quality=args.quality,
                           workers=args.workers, pool=args.pool)
    kept = f", kept {report.kept} complete shard(s) from an earlier run" if report.kept else ""
    bad = f", skipped {report.bad} unusable sample(s)" if report.bad else ""
    print(f"wrote {report.written} shard(s) ({report.images} images) to {args.out} in "
          f"{report.seconds:.1f} s, {report.images_per_s:.0f} images/s{kept}{bad}")
    return 0


def _make_world(args: argparse.Namespace) -> int:
    from simclip.data.world import make_world

    table = make_world(args.out, args.objects, args.seed, overwrite=args.overwrite, videos=args.videos)
    clips = f" and {args.videos} clips (--data videos:{table.parent / 'videos'})" if args.videos else ""
    print(f"wrote {args.objects} objects{clips} to {args.out}; train with --data pairs:{table}")
    return 0
