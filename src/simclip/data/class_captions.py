"""Captions generated from class labels, for CLIP training on labelled image datasets.

Class names become sentences through templates, in the manner of CLIP's zero-shot prompts
(Radford et al., 2021, Sec. 3.1.4); a loader picks one template per image and epoch.
"""
from __future__ import annotations

from simclip.data.caption_dataset import CaptionDataset
from simclip.data.image_dataset import ImageDataset

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

DIGIT_TEMPLATES = (
    "a photo of the digit {digit}",
    "a handwritten {word}",
    "a handwritten digit {digit}",
    "the number {word}",
    "an image of the number {digit}",
)

# "{a}" is the class name with its indefinite article ("an apple", "a bird").
CLASS_TEMPLATES = (
    "a photo of {a}.",
    "a picture of {a}.",
    "an image of {a}.",
    "a photo of the {name}.",
    "a close-up photo of {a}.",
)


def with_article(name: str) -> str:
    """``name`` preceded by "a" or "an" (by its first letter, which is right for most nouns)."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def digit_captions(digit: int) -> list[str]:
    """All phrasings for one digit, e.g. ``"a handwritten seven"``."""
    return [t.format(digit=digit, word=DIGIT_WORDS[digit]) for t in DIGIT_TEMPLATES]


def class_captions(name: str) -> list[str]:
    """All phrasings for one class name; underscores read as spaces (CIFAR-100's "maple_tree")."""
    spoken = name.replace("_", " ")
    return [t.format(a=with_article(spoken), name=spoken) for t in CLASS_TEMPLATES]


def captions_from_labels(dataset: ImageDataset, digits: bool = False) -> CaptionDataset:
    """Caption each image of a labelled dataset by its class (digit phrasings if ``digits``)."""
    if dataset.labels is None:
        raise ValueError(f"dataset {dataset.name!r} is unlabelled, so no captions can be made from "
                         "class names; use captions:FILE.csv with written captions")
    if digits:
        per_class = [digit_captions(int(name)) for name in dataset.classes]
    else:
        per_class = [class_captions(name) for name in dataset.classes]
    # Images of one class share one caption list: N references instead of N copies.
    captions = [per_class[label] for label in dataset.labels.tolist()]
    return CaptionDataset(images=dataset.images, captions=captions, name=dataset.name,
                          split=dataset.split, labels=dataset.labels, classes=list(dataset.classes))
