"""``simclip clip train`` and ``simclip clip models``: contrastive image-text training."""

from __future__ import annotations

import argparse

from simclip.cli.train_flags import add_train_arguments, new_run_config, print_result, resume_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clip", help="CLIP: train an image and a text encoder on image-caption pairs")
    sp = p.add_subparsers(dest="clip_command", metavar="SUBCOMMAND", required=True)
    t = sp.add_parser("train", help="train (or --resume) a CLIP run",
                      description="Train CLIP on image-caption pairs. Values left unset come from the "
                                  "recipe (--recipe, default auto: towers, context length, batch and "
                                  "learning rate chosen from the data and the run length; printed at "
                                  "the start and kept in config.json). Example: simclip clip train "
                                  "--data shapes --epochs 5 --out runs/c. Data: "
                                  "captions:FILE.csv|jsonl, shapes, mnist:PATH / digits (generated "
                                  "captions), labelled folders (class-name templates), wds:SHARDS.")
    add_train_arguments(t, "clip")
    t.add_argument("--model", default=None,
                   help="architecture name (see 'simclip clip models'); default: the recipe's")
    t.add_argument("--image-tower", default=None, metavar="ENCODER",
                   help="replace the architecture's image tower by an encoder of 'simclip models' "
                        "(e.g. timm:resnet18, timm:vit_tiny_patch16_224 built at the data's image "
                        "size) plus a linear projection; the text tower stays the architecture's")
    t.add_argument("--image-tower-weights", default=None, metavar="FILE|hf-hub:REPO",
                   help="start the --image-tower encoder from these weights (a .safetensors/.pth state "
                        "dict, or hf-hub:REPO from the local Hugging Face cache, never downloaded); only "
                        "the new run reads it")
    t.add_argument("--loss", choices=("clip", "siglip"), default=None)
    t.add_argument("--policy", default=None,
                   help="optional image augmentation policy for training, e.g. clip-mild (crops, flips, blur; "
                        "no colour op, so captions that name colours stay true); the simclr policies too")
    t.add_argument("--tokenizer", default=None, metavar="clip|bpe:N",
                   help="CLIP's vocabulary (default), or a byte-level BPE of N ids learned from the "
                        "training captions and saved with the run")
    t.add_argument("--pretrained", metavar="TAG|FILE", default=None,
                   help="start from the released weights of --model (a tag of 'simclip models "
                        "--pretrained', from the local cache) or a weights file: --init-from those")
    t.add_argument("--lock-image", action="store_true",
                   help="freeze the image tower (e.g. pretrained weights; LiT's reverse)")
    t.add_argument("--lock-text", action="store_true",
                   help="freeze the text tower (LiT: e.g. --model small-cnn-28-minilm)")
    t.set_defaults(func=_train)
    m = sp.add_parser("models", help="list the named CLIP architectures")
    m.set_defaults(func=_models)


def _train(args: argparse.Namespace) -> int:
    from simclip.recipes import run_clip

    if args.pretrained is not None:  # --model NAME --pretrained TAG: start from those weights
        from simclip.cli.model_source import pretrained_weights
        from simclip.train.config import ConfigError

        if args.init_from or args.resume:
            raise ConfigError("--pretrained starts a new run from released weights: leave out "
                              "--init-from and --resume")
        args.init_from, args.model = str(pretrained_weights(args.model, args.pretrained)), None
    if args.resume:
        cfg, dataset = resume_config(args, "clip"), None
    else:
        cfg, dataset = new_run_config("clip", args, {
            "model": {"name": args.model} if args.model is not None else None,
            **_image_tower_values(args.image_tower),
            "model.image_tower_weights": args.image_tower_weights,
            "model.lock_image": True if args.lock_image else None,
            "model.lock_text": True if args.lock_text else None,
            "objective.loss": args.loss, "objective.policy": args.policy,
            "objective.tokenizer": args.tokenizer})
    result = run_clip(cfg, resume=bool(args.resume), dataset=dataset)
    print_result(result, cfg.out, args.json)
    return 130 if result.get("interrupted") else 0


def _image_tower_values(encoder: str | None) -> dict:
    """``--image-tower ENCODER``: the vision tower becomes ``kind="encoder"`` with that encoder (its
    options the encoder's defaults, not the replaced tower's)."""
    if encoder is None:
        return {}
    return {"model.vision.kind": "encoder", "model.vision.encoder": encoder,
            "model.vision.encoder_kwargs": {}}


def _models(args: argparse.Namespace) -> int:
    from simclip.clip import get_model_config, list_models

    for name in list_models():
        cfg = get_model_config(name)
        v = cfg.vision
        tower = v.encoder if v.kind == "encoder" else v.kind
        print(f"{name:<16} image {tower:<9} {v.image_size:>3}px  text {cfg.text.layers}x{cfg.text.width}  "
              f"embed {cfg.embed_dim}")
    return 0
