"""Typographic attacks on zero-shot CLIP (Goh et al. 2021, "Multimodal Neurons"): write text onto
images (:func:`render_text`), measure how often predictions follow the written word
(:func:`typographic_attack_eval`) and draw the before/after picture (:func:`attack_figure`)."""

from simclip.attacks.figure import attack_figure, attack_rankings
from simclip.attacks.render import default_font_path, render_text, text_bbox
from simclip.attacks.typographic import attack_metrics, choose_attack_labels, typographic_attack_eval

__all__ = ["attack_figure", "attack_metrics", "attack_rankings", "choose_attack_labels",
           "default_font_path", "render_text", "text_bbox", "typographic_attack_eval"]
