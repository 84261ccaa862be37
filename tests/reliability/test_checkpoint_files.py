"""Checkpoint files that are hostile, damaged or for another model.

Loading never runs code from a file: a state file or a CLIP ``.pt`` whose pickle asks to call
``os.mkdir`` on load is refused and the folder never appears. A run whose config names another
architecture, a truncated weights file and a file with one mis-shaped tensor each give an error
that lists what does not match, through ``simclip eval --run`` and ``simclip.clip.load``.
"""

import json
import os
import shutil
import zipfile

import pytest
import torch
from safetensors.torch import load_file, save_file

from simclip.cli import main
from simclip.clip import create_model, load, save
from simclip.train.checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from tests.reliability.harness import train_argv, write_config


class Payload:
    """Unpickling this calls ``os.mkdir(marker)``: the proof that a loader ran a file's code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    config = write_config(root / "tiny.json", epochs=1)
    assert main(train_argv(config, root / "run")) == 0
    return root / "run"


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    cfg = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**cfg, "out": str(copy)}))
    return copy


def _eval_error(capsys, run):
    assert main(["eval", "--run", str(run), "--protocol", "knn"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("simclip: error:") and "Traceback" not in err, err
    return err


def test_pickled_code_in_a_state_file_never_runs(run, tmp_path, capsys):
    marker = tmp_path / "marker"
    for step in list_checkpoints(run):
        torch.save({"loop": Payload(marker)}, run / "checkpoints" / f"step-{step:08d}.state.pt")
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        load_checkpoint(run)
    assert main(["simclr", "train", "--resume", str(run), "--no-progress"]) == 2
    assert "no readable checkpoint" in capsys.readouterr().err
    assert "no readable checkpoint" in _eval_error(capsys, run)
    assert not marker.exists()


@pytest.mark.parametrize("as_torchscript", [False, True])
def test_pickled_code_in_a_clip_file_never_runs(tmp_path, as_torchscript):
    marker, path = tmp_path / "marker", tmp_path / "model.pt"
    weights = create_model("small-cnn-28").state_dict()
    torch.save({"state_dict": weights, "extra": Payload(marker)}, path)
    if as_torchscript:  # an entry under code/ makes the reader take it for an OpenAI archive
        with zipfile.ZipFile(path, "a") as z:
            z.writestr(f"{z.namelist()[0].split('/')[0]}/code/__torch__.py", "x = 1\n")
    with pytest.raises(ValueError, match="cannot be"):
        load(path)
    assert not marker.exists()


def test_a_run_whose_config_names_another_architecture_lists_the_mismatch(run, capsys):
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["encoder_options"]["widths"] = [8, 16, 48]
    (run / "config.json").write_text(json.dumps(cfg))
    err = _eval_error(capsys, run)
    assert "does not fit the model" in err and "shape mismatches" in err
    assert "checkpoint (32," in err and "model (48," in err
    cfg["model"].update(encoder="vit-tiny", encoder_options={})
    (run / "config.json").write_text(json.dumps(cfg))
    err = _eval_error(capsys, run)
    assert "missing keys" in err and "unexpected keys" in err and "encoder.features.0.weight" in err


def test_truncated_weights_fall_back_then_name_every_damaged_file(run, capsys):
    steps = list_checkpoints(run)
    newest = run / "checkpoints" / f"step-{steps[-1]:08d}.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])
    assert main(["eval", "--run", str(run), "--protocol", "knn", "--json"]) == 0  # the older one
    capsys.readouterr()
    older = run / "checkpoints" / f"step-{steps[0]:08d}.safetensors"
    older.write_bytes(older.read_bytes()[:100])
    err = _eval_error(capsys, run)
    assert "no readable checkpoint" in err and newest.name in err and older.name in err


def test_clip_load_lists_missing_unexpected_and_mis_shaped_tensors(tmp_path):
    model = create_model("small-cnn-28")
    path = save(model, tmp_path / "clip.safetensors")
    tensors = load_file(str(path))
    name = next(k for k in tensors if k.startswith("text.") and tensors[k].ndim == 2)
    tensors[name] = torch.zeros(tensors[name].shape[0] + 1, *tensors[name].shape[1:])
    dropped = sorted(tensors)[0]
    del tensors[dropped]
    tensors["text.not_a_parameter"] = torch.zeros(3)
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad))
    with pytest.raises(ValueError) as info:
        load(bad, config=model.config)
    message = str(info.value)
    assert name in message and dropped in message and "text.not_a_parameter" in message
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match="not a readable safetensors file|truncated"):
        load(path)
