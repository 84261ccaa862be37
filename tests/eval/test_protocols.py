"""``simclip.eval.evaluate``: one interface for SimCLR-like and CLIP-like models and all protocols."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from simclip.clip import PreprocessConfig, preprocess_tensor
from simclip.eval import PROTOCOLS, evaluate
from simclip.eval.knn import knn_classify
from simclip.eval.linear import linear_probe
from simclip.eval.retrieval import retrieval_recall


def quadrants(n_per_class: int, seed: int) -> SimpleNamespace:
    """4 classes of 4x4 RGB images: class c is bright in a different quadrant."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(4).repeat_interleave(n_per_class)
    images = torch.randint(0, 80, (labels.shape[0], 3, 4, 4), dtype=torch.uint8, generator=generator)
    for c in range(4):
        row, col = divmod(c, 2)
        images[labels == c, :, 2 * row : 2 * row + 2, 2 * col : 2 * col + 2] += 150
    return SimpleNamespace(images=images, labels=labels, classes=["a", "b", "c", "d"], name="quadrants")


class ImageOnly(nn.Module):
    """A SimCLR-like model: ``encode_image`` only; records the batches it sees."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []
        self.modes: list[bool] = []

    def encode_image(self, x: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        self.seen.append(x)
        self.modes.append(self.training)
        return x.flatten(1) - 0.5


class TableCLIP(ImageOnly):
    """A CLIP-like model: images are encoded as their pixels, each text as a row of a fixed table."""

    def __init__(self, table: dict[str, list[float]]):
        super().__init__()
        self.prompts = list(table)
        self.embeddings = torch.tensor(list(table.values()))
        self.tokenized: list[str] = []
        self.text_modes: list[bool] = []

    def encode_image(self, x: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        self.seen.append(x)
        return x.flatten(1)

    def tokenizer(self, texts: list[str]) -> torch.Tensor:
        self.tokenized.extend(texts)
        return torch.tensor([[self.prompts.index(t)] for t in texts])

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        self.text_modes.append(self.training)
        out = self.embeddings[tokens[:, 0]]
        return F.normalize(out, dim=-1) if normalize else out


PROMPTS = {
    "a cat.": [3.0, 4.0],
    "the cat!": [0.0, 2.0],
    "a dog.": [1.0, 0.0],
    "the dog!": [0.0, -5.0],
    # the template set of oxford_pets, with the classes swapped: every image is misclassified
    "a photo of a cat, a type of pet.": [1.0, 0.0],
    "a photo of a dog, a type of pet.": [0.0, 1.0],
}


def pets() -> SimpleNamespace:
    """Two-pixel images: cats lean to the second pixel, dogs to the first (see PROMPTS)."""
    images = torch.zeros(4, 1, 1, 2, dtype=torch.uint8)
    images[:, 0, 0] = torch.tensor([[60, 80], [10, 200], [250, 5], [100, 0]], dtype=torch.uint8)
    return SimpleNamespace(images=images, labels=torch.tensor([0, 0, 1, 1]), classes=["cat", "dog"],
                           name="oxford_pets")


def test_classification_protocols_encode_each_split_once_in_eval_mode():
    train, test = quadrants(25, seed=0), quadrants(10, seed=1)
    model = ImageOnly().train()
    result = evaluate(model, ("linear", "knn"), train=train, test=test, batch_size=32,
                      options={"knn": {"k": 10}, "linear": {"c_grid": [1.0]}})
    assert sum(x.shape[0] for x in model.seen) == 100 + 40
    assert not any(model.modes) and model.training  # encoded in eval mode, then restored
    train_f = train.images.flatten(1).float() / 255.0 - 0.5
    test_f = test.images.flatten(1).float() / 255.0 - 0.5
    assert result == {**linear_probe(train_f, train.labels, test_f, test.labels, c_grid=[1.0]),
                      **knn_classify(train_f, train.labels, test_f, test.labels, k=10)}
    assert result["linear_top1"] == 100.0 and result["knn_top1"] == 100.0


def test_zeroshot_uses_given_templates_or_the_test_sets_own():
    model = TableCLIP(PROMPTS).train()
    result = evaluate(model, "zeroshot", test=pets(), tokenizer=model.tokenizer,
                      options={"zeroshot": {"templates": ["a {}.", "the {}!"]}})
    assert result == {"zeroshot_top1": 100.0, "zeroshot_top5": 100.0, "zeroshot_mean_per_class_recall": 100.0}
    assert model.tokenized == ["a cat.", "the cat!", "a dog.", "the dog!"]
    assert model.text_modes and not any(model.text_modes) and model.training
    model.tokenized.clear()
    # no templates given: those of the test set's name (oxford_pets has one)
    result = evaluate(model, "zeroshot", test=pets(), tokenizer=model.tokenizer)
    assert model.tokenized == ["a photo of a cat, a type of pet.", "a photo of a dog, a type of pet."]
    assert result["zeroshot_top1"] == 0.0


def test_zeroshot_is_skipped_without_labels():
    model = TableCLIP(PROMPTS)
    unlabelled = SimpleNamespace(**{**vars(pets()), "labels": None})
    assert evaluate(model, "zeroshot", test=unlabelled, tokenizer=model.tokenizer) == {}


def test_retrieval_and_zeroshot_share_one_pass_over_the_images():
    # images are the basis vectors, captions the rows of test_retrieval's hand case
    texts = [[0.6, 0.8, 0.0], [0.0, 0.6, 0.8], [0.8, 0.6, 0.0], [0.0, 0.96, 0.28], [1.0, 0.0, 0.0]]
    table = {f"caption {j}": row for j, row in enumerate(texts)}
    table.update({"a x.": [1.0, 0.0, 0.0], "a y.": [0.0, 1.0, 0.0], "a z.": [0.0, 0.0, 1.0]})
    model = TableCLIP(table)
    test = SimpleNamespace(images=(torch.eye(3) * 255).to(torch.uint8).reshape(3, 3, 1, 1),
                           labels=torch.tensor([0, 1, 2]), classes=["x", "y", "z"], name="letters",
                           captions=[["caption 0", "caption 1"], ["caption 2", "caption 3"], ["caption 4"]])
    result = evaluate(model, ("zeroshot", "retrieval"), test=test, tokenizer=model.tokenizer,
                      options={"zeroshot": {"templates": ["a {}."]}, "retrieval": {"ks": (1, 2, 3)}})
    assert sum(x.shape[0] for x in model.seen) == 3
    owner = torch.tensor([0, 0, 1, 1, 2])
    want = retrieval_recall(torch.eye(3), torch.tensor(texts), owner, ks=(1, 2, 3))
    assert {k: v for k, v in result.items() if "_R@" in k} == pytest.approx(want)
    assert result["image_to_text_R@1"] == pytest.approx(100 / 3)  # only image 1's caption ranks first
    assert result["zeroshot_top1"] == 100.0


def test_a_model_with_preprocess_cfg_is_preprocessed_unless_a_transform_is_given():
    model = TableCLIP(PROMPTS)
    model.preprocess_cfg = PreprocessConfig(image_size=4, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    test = quadrants(2, seed=0)
    evaluate(model, "knn", train=test, test=test, options={"knn": {"k": 3}})
    torch.testing.assert_close(model.seen[0], preprocess_tensor(test.images, model.preprocess_cfg))
    model.seen.clear()
    evaluate(model, "knn", train=test, test=test, transform=lambda x: x * 2, options={"knn": {"k": 3}})
    torch.testing.assert_close(model.seen[0], test.images.float() / 255 * 2)


def test_bad_arguments_name_the_problem():
    train, test = quadrants(5, 0), quadrants(5, 1)
    assert PROTOCOLS == ("knn", "linear", "zeroshot", "retrieval")
    with pytest.raises(ValueError, match="protocols must name some of"):
        evaluate(ImageOnly(), ("svm",), train=train, test=test)
    with pytest.raises(ValueError, match="protocols must name some of"):
        evaluate(ImageOnly(), (), train=train, test=test)
    with pytest.raises(ValueError, match=r"options given for protocols not requested: \['linear'\]"):
        evaluate(ImageOnly(), "knn", train=train, test=test, options={"linear": {}})
    with pytest.raises(TypeError, match="train must have .images and .labels; got None"):
        evaluate(ImageOnly(), "knn", test=test)
    with pytest.raises(TypeError, match=r"protocol\(s\) zeroshot need a model with encode_text; ImageOnly has none"):
        evaluate(ImageOnly(), "zeroshot", test=test)
    with pytest.raises(TypeError, match="test must have .captions; SimpleNamespace has no .captions"):
        model = TableCLIP(PROMPTS)
        evaluate(model, "retrieval", test=test, tokenizer=model.tokenizer)
