"""typographic_attack_eval on a controlled model with hand-computed metrics; label choice; figure."""

import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from simclip.attacks import attack_figure, attack_rankings, choose_attack_labels, typographic_attack_eval
from simclip.clip import PreprocessConfig, create_model
from simclip.recipes.clip import tokenizer_for

CLASSES = ["cat", "dog", "car"]
LABELS = torch.tensor([0, 1, 2, 0, 1, 2])
CLEAN_PRED = [0, 1, 2, 1, 1, 0]  # images 0, 1, 2 and 4 are right when clean
ATTACK = [1, 2, 0, 2, 0, 1]  # the written labels
ATTACKED_PRED = [1, 1, 0, 1, 0, 1]  # follow the text for images 0, 2, 4 (and 5, wrong when clean)


class ReadsTheText(torch.nn.Module):
    """A model whose prediction per image is fixed by a table, one row for clean images and one for
    images with white text on them: the image id is in pixel (0, 0) and the text is the only
    white there is on the dark backgrounds."""

    preprocess_cfg = PreprocessConfig(64, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    logit_scale = torch.tensor(math.log(100.0))

    def encode_image(self, x, normalize=False):
        ids = (x[:, 0, 0, 0] * 255 / 10).round().long()
        has_text = x.amax(dim=(1, 2, 3)) > 0.9
        table = torch.tensor([CLEAN_PRED, ATTACKED_PRED])
        return F.one_hot(table[has_text.long(), ids], len(CLASSES)).float()

    def encode_text(self, tokens, normalize=False):
        return F.one_hot(tokens[:, 0], len(CLASSES)).float()


def tokenize(texts):
    return torch.tensor([[next(i for i, c in enumerate(CLASSES) if c in t)] for t in texts])


def dark_images():
    images = torch.randint(0, 60, (6, 3, 64, 64), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.arange(6, dtype=torch.uint8) * 10
    return images


def test_metrics_match_the_hand_computed_values():
    metrics = typographic_attack_eval(ReadsTheText(), tokenize, dark_images(), LABELS, CLASSES,
                                      attack_labels=ATTACK, render_kwargs=dict(size=0.4))
    assert metrics["clean_top1"] == pytest.approx(100 * 4 / 6)
    assert metrics["attacked_top1"] == pytest.approx(100 * 1 / 6)
    assert metrics["accuracy_drop"] == pytest.approx(50.0)
    assert metrics["attack_success_rate"] == pytest.approx(75.0)  # 3 of the 4 right ones flip
    assert metrics["written_label_rate"] == pytest.approx(100 * 4 / 6)
    assert metrics["num_clean_correct"] == 4 and metrics["num_images"] == 6
    assert all(isinstance(v, float) for v in metrics.values())


def test_control_text_measures_covering_alone():
    metrics = typographic_attack_eval(ReadsTheText(), tokenize, dark_images(), LABELS, CLASSES,
                                      attack_labels=ATTACK, render_kwargs=dict(size=0.4),
                                      control_text="qwerty")
    # this model reacts to any white text with its "attacked" table: 1 of 6 right
    assert metrics["control_top1"] == pytest.approx(100 * 1 / 6)
    with pytest.raises(ValueError, match="control_text"):
        typographic_attack_eval(ReadsTheText(), tokenize, dark_images(), LABELS, CLASSES,
                                attack_labels=ATTACK, control_text=" ")


def test_attack_labels_by_name_equal_by_index():
    names = [CLASSES[a] for a in ATTACK]
    by_name = typographic_attack_eval(ReadsTheText(), tokenize, dark_images(), LABELS, CLASSES,
                                      attack_labels=names, render_kwargs=dict(size=0.4))
    assert by_name["attack_success_rate"] == pytest.approx(75.0)


def test_random_other_never_writes_the_true_label():
    labels = torch.arange(400) % 5
    chosen = choose_attack_labels(labels, ["a", "b", "c", "d", "e"], seed=3)
    assert (chosen != labels).all() and chosen.min() >= 0 and chosen.max() <= 4
    assert set(chosen[labels == 0].tolist()) == {1, 2, 3, 4}
    assert torch.equal(chosen, choose_attack_labels(labels, ["a", "b", "c", "d", "e"], seed=3))


@pytest.mark.parametrize("attack, match", [
    ([0, 2, 0, 2, 0, 1], "equal the true label"),
    ([1, 2], "entries"),
    (["cat", "bird", "cat", "dog", "cat", "dog"], "bird"),
    ("everything", "random-other"),
])
def test_bad_attack_labels(attack, match):
    with pytest.raises(ValueError, match=match):
        choose_attack_labels(LABELS, CLASSES, attack)


def test_no_correct_image_gives_nan_success():
    labels = torch.tensor([1, 2, 0, 2, 2, 1])  # never what the clean table predicts
    metrics = typographic_attack_eval(ReadsTheText(), tokenize, dark_images(), labels, CLASSES,
                                      attack_labels=[0, 0, 1, 0, 0, 0], render_kwargs=dict(size=0.4))
    assert metrics["clean_top1"] == 0.0 and math.isnan(metrics["attack_success_rate"])


def test_attack_figure_on_a_real_model(tmp_path):
    torch.manual_seed(0)
    model = create_model("tiny-vit").eval()
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    clean, attacked, attacked_image = attack_rankings(model, tokenizer_for(model), image,
                                                      ["apple", "ipod", "pear"], "ipod", top_k=5)
    assert len(clean) == len(attacked) == 3  # top-5 of 3 classes
    assert sum(p for _, p in clean) == pytest.approx(1.0)
    assert [p for _, p in attacked] == sorted((p for _, p in attacked), reverse=True)
    assert not torch.equal(attacked_image, image)
    out = attack_figure(model, tokenizer_for(model), image, ["apple", "ipod", "pear"], "ipod",
                        tmp_path / "attack.png", true_label="apple")
    assert out.stat().st_size > 10_000
    with Image.open(out) as png:
        assert png.format == "PNG" and png.width > png.height / 2
