import math

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score

from simclip.eval.zeroshot import rank_labels, zero_shot_classifier, zero_shot_eval


class FakeText:
    """Tokenizer + text encoder whose embedding of each prompt is fixed in a table."""

    def __init__(self, table: dict[str, list[float]]):
        self.prompts = list(table)
        self.embeddings = torch.tensor(list(table.values()))
        self.seen: list[str] = []

    def tokenizer(self, texts: list[str]) -> torch.Tensor:
        self.seen.extend(texts)
        return torch.tensor([[self.prompts.index(t)] for t in texts])

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embeddings[tokens[:, 0]]


TABLE = {
    "a cat.": [3.0, 4.0],  # normalised: (0.6, 0.8)
    "the cat!": [0.0, 2.0],  # (0, 1)
    "a dog.": [1.0, 0.0],  # (1, 0)
    "the dog!": [0.0, -5.0],  # (0, -1)
}


def test_prompt_ensembling_hand_computed():
    text = FakeText(TABLE)
    classifier = zero_shot_classifier(text.encode_text, text.tokenizer, ["cat", "dog"], ["a {}.", "the {}!"])
    # cat: mean((0.6, 0.8), (0, 1)) = (0.3, 0.9), norm sqrt(0.9) -> (1, 3) / sqrt(10).
    # dog: mean((1, 0), (0, -1)) = (0.5, -0.5) -> (1, -1) / sqrt(2).
    # Averaging the raw embeddings instead would give cat (1.5, 3) / |.| = (1, 2) / sqrt(5): different.
    expected = torch.tensor([[1 / math.sqrt(10), 3 / math.sqrt(10)], [1 / math.sqrt(2), -1 / math.sqrt(2)]])
    torch.testing.assert_close(classifier, expected)
    assert text.seen == ["a cat.", "the cat!", "a dog.", "the dog!"]


def test_single_template_is_the_normalised_embedding():
    text = FakeText(TABLE)
    classifier = zero_shot_classifier(text.encode_text, text.tokenizer, ["cat"], ["a {}."])
    torch.testing.assert_close(classifier, torch.tensor([[0.6, 0.8]]))


def test_eval_metrics_hand_computed():
    classifier = torch.eye(3)
    # Four class-0 images right, one class-1 image predicted as 2 (second choice 1), one class-2 right.
    features = torch.tensor(
        [[1.0, 0, 0], [2.0, 0.1, 0], [1.0, 0, 0.2], [3.0, 0.5, 0.5], [0.0, 0.4, 0.9], [0.1, 0.0, 1.0]]
    )
    labels = torch.tensor([0, 0, 0, 0, 1, 2])
    result = zero_shot_eval(features, labels, classifier)
    assert result["zeroshot_top1"] == pytest.approx(500 / 6)
    assert result["zeroshot_top5"] == 100.0  # top-min(5, 3)
    assert result["zeroshot_mean_per_class_recall"] == pytest.approx(200 / 3)  # (1 + 0 + 1) / 3


def test_eval_is_cosine_and_matches_sklearn_balanced_accuracy():
    generator = torch.Generator().manual_seed(0)
    classifier = torch.randn(7, 5, generator=generator)
    features = torch.randn(300, 5, generator=generator)
    labels = torch.randint(0, 7, (300,), generator=generator)
    result = zero_shot_eval(features, labels, classifier, batch_size=64)
    cosine = F.normalize(features.double(), dim=1) @ F.normalize(classifier.double(), dim=1).T
    predictions = cosine.argmax(1)
    assert result["zeroshot_top1"] == pytest.approx(100.0 * (predictions == labels).double().mean().item())
    expected = 100.0 * balanced_accuracy_score(labels.numpy(), predictions.numpy())
    assert result["zeroshot_mean_per_class_recall"] == pytest.approx(expected)
    # Rescaling the image features must not change anything (cosine similarity).
    assert zero_shot_eval(features * 7.0, labels, classifier) == result


def test_rank_labels_hand_computed():
    classifier = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    image = torch.tensor([0.0, 2.0])  # cosines: 0, 1, 0.8
    ranked = rank_labels(image, classifier, logit_scale=10.0)
    z = math.exp(0.0) + math.exp(10.0) + math.exp(8.0)
    assert [i for i, _ in ranked] == [1, 2, 0]
    for (_, p), expected in zip(ranked, [math.exp(10.0) / z, math.exp(8.0) / z, 1.0 / z]):
        assert p == pytest.approx(expected)
    assert rank_labels(image, classifier, logit_scale=10.0, top_k=2) == ranked[:2]


def test_bad_inputs():
    text = FakeText(TABLE)
    with pytest.raises(ValueError, match="templates must contain"):
        zero_shot_classifier(text.encode_text, text.tokenizer, ["cat"], ["a photo"])
    with pytest.raises(TypeError, match="classnames must be a list of str"):
        zero_shot_classifier(text.encode_text, text.tokenizer, "cat", ["a {}."])
    with pytest.raises(ValueError, match="templates is empty"):
        zero_shot_classifier(text.encode_text, text.tokenizer, ["cat"], [])
    with pytest.raises(ValueError, match="tokenizer must return token ids"):
        zero_shot_classifier(text.encode_text, lambda texts: torch.zeros(3), ["cat"], ["a {}."])
    with pytest.raises(ValueError, match="classifier has feature width 3"):
        zero_shot_eval(torch.randn(4, 2), torch.zeros(4, dtype=torch.long), torch.randn(5, 3))
    with pytest.raises(ValueError, match="labels contains class index 5 but num_classes is 5"):
        zero_shot_eval(torch.randn(2, 3), torch.tensor([0, 5]), torch.randn(5, 3))
    with pytest.raises(ValueError, match="image_feature must be one vector"):
        rank_labels(torch.randn(2, 3), torch.randn(5, 3))


def test_underscores_in_class_names_read_as_spaces():
    from simclip.eval import zero_shot_classifier

    seen = []

    def tokenize(texts):
        seen.extend(texts)
        return torch.zeros(len(texts), 4, dtype=torch.long)

    zero_shot_classifier(lambda t: torch.ones(len(t), 3), tokenize, ["maple_tree", "cat"], ["a photo of a {}."])
    assert seen == ["a photo of a maple tree.", "a photo of a cat."]
