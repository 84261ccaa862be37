"""SimCLR's views made by the data loader: a batch's views depend on its place in the epoch only, so
worker processes, the main process and a resumed run all make the same ones."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from simclip.augment import BatchViews, create_policy
from simclip.cli import main
from simclip.data import batches, load_dataset, write_shards


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("wds") / "digits"
    write_shards("digits", out, shard_size=300)
    return out


def gray_views(seed: int = 3) -> BatchViews:
    return BatchViews(create_policy("simclr-gray", size=6, channels=1), 2, seed)


def test_a_batch_s_views_depend_on_its_place_only():
    views = BatchViews(create_policy("simclr", size=16), 2, seed=3)
    images = torch.randint(0, 256, (4, 3, 24, 24), dtype=torch.uint8)
    first = views(images, epoch=1, batch=5)
    assert first.shape == (4, 2, 3, 16, 16) and first.dtype == torch.float32
    assert first.transpose(0, 1).is_contiguous()
    assert not torch.equal(first[:, 0], first[:, 1])  # two independent views of each image
    assert torch.equal(views(images, epoch=1, batch=5), first)
    for other in ({"epoch": 2, "batch": 5}, {"epoch": 1, "batch": 6}, {"epoch": 1, "batch": 5, "rank": 1}):
        assert not torch.equal(views(images, **other), first), other
    assert not torch.equal(BatchViews(views.policy, 2, seed=4)(images, epoch=1, batch=5), first)
    with pytest.raises(ValueError, match="n must be a positive int"):
        BatchViews(views.policy, 0)


def test_uint8_views_are_the_float_views_rounded_to_8_bits():
    images = torch.randint(0, 256, (5, 3, 20, 20), dtype=torch.uint8)
    as_float = BatchViews(create_policy("simclr", size=12), 3, seed=2)
    as_uint8 = dataclasses.replace(as_float, dtype=torch.uint8)
    exact, rounded = as_float(images, epoch=0, batch=4), as_uint8(images, epoch=0, batch=4)
    assert rounded.dtype == torch.uint8 and rounded.shape == exact.shape == (5, 3, 3, 12, 12)
    assert torch.equal(rounded, (exact * 255).round().to(torch.uint8))
    assert rounded.transpose(0, 1).is_contiguous()
    unchunked = dataclasses.replace(as_uint8, policy=create_policy("simclr", size=12))
    unchunked.policy.chunk = None  # the whole-batch path rounds the same way
    floats = images.float() / 255  # (uint8 images are cropped in 8 bits by the chunked path only)
    assert torch.equal(unchunked(floats, epoch=0, batch=4), as_uint8(floats, epoch=0, batch=4))
    with pytest.raises(ValueError, match="dtype must be"):
        BatchViews(as_float.policy, dtype=torch.float16)


def test_views_made_in_shard_workers_are_those_of_each_batch_s_place(shard_dir):
    data = load_dataset(f"wds:{shard_dir}?workers=2&shuffle_buffer=100")
    views = gray_views()
    plain = [x for x, _ in batches(data, 64, seed=1, epoch=2)]
    made = [(v, y) for v, y in batches(data, 64, seed=1, epoch=2, views=views)]
    assert len(made) == len(plain) == 1437 // 64
    for j, ((v, y), images) in enumerate(zip(made, plain)):
        assert v.shape == (64, 2, 1, 6, 6) and y.shape == (64,)
        assert torch.equal(v, views(images, epoch=2, batch=j)), j
    resumed = [v for v, _ in batches(data, 64, seed=1, epoch=2, start=5, views=views)]
    assert all(torch.equal(a, b) for a, (b, _) in zip(resumed, made[5:], strict=True))


@pytest.mark.parametrize("workers", [0, 2])
def test_in_memory_batches_get_the_same_views_by_place_here_or_in_workers(workers):
    data = dataclasses.replace(load_dataset("digits"), workers=workers)
    views = gray_views()
    plain = list(batches(data, 100, seed=0, epoch=1))
    made = list(batches(data, 100, seed=0, epoch=1, start=3, views=views))
    assert len(made) == len(plain) - 3
    for j, ((v, y), (images, labels)) in enumerate(zip(made, plain[3:]), 3):
        assert torch.equal(y, labels) and torch.equal(v, views(images, epoch=1, batch=j))


def test_a_folder_s_workers_option_sets_its_view_workers(tmp_path):
    from PIL import Image

    for k in range(4):
        (tmp_path / "a").mkdir(exist_ok=True)
        Image.new("RGB", (20, 16), (60 * k, 20, 200)).save(tmp_path / "a" / f"{k}.png")
    assert load_dataset(f"folder:{tmp_path}?workers=2").workers == 2
    assert load_dataset(f"folder:{tmp_path}").workers == 0


def test_simclr_on_the_cpu_trains_on_views_made_by_shard_workers(shard_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["simclr", "train", "--data", f"wds:{shard_dir}?workers=2", "--encoder", "small-cnn",
                 "--batch-size", "64", "--epochs", "1", "--precision", "fp32", "--no-progress",
                 "--view-size", "8", "--out", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 1437 // 64 and result["skipped_steps"] == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows and all(0 < r["loss"] < 10 for r in rows)


def test_the_loop_asks_for_loader_views_for_simclr_image_batches_on_the_cpu(shard_dir):
    from simclip.train.loop import _loader_views
    from simclip.train.objectives.simclr import SimCLRObjective

    policy = create_policy("simclr-gray", size=6, channels=1)
    images = load_dataset(f"wds:{shard_dir}")
    objective = SimCLRObjective(policy, seed=5)
    views = _loader_views(objective, images, torch.device("cpu"))
    assert isinstance(views, BatchViews) and views.seed == 5 and views.n == 2 and objective.views_in_batches
    assert views.dtype == torch.uint8  # a quarter of the bytes from the workers
    batch = views(next(iter(batches(images, 8)))[0], epoch=0, batch=0)
    (flat,) = objective.inputs((batch, None))
    # view-major, as NT-Xent takes them, and float in [0, 1]
    assert flat.dtype == torch.float32
    assert torch.equal(flat, batch.transpose(0, 1).flatten(0, 1).float() / 255)
    on_gpu = SimCLRObjective(policy)
    assert _loader_views(on_gpu, images, torch.device("cuda")) is None and not on_gpu.views_in_batches
