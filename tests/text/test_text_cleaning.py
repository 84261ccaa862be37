"""Caption cleaning as CLIP does it."""

import pytest

from simclip.text import clean_text


@pytest.mark.parametrize("raw, clean", [
    ("  A  Photo\tOF\n a CAT  ", "a photo of a cat"),
    ("Tom &amp;amp; Jerry", "tom & jerry"),  # unescaped twice
    ("&lt;b&gt;", "<b>"),
    ("Ã©tÃ©", "été"),  # ftfy repairs mojibake
    ("\u3000wide\u00a0space\u2003", "wide space"),
    ("", ""),
])
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_clean_text_rejects_non_str():
    with pytest.raises(TypeError, match="text must be a str"):
        clean_text(None)
