"""render_text: pixels change only inside the text box, the blend formula, per-image text, errors."""

import pytest
import torch

from simclip.attacks import default_font_path, render_text, text_bbox


def _random_images(n=2, c=3, h=48, w=64, seed=0):
    return torch.randint(0, 256, (n, c, h, w), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


@pytest.mark.parametrize("position", ["center", "bottom", (5, 3)])
@pytest.mark.parametrize("background", [None, (0, 0, 0)])
def test_changes_only_pixels_inside_the_text_box(position, background):
    images = _random_images()
    out = render_text(images, "iPod", position=position, background=background)
    left, top, right, bottom = text_bbox(48, 64, "iPod", position=position, background=background)
    changed = (out != images).any(dim=1)
    assert changed.any(dim=0).sum() > 20  # something was written
    outside = changed.clone()
    outside[:, top:bottom, left:right] = False
    assert not outside.any()
    assert right - left < 64 and bottom - top < 48  # the box is not the whole image


def test_center_and_bottom_positions():
    left, top, right, bottom = text_bbox(100, 100, "apple", position="center")
    assert abs((left + right) / 2 - 50) <= 2 and abs((top + bottom) / 2 - 50) <= 3
    _, _, _, bottom = text_bbox(100, 100, "apple", position="bottom")
    assert 90 <= bottom <= 100


def test_opacity_zero_is_the_identity():
    images = _random_images()
    out = render_text(images, "apple", opacity=0.0, background=(255, 0, 0))
    assert torch.equal(out, images) and out.data_ptr() != images.data_ptr()


def test_blend_formula_against_float64():
    """out = round(x + opacity * a * (colour - x)), a = the glyph coverage PIL rasterises."""
    images = _random_images(n=1)
    white_on_black = render_text(torch.zeros_like(images), "Qg", color=(255, 255, 255))
    coverage = white_on_black[0, 0].double() / 255.0  # opacity 1 on black: round(255 a)
    assert coverage.max() == 1.0 and 0 < coverage.mean() < 0.5
    colour = torch.tensor([200.0, 30.0, 90.0], dtype=torch.float64).view(3, 1, 1)
    out = render_text(images, "Qg", color=(200, 30, 90), opacity=0.6)
    x = images[0].double()
    # coverage is PIL's 8-bit mask / 255 exactly; float32 vs float64 may round a .5 the other way
    expected = (x + 0.6 * coverage * (colour - x)).round()
    assert (out[0].double() - expected).abs().max() <= 1.0
    full = coverage == 1.0
    full_out = render_text(images, "Qg", color=(200, 30, 90))
    assert full.any()
    assert torch.equal(full_out[0][:, full], colour.view(3, 1).to(torch.uint8).expand(-1, int(full.sum())))


def test_background_box_is_filled():
    images = torch.full((1, 3, 40, 40), 128, dtype=torch.uint8)
    out = render_text(images, "x", background=(0, 0, 255), color=(255, 255, 255))
    left, top, _, _ = text_bbox(40, 40, "x", background=(0, 0, 255))
    corner = out[0, :, top + 1, left + 1]  # inside the padded box, away from the glyph
    assert corner.tolist() == [0, 0, 255]


def test_per_image_text_matches_one_at_a_time():
    images = _random_images(n=3)
    texts = ["cat", "dog", "piggy bank"]
    out = render_text(images, texts, size=0.2, position="bottom")
    for i, text in enumerate(texts):
        assert torch.equal(out[i], render_text(images[i:i + 1], text, size=0.2, position="bottom")[0])
    assert not torch.equal(out[0], out[1])


def test_grey_images_take_the_colour_luma():
    images = torch.zeros(1, 1, 40, 40, dtype=torch.uint8)
    out = render_text(images, "W", color=(255, 0, 0), size=0.8)
    assert out.max() == round(0.299 * 255)


def test_size_sets_the_em_height():
    small = text_bbox(200, 200, "H", size=0.1)
    large = text_bbox(200, 200, "H", size=0.4)
    assert 3.0 < (large[3] - large[1]) / (small[3] - small[1]) < 5.0


def test_default_font_is_dejavu():
    assert default_font_path().name == "DejaVuSans.ttf"


@pytest.mark.parametrize("kwargs, match", [
    (dict(images=torch.zeros(1, 3, 8, 8)), "uint8"),
    (dict(images=torch.zeros(1, 2, 8, 8, dtype=torch.uint8)), "C 1 or 3"),
    (dict(text=["a", "b"]), "one per image"),
    (dict(text=3), "text must be"),
    (dict(position="left"), "position"),
    (dict(opacity=1.5), "opacity"),
    (dict(color=(300, 0, 0)), "color"),
    (dict(size=0.0), "size"),
    (dict(font="/nonexistent/font.ttf"), "font"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    args = dict(images=torch.zeros(1, 3, 16, 16, dtype=torch.uint8), text="a")
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=match):
        render_text(args.pop("images"), args.pop("text"), **args)
