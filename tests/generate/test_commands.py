"""``simclip generator train`` and ``simclip edit`` through ``main(argv)`` on tiny models."""

from __future__ import annotations

import json

import pytest
import torch

from simclip.cli import main
from simclip.clip import save


@pytest.fixture(scope="module")
def runs(tmp_path_factory, clip_model):
    root = tmp_path_factory.mktemp("runs")
    assert main(["generator", "train", "--data", "shapes?n=64", "--image-size", "16", "--latent-dim", "4",
                 "--width", "16", "--epochs", "1", "--batch-size", "32", "--out", str(root / "g"), "--json"]) == 0
    return root / "g", save(clip_model, root / "clip.safetensors")


def test_edit_writes_figures_and_a_result(runs, tmp_path, capsys):
    generator, clip = runs
    capsys.readouterr()
    out = tmp_path / "edit"
    assert main(["edit", "--generator", str(generator), "--clip", str(clip), "--text", "a blue star",
                 "--neutral", "a red star", "--seed", "3", "--steps", "5", "--grid", "0,1,2", "--samples", "16",
                 "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["methods"]) == {"latent", "global"}
    assert result["methods"]["latent"]["steps"] == 5
    for name in ("before_after.png", "grid_latent.png", "grid_global.png", "result.json"):
        assert (out / name).stat().st_size > 0
    again = tmp_path / "again"  # the same latent edit alone (--neutral still feeds its directional term)
    assert main(["edit", "--generator", str(generator), "--clip", str(clip), "--text", "a blue star",
                 "--neutral", "a red star", "--method", "latent", "--seed", "3", "--steps", "5",
                 "--out", str(again), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["methods"]["latent"] == pytest.approx({**result["methods"]["latent"],
                                                         "seconds": second["methods"]["latent"]["seconds"]})


def test_edit_flags_reach_the_latent_optimisation(runs, tmp_path, capsys):
    generator, clip = runs
    capsys.readouterr()
    common = ["edit", "--generator", str(generator), "--clip", str(clip), "--text", "a blue star", "--seed", "3",
              "--steps", "5", "--method", "latent", "--json"]
    assert main([*common, "--prompts", "shapes", "--direction-weight", "0", "--out", str(tmp_path / "a")]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["request"]["prompts"] == "shapes" and plain["request"]["direction_weight"] == 0
    assert main([*common, "--prompts", "shapes", "--direction-weight", "2", "--neutral", "a red star",
                 "--restarts", "2", "--restart-noise", "1", "--out", str(tmp_path / "b")]) == 0
    directional = json.loads(capsys.readouterr().out)
    assert directional["request"]["restarts"] == 2 and directional["request"]["restart_noise"] == 1
    assert directional["methods"]["latent"]["latent_change"] != plain["methods"]["latent"]["latent_change"]
    assert main([*common, "--prompts", "nope", "--out", str(tmp_path / "c")]) == 2
    assert "prompts must be one of plain, shapes" in capsys.readouterr().err


def test_edit_of_an_image_file(runs, tmp_path, capsys):
    from PIL import Image

    generator, clip = runs
    Image.fromarray(torch.randint(0, 255, (40, 40, 3), dtype=torch.uint8).numpy()).save(tmp_path / "x.png")
    assert main(["edit", "--generator", str(generator), "--clip", str(clip), "--text", "a green circle",
                 "--image", str(tmp_path / "x.png"), "--steps", "3", "--out", str(tmp_path / "e")]) == 0
    assert "latent  D_CLIP" in capsys.readouterr().out


def test_global_without_a_neutral_text_is_one_line(runs, tmp_path, capsys):
    generator, clip = runs
    assert main(["edit", "--generator", str(generator), "--clip", str(clip), "--text", "a blue star",
                 "--seed", "1", "--method", "global", "--out", str(tmp_path / "e")]) == 2
    assert "--method global needs --neutral TEXT" in capsys.readouterr().err


def test_a_second_train_into_the_same_folder_is_refused(runs, capsys):
    generator, _ = runs
    assert main(["generator", "train", "--data", "shapes?n=8", "--out", str(generator)]) == 2
    assert "--overwrite" in capsys.readouterr().err
