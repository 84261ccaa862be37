"""``simclip attack`` through its parser: a dataset run and a one-image run with a figure."""

import argparse
import json

import numpy as np
import pytest
import torch
from PIL import Image

from simclip.attacks.commands import register
from simclip.clip import create_model, save


def run(argv):
    parser = argparse.ArgumentParser(prog="simclip")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return str(save(create_model("small-cnn-32"), tmp_path_factory.mktemp("ck") / "model.safetensors"))


def test_dataset_run_prints_the_metrics(checkpoint, capsys):
    assert run(["attack", "--checkpoint", checkpoint, "--data", "shapes", "--limit", "24", "--json",
                "--control", "qwerty"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 <= out["control_top1"] <= 100
    assert out["num_images"] == 24.0 and 0 <= out["clean_top1"] <= 100
    assert out["accuracy_drop"] == pytest.approx(out["clean_top1"] - out["attacked_top1"])


def test_fixed_label_skips_its_own_class(checkpoint, capsys):
    assert run(["attack", "--checkpoint", checkpoint, "--data", "shapes", "--limit", "30",
                "--write", "star", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_images"] == 30.0


def test_one_image_with_figure(checkpoint, tmp_path, capsys):
    image = tmp_path / "apple.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(image)
    figure = tmp_path / "attack.png"
    assert run(["attack", "--checkpoint", checkpoint, "--image", str(image), "--classes", "apple,ipod,pear",
                "--write", "ipod", "--true", "apple", "--position", "bottom", "--background", "255,255,255",
                "--color", "black", "--figure", str(figure)]) == 0
    out = capsys.readouterr().out
    assert 'with "ipod" written' in out and "apple" in out
    assert figure.stat().st_size > 10_000


@pytest.mark.parametrize("extra, match", [(["--image", "x.png"], "--classes"),
                                          ([], "exactly one of --image"),
                                          (["--data", "shapes", "--write", "banana"], "banana")])
def test_user_errors(checkpoint, extra, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        run(["attack", "--checkpoint", checkpoint, *extra])
