"""``simclip video index|search`` through its parser, with a saved checkpoint."""

import argparse
import json

import pytest
import torch

from simclip.clip import create_model, save
from simclip.video.commands import register


def run(argv):
    parser = argparse.ArgumentParser(prog="simclip")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_index_then_search_with_the_recorded_model(video_dir, tmp_path, capsys):
    torch.manual_seed(0)
    checkpoint = str(save(create_model("small-cnn-32"), tmp_path / "model.safetensors"))
    index = str(tmp_path / "index")
    assert run(["video", "index", "--videos", str(video_dir), "--out", index, "--checkpoint", checkpoint,
                "--frames", "2", "--no-progress"]) == 0
    assert "indexed 4 videos" in capsys.readouterr().out
    assert run(["video", "search", "--index", index, "--text", "a red square", "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3 and {h["id"] for h in hits} <= {"blue_circle.mp4", "clock.mp4", "green_square.mkv",
                                                           "shapes/red_square.mp4"}
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_index_needs_a_model(video_dir, tmp_path):
    with pytest.raises(SystemExit):
        run(["video", "index", "--videos", str(video_dir), "--out", str(tmp_path / "i")])


def test_index_and_search_by_model_name_and_tag(video_dir, tmp_path, monkeypatch, capsys):
    import hashlib

    from simclip.clip import pretrained as releases

    cache = tmp_path / "cache"
    monkeypatch.setenv("SIMCLIP_CACHE", str(cache))
    monkeypatch.setenv("SIMCLIP_OFFLINE", "1")  # the weights come from the cache or not at all
    (cache / "openai").mkdir(parents=True)
    torch.manual_seed(0)
    weights = save(create_model("small-cnn-32"), cache / "openai" / "small-cnn-32.pt")
    monkeypatch.setitem(releases._OPENAI_SHA256, "small-cnn-32", hashlib.sha256(weights.read_bytes()).hexdigest())
    named = ["--model", "small-cnn-32", "--pretrained", "openai"]
    index = str(tmp_path / "index")
    assert run(["video", "index", "--videos", str(video_dir), "--out", index, *named, "--frames", "2",
                "--no-progress"]) == 0
    assert "indexed 4 videos" in capsys.readouterr().out
    info = json.loads((tmp_path / "index" / "meta.json").read_text())
    assert info["identity"]["checkpoint"] == str(weights.resolve())  # the cached file, not a random model
    assert run(["video", "search", "--index", index, "--text", "a red square", "-k", "2", "--json", *named]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
