"""Typographic attacks on zero-shot CLIP (Goh et al. 2021, "Multimodal Neurons"): write text onto
images (:func:`render_text`), measure how often predictions follow the written word
(:func:`typographic_attack_eval`) and draw the before/after picture (:func:`attack_figure`).

The names load on first use, so that the command line can register ``simclip attack`` without
importing torch."""

from importlib import import_module

_EXPORTS = {"attack_figure": "figure", "attack_rankings": "figure", "default_font_path": "render",
            "render_text": "render", "text_bbox": "render", "attack_metrics": "typographic",
            "choose_attack_labels": "typographic", "typographic_attack_eval": "typographic"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"simclip.attacks.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'simclip.attacks' has no attribute {name!r}")
