"""A run's folder: a new run refuses a folder that holds an earlier one (or, with overwrite, removes
only that run's outputs), and config.json is replaced whole or not at all."""

import json
from pathlib import Path

import pytest
from torch import nn

from simclip.errors import SimclipError
from simclip.train import TrainConfig, TrainingError
from simclip.train.checkpoint import list_checkpoints, save_checkpoint
from simclip.train.run_dir import RUN_OUTPUTS, claim_for_new_run, write_config


def earlier_run(run_dir):
    """A folder as a finished run leaves it: checkpoints, metrics, curves, TensorBoard events."""
    save_checkpoint(run_dir, 4, nn.Linear(2, 2), {"loop": {}}, keep=10)
    (run_dir / "metrics.jsonl").write_text('{"step": 4, "loss": 1.0}\n')
    (run_dir / "curves.png").write_bytes(b"png")
    (run_dir / "tensorboard").mkdir()
    (run_dir / "tensorboard" / "events").write_bytes(b"x")


def test_an_empty_or_new_folder_is_claimed(tmp_path):
    claim_for_new_run(tmp_path / "missing", overwrite=False)
    claim_for_new_run(tmp_path, overwrite=False)
    (tmp_path / "metrics.jsonl").touch()  # an empty metrics file is not a run
    claim_for_new_run(tmp_path, overwrite=False)
    assert (tmp_path / "metrics.jsonl").exists()


def test_a_folder_with_a_run_is_refused_naming_its_last_step(tmp_path):
    earlier_run(tmp_path)
    with pytest.raises(TrainingError, match=r"checkpoints up to step 4.*--resume.*--overwrite"):
        claim_for_new_run(tmp_path, overwrite=False)
    assert list_checkpoints(tmp_path) == [4]  # nothing was removed


def test_metrics_alone_are_a_run(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n')
    with pytest.raises(TrainingError, match="a metrics.jsonl"):
        claim_for_new_run(tmp_path, overwrite=False)


def test_overwrite_removes_the_run_outputs_and_nothing_else(tmp_path):
    earlier_run(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    claim_for_new_run(tmp_path, overwrite=True)
    assert not any((tmp_path / name).exists() for name in RUN_OUTPUTS)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    claim_for_new_run(tmp_path, overwrite=False)  # now free


def test_write_config_replaces_the_file_whole(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("old")
    write_config(TrainConfig(out=str(tmp_path), epochs=3), path)
    assert json.loads(path.read_text())["epochs"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary file left


def test_a_failed_write_keeps_the_old_config_and_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text("old")

    def full_disk(self, target):
        Path(target).write_text("{")  # partly written, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TrainConfig, "save", full_disk)
    with pytest.raises(TrainingError, match=r"cannot write .*config.json.*No space left"):
        write_config(TrainConfig(out=str(tmp_path)), path)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_training_error_is_one_class_wherever_it_is_imported_from():
    from simclip.train import loop

    assert loop.TrainingError is TrainingError
    assert issubclass(TrainingError, SimclipError)  # the command line shows it as one line
