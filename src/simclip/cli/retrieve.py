"""``simclip retrieve``: image<->text retrieval recall@k on a caption dataset, or a text query."""

from __future__ import annotations

import argparse
import json

from simclip.cli.model_source import add_model_arguments, load_model, retrieval_benchmark_metrics, write_benchmark_json
from simclip.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("retrieve", help="image<->text retrieval: recall@1/5/10, or search by text",
                       description="Recall@k both ways (an image's hit counts if any of its captions "
                                   "is in the top k). With --query, list the best-matching images.")
    add_model_arguments(p)
    p.add_argument("--data", required=True, help="a caption dataset spec (captions:FILE, shapes, ...)")
    p.add_argument("--split", default="test", choices=("train", "test"),
                   help="which split of --data to search (test)")
    p.add_argument("--query", default=None, help="a text: print the --top best images for it")
    p.add_argument("--top", type=int, default=5, help="how many images --query lists (5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="without --query: also write CLIP_benchmark's result file (dataset, model, "
                        "pretrained, task, metrics: image_ and text_retrieval_recall@k as fractions)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from simclip.clip import preprocess_tensor
    from simclip.data import captions_in_memory, load_caption_dataset
    from simclip.eval import extract_features, extract_text_features
    from simclip.recipes.clip import tokenizer_for

    if args.query is not None and args.top < 1:
        raise UsageError(f"--top must be at least 1, got {args.top}")
    if args.query is not None and args.output is not None:
        raise UsageError("--output writes recall metrics: leave out --query")
    model = load_model(args)
    tokenize = tokenizer_for(model)
    data = captions_in_memory(load_caption_dataset(args.data, split=args.split))
    image_feats = extract_features(lambda x: model.encode_image(x, normalize=True), data.images,
                                   device=args.device,
                                   transform=lambda x: preprocess_tensor(x, model.preprocess_cfg))
    encode_text = lambda t: model.encode_text(t, normalize=True)  # noqa: E731
    if args.query is not None:
        q = extract_text_features(encode_text, tokenize, [args.query], device=args.device)
        scores, idx = (image_feats @ q[0]).topk(min(args.top, len(image_feats)))
        hits = [_hit(data, int(i), float(s)) for s, i in zip(scores, idx)]
        if args.json:
            print(json.dumps({"query": args.query, "data": args.data, "split": args.split,
                              "results": hits}, indent=2))
        else:
            print(f"{args.query!r} in {args.data} ({args.split} split):")
            for h in hits:
                where = f"{h['split']} #{h['index']}" + (f"  {h['file']}" if "file" in h else "")
                print(f"  {h['score']:.3f}  {where}  {h['caption']}")
        return 0
    return _recall(args, data, image_feats, encode_text, tokenize)


def _hit(data, index: int, score: float) -> dict:
    """One result of ``--query``: where the image is (split, index, file when known) and its caption."""
    hit = {"split": data.split, "index": index, "score": score, "caption": data.captions[index][0]}
    if getattr(data, "files", None):
        hit["file"] = data.files[index]
    return hit


def _recall(args: argparse.Namespace, data, image_feats, encode_text, tokenize) -> int:
    import torch

    from simclip.cli.evaluate import format_table
    from simclip.eval import extract_text_features, retrieval_recall

    texts = [c for caps in data.captions for c in caps]
    owner = torch.tensor([i for i, caps in enumerate(data.captions) for _ in caps])
    metrics = retrieval_recall(image_feats, extract_text_features(encode_text, tokenize, texts,
                                                                  device=args.device), owner)
    if args.output is not None:
        write_benchmark_json(args.output, args, "zeroshot_retrieval", retrieval_benchmark_metrics(metrics))
    if args.json:
        print(json.dumps({"data": args.data, "split": args.split, **metrics}, indent=2))
    else:
        print(format_table(metrics, f"retrieval on {args.data} ({args.split}: {len(data)} images, "
                                    f"{len(texts)} captions)"))
    return 0
