"""``simclip eval``: frozen-feature evaluation of a trained run (linear probe, kNN)."""

from __future__ import annotations

import argparse
import json

from simclip.cli.model_source import add_named_model_arguments
from simclip.errors import UsageError

PROTOCOLS = ("linear", "knn", "finetune")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a run's image encoder (SimCLR or CLIP): linear probe, kNN",
                       description="Extract features of the train and test split once, then run "
                                   "each protocol. linear: L-BFGS logistic regression on standardized "
                                   "features, regularization chosen on a held-out part of the train "
                                   "split (CLIP paper, A.3). knn: weighted kNN, cosine, k=200, "
                                   "votes exp(s/0.07) (Wu et al. 2018). finetune: the whole encoder "
                                   "and a new linear classifier trained on a class-balanced --labels "
                                   "subset (Chen et al. 2020b); compare with --random-init.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="run folder of 'simclip simclr train' or 'simclip clip train'")
    add_named_model_arguments(src, p)  # a released CLIP: --model NAME --pretrained TAG (with --data)
    p.add_argument("--protocol", default="linear,knn", help="comma-separated: linear,knn,finetune")
    p.add_argument("--labels", default="1%", metavar="N%|N",
                   help="finetune: labelled images, a percentage of the training split (1%%) or a count "
                        "per class (60); class-balanced and seeded by --seed")
    p.add_argument("--finetune-steps", type=int, default=1000, metavar="N", help="finetune: AdamW steps (1000)")
    p.add_argument("--seed", type=int, default=0, help="finetune: seed of the label subset and the training")
    p.add_argument("--data", default=None, help="dataset spec (default: the run's training data)")
    p.add_argument("--knn-k", type=int, default=200, help="knn: neighbours that vote (200)")
    p.add_argument("--knn-temperature", type=float, default=0.07,
                   help="knn: temperature of the votes exp(similarity / T) (0.07)")
    p.add_argument("--random-init", action="store_true",
                   help="evaluate the same architecture at its random initialization")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ... (cpu)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_run)


def parse_protocols(text: str) -> tuple[str, ...]:
    protocols = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad or not protocols:
        raise UsageError(f"--protocol: unknown {', '.join(bad) or '(empty)'}; choose from "
                         f"{', '.join(PROTOCOLS)}")
    return protocols


def _encoder(args: argparse.Namespace):
    """``(encode, transform, default data spec)`` of a SimCLR run's encoder f or a CLIP run's image
    tower (whose inputs go through the model's own preprocessing)."""
    from simclip.clip import preprocess_tensor
    from simclip.recipes import load_clip_run, load_simclr_run
    from simclip.train.config import read_run_config

    if args.run is None:  # --model NAME --pretrained TAG: a released CLIP's image tower
        from simclip.cli.model_source import load_model

        if args.random_init or args.data is None:
            raise UsageError("--model/--pretrained needs --data (no run to take it from) and no --random-init")
        released = load_model(args)
        return released, lambda x: preprocess_tensor(x, released.preprocess_cfg), args.data
    if read_run_config(args.run).method == "clip":
        if args.random_init:
            raise UsageError("--random-init is for SimCLR runs")
        clip_model, clip_cfg = load_clip_run(args.run, device=args.device)
        return clip_model, lambda x: preprocess_tensor(x, clip_model.preprocess_cfg), clip_cfg.data
    model, cfg = load_simclr_run(args.run, device=args.device, random_init=args.random_init)
    return model, None, cfg.data


def _run(args: argparse.Namespace) -> int:
    from simclip.data import images_in_memory, load_dataset
    from simclip.eval import evaluate

    protocols = parse_protocols(args.protocol)
    if "finetune" in protocols:
        from simclip.eval.finetune import parse_labels

        parse_labels(args.labels)  # a bad --labels fails before any work
    model, transform, default_spec = _encoder(args)
    encode = model.encode_image
    spec = args.data or default_spec
    train = load_dataset(spec, split="train")
    test = load_dataset(spec, split="test")
    frozen = tuple(p for p in protocols if p != "finetune")
    options = {"knn": {"k": args.knn_k, "temperature": args.knn_temperature}} if "knn" in frozen else {}
    metrics = {} if not frozen else evaluate(model, frozen, train=train, test=test, transform=transform,
                                             device=args.device, progress=True, options=options)
    if "finetune" in protocols:  # last: it changes the model's weights
        from simclip.eval.finetune import FinetuneConfig, finetune

        # a pretrained encoder starts with a fitted linear probe (LP-FT); random features give a
        # probe nothing to start from, and the from-scratch baseline trains best without one
        config = FinetuneConfig(labels=args.labels, steps=args.finetune_steps, seed=args.seed,
                                probe_init=not args.random_init)
        train_set, test_set = images_in_memory(train), images_in_memory(test)
        if train_set.labels is None or test_set.labels is None:
            raise UsageError(f"--data {spec} has no labels to fine-tune on")
        metrics.update(finetune(model, encode, train_set.images, train_set.labels, test_set.images,
                                test_set.labels, config, transform=transform, device=args.device))
    if args.json:
        print(json.dumps({"run": args.run, "data": spec, "random_init": args.random_init, **metrics},
                         indent=2))
    else:
        print(format_table(metrics, title=f"{args.run or f'{args.model}/{args.pretrained}'} on {spec}"
                                          + (" (random init)" if args.random_init else "")))
    return 0


def format_table(metrics: dict[str, float], title: str) -> str:
    width = max(len(k) for k in metrics) if metrics else 8
    lines = [title, "-" * max(len(title), width + 12)]
    lines += [f"{k:<{width}}  {v:>8.2f}" for k, v in metrics.items()]
    return "\n".join(lines)
