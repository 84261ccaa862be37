"""Caption CSV/JSONL files: grouping, relative paths, and errors that name file and line."""
import json

import pytest
import torch
from PIL import Image

from simclip.data import CaptionFileError, load_caption_dataset, load_dataset

LONG = "a very long caption " * 500


@pytest.fixture
def images(tmp_path):
    (tmp_path / "img").mkdir()
    for name, colour in (("red.png", (255, 0, 0)), ("blue.png", (0, 0, 255))):
        Image.new("RGB", (12, 12), colour).save(tmp_path / "img" / name)
    return tmp_path


def test_csv_groups_captions_per_image(images):
    path = images / "pairs.csv"
    path.write_text('image,caption,source\nimg/red.png,a red square,x\nimg/blue.png,"a blue, '
                    f'square",y\nimg/red.png,something red,z\nimg/blue.png,{LONG},w\n',
                    encoding="utf-8")
    data = load_caption_dataset(f"captions:{path}")
    assert data.captions == [["a red square", "something red"], ["a blue, square", LONG]]
    assert data.images.shape == (2, 3, 12, 12) and data.images.dtype == torch.uint8
    assert data.images[0, :, 6, 6].tolist() == [255, 0, 0]
    assert data.images[1, :, 6, 6].tolist() == [0, 0, 255]
    assert data.labels is None and data.split == "train"
    plain = load_dataset(f"captions:{path}?size=6&channels=1")
    assert plain.images.shape == (2, 1, 6, 6) and plain.labels is None


def test_jsonl_string_or_list_captions_and_bom(images):
    path = images / "pairs.jsonl"
    rows = [{"image": "img/blue.png", "caption": "blue"}, {},
            {"image": str(images / "img" / "red.png"), "caption": ["red", "crimson ünïcode"]}]
    text = "\n".join("" if not r else json.dumps(r, ensure_ascii=False) for r in rows)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    data = load_caption_dataset(f"captions:{path}", "test")
    assert data.captions == [["blue"], ["red", "crimson ünïcode"]] and data.split == "test"


def test_csv_missing_column_named(images):
    path = images / "pairs.csv"
    path.write_text("image,text\nimg/red.png,red\n")
    with pytest.raises(CaptionFileError, match=r"pairs.csv: missing column 'caption' in the header "
                                               r"row \(found columns: image, text\)"):
        load_caption_dataset(f"captions:{path}")


def test_missing_image_names_line(images):
    path = images / "pairs.csv"
    path.write_text("image,caption\nimg/red.png,red\nimg/green.png,green\n")
    with pytest.raises(FileNotFoundError, match=r"pairs.csv line 3: image 'img/green.png' not found"):
        load_caption_dataset(f"captions:{path}")
    path = images / "pairs.jsonl"
    path.write_text('{"image": "img/red.png", "caption": "red"}\n{"image": "nope.png", "caption": "x"}\n')
    with pytest.raises(FileNotFoundError, match=r"pairs.jsonl line 2: image 'nope.png' not found"):
        load_caption_dataset(f"captions:{path}")


@pytest.mark.parametrize("suffix, content, message", [
    (".csv", b"image,caption\nimg/red.png,red\nimg/blue.png,   \n", r"line 3: empty caption"),
    (".csv", b"image,caption\nimg/red.png,r\xe9d\n", r"line 2: not UTF-8 \(byte 0xe9"),
    (".csv", b"image,caption\nimg/red.png\n", r"line 2: row has fewer fields"),
    (".csv", b"", r"missing column 'image'"),
    (".csv", b"image,caption\n", r"no captions in the file"),
    (".jsonl", b'{"image": "img/red.png", "caption": "red"}\n{"image": "img/red.png"}\n',
     r"line 2: missing field 'caption'"),
    (".jsonl", b'{"image": "img/red.png", "caption": "red"}\n{oops\n', r"line 2: invalid JSON"),
    (".jsonl", b'["img/red.png", "red"]\n', r"line 1: expected a JSON object, got list"),
    (".jsonl", b'{"image": "img/red.png", "caption": 7}\n', r"line 1: 'image' must be a string"),
    (".jsonl", b'{"image": "img/red.png", "caption": ""}\n', r"line 1: empty caption"),
])
def test_malformed_files_name_file_and_line(images, suffix, content, message):
    path = images / f"pairs{suffix}"
    path.write_bytes(content)
    with pytest.raises(CaptionFileError, match=rf"pairs{suffix}:? {message}"):
        load_caption_dataset(f"captions:{path}")


def test_undecodable_image_names_line(images):
    (images / "img" / "broken.png").write_bytes(b"\x89PNG broken")
    path = images / "pairs.csv"
    path.write_text("image,caption\nimg/red.png,red\nimg/broken.png,broken\n")
    with pytest.raises(CaptionFileError, match=r"pairs.csv line 3: .*broken.png: not a decodable"):
        load_caption_dataset(f"captions:{path}")
