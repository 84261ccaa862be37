"""Streaming wds: shards through batches(): round trips, rank and worker splits, shuffling,
resampling, resume, bad samples, truncated shards and spec errors."""
import collections
import itertools
import json
import shutil
import tarfile

import pytest
import torch

from simclip.data import (DatasetSpecError, ShardedDataset, ShardError, batches,
                          load_caption_dataset, load_dataset, steps_per_epoch, write_shards)
from simclip.data.shards.stream import plan_epoch, slot_batches
from simclip.data.shards.tar_samples import add_member, read_samples
from simclip.data.shards.webdataset import expand_braces

N_DIGITS = 1437


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("wds") / "digits"
    write_shards("digits", out, shard_size=300)  # 5 shards: 300 x 4 + 237
    return out


def pairs(images, labels):
    """Multiset of (image bytes, label)."""
    return collections.Counter((bytes(i.numpy().tobytes()), int(y)) for i, y in zip(images, labels))


def stream(dataset, batch_size=64, **kwargs):
    out = list(batches(dataset, batch_size, **kwargs))
    return torch.cat([x for x, _ in out]), torch.cat([y for _, y in out]), [len(x) for x, _ in out]


def test_round_trip_gives_the_source_pairs(shard_dir, digits):
    data = load_dataset(f"wds:{shard_dir}")
    assert isinstance(data, ShardedDataset) and len(data) == N_DIGITS
    assert (data.classes, data.channels, data.image_size) == (digits.classes, 1, 28)
    images, labels, sizes = stream(data, drop_last=False, seed=3)
    assert images.dtype == torch.uint8 and images.shape[1:] == (1, 28, 28)
    assert pairs(images, labels) == pairs(digits.images, digits.labels)
    assert sizes[:-1] == [64] * 22 and sizes[-1] == N_DIGITS - 22 * 64
    full = list(batches(data, 64, seed=3))  # the training loop's call
    assert len(full) == steps_per_epoch(len(data), 64, drop_last=True) == 22
    assert all(x.shape == (64, 1, 28, 28) and y.shape == (64,) for x, y in full)


def test_unshuffled_stream_is_the_stored_order(shard_dir, digits):
    images, labels, _ = stream(load_dataset(f"wds:{shard_dir}"), 100, shuffle=False, drop_last=False)
    assert torch.equal(images, digits.images) and torch.equal(labels, digits.labels)
    memory = load_dataset(f"wds:{shard_dir}").to_memory(limit=50)
    assert torch.equal(memory.images, digits.images[:50])


def test_shapes_captions_round_trip(tmp_path):
    source = load_caption_dataset("shapes?n=120")
    write_shards("shapes?n=120", tmp_path, shard_size=50)
    data = load_caption_dataset(f"wds:{tmp_path}")
    assert len(data) == 120 and data.channels == 3
    captions_of = collections.defaultdict(set)
    for image, caps in zip(source.images, source.captions):
        captions_of[bytes(image.numpy().tobytes())].update(caps)
    seen = collections.Counter()
    for images, caps in batches(data, 16, drop_last=False, seed=1):
        assert isinstance(caps, list) and len(caps) == len(images)
        for image, caption in zip(images, caps):
            key = bytes(image.numpy().tobytes())
            assert caption in captions_of[key]
            seen[key] += 1
    assert seen == collections.Counter(bytes(i.numpy().tobytes()) for i in source.images)
    memory = data.to_memory()
    assert memory.captions == source.captions and torch.equal(memory.images, source.images)


def test_brace_expansion():
    assert expand_braces("s/{000..002}.tar") == ["s/000.tar", "s/001.tar", "s/002.tar"]
    assert expand_braces("{a,b}/{1..2}") == ["a/1", "a/2", "b/1", "b/2"]
    assert expand_braces("plain.tar") == ["plain.tar"]
    for bad, message in [("{3..1}", "runs backwards"), ("{x}", "neither a range"),
                         ("a{1..2", "unbalanced"), ("{a,{b,c}}", "unbalanced or nested")]:
        with pytest.raises(ValueError, match=message):
            expand_braces(bad)


