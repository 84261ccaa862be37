"""The command line's error boundary: a user's mistake is one ``simclip: error:`` line and exit code 2,
a bug a traceback with a request to report it and exit code 1, ``--debug`` shows tracebacks always,
and warnings are one ``simclip: warning:`` line."""

import struct
import subprocess
import sys
import warnings
import zlib

import pytest

import simclip.cli.augment as augment_command
from simclip.cli import main
from simclip.cli.errors import clean_warnings
from simclip.errors import SimclipError


def _png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width x height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from simclip.clip import create_model, save

    torch.manual_seed(0)
    return str(save(create_model("small-cnn-32"), tmp_path_factory.mktemp("ck") / "model.safetensors"))


def _fails_with_one_line(capsys, argv, *needles):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("simclip: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "DecompressionBomb" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("side", [20_000, 10_000])  # PIL's own bomb error, and above simclip's limit
def test_huge_images_are_one_line_naming_the_file(side, tmp_path, capsys, checkpoint):
    image = tmp_path / f"huge{side}.png"
    image.write_bytes(_png_claiming_size(side, side))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL's raw DecompressionBombWarning would fail here
        for argv in (["augment", "--image", str(image), "--out", str(tmp_path / "grid.png")],
                     ["zeroshot", "--checkpoint", checkpoint, "--image", str(image), "--classes", "a,b"],
                     ["plot", "topk", "--checkpoint", checkpoint, "--image", str(image), "--classes", "a,b",
                      "--out", str(tmp_path / "topk.png")]):
            _fails_with_one_line(capsys, argv, str(image), "exceeds the limit of 40,000,000 pixels")
    assert not (tmp_path / "grid.png").exists() and not (tmp_path / "topk.png").exists()


def test_duplicate_classes_are_named(capsys):
    _fails_with_one_line(capsys, ["zeroshot", "--checkpoint", "x.pt", "--image", "x.png",
                                  "--classes", "cat, dog,cat"], "--classes lists 'cat' more than once")


def test_missing_user_path_is_a_user_error(tmp_path, capsys):
    _fails_with_one_line(capsys, ["augment", "--image", str(tmp_path / "nope.png")], "nope.png")


def _raise(error):
    def run(args):
        raise error
    return run


def test_a_bug_shows_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    monkeypatch.setattr(augment_command, "_run", _raise(ValueError("an internal invariant broke")))
    assert main(["augment", "--data", "digits"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "an internal invariant broke" in err
    assert "simclip: internal error: ValueError" in err and "please report it" in err
    assert "simclip: error:" not in err


@pytest.mark.parametrize("position", ["first", "last"])
def test_debug_shows_the_traceback_of_a_user_error(monkeypatch, capsys, position):
    monkeypatch.setattr(augment_command, "_run", _raise(SimclipError("bad flag value")))
    argv = ["augment", "--data", "digits"]
    assert main(["--debug", *argv] if position == "first" else [*argv, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith("simclip: error: bad flag value\n")


def test_warnings_are_one_clean_line_and_the_format_is_restored():
    before = warnings.formatwarning
    with clean_warnings():
        line = warnings.formatwarning("skipped 3 files", UserWarning, "/x/simclip/data/folder.py", 50)
    assert line == "simclip: warning: skipped 3 files\n"
    assert warnings.formatwarning is before
    with clean_warnings(debug=True):
        assert warnings.formatwarning is before


def test_a_warning_reaches_the_terminal_as_one_line(tmp_path):
    (tmp_path / "photos").mkdir()
    from PIL import Image

    for i in range(3):
        Image.new("RGB", (8, 8), (i * 80, 0, 0)).save(tmp_path / "photos" / f"{i}.png")
    (tmp_path / "photos" / "broken.png").write_bytes(b"not a png")
    proc = subprocess.run([sys.executable, "-W", "default", "-m", "simclip.cli", "augment", "--data",
                           f"folder:{tmp_path / 'photos'}", "--out", str(tmp_path / "grid.png")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("simclip: warning: "), proc.stderr
    assert "skipped 1 of 4 files" in proc.stderr and "broken.png" in proc.stderr
    assert "UserWarning" not in proc.stderr and ".py:" not in proc.stderr, proc.stderr
