"""The streaming shard writer: folder and caption-file sources read file by file, JPEG and PNG,
parallel encoding that gives the same bytes, resuming an interrupted run, bounded look-ahead, and
shards that the webdataset package reads."""
import io
import itertools
import json
import os

import numpy as np
import pytest
from PIL import Image

import simclip.data.shards.encode as encode_module
import simclip.imageio as imageio
from simclip.cli import main
from simclip.data import load_dataset, write_shards
from simclip.data.caption_files import CaptionFileError
from simclip.data.shards.index import read_index
from simclip.data.shards.pool import ordered_map
from simclip.data.shards.tar_samples import read_samples
from simclip.data.shards.write import shard_dataset
from simclip.data.shards.write_source import open_source

CLASSES = ("cat", "dog", "owl")


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """3 classes x 14 random 20x20 RGB PNGs (42 images) and one corrupt file."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for name in CLASSES:
        (root / name).mkdir()
        for i in range(14):
            pixels = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root


def shard_bytes(paths):
    return [p.read_bytes() for p in paths]


def decoded(data):
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def test_a_folder_is_listed_not_decoded_until_written(photo_folder, monkeypatch):
    calls = []
    real = imageio.decode_array
    monkeypatch.setattr(imageio, "decode_array", lambda *a, **k: calls.append(a) or real(*a, **k))
    source = open_source(f"folder:{photo_folder}", "train", None)
    assert len(source) == 43 and calls == [] and source.image_size == 20
    assert source.classes == list(CLASSES) and source.labelled and not source.captioned
    assert isinstance(source.item(40).image, str)


def test_folder_shards_hold_the_folder_images_and_skip_the_broken_one(photo_folder, tmp_path):
    with pytest.warns(UserWarning, match="skipped 1 samples") as caught:
        paths = write_shards(f"folder:{photo_folder}", tmp_path, shard_size=10)
    assert str(caught[0].message).count("broken.png") == 1
    memory = load_dataset(f"folder:{photo_folder}")  # the in-memory loader, for reference
    samples = [s for p in paths for s in read_samples(p)]
    assert len(paths) == 5 and len(samples) == 42 == len(memory)
    for sample, image, label in zip(samples, memory.images, memory.labels):
        assert np.array_equal(decoded(sample.fields["png"]), image.permute(1, 2, 0).numpy())
        assert int(sample.fields["cls"]) == int(label)
    index = read_index(tmp_path)
    assert index.classes == list(CLASSES) and index.total == 42 and index.image_size == 20
    expected = memory.images.double().div(255).mean(dim=(0, 2, 3))
    assert np.allclose(index.mean, expected.numpy(), atol=1e-9)
    sizes = json.loads((tmp_path / "sizes.json").read_text())
    assert sizes == index.shards and sizes["000002.tar"] == 9  # items 20..29 hold broken.png


@pytest.mark.parametrize("pool", ["process", "thread"])
def test_parallel_workers_write_the_same_bytes(photo_folder, tmp_path, pool):
    with pytest.warns(UserWarning):
        serial = write_shards(f"folder:{photo_folder}?size=16", tmp_path / "serial", shard_size=8,
                              image_format="jpeg")
    with pytest.warns(UserWarning):
        parallel = write_shards(f"folder:{photo_folder}?size=16", tmp_path / pool, shard_size=8,
                                image_format="jpeg", workers=2, pool=pool)
    assert shard_bytes(parallel) == shard_bytes(serial) and len(serial) == 6


def test_jpeg_quality_is_applied_and_close_to_the_source(tmp_path):
    sizes = {}
    for quality in (30, 90):
        paths = write_shards("shapes?n=20", tmp_path / str(quality), image_format="jpeg",
                             quality=quality)
        samples = list(read_samples(paths[0]))
        assert all(set(s.fields) == {"jpg", "cls", "txt"} for s in samples)
        sizes[quality] = sum(len(s.fields["jpg"]) for s in samples)
    assert sizes[30] < sizes[90]
    source = load_dataset("shapes?n=20")
    first = decoded(next(read_samples(tmp_path / "90" / "000000.tar")).fields["jpg"])
    error = np.abs(first.astype(int) - source.images[0].permute(1, 2, 0).numpy().astype(int))
    assert 0 < error.mean() < 8
    streamed = load_dataset(f"wds:{tmp_path / '90'}")
    assert len(streamed) == 20 and streamed.channels == 3


def test_an_interrupted_run_resumes_keeping_complete_shards(photo_folder, tmp_path, monkeypatch):
    spec = f"folder:{photo_folder}?size=16"
    with pytest.warns(UserWarning):
        clean = shard_bytes(write_shards(spec, tmp_path / "clean", shard_size=10))
    out = tmp_path / "resumed"
    calls = itertools.count(1)
    real = encode_module.encode_png

    def failing(image):
        if next(calls) == 25:  # in shard 2
            raise KeyboardInterrupt
        return real(image)

    monkeypatch.setattr(encode_module, "encode_png", failing)
    with pytest.raises(KeyboardInterrupt):
        write_shards(spec, out, shard_size=10)
    monkeypatch.setattr(encode_module, "encode_png", real)
    assert sorted(p.name for p in out.glob("*.tar")) == ["000000.tar", "000001.tar"]
    (out / ".000002.tar.tmp").write_bytes(b"half a shard from a killed run")
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    with pytest.warns(UserWarning):
        report = shard_dataset(spec, out, shard_size=10)
    assert (report.kept, report.written, report.images) == (2, 3, 22)
    assert all(out.joinpath(n).stat().st_mtime_ns == t for n, t in before.items())
    assert shard_bytes(report.paths) == clean and not list(out.glob(".*.tmp"))
    assert read_index(out).total == 42
    again = shard_dataset(spec, out, shard_size=10)  # a complete job: nothing left to write
    assert (again.written, again.kept) == (0, 5) and shard_bytes(again.paths) == clean


def test_caption_file_is_streamed_and_a_bad_image_names_its_line(tmp_path):
    for i in range(5):
        Image.new("RGB", (12, 12), (i * 40, 0, 0)).save(tmp_path / f"{i}.png")
    rows = [{"image": f"{i}.png", "caption": [f"red {i}", f"shade {i}"]} for i in range(5)]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    paths = write_shards(f"captions:{tmp_path / 'pairs.jsonl'}", tmp_path / "out", workers=2)
    samples = list(read_samples(paths[0]))
    assert [s.fields["txt"].decode() for s in samples] == [f"red {i}\nshade {i}" for i in range(5)]
    assert read_index(tmp_path / "out").captions and not read_index(tmp_path / "out").labels
    (tmp_path / "3.png").write_bytes(b"not an image")
    with pytest.raises(imageio.ImageDecodeError, match="pairs.jsonl line 4"):
        write_shards(f"captions:{tmp_path / 'pairs.jsonl'}", tmp_path / "bad")
    assert not issubclass(CaptionFileError, imageio.ImageDecodeError)  # two distinct errors


def test_ordered_map_keeps_order_and_reads_a_bounded_number_ahead():
    pulled = []

    def tasks():
        for i in range(200):
            pulled.append(i)
            yield i

    for pool in ("thread", "process"):
        pulled.clear()
        results = ordered_map(abs, (-x for x in tasks()), workers=2, pool=pool, ahead=5)
        for taken, value in enumerate(results, start=1):
            assert value == taken - 1
            assert len(pulled) - taken <= 5
        assert len(pulled) == 200


def test_the_webdataset_package_reads_our_shards(photo_folder, tmp_path):
    webdataset = pytest.importorskip("webdataset")
    paths = write_shards("shapes?n=30", tmp_path, shard_size=12, image_format="jpeg")
    urls = [str(p) for p in paths]
    theirs = list(webdataset.WebDataset(urls, shardshuffle=False).decode("rgb8"))
    ours = [s for p in paths for s in read_samples(p)]
    assert [s["__key__"] for s in theirs] == [s.key for s in ours] and len(theirs) == 30
    for their, our in zip(theirs, ours):
        assert their["jpg"].shape == (32, 32, 3) and their["jpg"].dtype == np.uint8
        assert np.array_equal(their["jpg"], decoded(our.fields["jpg"]))
        assert their["cls"] == int(our.fields["cls"]) and their["txt"] == our.fields["txt"].decode()


def test_the_command_line_writes_jpeg_in_parallel_and_resumes(photo_folder, tmp_path, capsys):
    argv = ["data", "shard", "--data", f"folder:{photo_folder}", "--out", str(tmp_path),
            "--shard-size", "20", "--format", "jpeg", "--quality", "90", "--workers", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "wrote 3 shard(s) (42 images)" in out and "images/s" in out and "skipped 1" in out
    assert main(argv) == 0
    assert "wrote 0 shard(s) (0 images)" in capsys.readouterr().out
    assert main(argv[:-2] + ["--workers", "-1"]) == 2
    assert "workers must be a non-negative int" in capsys.readouterr().err
    os.remove(tmp_path / "000001.tar")
    assert main(argv) == 0 and "wrote 1 shard(s)" in capsys.readouterr().out