def test_brace_spec_selects_those_shards(shard_dir, digits):
    data = load_dataset(f"wds:{shard_dir}/{{000001..000002}}.tar")
    assert len(data) == 600 and [p.name for p in data.shards] == ["000001.tar", "000002.tar"]
    images, labels, _ = stream(data, 50, shuffle=False, drop_last=False)
    assert torch.equal(images, digits.images[300:900]) and torch.equal(labels, digits.labels[300:900])
    listed = load_dataset(f"wds:{shard_dir}/{{000000,000004}}.tar")
    assert len(listed) == 300 + 237
    assert len(load_dataset(f"wds:{shard_dir}/000004.tar")) == 237


@pytest.mark.parametrize("spec_tail, shards", [("/{000000..000002}.tar", 3),
                                               ("/{000000..000000}.tar", 1)])
def test_two_ranks_get_disjoint_streams_that_cover_the_epoch(shard_dir, digits, spec_tail, shards):
    data = load_dataset(f"wds:{shard_dir}{spec_tail}")
    assert len(data.shards) == shards  # 1 shard < 2 ranks: split by sample position
    parts = [stream(data, 32, seed=5, epoch=1, drop_last=False, rank=r, world_size=2)
             for r in range(2)]
    keys = [set(pairs(x, y)) for x, y, _ in parts]
    assert not keys[0] & keys[1]
    whole = pairs(torch.cat([parts[0][0], parts[1][0]]), torch.cat([parts[0][1], parts[1][1]]))
    expected = pairs(digits.images[:len(data)], digits.labels[:len(data)])
    assert whole == expected
    steps = steps_per_epoch(len(data), 32, drop_last=True, world_size=2)
    for rank in range(2):  # the training setting: equal numbers of full batches on every rank
        out = list(batches(data, 32, seed=5, epoch=1, rank=rank, world_size=2))
        assert len(out) == steps and all(len(x) == 32 for x, _ in out)


def test_worker_slots_are_disjoint_and_cover(shard_dir, digits):
    data = load_dataset(f"wds:{shard_dir}")
    plan = plan_epoch(data, 40, seed=2, drop_last=False)
    parts = [[b for b in slot_batches(plan, w, 2) if b[0] is not None] for w in range(2)]
    got = [pairs(torch.cat([x for x, _, _ in p]), torch.cat([y for _, y, _ in p])) for p in parts]
    assert not set(got[0]) & set(got[1])
    assert got[0] + got[1] == pairs(digits.images, digits.labels)


def test_dataloader_workers_stream_every_sample_once(shard_dir, digits):
    data = load_dataset(f"wds:{shard_dir}?workers=2&shuffle_buffer=100")
    images, labels, _ = stream(data, 64, seed=4, drop_last=False)
    assert pairs(images, labels) == pairs(digits.images, digits.labels)
    full = list(batches(data, 64, seed=4))
    assert len(full) == 22 and all(len(x) == 64 for x, _ in full)
    again = itertools.islice(batches(data, 64, seed=4), 4)
    assert [torch.equal(a[0], b[0]) for a, b in zip(full, again)] == [True] * 4


def test_shuffle_is_deterministic_per_seed_and_epoch(shard_dir):
    data = load_dataset(f"wds:{shard_dir}?shuffle_buffer=500")

    def head(seed, epoch):  # the first batches: enough to tell orders apart
        return torch.cat([x for x, _ in itertools.islice(batches(data, 64, seed=seed, epoch=epoch), 3)])

    first = head(7, 0)
    assert torch.equal(first, head(7, 0))
    assert not torch.equal(first, head(7, 1))
    assert not torch.equal(first, head(8, 0))


@pytest.mark.parametrize("options", ["", "?workers=2", "?resample=1"])
def test_start_skips_batches_of_the_same_stream(shard_dir, options):
    data = load_dataset(f"wds:{shard_dir}/{{000000..000001}}.tar{options}")
    full = [x for x, _ in batches(data, 40, seed=1, epoch=2)]
    resumed = [x for x, _ in batches(data, 40, seed=1, epoch=2, start=5)]
    assert len(full) == 15 and len(resumed) == 10
    assert all(torch.equal(a, b) for a, b in zip(resumed, full[5:]))
    assert list(batches(data, 40, seed=1, epoch=2, start=15)) == []


