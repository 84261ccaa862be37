"""Video as context through main(argv): make-world's clips, ``simclr train --positives frames:K`` and
``pair train --pair frame,audio`` on them, and the mistakes that end in one line."""

import json

import pytest

from simclip.cli import main


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    assert main(["data", "make-world", "--out", str(out), "--objects", "10", "--videos", "20"]) == 0
    assert len(list((out / "videos").rglob("*.mp4"))) == 20
    return out / "videos"


def test_simclr_with_temporal_positives_trains_and_records_them(videos, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["simclr", "train", "--data", f"videos:{videos}", "--positives", "frames:4", "--epochs", "1",
                 "--batch-size", "8", "--out", str(out), "--no-progress", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 2 and result["bad_samples"] == 0  # 16 training clips, batches of 8
    config = json.loads((out / "config.json").read_text())
    assert config["objective"]["positives"] == "frames:4" and config["data"] == f"videos:{videos}"


def test_pair_frame_audio_trains_and_evaluates_retrieval(videos, tmp_path, capsys):
    out = tmp_path / "av"
    assert main(["pair", "train", "--data", f"videos:{videos}?frames=4", "--pair", "frame,audio", "--steps", "2",
                 "--batch-size", "32", "--out", str(out), "--no-progress", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # 16 training clips x 4 frames: 2 batches of 32; 4 held-out clips, one frame each
    assert result["steps"] == 2 and result["retrieval.chance_R@1"] == pytest.approx(25.0)
    assert main(["pair", "eval", "--run", str(out), "--protocol", "knn,retrieval"]) == 0
    text = capsys.readouterr().out
    assert "4 held-out objects" in text and "audio_to_image_R@1" in text and "audio.class.knn_top1" in text


@pytest.mark.parametrize("argv, message", [
    (["simclr", "train", "--data", "shapes?n=40", "--positives", "frames:2"], "use a video folder"),
    (["simclr", "train", "--data", "VIDEOS", "--positives", "frames"], "objective.positives must be frames:K"),
    (["pair", "train", "--data", "VIDEOS", "--pair", "image,audio"], "--pair takes frame,audio"),
    (["pair", "train", "--data", "digits", "--pair", "frame,audio"], "--data videos:DIR"),
])
def test_mistakes_end_in_one_line(videos, tmp_path, capsys, argv, message):
    argv = [f"videos:{videos}" if a == "VIDEOS" else a for a in argv]
    code = main(argv + ["--out", str(tmp_path / "r"), "--epochs", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
