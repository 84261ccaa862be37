"""``simclip augment``: the SimCLR paper's augmentation figure for any image."""

from __future__ import annotations

import argparse

from simclip.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment", help="draw the 10-panel augmentation figure for an image",
                       description="Original, crop+resize, crop+resize+flip, colour drop, colour "
                                   "jitter, rotation, cutout, Gaussian noise, Gaussian blur and Sobel "
                                   "filtering of one image (SimCLR paper, Figure 4).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="dataset spec; the image is --index of its train split")
    src.add_argument("--image", help="an image file (PNG, JPEG, ...)")
    p.add_argument("--index", type=int, default=0, help="which image of --data (0)")
    p.add_argument("--out", default="augmentations.png", help="PNG to write")
    p.add_argument("--seed", type=int, default=0, help="seed of the random augmentations (0)")
    p.add_argument("--size", type=int, default=None, help="resize the image to this side first")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from simclip.augment import augmentation_grid, load_image
    from simclip.data import images_in_memory, load_dataset

    if args.image:
        image = load_image(args.image)
    else:
        data = images_in_memory(load_dataset(args.data, split="train"))
        if not 0 <= args.index < len(data):
            raise UsageError(f"--index {args.index} is out of range: {args.data} has {len(data)} images")
        image = data.images[args.index]
    path = augmentation_grid(image, args.out, seed=args.seed, size=args.size)
    print(f"wrote {path}")
    return 0
