"""The one-exponential tiled log-sum-exp against float64 references where its range checks matter:
logits spread so widely that column sums would underflow or backward's factors leave float32."""

import pytest
import torch
import torch.nn.functional as F

from simclip.losses import clip_loss, info_nce
from simclip.losses import tiled_lse


def _reference_clip(image, text, scale):
    logits = scale * image @ text.T
    labels = torch.arange(len(image))
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def _spy(monkeypatch, name):
    calls = []
    original = getattr(tiled_lse, name)

    def spy(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(tiled_lse, name, spy)
    return calls


def _clip_case(n, dim, scale, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = F.normalize(torch.randn(n, dim, generator=g, dtype=torch.float64), dim=1)
    text = F.normalize(torch.randn(n, dim, generator=g, dtype=torch.float64), dim=1)
    return image, text, torch.tensor(scale, dtype=torch.float64)


def _grads(fn, *inputs):
    leaves = [x.detach().clone().requires_grad_() for x in inputs]
    value = fn(*leaves)
    return value.detach(), torch.autograd.grad(value, leaves)


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("scale, fallback", [(10.0, None), (100.0, "_exact_statistics")])
def test_clip_float32_matches_float64_reference_across_logit_ranges(keep, scale, fallback, monkeypatch):
    # two dimensions: cosines cover [-1, 1], so at scale 100 the logits span 200 nats
    image, text, s = _clip_case(40, 2, scale)
    stats, grads = _spy(monkeypatch, "_exact_statistics"), _spy(monkeypatch, "_exact_gradients")
    want = _grads(_reference_clip, image, text, s)
    got = _grads(lambda *x: clip_loss(*x, block_size=16, keep_logits=keep), image.float(), text.float(), s.float())
    torch.testing.assert_close(got[0].double(), want[0], atol=1e-5, rtol=1e-5)
    for g, w in zip(got[1], want[1]):
        torch.testing.assert_close(g.double(), w, atol=1e-5, rtol=1e-4)
    if fallback is None:
        assert stats == [] and grads == []  # the fast path did the work
    else:
        assert stats and grads  # ... and here the exact one had to


def test_backward_falls_back_when_exponents_spread_too_far(monkeypatch):
    # two clusters pointing in opposite directions, one per tile: diagonal tiles hold logits of
    # +144 (base 2), off-diagonal ones -144. Every tile is flat, so forward's column sums are fine,
    # but the far tiles' row maxima lie ~290 below the log-sum-exps: backward must not factor.
    g = torch.Generator().manual_seed(3)
    axis = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    signs = torch.cat([torch.ones(8), -torch.ones(8)]).double().unsqueeze(1)
    image = F.normalize(signs * axis + 0.01 * torch.randn(16, 3, generator=g, dtype=torch.float64), dim=1)
    text = F.normalize(signs * axis + 0.01 * torch.randn(16, 3, generator=g, dtype=torch.float64), dim=1)
    s = torch.tensor(100.0, dtype=torch.float64)
    stats, grads = _spy(monkeypatch, "_exact_statistics"), _spy(monkeypatch, "_exact_gradients")
    want = _grads(_reference_clip, image, text, s)
    got = _grads(lambda *x: clip_loss(*x, block_size=8, keep_logits=True), image, text, s)
    torch.testing.assert_close(got[0], want[0], atol=1e-10, rtol=1e-10)
    for a, b in zip(got[1], want[1]):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
    assert stats == [] and grads == ["_exact_gradients"]


def test_rows_only_core_with_excluded_columns_and_masked_rows():
    # info_nce over shared negatives: rows-only core; block 1 makes single-element tiles
    g = torch.Generator().manual_seed(1)
    q, p, neg = (torch.randn(n, 4, generator=g, dtype=torch.float64) for n in (6, 6, 9))
    want = _grads(lambda *x: info_nce(*x, temperature=0.05, block_size=None), q, p, neg)
    for block in (1, 4, 64):
        got = _grads(lambda *x: info_nce(*x, temperature=0.05, block_size=block), q, p, neg)
        torch.testing.assert_close(got[0], want[0], atol=1e-10, rtol=1e-10)
        for a, b in zip(got[1], want[1]):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_kept_logits_survive_a_second_backward_through_the_graph():
    image, text, s = _clip_case(30, 8, 20.0)
    leaves = [x.clone().requires_grad_() for x in (image, text, s)]
    loss = clip_loss(*leaves, block_size=8, keep_logits=True)
    first = torch.autograd.grad(loss, leaves, retain_graph=True)
    second = torch.autograd.grad(loss, leaves)  # kept tiles were used up: recomputed
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_keep_logits_must_be_a_bool():
    image, text, s = _clip_case(4, 2, 10.0)
    with pytest.raises(TypeError, match="keep_logits"):
        clip_loss(image, text, s, keep_logits="yes")
