import pytest
import torch

from simclip.eval.retrieval import retrieval_recall


def hand_case():
    """Images are the basis vectors, so sim(image i, text j) is coordinate i of (unit) text j."""
    images = torch.eye(3)
    texts = torch.tensor(
        [
            [0.6, 0.8, 0.0],  # caption of image 0
            [0.0, 0.6, 0.8],  # caption of image 0
            [0.8, 0.6, 0.0],  # caption of image 1
            [0.0, 0.96, 0.28],  # caption of image 1
            [1.0, 0.0, 0.0],  # caption of image 2
        ]
    )
    return images, texts, torch.tensor([0, 0, 1, 1, 2])


def test_hand_computed_recall():
    # Image -> text, sims over the 5 captions:
    #   image 0: [.6, 0, .8, 0, 1]     best own caption .6, beaten by .8 and 1 -> rank 2
    #   image 1: [.8, .6, .6, .96, 0]  best own .96 -> rank 0
    #   image 2: [0, .8, 0, .28, 0]    own 0, beaten by .8 and .28 -> rank 2
    # Text -> image, sims over the 3 images:
    #   t0 [.6, .8, 0] -> image 0 rank 1;  t1 [0, .6, .8] -> rank 2;  t2 [.8, .6, 0] -> image 1 rank 1
    #   t3 [0, .96, .28] -> rank 0;        t4 [1, 0, 0] -> image 2 at 0, beaten only by 1 -> rank 1
    result = retrieval_recall(*hand_case(), ks=(1, 2, 3))
    expected = {
        "image_to_text_R@1": 100 / 3,
        "image_to_text_R@2": 100 / 3,
        "image_to_text_R@3": 100.0,
        "text_to_image_R@1": 20.0,
        "text_to_image_R@2": 80.0,
        "text_to_image_R@3": 100.0,
    }
    assert result == pytest.approx(expected)


def test_any_caption_counts_for_image_to_text():
    images = torch.eye(2)
    # Image 0's first caption is its worst match (last of 3), its second its best (rank 0).
    texts = torch.tensor([[-0.6, 0.8], [0.8, 0.6], [0.0, 1.0]])
    owner = torch.tensor([0, 0, 1])
    result = retrieval_recall(images, texts, owner, ks=(1,))
    assert result["image_to_text_R@1"] == 100.0  # "first caption only" would give 50
    assert result["text_to_image_R@1"] == pytest.approx(200 / 3)  # the first caption misses


def naive_recall(images, texts, owner, ks):
    images = torch.nn.functional.normalize(images.double(), dim=1)
    texts = torch.nn.functional.normalize(texts.double(), dim=1)
    sims = images @ texts.T
    result = {}
    for k in ks:
        i2t, t2i = [], []
        for i in range(len(images)):
            top_texts = set(sims[i].argsort(descending=True)[:k].tolist())
            own_texts = {j for j in range(len(texts)) if owner[j] == i}
            i2t.append(bool(top_texts & own_texts))
        for j in range(len(texts)):
            t2i.append(int(owner[j]) in sims[:, j].argsort(descending=True)[:k].tolist())
        result[f"image_to_text_R@{k}"] = 100.0 * sum(i2t) / len(i2t)
        result[f"text_to_image_R@{k}"] = 100.0 * sum(t2i) / len(t2i)
    return result


def test_matches_naive_reference_and_is_chunk_invariant():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(40, 8, generator=generator)
    owner = torch.cat([torch.arange(40), torch.randint(0, 40, (60,), generator=generator)])
    texts = images[owner] + 1.5 * torch.randn(100, 8, generator=generator)
    expected = naive_recall(images, texts, owner, ks=(1, 5, 10))
    for batch_size in (7, 1024):
        assert retrieval_recall(images, texts, owner, batch_size=batch_size) == pytest.approx(expected)
    assert 0.0 < expected["text_to_image_R@1"] < 100.0


def test_bad_inputs():
    images, texts, owner = hand_case()
    with pytest.raises(ValueError, match="no caption to image 2"):
        retrieval_recall(images, texts[:4], owner[:4])
    with pytest.raises(ValueError, match="text_to_image has 4 entries"):
        retrieval_recall(images, texts, owner[:4])
    with pytest.raises(ValueError, match="text_to_image contains class index 3"):
        retrieval_recall(images, texts, torch.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match="ks entry must be >= 1"):
        retrieval_recall(images, texts, owner, ks=(0, 1))
    with pytest.raises(ValueError, match="text_features has feature width 2"):
        retrieval_recall(images, texts[:, :2], owner)
