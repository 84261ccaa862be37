"""Typographic attacks on zero-shot CLIP (Goh et al. 2021, "Multimodal Neurons"): write text onto
images (:func:`render_text`), measure how often predictions follow the written word
(:func:`typographic_attack_eval`) and draw the before/after picture (:func:`attack_figure`).

The names load on first use, so that the command line can register ``simclip attack`` without
importing torch."""

from simclip.lazy import lazy_exports

_HOMES = {"attack_figure": "figure", "attack_rankings": "figure", "default_font_path": "render",
            "render_text": "render", "text_bbox": "render", "attack_metrics": "typographic",
            "choose_attack_labels": "typographic", "typographic_attack_eval": "typographic"}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
