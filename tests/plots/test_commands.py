"""``simclip plot similarity|embeddings|topk`` through its parser."""

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

from simclip.clip import create_model, save
from simclip.plots.commands import register


def run(argv):
    parser = argparse.ArgumentParser(prog="simclip")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return str(save(create_model("small-cnn-32"), tmp_path_factory.mktemp("ck") / "model.safetensors"))


@pytest.mark.parametrize("argv", [["similarity", "--data", "shapes", "--n", "4"],
                                  ["embeddings", "--data", "shapes", "--n", "60", "--method", "pca"],
                                  ["topk", "--image", "IMAGE", "--classes", "cat,dog,car", "--true", "dog"]])
def test_each_figure_is_written(checkpoint, tmp_path, argv):
    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(image)
    argv = [str(image) if a == "IMAGE" else a for a in argv]
    out = tmp_path / "figure.png"
    assert run(["plot", *argv, "--checkpoint", checkpoint, "--out", str(out)]) == 0
    assert out.stat().st_size > 5_000


def test_topk_rejects_an_unknown_true_label(checkpoint, tmp_path):
    with pytest.raises(ValueError, match="--true"):
        run(["plot", "topk", "--image", "x.png", "--classes", "a,b", "--true", "c",
             "--checkpoint", checkpoint, "--out", str(tmp_path / "x.png")])
