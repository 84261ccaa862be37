"""``simclip video index|search``: text->video search over a folder of videos.

The model flags are those of ``simclip index build``; ``register(subparsers)`` adds the command and
each handler takes the parsed ``argparse.Namespace`` and returns an exit code.
"""

from __future__ import annotations

import argparse
import json

from simclip.serve.commands import INDEX_KINDS, add_embedder_arguments

# simclip.video.frames.STRATEGIES, without importing torch and PyAV to register the command
STRATEGIES = ("uniform", "random")


def _embedder(args: argparse.Namespace):
    from simclip.serve.commands import embedder_from_args, use_pretrained
    from simclip.serve.embedder import load_embedder

    if getattr(args, "index", None) is None:
        use_pretrained(args)  # --model NAME --pretrained TAG: the local weights file
        return load_embedder(args.checkpoint, run=args.run, model=args.model, tokenizer=args.tokenizer,
                             device=args.device)
    return embedder_from_args(args)  # with no model flag: the model recorded in the index


def cli_video_index(args: argparse.Namespace) -> int:
    from simclip.video.index import build_video_index

    embedder = _embedder(args)
    info = build_video_index(embedder.model, embedder.preprocess, args.videos, args.out,
                             num_frames=args.frames, strategy=args.strategy, identity=embedder.identity,
                             kind=args.kind, overwrite=args.overwrite, progress=not args.no_progress)
    print(f"indexed {info['count']} videos ({info['unreadable']} unreadable skipped, {args.frames} frames "
          f"each) -> {args.out}")
    return 0


def cli_video_search(args: argparse.Namespace) -> int:
    from simclip.video.index import search_videos

    embedder = _embedder(args)
    hits = search_videos(args.index, embedder.model, embedder.tokenizer, args.text, args.k,
                         identity=embedder.identity, device=args.device)
    if args.json:
        print(json.dumps([{"id": rel, "score": score} for rel, score in hits], indent=2))
        return 0
    for rank, (rel, score) in enumerate(hits, start=1):
        print(f"{rank:3d}. {score:.4f}  {rel}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``video`` (with ``index`` and ``search``) to a sub-command parser."""
    video = sub.add_parser("video", help="text->video search: mean-pooled CLIP frame embeddings")
    actions = video.add_subparsers(dest="video_command", metavar="ACTION", required=True)

    build = actions.add_parser("index", help="embed every video under a folder into a new index")
    build.add_argument("--videos", required=True, metavar="DIR", help="folder of videos (recursive)")
    build.add_argument("--out", required=True, metavar="INDEX", help="folder to write the index to")
    add_embedder_arguments(build, required=True)
    build.add_argument("--frames", type=int, default=8, help="frames sampled per video (default 8)")
    build.add_argument("--strategy", choices=STRATEGIES, default="uniform",
                       help="uniform: the middle frame of each segment; random: a seeded draw per segment")
    build.add_argument("--kind", choices=INDEX_KINDS, default="auto",
                       help="search structure (as simclip index build)")
    build.add_argument("--overwrite", action="store_true", help="replace an index already in --out")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.set_defaults(func=cli_video_index)

    search = actions.add_parser("search", help="the videos closest to a text")
    search.add_argument("--index", required=True, metavar="INDEX", help="the video index folder")
    search.add_argument("--text", required=True, help="what to search for, e.g. \"a dog catching a ball\"")
    search.add_argument("-k", type=int, default=5, help="number of videos to list")
    add_embedder_arguments(search, required=False)
    search.add_argument("--json", action="store_true", help="print JSON instead of a list")
    search.set_defaults(func=cli_video_search)
