"""The batch loader: deterministic permutations, exact resume, disjoint equal rank shards."""
import pytest
import torch

from simclip.data import (CaptionDataset, ImageDataset, batch_indices, batches, epoch_permutation,
                          steps_per_epoch)


def toy(n=23, labelled=True):
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    labels = torch.arange(n) % 3 if labelled else None
    return ImageDataset(images=images, labels=labels, classes=["a", "b", "c"] if labelled else [],
                        name="toy", split="train")


def ids(images):
    return images[:, 0, 0, 0].long().tolist()


def test_permutation_is_a_pure_function_of_seed_and_epoch():
    a = epoch_permutation(100, seed=7, epoch=2)
    assert torch.equal(a, epoch_permutation(100, seed=7, epoch=2))
    assert sorted(a.tolist()) == list(range(100))
    assert not torch.equal(a, epoch_permutation(100, seed=7, epoch=3))
    assert not torch.equal(a, epoch_permutation(100, seed=8, epoch=2))
    got = [ids(x) for x, _ in batches(toy(), 5, seed=7, epoch=2)]
    assert got == [ids(x) for x, _ in batches(toy(), 5, seed=7, epoch=2)]


def test_batches_follow_the_permutation_and_carry_labels():
    data = toy()
    out = list(batches(data, 5, seed=1, epoch=0))
    assert len(out) == steps_per_epoch(23, 5) == 4
    perm = epoch_permutation(23, 1, 0)
    assert [i for x, _ in out for i in ids(x)] == perm[:20].tolist()
    for images, labels in out:
        assert images.shape == (5, 1, 2, 2) and images.dtype == torch.uint8
        assert labels.tolist() == [i % 3 for i in ids(images)]
    assert all(y is None for _, y in batches(toy(labelled=False), 5))
    ordered = [ids(x) for x, _ in batches(data, 5, shuffle=False)]
    assert ordered == [list(range(k, k + 5)) for k in range(0, 20, 5)]


def test_drop_last_false_keeps_the_tail():
    sizes = [len(x) for x, _ in batches(toy(), 5, drop_last=False)]
    assert sizes == [5, 5, 5, 5, 3] and steps_per_epoch(23, 5, drop_last=False) == 5
    seen = [i for x, _ in batches(toy(), 5, drop_last=False, seed=2) for i in ids(x)]
    assert sorted(seen) == list(range(23))


@pytest.mark.parametrize("start", [0, 1, 3, 4])
def test_resume_at_start_equals_the_tail(start):
    full = [ids(x) for x, _ in batches(toy(), 5, seed=3, epoch=5)]
    resumed = [ids(x) for x, _ in batches(toy(), 5, seed=3, epoch=5, start=start)]
    assert resumed == full[start:]


def test_rank_shards_are_disjoint_equal_and_cover_each_global_batch():
    n, batch, world = 50, 4, 3
    shards = [list(batch_indices(n, batch, seed=9, epoch=1, rank=r, world_size=world))
              for r in range(world)]
    steps = steps_per_epoch(n, batch, world_size=world)
    assert steps == 4 and all(len(s) == steps for s in shards)
    perm = epoch_permutation(n, 9, 1)
    for step in range(steps):
        parts = [shards[r][step].tolist() for r in range(world)]
        assert all(len(p) == batch for p in parts)
        assert sum(parts, []) == perm[step * 12:(step + 1) * 12].tolist()
    flat = [i for s in shards for b in s for i in b.tolist()]
    assert len(flat) == len(set(flat)) == 48


def test_rank_shards_without_drop_last_pad_equally():
    shards = [list(batch_indices(10, 4, seed=0, drop_last=False, rank=r, world_size=3))
              for r in range(3)]
    assert [[len(b) for b in s] for s in shards] == [[4]] * 3  # 10 padded to 12, shared by 3
    assert {i for s in shards for i in s[0].tolist()} == set(range(10))
    shards = [list(batch_indices(14, 2, seed=0, drop_last=False, rank=r, world_size=3))
              for r in range(3)]
    assert [[len(b) for b in s] for s in shards] == [[2, 2, 1]] * 3
    covered = {i for s in shards for b in s for i in b.tolist()}
    assert covered == set(range(14))  # padding repeats one index, every index is seen


def test_caption_batches_pick_one_caption_per_image_deterministically():
    images = torch.zeros(12, 3, 4, 4, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.arange(12, dtype=torch.uint8)
    captions = [[f"{i}-{k}" for k in range(1 + i % 4)] for i in range(12)]
    data = CaptionDataset(images=images, captions=captions, name="toy", split="train")
    first = list(batches(data, 4, seed=5, epoch=0))
    again = list(batches(data, 4, seed=5, epoch=0))
    assert all(torch.equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(first, again))
    for images_b, caps in first:
        assert isinstance(caps, list) and len(caps) == len(images_b) == 4
        assert [int(c.split("-")[0]) for c in caps] == ids(images_b)
        assert all(c in captions[int(c.split("-")[0])] for c in caps)
    resumed = list(batches(data, 4, seed=5, epoch=0, start=2))
    assert resumed[0][1] == first[2][1]
    choices = {tuple(c for _, cs in batches(data, 12, seed=5, epoch=e) for c in cs)
               for e in range(6)}
    assert len(choices) > 1  # the caption choice changes with the epoch


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), "batch_size must be a positive int"),
    (dict(batch_size=4, rank=2, world_size=2), "rank must be an int in 0..world_size-1"),
    (dict(batch_size=4, start=9), r"start must be an int in 0..5"),
    (dict(batch_size=4, seed=-1), "seed must be a non-negative int"),
    (dict(batch_size=50), "23 items give no full batch"),
])
def test_bad_arguments_raise_before_iteration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        batches(toy(), **kwargs)
    with pytest.raises(TypeError, match="ImageDataset or CaptionDataset"):
        batches([1, 2, 3], 2)
