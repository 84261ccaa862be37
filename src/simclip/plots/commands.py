"""``simclip plot similarity|embeddings|topk``: figures of a CLIP model on a dataset or an image.

``register(subparsers)`` adds the command; each handler takes the parsed ``argparse.Namespace`` and
returns an exit code.
"""

from __future__ import annotations

import argparse

from simclip.errors import UsageError

METHODS = ("tsne", "pca")  # simclip.plots.embedding_map.METHODS, without importing it to register


def _model_and_tokenizer(args: argparse.Namespace):
    from simclip.cli.model_source import load_model
    from simclip.recipes.clip import tokenizer_for

    model = load_model(args)
    return model, tokenizer_for(model)


def _image_features(model, images, device: str):
    from simclip.clip import preprocess_tensor
    from simclip.eval import extract_features

    cfg = model.preprocess_cfg
    return extract_features(lambda x: model.encode_image(x, normalize=True), images, device=device,
                            transform=lambda x: preprocess_tensor(x, cfg))


def cli_plot_similarity(args: argparse.Namespace) -> int:
    from simclip.data import captions_in_memory, load_caption_dataset
    from simclip.eval import extract_text_features

    model, tokenize = _model_and_tokenizer(args)
    data = captions_in_memory(load_caption_dataset(args.data, split=args.split), limit=args.n)
    images = data.images[:args.n]
    captions = [caps[0] for caps in data.captions[:args.n]]
    text_features = extract_text_features(lambda t: model.encode_text(t, normalize=True), tokenize, captions,
                                          device=args.device)
    image_features = _image_features(model, images, args.device)
    from simclip.plots.similarity import plot_similarity_matrix

    plot_similarity_matrix(image_features, text_features, images, captions, args.out)
    print(f"similarity of {len(captions)} captions and images -> {args.out}")
    return 0


def cli_plot_embeddings(args: argparse.Namespace) -> int:
    from simclip.data import images_in_memory, load_dataset

    model, _ = _model_and_tokenizer(args)
    data = images_in_memory(load_dataset(args.data, split=args.split), limit=args.n)
    if data.labels is None:
        raise UsageError(f"--data {args.data} has no labels to colour the map by")
    features = _image_features(model, data.images[:args.n], args.device)
    from simclip.plots.embedding_map import plot_embedding_map

    plot_embedding_map(features, data.labels[:args.n], data.classes, args.out, method=args.method,
                       seed=args.seed)
    print(f"{args.method} map of {len(features)} {args.data} embeddings -> {args.out}")
    return 0


def cli_plot_topk(args: argparse.Namespace) -> int:
    from simclip.augment import load_image
    from simclip.cli.zeroshot import resolve_templates
    from simclip.eval import rank_labels, zero_shot_classifier

    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if args.true is not None and args.true not in classes:
        raise UsageError(f"--true {args.true!r} is not one of --classes")
    model, tokenize = _model_and_tokenizer(args)
    feature = _image_features(model, load_image(args.image)[None], args.device)[0]
    import torch

    from simclip.plots.topk import plot_topk_bars

    with torch.inference_mode():
        classifier = zero_shot_classifier(lambda t: model.encode_text(t, normalize=True), tokenize, classes,
                                          resolve_templates(args.templates, None), args.device)
    ranked = rank_labels(feature, classifier, float(model.logit_scale.detach().exp()), top_k=5)
    plot_topk_bars([classes[i] for i, _ in ranked], [p for _, p in ranked], args.out, true_label=args.true)
    print(f"top-{len(ranked)} labels of {args.image} -> {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``plot`` (with ``similarity``, ``embeddings`` and ``topk``) to a sub-command parser."""
    from simclip.cli.model_source import add_model_arguments

    plot = sub.add_parser("plot",
                          help="figures of a CLIP model: similarity matrix, embedding map, top-k bars")
    kinds = plot.add_subparsers(dest="plot_command", metavar="FIGURE", required=True)

    sim = kinds.add_parser("similarity", help="caption-image cosine similarities with thumbnails")
    sim.add_argument("--data", required=True, help="a caption dataset spec (shapes, captions:FILE, ...)")
    sim.add_argument("--n", type=int, default=8, help="first N images and their first captions")
    sim.set_defaults(func=cli_plot_similarity)

    emb = kinds.add_parser("embeddings", help="t-SNE or PCA map of image embeddings coloured by class")
    emb.add_argument("--data", required=True, help="a labelled dataset spec")
    emb.add_argument("--n", type=int, default=1000, help="first N images")
    emb.add_argument("--method", choices=METHODS, default="tsne")
    emb.add_argument("--seed", type=int, default=0)
    emb.set_defaults(func=cli_plot_embeddings)

    top = kinds.add_parser("topk", help="zero-shot top-5 bars of one image")
    top.add_argument("--image", required=True)
    top.add_argument("--classes", required=True, help='comma-separated labels, e.g. "cat,dog,apple"')
    top.add_argument("--true", help="the correct label (green)")
    top.add_argument("--templates", default=None, help="template set name or one template with {}")
    top.set_defaults(func=cli_plot_topk)

    for p in (sim, emb, top):
        add_model_arguments(p)
        p.add_argument("--out", required=True, help="the PNG to write")
    for p in (sim, emb):
        p.add_argument("--split", default="test")
