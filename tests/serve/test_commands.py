import argparse
import json

import pytest

from simclip.serve import commands
from simclip.serve.index import index_info
from tests.serve.conftest import write_shapes


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simclip")
    commands.register(p.add_subparsers(dest="command", required=True))
    return p


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


def test_index_build_add_info_through_the_command_line(tmp_path, capsys):
    images, out = tmp_path / "imgs", tmp_path / "idx"
    write_shapes(images, shapes=("circle",), colours=("red", "blue"), sizes=(8,))
    assert run(["index", "build", "--images", str(images), "--out", str(out), "--model", "tiny-vit",
                "--no-progress"]) == 0
    assert "indexed 2 images" in capsys.readouterr().out
    write_shapes(images, shapes=("square",), colours=("red",), sizes=(8,))
    # no model flag: the index's own model (here: tiny-vit at seed 0) is used
    assert run(["index", "add", "--index", str(out), str(images), "--no-progress"]) == 0
    assert "added 1 images (2 already indexed" in capsys.readouterr().out
    assert run(["index", "info", "--index", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 3 == index_info(out)["count"] and info["identity"]["model"] == "tiny-vit"


def test_serve_flags_parse_and_call_serve(tmp_path, monkeypatch):
    from simclip.serve.service import ServiceConfig

    images, out = tmp_path / "imgs", tmp_path / "idx"
    write_shapes(images, shapes=("circle",), colours=("red",), sizes=(8, 9))
    run(["index", "build", "--images", str(images), "--out", str(out), "--model", "tiny-vit", "--no-progress"])
    calls = []
    monkeypatch.setattr("simclip.serve.service.run_service", calls.append)
    assert run(["serve", "--index", str(out), "--port", "8123", "--max-upload-mb", "2",
                "--max-concurrency", "3", "--timeout", "4"]) == 0
    assert calls == [ServiceConfig(index=str(out), port=8123, max_upload_bytes=2 * 1024 * 1024,
                                   max_concurrency=3, request_timeout_s=4.0)]
    assert run(["serve", "--index", str(out), "--workers", "3", "--backend", "onnx", "--threads", "1",
                "--max-batch", "1"]) == 0
    config = calls[-1]
    assert (config.workers, config.backend, config.threads, config.max_batch) == (3, "onnx", 1, 1)
    assert not config.batching and config.concurrency == 4  # no batching: the former default


def test_build_needs_a_model_source(tmp_path):
    with pytest.raises(SystemExit):
        parser().parse_args(["index", "build", "--images", "x", "--out", "y"])
    with pytest.raises(SystemExit):
        parser().parse_args(["index", "build", "--images", "x", "--out", "y", "--model", "a", "--run", "b"])


def test_kind_choices_match_the_index_kinds():
    from simclip.serve.vector_index import KINDS

    assert commands.INDEX_KINDS == KINDS
