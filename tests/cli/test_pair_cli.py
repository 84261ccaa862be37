"""``simclip data make-world``, ``simclip pair train`` and ``simclip pair eval`` through main(argv)."""

import json

import pytest

from simclip.cli import main


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    assert main(["data", "make-world", "--out", str(out), "--objects", "50", "--seed", "1", "--videos", "0"]) == 0
    return out / "pairs.csv"


def test_train_then_eval_prints_retrieval_and_chance(world, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pair", "train", "--data", f"pairs:{world}", "--modalities", "image,audio,depth",
                 "--anchor", "image", "--steps", "2", "--batch-size", "16", "--out", str(out),
                 "--no-progress", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 2  # 40 training objects: 2 batches of 16 per epoch
    assert result["retrieval.chance_R@1"] == pytest.approx(10.0)
    assert "retrieval.depth_to_image_R@5" in result
    assert main(["pair", "eval", "--run", str(out), "--protocol", "knn,retrieval", "--labels", "shape"]) == 0
    text = capsys.readouterr().out
    assert "audio_to_image_R@1" in text and "(chance 10.00)" in text and "audio.shape.knn_top1" in text


@pytest.mark.parametrize("args, message", [
    (["--modalities", "image,smell"], "unknown 'smell'"),
    (["--modalities", "image,audio", "--anchor", "depth"], "objective.anchor 'depth'"),
    (["--modalities", "image"], "two or more"),
])
def test_mistakes_end_in_one_line(world, tmp_path, capsys, args, message):
    code = main(["pair", "train", "--data", f"pairs:{world}", "--out", str(tmp_path / "r"), "--steps", "1"] + args)
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_world_is_not_overwritten_by_accident(world, capsys):
    assert main(["data", "make-world", "--out", str(world.parent), "--objects", "50"]) == 2
    assert "--overwrite" in capsys.readouterr().err
