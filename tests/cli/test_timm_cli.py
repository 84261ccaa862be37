"""timm encoders from the command line: a ResNet-18 and a ViT-Tiny (at the data's small image size)
train with SimCLR and as CLIP image towers, start from a weights file, and reload for eval, zeroshot
and index from the run folder alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from simclip.cli import main
from simclip.models import create_encoder

pytest.importorskip("timm")
ENCODERS = ["timm:resnet18", "timm:vit_tiny_patch16_224"]
SIMCLR_DATA = "shapes?n=64&size=32"
CLIP_DATA = "shapes?n=64&size=32"
COMMON = ["--epochs", "1", "--batch-size", "32", "--precision", "fp32", "--no-progress"]


@pytest.fixture(scope="module", params=ENCODERS)
def simclr_run(request, tmp_path_factory):
    run = tmp_path_factory.mktemp("simclr") / "run"
    assert main(["simclr", "train", "--data", SIMCLR_DATA, "--encoder", request.param, "--out", str(run)]
                + COMMON) == 0
    return run, request.param


@pytest.fixture(scope="module", params=ENCODERS)
def clip_run(request, tmp_path_factory):
    run = tmp_path_factory.mktemp("clip") / "run"
    assert main(["clip", "train", "--data", CLIP_DATA, "--image-tower", request.param, "--out", str(run)]
                + COMMON) == 0
    return run, request.param


def test_simclr_run_records_the_encoder_and_reloads_for_eval(simclr_run, capsys):
    run, encoder = simclr_run
    model = json.loads((run / "config.json").read_text())["model"]
    assert model["encoder"] == encoder and model["encoder_options"] == {"image_size": 32}
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--protocol", "knn", "--knn-k", "10", "--json"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["knn_top1"] <= 100


def test_clip_run_with_a_timm_image_tower_reloads_for_zeroshot_and_index(clip_run, tmp_path, capsys):
    run, encoder = clip_run
    vision = json.loads((run / "config.json").read_text())["model"]["vision"]
    assert vision["kind"] == "encoder" and vision["encoder"] == encoder
    capsys.readouterr()
    assert main(["zeroshot", "--run", str(run), "--data", CLIP_DATA, "--json"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["zeroshot_top1"] <= 100
    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(3):
        Image.fromarray(np.full((32, 32, 3), 60 * i, np.uint8)).save(images / f"{i}.png")
    assert main(["index", "build", "--run", str(run), "--images", str(images), "--out", str(tmp_path / "idx"),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["index", "info", "--index", str(tmp_path / "idx")]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 3


def test_encoder_weights_start_the_run_and_are_not_needed_to_reload(tmp_path, capsys):
    torch.manual_seed(11)
    start = create_encoder("timm:resnet18", in_channels=3, image_size=32)
    weights = tmp_path / "start.safetensors"
    save_file({k: v.contiguous() for k, v in start.state_dict().items()}, str(weights))
    run = tmp_path / "run"
    # a vanishing learning rate: the trained encoder is the starting point, to within 1e-9
    assert main(["simclr", "train", "--data", SIMCLR_DATA, "--encoder", "timm:resnet18", "--encoder-weights",
                 str(weights), "--lr", "1e-12", "--weight-decay", "0", "--optimizer", "adamw",
                 "--out", str(run)] + COMMON) == 0
    assert json.loads((run / "config.json").read_text())["model"]["encoder_weights"] == str(weights)
    weights.unlink()
    from simclip.recipes.simclr import load_simclr_run

    model, _ = load_simclr_run(run)
    for key, value in start.state_dict().items():
        if not key.endswith(("running_mean", "running_var", "num_batches_tracked")):  # BN statistics move
            torch.testing.assert_close(model.encoder.state_dict()[key], value, rtol=0, atol=1e-9, msg=key)
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--protocol", "knn", "--knn-k", "10", "--json"]) == 0


def test_image_tower_weights_start_a_clip_run(tmp_path):
    torch.manual_seed(12)
    start = create_encoder("timm:resnet18", in_channels=3, image_size=32)
    weights = tmp_path / "start.pth"
    torch.save(start.state_dict(), weights)
    run = tmp_path / "clip"
    assert main(["clip", "train", "--data", CLIP_DATA, "--image-tower", "timm:resnet18", "--image-tower-weights",
                 str(weights), "--lr", "1e-12", "--weight-decay", "0", "--out", str(run)] + COMMON) == 0
    assert json.loads((run / "config.json").read_text())["model"]["image_tower_weights"] == str(weights)
    weights.unlink()
    from simclip.recipes.clip import load_clip_run

    model, _ = load_clip_run(run)
    trained = model.visual.encoder.state_dict()
    for key, value in start.state_dict().items():
        if not key.endswith(("running_mean", "running_var", "num_batches_tracked")):  # BN statistics move
            torch.testing.assert_close(trained[key], value, rtol=0, atol=1e-9, msg=key)


def test_bad_weights_file_is_one_line_naming_it(tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    torch.save({"conv1.weight": torch.zeros(2, 2)}, bad)
    assert main(["simclr", "train", "--data", SIMCLR_DATA, "--encoder", "timm:resnet18", "--encoder-weights",
                 str(bad), "--out", str(tmp_path / "r")] + COMMON) == 2
    err = capsys.readouterr().err
    assert "bad.pth" in err and "conv1.weight" in err and "Traceback" not in err
