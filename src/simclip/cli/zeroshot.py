"""``simclip zeroshot``: classify images by class names alone, with prompt ensembles."""

from __future__ import annotations

import argparse
import json

from simclip.cli.model_source import add_model_arguments, load_model, write_benchmark_json
from simclip.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zeroshot", help="zero-shot classification of an image or a dataset",
                       description="One image: top-5 labels with probabilities and the rank of "
                                   "--true. A dataset (--data): top-1, top-5 and mean per-class "
                                   "recall (CLIP_benchmark's metrics).")
    add_model_arguments(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", help="an image file")
    what.add_argument("--data", help="a labelled dataset spec (its class names are the labels)")
    p.add_argument("--classes", help='comma-separated labels for --image, e.g. "cat,dog,apple"')
    p.add_argument("--true", help="the correct label of --image: print its rank")
    p.add_argument("--split", default="test", choices=("train", "test"),
                   help="which split of --data to classify (test)")
    p.add_argument("--templates", default=None,
                   help="template set name (e.g. imagenet, cifar10, mnist) or one template with {}")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="with --data: also write CLIP_benchmark's result file (dataset, model, "
                        "pretrained, task, metrics: acc1, acc5, mean_per_class_recall as fractions)")
    p.set_defaults(func=_run)


def parse_classes(text: str | None, flag: str = "--classes") -> list[str]:
    """The labels of a comma-separated ``text``; an empty list or a repeated label is a
    :class:`~simclip.errors.UsageError` naming it (two rows for one label would split its votes)."""
    classes = [c.strip() for c in (text or "").split(",") if c.strip()]
    if not classes:
        raise UsageError(f"{flag} needs at least one label, e.g. {flag} \"cat,dog,apple\"")
    seen: set[str] = set()
    for label in classes:
        if label in seen:
            raise UsageError(f"{flag} lists {label!r} more than once")
        seen.add(label)
    return classes


def resolve_templates(name: str | None, dataset: str | None) -> list[str]:
    from simclip.eval import get_templates

    if name and "{}" in name:
        return [name]
    if name:
        return get_templates(name, strict=True)
    return get_templates(dataset) if dataset else ["a photo of a {}."]


def _run(args: argparse.Namespace) -> int:
    from simclip.augment import load_image
    from simclip.cli.evaluate import format_table
    from simclip.clip import preprocess_tensor
    from simclip.data import images_in_memory, load_dataset
    from simclip.eval import extract_features, zero_shot_classifier, zero_shot_eval
    from simclip.recipes.clip import tokenizer_for

    if args.image:  # flag mistakes before the model loads
        classes = parse_classes(args.classes)
        if args.true is not None and args.true not in classes:
            raise UsageError(f"--true {args.true!r} is not one of --classes")
        if args.output is not None:
            raise UsageError("--output writes a dataset's metrics: use it with --data, not --image")
    model = load_model(args)
    tokenize = tokenizer_for(model)
    encode_text = lambda t: model.encode_text(t, normalize=True)  # noqa: E731
    if args.image:
        return _one_image(args, load_image(args.image), classes, model, tokenize, encode_text)
    data = images_in_memory(load_dataset(args.data, split=args.split))
    if data.labels is None:
        raise UsageError(f"--data {args.data} has no labels to classify into")
    templates = resolve_templates(args.templates, data.name)
    classifier = zero_shot_classifier(encode_text, tokenize, data.classes, templates, args.device)
    feats = extract_features(lambda x: model.encode_image(x, normalize=True), data.images,
                             device=args.device, transform=lambda x: preprocess_tensor(x, model.preprocess_cfg))
    metrics = zero_shot_eval(feats, data.labels, classifier)
    if args.output is not None:
        from simclip.cli.model_source import zeroshot_benchmark_metrics

        write_benchmark_json(args.output, args, "zeroshot_classification", zeroshot_benchmark_metrics(metrics))
    if args.json:
        print(json.dumps({"data": args.data, "split": args.split, "templates": len(templates), **metrics}, indent=2))
    else:
        print(format_table(metrics, f"zero-shot on {args.data} ({args.split}, {len(data.classes)} classes, "
                                    f"{len(templates)} templates)"))
    return 0


def _one_image(args, image, classes, model, tokenize, encode_text) -> int:
    import torch

    from simclip.clip import preprocess_tensor
    from simclip.eval import rank_labels, zero_shot_classifier

    pixels = preprocess_tensor(image[None], model.preprocess_cfg)
    with torch.inference_mode():
        feature = model.encode_image(pixels, normalize=True)[0]
        classifier = zero_shot_classifier(encode_text, tokenize, classes,
                                          resolve_templates(args.templates, None), args.device)
        ranked = rank_labels(feature, classifier, logit_scale=float(model.logit_scale.exp()))
    order = [classes[i] for i, _ in ranked]
    if args.json:
        out = {"image": args.image, "top5": [{"label": classes[i], "probability": p} for i, p in ranked[:5]]}
        if args.true is not None:
            out["true_rank"] = order.index(args.true) + 1
        print(json.dumps(out, indent=2))
        return 0
    print(args.image)
    for i, p in ranked[:5]:
        bar = "#" * round(p * 40)
        print(f"  {classes[i]:<24} {100 * p:6.2f}%  {bar}")
    if args.true is not None:
        print(f"Correct label: {args.true} — ranked {order.index(args.true) + 1} out of {len(classes)} labels")
    return 0


__all__ = ["parse_classes", "register", "resolve_templates"]
