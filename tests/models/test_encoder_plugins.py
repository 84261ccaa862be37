"""Encoders that installed packages register under the ``simclip.encoders`` entry points: listed,
built like built-in ones, and a SimCLR run made with one reloads from its folder.

The package is real as far as ``importlib.metadata`` is concerned: a ``.dist-info`` folder with an
``entry_points.txt`` and a module, put on ``sys.path`` for the test."""

from __future__ import annotations

import json

import pytest
import torch

from simclip.cli import main
from simclip.errors import SimclipError
from simclip.models import create_encoder, list_encoders

MODULE = '''
import torch
from torch import nn


class Pooled(nn.Module):
    def __init__(self, in_channels, width):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1)
        self.num_features = width

    def forward(self, x):
        return torch.relu(self.conv(x)).mean((2, 3))


def build(in_channels=3, width=8):
    return Pooled(in_channels, width)


def broken(in_channels=3):
    raise AssertionError("never called")
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "fake_simclip_encoders-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-simclip-encoders\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[simclip.encoders]\npooled-conv = fake_simclip_encoders:build\n"
                                           "gone = fake_simclip_missing:build\n")
    (site / "fake_simclip_encoders.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(site))
    yield site
    import sys

    sys.modules.pop("fake_simclip_encoders", None)


def test_entry_point_encoders_are_listed_and_built(plugin):
    assert {"pooled-conv", "gone"} <= set(list_encoders()) and "small-cnn" in list_encoders()
    encoder = create_encoder("pooled-conv", in_channels=1, width=5)
    assert encoder.num_features == 5 and encoder(torch.rand(2, 1, 12, 12)).shape == (2, 5)


def test_an_entry_point_that_cannot_load_names_itself_and_its_package(plugin):
    with pytest.raises(SimclipError, match="'gone'.*fake_simclip_missing:build.*fake-simclip-encoders"):
        create_encoder("gone")


def test_without_the_package_the_name_is_unknown():
    assert "pooled-conv" not in list_encoders()
    with pytest.raises(SimclipError, match="unknown encoder 'pooled-conv'"):
        create_encoder("pooled-conv")


def test_a_run_made_with_an_entry_point_encoder_reloads_from_its_folder(plugin, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["simclr", "train", "--data", "shapes?n=64&size=16", "--encoder", "pooled-conv",
                 "--set", "model.encoder_options.width=6", "--epochs", "1", "--batch-size", "32",
                 "--precision", "fp32", "--no-progress", "--out", str(run)]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["encoder"] == "pooled-conv" and cfg["model"]["encoder_options"] == {"width": 6}
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--protocol", "knn", "--knn-k", "10", "--json"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["knn_top1"] <= 100
