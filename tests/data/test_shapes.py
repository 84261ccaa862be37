"""The procedural shapes: determinism, captions that match the pixels, held-out combinations."""
import re

import pytest
import torch

from simclip.data import HELD_OUT_PAIRS, load_caption_dataset, load_dataset, render_shapes
from simclip.data.shapes import COLOR_NAMES, COLORS, POSITIONS, SHAPES, SIZES, WHERE, scene_captions


@pytest.fixture(scope="module")
def train():
    return render_shapes("train", n=2000, seed=3)


def test_deterministic_and_seeded(train):
    again = render_shapes("train", n=2000, seed=3)
    assert torch.equal(again.images, train.images) and torch.equal(again.color, train.color)
    other = render_shapes("train", n=2000, seed=4)
    assert not torch.equal(other.images, train.images)
    assert train.images.shape == (2000, 3, 32, 32) and train.images.dtype == torch.uint8


def test_centre_pixel_has_the_captioned_colour(train):
    rgb = torch.tensor([COLORS[c] for c in COLOR_NAMES], dtype=torch.uint8)
    x, y = train.centers[:, 0], train.centers[:, 1]
    centre = train.images[torch.arange(len(x)), :, y, x]
    assert torch.equal(centre, rgb[train.color])
    for i in range(50):
        caption = scene_captions(*(int(a[i]) for a in (train.shape, train.color, train.size,
                                                       train.position)))[0]
        words = (SIZES[train.size[i]], COLOR_NAMES[train.color[i]], SHAPES[train.shape[i]],
                 WHERE[POSITIONS[train.position[i]]])
        assert caption == "a {} {} {} {}".format(*words)
        # The captioned colour is the colour of the drawn shape's pixels (nearest palette entry).
        pixels = train.images[i].reshape(3, -1).T.int()
        distance = (pixels[:, None, :] - rgb[None].int()).abs().sum(-1)
        drawn = distance.min(1).values
        counts = torch.bincount(distance.argmin(1)[drawn == 0], minlength=len(COLOR_NAMES))
        assert int(counts.argmax()) == int(train.color[i]) and int(counts.max()) >= 9


def test_position_and_size_match_the_mask(train):
    colour = torch.tensor([COLORS[c] for c in COLOR_NAMES], dtype=torch.uint8)[train.color]
    mask = (train.images == colour[:, :, None, None]).all(1)  # [N, H, W]
    area = mask.flatten(1).sum(1).float()
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    cx = (mask * xs).flatten(1).sum(1) / area
    cy = (mask * ys).flatten(1).sum(1) / area
    for p, name in enumerate(POSITIONS):
        sel = train.position == p
        expect_x = {"left": 9, "right": 23}.get(name, 16)
        expect_y = {"top": 9, "bottom": 23}.get(name, 16)
        assert (cx[sel] - expect_x).abs().max() < 3.5 and (cy[sel] - expect_y).abs().max() < 3.5
    for k in range(len(SHAPES)):  # a large shape covers clearly more pixels than a small one
        small = area[(train.shape == k) & (train.size == 0)]
        large = area[(train.shape == k) & (train.size == 1)]
        assert small.max() < large.min()


def test_held_out_pairs_absent_from_train_and_only_in_test(train):
    assert len(HELD_OUT_PAIRS) == 10
    def pairs(scenes):
        return {(SHAPES[s], COLOR_NAMES[c]) for s, c in zip(scenes.shape.tolist(), scenes.color.tolist())}
    seen = pairs(train)
    assert not seen & HELD_OUT_PAIRS
    assert len(seen) == 20  # every allowed pair is drawn
    assert pairs(render_shapes("test", n=500, seed=3)) == set(HELD_OUT_PAIRS)
    # Every shape and every colour still appears in training.
    assert {s for s, _ in seen} == set(SHAPES) and {c for _, c in seen} == set(COLOR_NAMES)
    captions = load_caption_dataset("shapes?n=300", "train").captions
    for shape, colour in HELD_OUT_PAIRS:
        assert not any(f"{colour} {shape}" in c for caps in captions for c in caps)


def test_caption_dataset_labellings():
    data = load_caption_dataset("shapes?n=400&seed=1", "test")
    scenes = render_shapes("test", n=400, seed=1)
    assert data.classes == list(SHAPES) and torch.equal(data.labels, scenes.shape)
    assert len(data.captions[0]) == 6 and all(isinstance(c, str) for c in data.captions[0])
    by_colour = load_caption_dataset("shapes?n=400&seed=1&label=color", "test")
    assert by_colour.classes[0] == "red shape" and torch.equal(by_colour.labels, scenes.color)
    pairs = load_dataset("shapes?n=400&seed=1&label=pair", "test")
    assert pairs.num_classes == 30
    assert all(pairs.classes[label] == f"{COLOR_NAMES[c]} {SHAPES[s]}"
               for label, s, c in zip(pairs.labels.tolist(), scenes.shape.tolist(), scenes.color.tolist()))
    assert load_dataset("shapes?label=position&n=10").classes[0] == "shape on the left"
    assert load_dataset("shapes", "test", image_size=48).images.shape == (1000, 3, 48, 48)


def test_default_size_is_4000_train_images():
    data = load_caption_dataset("shapes")
    assert len(data) == 4000 and data.images.shape[1:] == (3, 32, 32)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n must be a positive int"):
        render_shapes(n=0)
    with pytest.raises(ValueError, match="image_size must be an int >= 16"):
        render_shapes(image_size=8)


def test_captions_use_an_before_a_vowel():
    captions = [c for s in range(len(SHAPES)) for k in range(len(COLOR_NAMES)) for z in range(len(SIZES))
                for p in range(len(POSITIONS)) for c in scene_captions(s, k, z, p)]
    assert not [c for c in captions if re.search(r"\ba [aeiou]", c)]
    orange = COLOR_NAMES.index("orange")
    assert "an orange triangle" in scene_captions(SHAPES.index("triangle"), orange, 0, 0)
    assert "a red circle" in scene_captions(SHAPES.index("circle"), COLOR_NAMES.index("red"), 0, 0)