def test_resampled_stream_yields_the_epoch_length(shard_dir):
    data = load_dataset(f"wds:{shard_dir}/{{000000..000001}}.tar?resample=1&shuffle_buffer=50")
    for drop_last, steps in ((True, 10), (False, 11)):  # 600 samples in batches of 55
        out = list(batches(data, 55, seed=0, drop_last=drop_last))
        assert len(out) == steps_per_epoch(600, 55, drop_last=drop_last) == steps
        assert all(x.shape == (55, 1, 28, 28) for x, _ in out)
    ranks = [list(batches(data, 55, rank=r, world_size=2)) for r in range(2)]
    assert [len(r) for r in ranks] == [5, 5]
    assert not torch.equal(ranks[0][0][0], ranks[1][0][0])


def test_options_resize_and_convert(shard_dir):
    data = load_dataset(f"wds:{shard_dir}?size=14&channels=3")
    x, _ = next(iter(batches(data, 8, shuffle=False)))
    assert x.shape == (8, 3, 14, 14) and data.mean is None
    assert torch.equal(x[:, 0], x[:, 2])  # grey stays grey in RGB
    assert load_dataset(f"wds:{shard_dir}", image_size=20).image_size == 20


def rewrite_shard(src, dst, change):
    """Copy shard ``src`` to ``dst`` with ``change(key, fields)`` applied to each sample."""
    with tarfile.open(dst, "w") as tar:
        for sample in read_samples(src):
            fields = dict(sample.fields)
            change(sample.key, fields)
            for name, data in fields.items():
                add_member(tar, f"{sample.key}.{name}", data)


def corrupt(key, fields):
    if key == "000000007":
        fields["png"] = b"\x89PNG not really"
    if key == "000000011":
        del fields["cls"]


def test_bad_samples_are_skipped_and_counted(shard_dir, tmp_path, digits):
    shutil.copytree(shard_dir, tmp_path / "s")
    rewrite_shard(shard_dir / "000000.tar", tmp_path / "s" / "000000.tar", corrupt)
    data = load_dataset(f"wds:{tmp_path / 's'}")
    with pytest.warns(UserWarning, match="skipping samples"):
        images, labels, _ = stream(data, 50, drop_last=False)
    kept = [i for i in range(N_DIGITS) if i not in (7, 11)]
    assert pairs(images, labels) == pairs(digits.images[kept], digits.labels[kept])
    assert data.bad_samples == 2 and len(data.bad_messages) == 2
    assert any("000000.tar, sample '000000007'" in m and "not a decodable image" in m
               for m in data.bad_messages)
    assert any("sample '000000011'" in m and "no .cls label" in m for m in data.bad_messages)
    fresh = load_dataset(f"wds:{tmp_path / 's'}")
    with pytest.warns(UserWarning, match="skipping samples"):
        memory = fresh.to_memory()
    assert torch.equal(memory.images, digits.images[kept]) and fresh.bad_samples == 2
    strict = load_dataset(f"wds:{tmp_path / 's'}?strict=1")
    with pytest.raises(ShardError, match=r"000000\.tar, sample '0000000(07|11)'"):
        list(batches(strict, 50, shuffle=False))


