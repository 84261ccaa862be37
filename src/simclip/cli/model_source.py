"""Which CLIP model a command uses: ``--run RUN``, ``--checkpoint FILE``, or OpenCLIP's naming,
``--model NAME --pretrained TAG`` (``--model ViT-B-32 --pretrained openai``, as CLIP_benchmark
and OpenCLIP take it; the tag may be a weights file). Importing this module imports no torch."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from simclip.errors import UsageError

if TYPE_CHECKING:
    from simclip.clip import CLIP

PRETRAINED_HELP = ("released weights of --model: a tag of 'simclip models --pretrained' (openai, "
                   "laion2b_s34b_b79k, ...) read from the local cache, or a weights file")


MODEL_HELP = "an architecture with released weights (with --pretrained), e.g. ViT-B-32"


def add_named_model_arguments(group: argparse._MutuallyExclusiveGroup, p: argparse.ArgumentParser,
                              model_help: str = MODEL_HELP) -> None:
    """``--model NAME`` (in the group of model sources) and ``--pretrained TAG``."""
    group.add_argument("--model", metavar="NAME", help=model_help)
    p.add_argument("--pretrained", metavar="TAG|FILE", default=None, help=PRETRAINED_HELP)


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The CLIP model of a command, one of ``--run``, ``--checkpoint`` and ``--model NAME
    --pretrained TAG``, and ``--device``; :func:`load_model` loads it."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="a CLIP run folder")
    src.add_argument("--checkpoint", help="a CLIP checkpoint: OpenAI .pt, OpenCLIP or simclip weights")
    add_named_model_arguments(src, p)
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ... (cpu)")


def named_model(model: str | None, pretrained: str | None) -> tuple[str, str]:
    """``(--model, --pretrained)``; a :class:`UsageError` naming the flag when one is missing."""
    if model is None:
        raise UsageError("--pretrained TAG needs --model NAME (e.g. --model ViT-B-32 --pretrained openai)")
    if pretrained is None:
        raise UsageError(f"--model {model} needs --pretrained TAG (released weights; 'simclip models "
                         f"--pretrained' lists them) or --pretrained FILE")
    return model, pretrained


def pretrained_weights(model: str | None, pretrained: str | None) -> Path:
    """The local weights file ``--model``/``--pretrained`` name (see
    :func:`simclip.clip.pretrained_names.resolve_pretrained`)."""
    from simclip.clip.pretrained_names import resolve_pretrained

    return resolve_pretrained(*named_model(model, pretrained))


def load_model(args: argparse.Namespace) -> CLIP:
    """The model of ``--run``, ``--checkpoint`` or ``--model``/``--pretrained``, in eval mode."""
    model = getattr(args, "model", None)
    if model is not None or getattr(args, "pretrained", None) is not None:
        if getattr(args, "run", None) is not None or getattr(args, "checkpoint", None) is not None:
            raise UsageError("--pretrained goes with --model, not with --run or --checkpoint")
        from simclip.clip import load

        name, tag = named_model(model, args.pretrained)
        return load(name, pretrained=tag, device=args.device)[0].eval()  # as the Python API resolves it
    from simclip.recipes import load_clip_model

    return load_clip_model(args.run, args.checkpoint, args.device)


def model_identity(args: argparse.Namespace) -> tuple[str, str]:
    """``(model, pretrained)`` as CLIP_benchmark records them: the architecture name and the tag; for
    a run, its architecture and folder; for a checkpoint, the file's name and path."""
    if getattr(args, "model", None) is not None:
        return args.model, args.pretrained
    if args.run is not None:
        try:
            config = json.loads((Path(args.run) / "config.json").read_text(encoding="utf-8"))
            name = str(config["model"].get("name") or "custom")
        except (OSError, ValueError, KeyError, AttributeError):
            name = "custom"
        return name, str(args.run)
    return Path(args.checkpoint).stem, str(args.checkpoint)


def write_benchmark_json(path: str, args: argparse.Namespace, task: str, metrics: dict[str, float]) -> None:
    """Write CLIP_benchmark's result file: ``{"dataset", "model", "pretrained", "task", "metrics",
    "language"}`` (metrics as fractions, as CLIP_benchmark writes them)."""
    model, pretrained = model_identity(args)
    out = {"dataset": args.data, "model": model, "pretrained": pretrained, "task": task,
           "metrics": metrics, "language": "en"}
    target = Path(path)
    if target.parent != Path("") and not target.parent.is_dir():
        raise UsageError(f"--output {path}: the folder {target.parent} does not exist")
    target.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


def zeroshot_benchmark_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """simclip's zero-shot metrics (percent) -> CLIP_benchmark's (fractions)."""
    return {"acc1": metrics["zeroshot_top1"] / 100, "acc5": metrics["zeroshot_top5"] / 100,
            "mean_per_class_recall": metrics["zeroshot_mean_per_class_recall"] / 100}


def retrieval_benchmark_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """simclip's recall@k (percent) -> CLIP_benchmark's: ``image_retrieval_recall@k`` is the
    text -> image direction (each caption finds its image), ``text_retrieval_recall@k`` the reverse."""
    out = {}
    for key, value in metrics.items():
        direction, k = key.rsplit("_R@", 1)
        name = "image_retrieval" if direction == "text_to_image" else "text_retrieval"
        out[f"{name}_recall@{k}"] = value / 100
    return out


__all__ = ["MODEL_HELP", "add_model_arguments", "add_named_model_arguments", "load_model", "model_identity",
           "named_model", "pretrained_weights", "retrieval_benchmark_metrics", "write_benchmark_json",
           "zeroshot_benchmark_metrics"]
