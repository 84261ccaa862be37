"""``pairs:`` tables: each modality's reader on generated files, the log-mel front end, and what
happens with bad files (a counted skip naming file and row, or with strict an error) and bad tables."""

import csv
import json
import shutil
import wave

import numpy as np
import pytest
import torch

from simclip.data import DatasetSpecError, load_dataset
from simclip.data.paired import PairFileError, load_paired_dataset, log_mel, mel_filterbank, read_wav
from simclip.data.world import make_world

N = 40


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"), N, seed=0, videos=0)


def _copy(world, tmp_path):
    shutil.copytree(world.parent, tmp_path / "w")
    return tmp_path / "w" / "pairs.csv"


def _rows(table):
    with open(table, newline="") as f:
        return list(csv.DictReader(f))


def _write(table, rows):
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_every_modality_is_read_into_one_tensor(world):
    train = load_paired_dataset(f"pairs:{world}", "train")
    test = load_paired_dataset(f"pairs:{world}", "test")
    assert (len(train), len(test)) == (32, 8)
    assert train.modalities == ("image", "depth", "audio", "points", "text")
    assert train.data["image"].shape == (32, 3, 32, 32) and train.data["image"].dtype == torch.uint8
    assert train.data["depth"].shape == (32, 1, 32, 32)
    assert train.data["audio"].shape == (32, 1, 40, 63) and train.sample_rate == 8000
    assert train.data["points"].shape == (32, 256, 3)
    assert len(train.data["text"]) == 32 and train.bad_files == []
    assert train.classes["shape"] == sorted(["circle", "square", "triangle", "star", "cross"])
    assert "height" not in train.labels  # a continuous column is no label
    rows = [r for r in _rows(world) if r["split"] == "test"]
    assert [test.classes["color"][k] for k in test.labels["color"].tolist()] == [r["color"] for r in rows]
    batch = train.subset(["audio", "text"]).take(torch.tensor([3, 1]))
    assert batch[0].shape == (2, 1, 40, 63) and batch[1] == [train.data["text"][3], train.data["text"][1]]


def test_jsonl_without_split_column_holds_out_every_fifth_row(world, tmp_path):
    rows = _rows(world)
    table = world.parent / "pairs.jsonl"
    table.write_text("".join(json.dumps({k: r[k] for k in ("image", "audio", "text", "shape")}) + "\n"
                             for r in rows))
    try:
        test = load_paired_dataset(f"pairs:{table}?size=16", "test")
    finally:
        table.unlink()
    assert len(test) == N // 5 and test.modalities == ("image", "audio", "text")
    assert test.data["image"].shape == (8, 3, 16, 16)  # resized by the size option
    assert test.data["text"][0] == rows[4]["text"]


def test_log_mel_puts_a_tone_in_its_mel_band():
    rate, t = 8000, torch.arange(4000) / 8000
    tone = torch.sin(2 * torch.pi * 1000 * t)[None]
    spec = log_mel(tone, rate)
    assert spec.shape == (1, 40, 63)
    band = spec[0].mean(1).argmax()
    fb = mel_filterbank(129, 40, rate)
    assert fb[:, band].argmax() * rate / 256 == pytest.approx(1000, abs=rate / 256)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-500])


def _silence(path):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(4000, "<i2").tobytes())


@pytest.mark.parametrize("damage, reason", [(_truncate, "is truncated"), (_silence, "is silent"),
                                            (lambda p: p.unlink(), "does not exist")])
def test_a_bad_audio_file_skips_its_row_or_with_strict_names_it(world, tmp_path, damage, reason):
    table = _copy(world, tmp_path)
    row = _rows(table)[0]
    damage(table.parent / row["audio"])
    data = load_paired_dataset(f"pairs:{table}", "train")
    assert len(data) == 31 and len(data.bad_files) == 1
    assert reason in data.bad_files[0] and row["audio"] in data.bad_files[0] and "line 2" in data.bad_files[0]
    with pytest.raises(PairFileError, match=f"{reason}.*row at line 2"):
        load_paired_dataset(f"pairs:{table}?strict=1", "train")


def test_bad_points_and_depth_files_are_named(world, tmp_path):
    table = _copy(world, tmp_path)
    rows = _rows(table)
    np.save(table.parent / rows[0]["points"], np.zeros((5, 2), np.float32))
    (table.parent / rows[1]["depth"]).write_bytes(b"not a png")
    data = load_paired_dataset(f"pairs:{table}", "train")
    assert len(data.bad_files) == 2
    assert "[K, 3]" in data.bad_files[0] and "depth PNG" in data.bad_files[1]


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace("\n", ",extra\n", 3), "fields, the header has"),
    (lambda text: text.replace("audio,", "sound,", 1), "no column 'audio'"),
    (lambda text: text.replace(",train\n", ",validation\n", 1), "split must be train or test"),
])
def test_malformed_tables_raise_naming_the_file(world, tmp_path, edit, message):
    table = _copy(world, tmp_path)
    table.write_text(edit(table.read_text()))
    with pytest.raises(PairFileError, match=message) as info:
        load_paired_dataset(f"pairs:{table}", "train", ["image", "audio"])
    assert str(table) in str(info.value)


def test_a_split_without_usable_rows_and_other_loaders_refuse(world, tmp_path):
    table = _copy(world, tmp_path)
    for path in (table.parent / "audio").iterdir():
        path.write_bytes(b"RIFF")
    with pytest.raises(PairFileError, match="no usable train row"):
        load_paired_dataset(f"pairs:{table}", "train")
    with pytest.raises(DatasetSpecError, match="simclip pair train"):
        load_dataset(f"pairs:{table}")


def test_read_wav_rejects_other_files(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3 not a wave")
    with pytest.raises(PairFileError, match="not a readable PCM WAV"):
        read_wav(path)
