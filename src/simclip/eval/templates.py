"""Zero-shot prompt templates of the CLIP paper (Radford et al. 2021, sec. 3.1.4 and Appendix).

The strings live in ``templates.json`` next to this file: the 80 ImageNet prompts of OpenAI's
"Prompt_Engineering_for_ImageNet" notebook and the per-dataset lists of OpenAI's
``data/prompts.md``.
Each template has one ``{}`` where the class name goes.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources

DEFAULT_TEMPLATES: tuple[str, ...] = ("a photo of a {}.",)

# Common alternative spellings of the dataset names (torchvision, CLIP_benchmark, VTAB).
_ALIASES = {
    "pets": "oxford_pets",
    "oxford_iiit_pet": "oxford_pets",
    "flowers": "flowers102",
    "oxford_flowers102": "flowers102",
    "vtab_flowers": "flowers102",
    "aircraft": "fgvc_aircraft",
    "cars": "stanford_cars",
    "describable_textures": "dtd",
    "textures": "dtd",
    "patch_camelyon": "pcam",
    "voc2007": "pascal_voc2007",
    "clevr_count": "clevr_counts",
    "imagenet1k": "imagenet",
    "imagenet_1k": "imagenet",
    "fer": "fer2013",
    "rendered_sst2": "sst2",
    "kinetics": "kinetics700",
}


@functools.cache
def _load() -> dict[str, tuple[str, ...]]:
    text = resources.files(__package__).joinpath("templates.json").read_text(encoding="utf-8")
    return {name: tuple(items) for name, items in json.loads(text)["templates"].items()}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def list_template_sets() -> list[str]:
    """Names of the datasets that have their own templates, sorted."""
    return sorted(_load())


def get_templates(dataset_name: str | None, strict: bool = False) -> list[str]:
    """The prompt templates for ``dataset_name`` (case, ``-``, ``_`` and spaces ignored).

    Unknown names (and ``None``) fall back to ``["a photo of a {}."]`` unless ``strict``, in which
    case a ``KeyError`` lists the known names.
    """
    sets = _load()
    if dataset_name is not None:
        lookup = {_key(name): name for name in sets}
        lookup.update({_key(alias): name for alias, name in _ALIASES.items()})
        found = lookup.get(_key(dataset_name))
        if found is not None:
            return list(sets[found])
    if strict:
        known = ", ".join(sorted(sets))
        raise KeyError(f"no templates for dataset {dataset_name!r}; known: {known}")
    return list(DEFAULT_TEMPLATES)
