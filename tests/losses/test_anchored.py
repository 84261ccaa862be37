"""The anchored multi-modality loss against a naive float64 reference, values and gradients."""

import pytest
import torch

from simclip.losses import clip_loss
from simclip.losses.anchored import anchored_clip_loss, pairwise_clip_losses


def pair_reference(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE written out with loops: a->b and b->a cross-entropy, averaged."""
    n = a.shape[0]
    logit = [[scale * torch.dot(a[i], b[j]) for j in range(n)] for i in range(n)]
    a_to_b = sum(-logit[i][i] + torch.log(sum(torch.exp(logit[i][j]) for j in range(n))) for i in range(n))
    b_to_a = sum(-logit[j][j] + torch.log(sum(torch.exp(logit[i][j]) for i in range(n))) for j in range(n))
    return (a_to_b + b_to_a) / (2 * n)


def anchored_reference(image, audio, depth, s_audio, s_depth):
    """ImageBind's objective with the image as anchor: the mean of the two pairs' losses."""
    return (pair_reference(image, audio, s_audio) + pair_reference(image, depth, s_depth)) / 2


def test_three_modalities_equal_the_reference_with_gradients(value_and_grads, assert_same):
    torch.manual_seed(0)
    image, audio, depth = (torch.randn(6, 5, dtype=torch.float64) for _ in range(3))
    s_audio, s_depth = torch.tensor(2.0, dtype=torch.float64), torch.tensor(3.5, dtype=torch.float64)

    def ours(i, a, d, sa, sd):
        return anchored_clip_loss({"image": i, "audio": a, "depth": d}, {"audio": sa, "depth": sd}, "image")

    want = value_and_grads(anchored_reference, image, audio, depth, s_audio, s_depth)
    got = value_and_grads(ours, image, audio, depth, s_audio, s_depth)
    assert len(got[1]) == 5  # the embeddings of all three modalities and both temperatures
    assert_same(got, want, atol=1e-10)


def test_anchor_is_not_compared_with_itself_and_pairs_are_named():
    torch.manual_seed(1)
    emb = {m: torch.nn.functional.normalize(torch.randn(8, 4), dim=1) for m in ("audio", "image", "points")}
    losses = pairwise_clip_losses(emb, 10.0, "image")
    assert list(losses) == ["audio", "points"]
    assert torch.allclose(losses["points"], clip_loss(emb["image"], emb["points"], 10.0))
    # a shared scale is the same as one scale per pair with equal values
    per_pair = anchored_clip_loss(emb, {"audio": 10.0, "points": 10.0}, "image")
    assert torch.allclose(anchored_clip_loss(emb, 10.0, "image"), per_pair)


def test_two_modalities_are_the_clip_loss():
    torch.manual_seed(2)
    a, b = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    got = anchored_clip_loss({"audio": b, "image": a}, 4.0, "image")
    torch.testing.assert_close(got, clip_loss(a, b, 4.0))


@pytest.mark.parametrize("emb, scale, anchor, message", [
    ({"image": torch.zeros(2, 3)}, 1.0, "image", "at least two modalities"),
    ({"image": torch.zeros(2, 3), "audio": torch.zeros(2, 3)}, 1.0, "depth", "anchor 'depth'"),
    ({"image": torch.zeros(2, 3), "audio": torch.zeros(2, 3)}, {"depth": 1.0}, "image", "no entry for audio"),
])
def test_misuse_is_named(emb, scale, anchor, message):
    with pytest.raises(ValueError, match=message):
        anchored_clip_loss(emb, scale, anchor)
