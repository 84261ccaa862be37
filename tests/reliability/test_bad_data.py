"""Bad data through the command line, as a user meets it.

Image folders: unusual colour modes decode; undecodable files (corrupt, truncated, empty, text,
decompression bombs, a named pipe, a broken link) are skipped, counted and reported at the end;
more than 5% of them stop the run before it starts; ``strict=1`` makes the first one an error.
Caption files: every structural mistake is one error line naming the file and the line, before a
run folder exists; 10,000-character captions in any script train. WebDataset shards: spoiled
samples are skipped and counted; more than 5% stop the run at a checkpoint. Never a traceback.
"""

import json
import re

import pytest

from simclip.cli import main
from simclip.data import write_shards
from simclip.train.checkpoint import list_checkpoints
from tests.reliability.corpus import (caption_file_cases, corrupt_shard_images, long_caption_rows,
                                      write_bad_images, write_caption_images, write_plain_images,
                                      write_unusual_images)
from tests.reliability.harness import write_config


def _zoo(root, good_per_class):
    write_plain_images(root / "a", good_per_class, seed=0)
    write_plain_images(root / "b", good_per_class, seed=1)
    unusual = write_unusual_images(root / "a" / "unusual")
    bad = write_bad_images(root / "b" / "bad")
    return len(unusual) + 2 * good_per_class, bad


def _train(tmp_path, spec, *extra):
    config = write_config(tmp_path / "tiny.json", epochs=1)
    return main(["simclr", "train", "--config", str(config), "--data", spec, "--out",
                 str(tmp_path / "run"), "--no-progress", *extra])


def _one_error_line(err):
    assert err.startswith("simclip: error:") and "Traceback" not in err, err
    return err


def test_bad_files_within_the_limit_are_skipped_counted_and_reported(tmp_path, capsys):
    good, bad = _zoo(tmp_path / "photos", good_per_class=80)  # 8 bad of 176 files: 4.5%
    with pytest.warns(UserWarning, match=rf"skipped {len(bad)} of {good + len(bad)} files") as record:
        assert _train(tmp_path, f"folder:{tmp_path / 'photos'}?size=16", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bad_samples"] == len(bad) and result["steps"] == good // 32
    warning = str(record[0].message)
    assert "empty.png: not a decodable image (empty file)" in warning
    assert "possible decompression bomb" in warning or "... and" in warning


def test_too_many_bad_files_stop_the_run_before_it_starts(tmp_path, capsys):
    good, bad = _zoo(tmp_path / "photos", good_per_class=20)
    with pytest.warns(UserWarning):
        assert _train(tmp_path, f"folder:{tmp_path / 'photos'}?size=16") == 2
    err = _one_error_line(capsys.readouterr().err)
    assert f"{len(bad)} of {good + len(bad)} samples are unusable" in err and "b/bad/" in err
    assert "max_bad_fraction" in err and not (tmp_path / "run").exists()


def test_strict_makes_the_first_bad_file_an_error(tmp_path, capsys):
    _zoo(tmp_path / "photos", good_per_class=80)
    assert _train(tmp_path, f"folder:{tmp_path / 'photos'}?size=16&strict=1") == 2
    err = _one_error_line(capsys.readouterr().err)
    assert "b/bad/" in err and not (tmp_path / "run").exists()


def _clip_train(tmp_path, caption_file):
    return main(["clip", "train", "--data", f"captions:{caption_file}?channels=1&size=28",
                 "--model", "small-cnn-28", "--batch-size", "8", "--epochs", "1", "--precision", "fp32",
                 "--no-progress", "--out", str(tmp_path / "run")])


@pytest.mark.parametrize("case", range(len(caption_file_cases(["img/0.png"] * 4))))
def test_malformed_caption_files_are_one_line_naming_file_and_line(tmp_path, capsys, case):
    images = write_caption_images(tmp_path)
    name, suffix, content, fragment = caption_file_cases(images)[case]
    path = tmp_path / f"pairs{suffix}"
    path.write_bytes(content)
    assert _clip_train(tmp_path, path) == 2, name
    err = _one_error_line(capsys.readouterr().err)
    assert f"pairs{suffix}" in err and fragment in err, (name, err)
    assert "\n" not in err.strip() and not (tmp_path / "run").exists(), name


def test_ten_thousand_character_captions_train(tmp_path, capsys):
    path = tmp_path / "long.csv"
    path.write_bytes(long_caption_rows(write_caption_images(tmp_path)))
    assert _clip_train(tmp_path, path) == 0
    assert "done: 2 steps" in capsys.readouterr().out


def _spoiled_shards(tmp_path, every):
    shards = write_shards("digits?size=16", tmp_path / "shards", shard_size=500)
    return corrupt_shard_images(shards, every)


def test_bad_shard_samples_within_the_limit_are_skipped_and_counted(tmp_path, capsys):
    assert _spoiled_shards(tmp_path, every=40) == 34  # 2.4% of 1,437
    with pytest.warns(UserWarning, match="skipping samples that cannot be used"):
        assert _train(tmp_path, f"wds:{tmp_path / 'shards'}", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    # counted as drawn: a shard read again to fill the epoch's last batches counts its bad twice
    bad = result["bad_samples"]
    assert result["steps"] == 44 and 25 <= bad <= 0.05 * (44 * 32 + bad)


def test_too_many_bad_shard_samples_stop_the_run_with_a_checkpoint(tmp_path, capsys):
    _spoiled_shards(tmp_path, every=5)  # 20%
    with pytest.warns(UserWarning):
        assert _train(tmp_path, f"wds:{tmp_path / 'shards'}") == 2
    err = _one_error_line(capsys.readouterr().err)
    stopped = int(re.search(r"stopped at step (\d+) with a checkpoint saved", err).group(1))
    assert "samples are unusable" in err and ".tar, sample" in err and "max_bad_fraction" in err
    assert list_checkpoints(tmp_path / "run")[-1] == stopped and stopped < 44
