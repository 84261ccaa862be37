"""``simclip export embeddings|onnx`` through its parser."""

import argparse

import torch

from simclip.clip import create_model, save
from simclip.export import read_embeddings
from simclip.export.commands import register


def run(argv):
    parser = argparse.ArgumentParser(prog="simclip")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_embeddings_and_onnx(tmp_path, capsys):
    torch.manual_seed(0)
    checkpoint = str(save(create_model("small-cnn-28"), tmp_path / "model.safetensors"))
    out = tmp_path / "digits.parquet"
    assert run(["export", "embeddings", "--checkpoint", checkpoint, "--data", "digits", "--limit", "12",
                "--out", str(out)]) == 0
    ids, vectors = read_embeddings(out)
    assert ids[:2] == ["test/0", "test/1"] and vectors.shape == (12, 64)
    assert run(["export", "onnx", "--checkpoint", checkpoint, "--out", str(tmp_path / "onnx")]) == 0
    assert "within 1e-4" in capsys.readouterr().out
    assert (tmp_path / "onnx" / "image.onnx").is_file() and (tmp_path / "onnx" / "text.onnx").is_file()
