"""``simclip export embeddings|onnx``: a CLIP model's image embeddings to a file, or its towers to ONNX.

``register(subparsers)`` adds the command; each handler takes the parsed ``argparse.Namespace`` and
returns an exit code.
"""

from __future__ import annotations

import argparse

# simclip.export.onnx.DEFAULT_OPSET, without importing torch and ONNX to register the command
DEFAULT_OPSET = 17


def _model(args: argparse.Namespace):
    from simclip.cli.model_source import load_model

    return load_model(args)


def cli_export_embeddings(args: argparse.Namespace) -> int:
    from simclip.data import ShardedDataset, load_dataset
    from simclip.export.embeddings import export_embeddings

    loaded = load_dataset(args.data, split=args.split)
    # streamed shards: their first --limit usable samples (all without it), read into memory
    data = loaded.to_memory(args.limit or None) if isinstance(loaded, ShardedDataset) else loaded
    if args.limit:
        data.images = data.images[:args.limit]
        data.labels = data.labels[:args.limit] if data.labels is not None else None
    ids = [f"{args.split}/{i}" for i in range(len(data.images))]
    path = export_embeddings(_model(args), data, args.out, ids, normalize=not args.no_normalize,
                             batch_size=args.batch_size, device=args.device)
    print(f"wrote {len(ids)} embeddings of {args.data} ({args.split}) -> {path}")
    return 0


def cli_export_onnx(args: argparse.Namespace) -> int:
    from simclip.export.onnx import export_onnx

    image_path, text_path = export_onnx(_model(args), args.out, opset=args.opset, normalize=args.normalize,
                                        check=not args.no_check)
    checked = "" if args.no_check else " (onnxruntime matches PyTorch within 1e-4)"
    print(f"wrote {image_path} and {text_path}{checked}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``export`` (with ``embeddings`` and ``onnx``) to a sub-command parser."""
    from simclip.cli.model_source import add_model_arguments

    export = sub.add_parser("export", help="write image embeddings or ONNX graphs of a CLIP model")
    actions = export.add_subparsers(dest="export_command", metavar="WHAT", required=True)

    emb = actions.add_parser("embeddings",
                             help="image embeddings of a dataset to .npy (+ .ids.json) or .parquet")
    add_model_arguments(emb)
    emb.add_argument("--data", required=True, help="a dataset spec")
    emb.add_argument("--split", default="test", choices=("train", "test"), help="which split of --data (test)")
    emb.add_argument("--limit", type=int, default=None, help="only the first N images")
    emb.add_argument("--out", required=True, help="FILE.npy or FILE.parquet; ids are SPLIT/INDEX")
    emb.add_argument("--no-normalize", action="store_true", help="keep the raw (not L2-normalised) features")
    emb.add_argument("--batch-size", type=int, default=256, help="images per forward pass (256)")
    emb.set_defaults(func=cli_export_embeddings)

    onnx = actions.add_parser("onnx",
                              help="image.onnx and text.onnx, dynamic batch, checked with onnxruntime")
    add_model_arguments(onnx)
    onnx.add_argument("--out", required=True, metavar="DIR", help="folder for image.onnx and text.onnx")
    onnx.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset, 17 or later ({DEFAULT_OPSET})")
    onnx.add_argument("--normalize", action="store_true", help="L2-normalise inside the graphs")
    onnx.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")
    onnx.set_defaults(func=cli_export_onnx)
