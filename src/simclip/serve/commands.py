"""``simclip index build|add|info`` and ``simclip serve``: argument parsing over the serve API.

``register(subparsers)`` adds both commands; each handler takes the parsed ``argparse.Namespace``
and returns an exit code. FAISS, FastAPI and torch are imported by the handlers, not here, so that
registering the commands costs nothing and needs none of them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from simclip.errors import UsageError

if TYPE_CHECKING:
    from simclip.serve.embedder import ClipEmbedder

INDEX_KINDS = ("auto", "flat", "ivf", "hnsw")  # simclip.serve.vector_index.KINDS, without importing FAISS
BACKENDS = ("torch", "onnx")  # simclip.serve.service.BACKENDS


def add_embedder_arguments(p: argparse.ArgumentParser, required: bool) -> None:
    """The model of an index: ``--checkpoint``, ``--run`` or ``--model NAME [--pretrained TAG]``
    (:func:`use_pretrained`), with ``--tokenizer`` and ``--device``."""
    from simclip.cli.model_source import add_named_model_arguments

    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument("--checkpoint", metavar="FILE", help="CLIP weights (anything simclip.clip.load reads)")
    group.add_argument("--run", metavar="RUN", help="a CLIP training run folder ('simclip clip train --out')")
    add_named_model_arguments(group, p, model_help="an architecture name: with --pretrained, its released "
                                                   "weights; alone, randomly initialised (seed 0), for "
                                                   "smoke tests only")
    p.add_argument("--tokenizer", default="clip", help="'clip' (default) or a trained BPE tokenizer folder")
    p.add_argument("--device", default="cpu", help="torch device for the model (default cpu)")


def use_pretrained(args: argparse.Namespace) -> None:
    """``--model NAME --pretrained TAG`` becomes ``--checkpoint`` of the local weights file, so the
    index records that file as its model's identity."""
    if getattr(args, "pretrained", None) is not None:
        from simclip.cli.model_source import pretrained_weights

        args.checkpoint, args.model = str(pretrained_weights(args.model, args.pretrained)), None


def embedder_from_args(args: argparse.Namespace) -> ClipEmbedder:
    """The embedder named by ``--checkpoint``/``--run``/``--model``; with none, the one recorded in
    ``args.index`` (its checkpoint file, or its architecture name at seed 0)."""
    use_pretrained(args)
    from simclip.serve.service import index_embedder

    return index_embedder(args.index, args.checkpoint, args.run, args.model, args.tokenizer, args.device)


def cli_index_build(args: argparse.Namespace) -> int:
    from simclip.serve.embedder import load_embedder
    from simclip.serve.index import build_index

    use_pretrained(args)
    embedder = load_embedder(args.checkpoint, run=args.run, model=args.model, tokenizer=args.tokenizer,
                             device=args.device)
    info = build_index(embedder, args.images, args.out, batch_size=args.batch_size,
                       progress=not args.no_progress, kind=args.kind, overwrite=args.overwrite)
    print(f"indexed {info['count']} images ({info['unreadable']} unreadable skipped) -> {args.out} "
          f"[{info['vector_index']['kind']} search]")
    return 0


def cli_index_add(args: argparse.Namespace) -> int:
    from simclip.serve.index import add_to_index

    report = add_to_index(args.index, embedder_from_args(args), args.paths, batch_size=args.batch_size,
                          progress=not args.no_progress)
    print(f"added {report['added']} images ({report['already_indexed']} already indexed, "
          f"{report['unreadable']} unreadable); the index now holds {report['count']}")
    return 0


def cli_index_info(args: argparse.Namespace) -> int:
    from simclip.serve.index import index_info

    print(json.dumps(index_info(args.index), indent=2))
    return 0


def cli_serve(args: argparse.Namespace) -> int:
    use_pretrained(args)
    from simclip.serve.service import ServiceConfig, run_service

    if args.max_upload_mb <= 0:
        raise UsageError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    if not Path(args.index).is_dir():
        raise FileNotFoundError(f"index folder {args.index!r} does not exist")
    run_service(ServiceConfig(
        index=args.index, checkpoint=args.checkpoint, run=args.run, model=args.model, tokenizer=args.tokenizer,
        device=args.device, backend=args.backend, threads=args.threads,
        max_batch=args.max_batch, workers=args.workers, host=args.host, port=args.port,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024), max_concurrency=args.max_concurrency,
        request_timeout_s=args.timeout))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``index`` (with ``build``, ``add``, ``info``) and ``serve`` to a sub-command parser."""
    index = sub.add_parser("index", help="build, extend or describe an image search index")
    actions = index.add_subparsers(dest="index_command", metavar="ACTION", required=True)

    build = actions.add_parser("build", help="embed every image under a folder into a new index")
    build.add_argument("--images", required=True, metavar="DIR", help="folder of images (recursive)")
    build.add_argument("--out", required=True, metavar="INDEX", help="folder to write the index to")
    add_embedder_arguments(build, required=True)
    build.add_argument("--kind", choices=INDEX_KINDS, default="auto",
                       help="search structure: auto = exact up to 20,000 images, IVF above")
    build.add_argument("--overwrite", action="store_true", help="replace an index already in --out")
    build.set_defaults(func=cli_index_build)

    add = actions.add_parser("add", help="add new images (inside the index's image folder) to an index")
    add.add_argument("--index", required=True, metavar="INDEX", help="the index folder to extend")
    add.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders to add")
    add_embedder_arguments(add, required=False)
    add.set_defaults(func=cli_index_add)

    for p in (build, add):
        p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (64)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

    info = actions.add_parser("info", help="print what an index holds, as JSON")
    info.add_argument("--index", required=True, metavar="INDEX", help="the index folder")
    info.set_defaults(func=cli_index_info)

    srv = sub.add_parser("serve", help="web page and JSON API for searching an index")
    srv.add_argument("--index", required=True, metavar="INDEX", help="the index folder to serve")
    add_embedder_arguments(srv, required=False)
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    srv.add_argument("--port", type=int, default=8000, help="TCP port (8000)")
    srv.add_argument("--max-upload-mb", type=float, default=10.0, help="largest image upload accepted, in MB (10)")
    srv.add_argument("--max-concurrency", type=int, default=None,
                     help="requests in the model at once per worker; the others wait their turn (default 4, "
                          "or 8 when batching)")
    srv.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per request")
    srv.add_argument("--workers", type=int, default=1,
                     help="worker processes sharing the port and the memory-mapped index (1)")
    srv.add_argument("--backend", choices=BACKENDS, default="torch",
                     help="run the towers in PyTorch or ONNX Runtime (exported and checked at start)")
    srv.add_argument("--threads", type=int, default=None,
                     help="intra-op threads per worker (default: CPU cores / workers)")
    srv.add_argument("--max-batch", type=int, default=64,
                     help="requests that arrive while a tower is busy run together in its next forward pass, "
                          "up to this many items; 1 = no batching (64)")
    srv.set_defaults(func=cli_serve)
