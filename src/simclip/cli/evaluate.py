"""``simclip eval``: frozen-feature evaluation of a trained run (linear probe, kNN)."""

from __future__ import annotations

import argparse
import json

from simclip.data import load_dataset
from simclip.eval import evaluate_classification
from simclip.recipes import load_simclr_run

PROTOCOLS = ("linear", "knn")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a run's encoder: linear probe and kNN",
                       description="Extract features of the train and test split once, then run "
                                   "each protocol. linear: L-BFGS logistic regression on standardized "
                                   "features, regularization chosen on a held-out part of the train "
                                   "split (CLIP paper, A.3). knn: weighted kNN, cosine, k=200, "
                                   "votes exp(s/0.07) (Wu et al. 2018).")
    p.add_argument("--run", required=True, help="run folder written by 'simclip simclr train'")
    p.add_argument("--protocol", default="linear,knn", help="comma-separated: linear,knn")
    p.add_argument("--data", default=None, help="dataset spec (default: the run's training data)")
    p.add_argument("--knn-k", type=int, default=200)
    p.add_argument("--knn-temperature", type=float, default=0.07)
    p.add_argument("--random-init", action="store_true",
                   help="evaluate the same architecture at its random initialization")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_run)


def parse_protocols(text: str) -> tuple[str, ...]:
    protocols = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad or not protocols:
        raise ValueError(f"--protocol: unknown {', '.join(bad) or '(empty)'}; choose from "
                         f"{', '.join(PROTOCOLS)}")
    return protocols


def _run(args: argparse.Namespace) -> int:
    protocols = parse_protocols(args.protocol)
    model, cfg = load_simclr_run(args.run, device=args.device, random_init=args.random_init)
    spec = args.data or cfg.data
    train = load_dataset(spec, split="train")
    test = load_dataset(spec, split="test")
    if train.channels != model.cfg.in_channels:
        raise ValueError(f"--data {spec} has {train.channels} channel(s); the run's encoder expects "
                         f"{model.cfg.in_channels}")
    metrics = evaluate_classification(model.encode_image, train, test, protocols=protocols,
                                      device=args.device,
                                      options={"knn": {"k": args.knn_k,
                                                       "temperature": args.knn_temperature}})
    if args.json:
        print(json.dumps({"run": args.run, "data": spec, "random_init": args.random_init, **metrics},
                         indent=2))
    else:
        print(format_table(metrics, title=f"{args.run} on {spec}"
                                          + (" (random init)" if args.random_init else "")))
    return 0


def format_table(metrics: dict[str, float], title: str) -> str:
    width = max(len(k) for k in metrics) if metrics else 8
    lines = [title, "-" * max(len(title), width + 12)]
    lines += [f"{k:<{width}}  {v:>8.2f}" for k, v in metrics.items()]
    return "\n".join(lines)
