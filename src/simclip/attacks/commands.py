"""``simclip attack``: typographic attacks on a CLIP model, on a labelled dataset or on one image.

``register(subparsers)`` adds the command; its handler takes the parsed ``argparse.Namespace`` and
returns an exit code.
"""

from __future__ import annotations

import argparse
import json
import math

from simclip.errors import UsageError


def _colour(text: str) -> tuple[int, int, int]:
    """``"255,255,255"`` or ``"white"``/``"black"`` -> an (r, g, b) tuple."""
    named = {"white": (255, 255, 255), "black": (0, 0, 0), "red": (255, 0, 0)}
    if text in named:
        return named[text]
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) <= 255 for p in parts):
        raise argparse.ArgumentTypeError(f"expected R,G,B with values 0..255 or white/black/red, "
                                         f"got {text!r}")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def render_options(args: argparse.Namespace) -> dict:
    """The :func:`simclip.attacks.render_text` options named by the command-line flags."""
    return dict(size=args.size, position=args.position, color=args.color, opacity=args.opacity,
                background=args.background)


def _templates(args: argparse.Namespace, dataset: str | None) -> list[str]:
    from simclip.cli.zeroshot import resolve_templates

    return resolve_templates(args.templates, dataset)


def _image_classes(args: argparse.Namespace) -> list[str]:
    """The labels of ``--classes``, checked against ``--write`` and ``--true``."""
    from simclip.cli.zeroshot import parse_classes

    if not args.classes or not args.write:
        raise UsageError("--image needs --classes \"apple,ipod,...\" and --write LABEL")
    classes = parse_classes(args.classes)
    for flag, label in (("--write", args.write), ("--true", args.true)):
        if label is not None and label not in classes:
            raise UsageError(f"{flag} {label!r} is not one of --classes")
    return classes


def _one_image(args: argparse.Namespace, model, tokenize) -> int:
    from simclip.attacks.figure import attack_figure, attack_rankings
    from simclip.augment import load_image

    classes = _image_classes(args)
    image = load_image(args.image)
    templates = _templates(args, None)
    clean, attacked, _ = attack_rankings(model, tokenize, image, classes, args.write, templates, 5,
                                         render_options(args))
    if args.figure:
        attack_figure(model, tokenize, image, classes, args.write, args.figure, true_label=args.true,
                      templates=templates, render_kwargs=render_options(args))
    if args.json:
        print(json.dumps({"image": args.image, "written": args.write, "clean_top5": clean,
                          "attacked_top5": attacked, "figure": args.figure}, indent=2))
        return 0
    for title, ranking in (("clean", clean), (f'with "{args.write}" written', attacked)):
        print(title)
        for label, p in ranking:
            print(f"  {label:<24} {100 * p:6.2f}%  {'#' * round(p * 40)}")
    if args.figure:
        print(f"figure -> {args.figure}")
    return 0


def _dataset(args: argparse.Namespace, model, tokenize) -> int:
    from simclip.attacks.figure import attack_figure
    from simclip.attacks.typographic import typographic_attack_eval
    from simclip.data import images_in_memory, load_dataset

    data = images_in_memory(load_dataset(args.data, split=args.split))
    if data.labels is None:
        raise UsageError(f"--data {args.data} has no labels")
    images, labels = data.images, data.labels
    attack: str | list[str] = "random-other"
    if args.write is not None:
        if args.write not in data.classes:
            raise UsageError(f"--write {args.write!r} is not a class of {args.data}: "
                             f"{', '.join(data.classes)}")
        keep = labels != data.classes.index(args.write)  # a label cannot attack its own class
        images, labels = images[keep], labels[keep]
        attack = [args.write] * len(labels)
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
        attack = attack if isinstance(attack, str) else attack[:args.limit]
    metrics = typographic_attack_eval(model, tokenize, images, labels, data.classes,
                                      _templates(args, data.name), attack, seed=args.seed,
                                      device=args.device, render_kwargs=render_options(args),
                                      control_text=args.control)
    if args.figure:
        written = args.write or data.classes[(int(labels[0]) + 1) % len(data.classes)]
        attack_figure(model, tokenize, images[0], data.classes, written, args.figure,
                      true_label=data.classes[int(labels[0])], templates=_templates(args, data.name),
                      render_kwargs=render_options(args))
    if args.json:
        print(json.dumps({"data": args.data, "split": args.split, **metrics}, indent=2))
        return 0
    print(f"typographic attack on {args.data} ({args.split}, {int(metrics['num_images'])} images)")
    for key, value in metrics.items():
        print(f"  {key:<22} {format_metric(key, value)}")
    return 0


def format_metric(key: str, value: float) -> str:
    """``n/a`` for NaN, a count (``num_*``) as an integer, a percentage with 2 decimals."""
    if math.isnan(value):
        return "n/a"
    return str(round(value)) if key.startswith("num_") else f"{value:.2f}"


def cli_attack(args: argparse.Namespace) -> int:
    import torch

    from simclip.cli.model_source import load_model
    from simclip.recipes.clip import tokenizer_for

    if (args.image is None) == (args.data is None):
        raise UsageError("give exactly one of --image FILE or --data SPEC")
    if args.image:  # flag mistakes before the model loads
        _image_classes(args)
    model = load_model(args)
    with torch.inference_mode():
        if args.image:
            return _one_image(args, model, tokenizer_for(model))
        return _dataset(args, model, tokenizer_for(model))


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``attack`` to a sub-command parser."""
    from simclip.cli.model_source import add_model_arguments

    p = sub.add_parser("attack", help="typographic attack: write a wrong class name onto images",
                       description="Zero-shot accuracy before and after writing a wrong class name on "
                                   "each image (Goh et al. 2021). A dataset (--data): accuracy drop and "
                                   "attack success rate. One image (--image): top-5 before and after.")
    add_model_arguments(p)
    p.add_argument("--data", help="a labelled dataset spec")
    p.add_argument("--split", default="test", choices=("train", "test"), help="which split of --data (test)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--image", help="one image file (needs --classes and --write)")
    p.add_argument("--classes", help='comma-separated labels for --image, e.g. "apple,ipod,pear"')
    p.add_argument("--true", help="the correct label of --image (green in the figure)")
    p.add_argument("--write", help="the label to write; default for --data: a random other class per image")
    p.add_argument("--templates", default=None, help="template set name or one template with {}")
    p.add_argument("--seed", type=int, default=0, help="seed of the random written labels")
    p.add_argument("--control", metavar="TEXT", default=None,
                   help="--data: also write this non-class text (e.g. qwerty) and report control_top1, "
                        "the accuracy lost to covering pixels alone")
    p.add_argument("--size", type=float, default=None, help="text height as a fraction of the image side")
    p.add_argument("--position", default="center", choices=["center", "bottom"],
                   help="where the text goes on the image (center)")
    p.add_argument("--color", type=_colour, default=(255, 255, 255),
                   help="text colour, R,G,B (default white)")
    p.add_argument("--background", type=_colour, default=None, help="fill a box behind the text, R,G,B")
    p.add_argument("--opacity", type=float, default=1.0, help="opacity of the written text, 0..1 (1)")
    p.add_argument("--figure", help="write the before/after PNG here")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cli_attack)
