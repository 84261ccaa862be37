"""Caption cleaning applied before tokenization, as in CLIP (Radford et al. 2021).

The steps match the reference tokenizer exactly, so that token ids agree with pretrained text towers:
``ftfy.fix_text`` repairs mojibake, HTML entities are unescaped twice (captions scraped from the web are
often double-escaped, e.g. ``&amp;amp;``), every run of whitespace becomes one space, and the text is
lower-cased.
"""

from __future__ import annotations

import html

import ftfy


def clean_text(text: str) -> str:
    """Return ``text`` repaired, unescaped, whitespace-collapsed and lower-cased.

    Raises ``TypeError`` when ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    # str.split() with no argument splits on every Unicode whitespace run, as the reference does.
    return " ".join(text.split()).lower()
