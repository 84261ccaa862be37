"""write_shards: tar layout, lossless images, labels and captions, the index, atomic replacement."""
import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

import simclip.data.shards.encode as encode_module
from simclip.data import DatasetSpecError, load_caption_dataset, load_dataset, write_shards
from simclip.data.shards.index import read_index
from simclip.data.shards.tar_samples import read_samples, split_member_name


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def digit_shards(tmp_path_factory, digits):
    out = tmp_path_factory.mktemp("digits")
    return out, write_shards("digits", out, shard_size=500)


def pixels(data):
    with Image.open(io.BytesIO(data)) as img:
        return img.mode, np.asarray(img)


def test_shard_files_index_and_member_names(digit_shards, digits):
    out, paths = digit_shards
    assert [p.name for p in paths] == ["000000.tar", "000001.tar", "000002.tar"]  # ceil(1437 / 500)
    assert sorted(p.name for p in out.iterdir()) == [".shard-job.json", "000000.tar", "000001.tar",
                                                     "000002.tar", "shards.json", "sizes.json"]
    assert json.loads((out / "sizes.json").read_text()) == {"000000.tar": 500, "000001.tar": 500,
                                                           "000002.tar": 437}
    raw = json.loads((out / "shards.json").read_text())
    assert raw["total"] == 1437 and raw["source"] == "digits" and raw["split"] == "train"
    assert [s["samples"] for s in raw["shards"]] == [500, 500, 437]
    index = read_index(out)
    assert index.classes == digits.classes and (index.channels, index.image_size) == (1, 28)
    assert index.labels and not index.captions
    expected_mean = digits.images.double().div(255).mean().item()
    assert index.mean[0] == pytest.approx(expected_mean, abs=1e-6)
    assert index.std[0] == pytest.approx(digits.images.double().div(255).std().item(), abs=1e-6)
    with tarfile.open(paths[1]) as tar:  # a plain tar that any reader opens
        names = tar.getnames()
    assert names[:4] == ["000000500.png", "000000500.cls", "000000501.png", "000000501.cls"]
    assert len(names) == 1000


def test_images_are_lossless_and_labels_match_in_order(digit_shards, digits):
    _, paths = digit_shards
    samples = [s for p in paths for s in read_samples(p)]
    assert [s.key for s in samples] == [f"{i:09d}" for i in range(1437)]
    for i, sample in enumerate(samples):
        assert set(sample.fields) == {"png", "cls"}
        mode, array = pixels(sample.fields["png"])
        assert mode == "L" and np.array_equal(array, digits.images[i, 0].numpy())
        assert int(sample.fields["cls"]) == int(digits.labels[i])


def test_shapes_write_captions_one_per_line_and_labels(tmp_path):
    source = load_caption_dataset("shapes?n=60&label=color")
    paths = write_shards("shapes?n=60&label=color", tmp_path, shard_size=25)
    assert len(paths) == 3
    samples = [s for p in paths for s in read_samples(p)]
    assert len(samples) == 60
    for i, sample in enumerate(samples):
        assert sample.fields["txt"].decode().split("\n") == source.captions[i]
        assert int(sample.fields["cls"]) == int(source.labels[i])
        mode, array = pixels(sample.fields["png"])
        assert mode == "RGB" and np.array_equal(array, source.images[i].permute(1, 2, 0).numpy())
    index = read_index(tmp_path)
    assert index.captions and index.labels and index.channels == 3
    assert index.classes == source.classes


def test_captions_flag_overrides_the_source_default(tmp_path):
    write_shards("digits", tmp_path / "with", shard_size=2000, captions=True)
    sample = next(read_samples(tmp_path / "with" / "000000.tar"))
    lines = sample.fields["txt"].decode().split("\n")
    assert f"a photo of the digit {int(sample.fields['cls'])}" in lines
    write_shards("shapes?n=10", tmp_path / "without", captions=False)
    sample = next(read_samples(tmp_path / "without" / "000000.tar"))
    assert set(sample.fields) == {"png", "cls"}


def test_line_breaks_inside_a_caption_become_spaces(tmp_path):
    Image.new("RGB", (8, 8), (9, 9, 9)).save(tmp_path / "a.png")
    (tmp_path / "pairs.jsonl").write_text(
        json.dumps({"image": "a.png", "caption": ["two\nlines", "plain"]}) + "\n")
    write_shards(f"captions:{tmp_path / 'pairs.jsonl'}", tmp_path / "out")
    sample = next(read_samples(tmp_path / "out" / "000000.tar"))
    assert sample.fields["txt"].decode() == "two lines\nplain"
    assert "cls" not in sample.fields and not read_index(tmp_path / "out").labels


def test_another_job_needs_overwrite_and_stale_shards_go(tmp_path):
    write_shards("shapes?n=30", tmp_path, shard_size=10)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_shards("shapes?n=30", tmp_path, shard_size=20)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_shards("shapes?n=30", tmp_path, shard_size=10, image_format="jpeg")
    paths = write_shards("shapes?n=30", tmp_path, shard_size=20, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == \
        ["000000.tar", "000001.tar", "shards.json", "sizes.json"]
    assert [p.name for p in paths] == ["000000.tar", "000001.tar"]
    assert read_index(tmp_path).shards == {"000000.tar": 20, "000001.tar": 10}
    (tmp_path / "x").mkdir()
    write_shards("digits", tmp_path / "x" / "y")  # shards from an older writer: no job record
    (tmp_path / "x" / "y" / ".shard-job.json").unlink()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_shards("digits", tmp_path / "x" / "y")


def test_an_interrupted_write_leaves_only_complete_shards_and_no_index(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = encode_module.encode_png

    def failing(image):
        calls["n"] += 1
        if calls["n"] == 25:
            raise KeyboardInterrupt
        return real(image)

    monkeypatch.setattr(encode_module, "encode_png", failing)
    with pytest.raises(KeyboardInterrupt):
        write_shards("shapes?n=40", tmp_path, shard_size=10)
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert names == ["000000.tar", "000001.tar"]  # shard 2 was being written: gone, temp file too
    assert not list(tmp_path.glob(".*.tar.tmp")) and read_index(tmp_path) is None


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(shard_size=0), ValueError, "shard_size must be a positive int"),
    (dict(shard_size=True), ValueError, "shard_size must be a positive int"),
    (dict(split="dev"), ValueError, "split must be one of train, test"),
    (dict(captions="yes"), TypeError, "captions must be a bool or None"),
])
def test_bad_arguments(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        write_shards("shapes?n=5", tmp_path, **kwargs)


def test_bad_spec_and_out_dir(tmp_path):
    with pytest.raises(DatasetSpecError, match="unknown dataset kind 'imagenet'"):
        write_shards("imagenet", tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        write_shards("shapes?n=5", tmp_path / "file")
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(ValueError, match="unlabelled"):
        write_shards(f"folder:{tmp_path / 'flat'}", tmp_path / "out", captions=True)


def test_member_names_split_at_the_first_dot():
    assert split_member_name("000001.png") == ("000001", "png")
    assert split_member_name("a/b/0001.seg.png") == ("a/b/0001", "seg.png")
    assert split_member_name("README") == ("README", "")