def test_truncated_shard_names_the_shard(shard_dir, tmp_path):
    shutil.copytree(shard_dir, tmp_path / "s")
    shard = tmp_path / "s" / "000002.tar"
    data = shard.read_bytes()
    shard.write_bytes(data[:len(data) // 2 + 100])  # cut inside a member
    with pytest.raises(ShardError, match=r"000002\.tar: not a readable tar shard, truncated"):
        list(batches(load_dataset(f"wds:{tmp_path / 's'}"), 64))
    cut = next(i for i in range(len(data) // 2, len(data), 512)
               if data[i:i + 512].startswith(b"000000"))  # a member header: a clean cut
    shard.write_bytes(data[:cut])
    with pytest.raises(ShardError, match=r"000002\.tar: holds \d+ samples, but the index says 300"):
        list(batches(load_dataset(f"wds:{tmp_path / 's'}"), 64))


def test_shards_without_an_index_are_counted(shard_dir, tmp_path, digits):
    shutil.copytree(shard_dir, tmp_path / "s")
    (tmp_path / "s" / "shards.json").unlink()
    data = load_dataset(f"wds:{tmp_path / 's'}")
    assert len(data) == N_DIGITS and data.classes == [str(d) for d in range(10)]
    assert (data.channels, data.image_size) == (1, 28)
    images, labels, _ = stream(data, 100, shuffle=False, drop_last=False)
    assert torch.equal(images, digits.images) and torch.equal(labels, digits.labels)


def test_split_folders_and_split_mismatch(tmp_path):
    write_shards("shapes?n=20", tmp_path / "train", split="train")
    write_shards("shapes?n=20", tmp_path / "test", split="test")
    assert load_dataset(f"wds:{tmp_path}", split="test").shards[0].parent.name == "test"
    with pytest.raises(ValueError, match="holds the 'train' split, not 'test'"):
        load_dataset(f"wds:{tmp_path / 'train'}", split="test")


@pytest.mark.parametrize("tail, message", [
    ("/{000000..000009}.tar", r"shard file\(s\) .*000005\.tar.* do not exist"),
    ("/{000000..}.tar", "neither a range"),
    ("/nothing", "does not exist"),
    ("?shuffle_buffer=-1", "must be >= 0"),
    ("?workers=two", "is not an integer"),
    ("?resample=maybe", "is not a boolean"),
    ("?buffer=3", "unknown option 'buffer'"),
])
def test_wds_spec_errors_are_clear(shard_dir, tail, message):
    with pytest.raises(DatasetSpecError, match=message) as info:
        load_dataset(f"wds:{shard_dir}{tail}")
    assert "wds:" in str(info.value)


def test_folder_and_index_errors(tmp_path):
    with pytest.raises(DatasetSpecError, match="wds needs a path"):
        load_dataset("wds:")
    with pytest.raises(DatasetSpecError, match="holds no .tar shards and no shards.json"):
        load_dataset(f"wds:{tmp_path}")
    (tmp_path / "shards.json").write_text(json.dumps({"format": "simclip-shards", "version": 1}))
    with pytest.raises(ShardError, match=r"shards\.json: malformed index, field 'shards' is missing"):
        load_dataset(f"wds:{tmp_path}")
    (tmp_path / "shards.json").write_text("{not json")
    with pytest.raises(ShardError, match="not valid JSON"):
        load_dataset(f"wds:{tmp_path}")
    (tmp_path / "x.tar").write_bytes(b"\0" * 100 + b"junk" * 300)
    (tmp_path / "shards.json").unlink()
    with pytest.raises(ShardError, match=r"x\.tar"):
        load_dataset(f"wds:{tmp_path}")


def test_unlabelled_uncaptioned_shards_have_no_text(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    from PIL import Image
    for i in range(3):
        Image.new("L", (8, 8), i * 50).save(flat / f"{i}.png")
    write_shards(f"folder:{flat}", tmp_path / "s")
    data = load_dataset(f"wds:{tmp_path / 's'}")
    assert data.classes == [] and len(data) == 3
    assert all(y is None for _, y in batches(data, 3))
    with pytest.raises(ValueError, match="neither captions nor labels"):
        load_caption_dataset(f"wds:{tmp_path / 's'}")


def test_bad_loader_arguments_raise_before_iteration(shard_dir):
    data = load_dataset(f"wds:{shard_dir}")
    for kwargs, message in [(dict(batch_size=0), "batch_size must be a positive int"),
                            (dict(batch_size=4, rank=2, world_size=2), "rank must be an int"),
                            (dict(batch_size=64, start=23), r"start must be an int in 0..22"),
                            (dict(batch_size=4, epoch=-1), "epoch must be a non-negative int"),
                            (dict(batch_size=2000), "give no full batch")]:
        with pytest.raises(ValueError, match=message):
            batches(data, **kwargs)
