"""The parsers that read user text, fuzzed: the CLIP tokenizer, dataset spec strings and caption
files. Each input either parses or fails with the parser's own clear error — never another
exception."""

import os
import string

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simclip.data import CaptionFileError, DatasetSpecError, parse_spec
from simclip.data.caption_files import load_caption_file
from simclip.data.spec import FORMS, DatasetSpec
from simclip.text import Tokenizer
from tests.reliability.corpus import write_caption_images

SOT, EOT = 49406, 49407
# benchmarks/reliability.py runs these with SIMCLIP_FUZZ_EXAMPLES=3000
FUZZ = settings(max_examples=int(os.environ.get("SIMCLIP_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer()


@FUZZ
@given(text=st.text(max_size=400), context_length=st.integers(2, 100))
@example(text="<end_of_text>" * 30, context_length=77)
@example(text="a" * 10_000, context_length=77)
@example(text="\u0000\ufeff\u200b\U0010ffff 漢字 😀 ﷺ", context_length=5)
def test_tokenizer_frames_any_text(tokenizer, text, context_length):
    ids = tokenizer(text, context_length=context_length)
    assert ids.shape == (1, context_length) and ids.dtype == torch.long
    row = ids[0].tolist()
    body = tokenizer.encode(text)
    assert row[0] == SOT and row.count(EOT) == 1 and row.count(SOT) == 1
    assert all(0 <= i < tokenizer.vocab_size for i in row)
    if len(body) + 2 <= context_length:
        assert row[:len(body) + 2] == [SOT, *body, EOT] and not any(row[len(body) + 2:])
    else:
        assert row[-1] == EOT and row[1:-1] == body[:context_length - 2]


def _structured_spec():
    kinds = [form.split(":")[0] for form, _, _ in FORMS]
    keys = sorted({k for _, _, ks in FORMS for k in ks} | {"bogus"})
    option = st.tuples(st.sampled_from(keys), st.text(max_size=6)).map(lambda kv: "=".join(kv))
    return st.builds(lambda kind, colon, path, opts: kind + colon + path + ("?" + "&".join(opts) if opts else ""),
                     st.sampled_from(kinds + ["", "mnist2"]), st.sampled_from(["", ":"]),
                     st.text(max_size=30) | st.sampled_from([".", "/", "/tmp", "~", "~nobody_here/x",
                                                              "a\x00b", "x" * 5000, "{000..003}.tar"]),
                     st.lists(option, max_size=3))


@FUZZ
@given(spec=st.text(max_size=80) | _structured_spec())
@example(spec="folder:~nobody_here/photos")
@example(spec="folder:/tmp/\x00")
@example(spec="captions:" + "y" * 5000 + ".csv")
def test_spec_parser_returns_a_spec_or_a_spec_error(spec):
    try:
        parsed = parse_spec(spec)
    except DatasetSpecError:
        return
    assert isinstance(parsed, DatasetSpec)
    for key in ("size", "n", "workers"):
        try:
            parsed.int_option(key, None)
        except DatasetSpecError:
            pass


@pytest.fixture(scope="module")
def caption_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("captions")
    write_caption_images(folder, n=4)
    return folder


def _quoted(value) -> str:
    """Python's repr with double quotes: JSON-like, and often not quite JSON (the point)."""
    return repr(value).replace("'", '"')


def _caption_bytes():
    """Mostly CSV/JSONL-shaped text that names existing and missing images, plus raw bytes."""
    names = st.sampled_from(["img/0.png", "img/1.png", "img/notes.png", "nope.png", "", "img",
                             "a\x00b", "x" * 300, "/etc/hostname", "../" * 40])
    caption = st.text(alphabet=string.printable + "é漢😀\"',{}[]\\", max_size=40)
    csv_row = st.tuples(names, caption).map(lambda r: f"{r[0]},{r[1]}")
    csv = st.lists(csv_row, max_size=5).map(lambda rows: "\n".join(["image,caption", *rows]))
    json_row = st.tuples(names, caption | st.lists(caption, max_size=2)).map(
        lambda r: f'{{"image": {_quoted(r[0])}, "caption": {_quoted(r[1])}}}')
    jsonl = st.lists(json_row | st.text(max_size=20), max_size=5).map("\n".join)
    return (csv | jsonl).map(lambda t: t.encode("utf-8", "surrogatepass")) | st.binary(max_size=200)


@FUZZ
@given(content=_caption_bytes(), suffix=st.sampled_from([".csv", ".jsonl"]))
@example(content=b'{"image": "img/0.png", "caption": "x"}\n' + b"[" * 100_000, suffix=".jsonl")
@example(content=b'{"image": "img/0.png", "caption": "x", "n": 1' + b"1" * 5000 + b"}\n", suffix=".jsonl")
@example(content=b'{"image": "img/0.png", "caption": "\\ud800"}\n', suffix=".jsonl")
@example(content=b"image,caption\nimg/0.png," + b"w" * 200_000 + b"\n", suffix=".csv")
@example(content=b'{"image": "a\\u0000b", "caption": "x"}\n', suffix=".jsonl")
def test_caption_files_load_or_fail_with_file_and_line(caption_folder, content, suffix):
    path = caption_folder / f"fuzz{suffix}"
    path.write_bytes(content)
    try:
        data = load_caption_file(path)
    except (CaptionFileError, FileNotFoundError) as err:
        assert str(path) in str(err)
        return
    assert len(data) == len(data.captions) >= 1
    for caps in data.captions:
        for caption in caps:
            caption.encode("utf-8")  # every caption can reach the tokenizer
