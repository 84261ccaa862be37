"""Flags say what they do, and small outputs read right (issue 12.6, 12.10)."""

import argparse

import pytest
import torch

from simclip.attacks.commands import format_metric
from simclip.cli import build_parser
from simclip.cli.retrieve import _hit
from simclip.cli.zeroshot import parse_classes
from simclip.data import CaptionDataset
from simclip.errors import UsageError

# Commands whose every flag must carry help text.
DOCUMENTED = ("eval", "zeroshot", "retrieve", "augment", "data", "index", "serve", "attack", "video",
              "export")


def _parsers(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def test_every_flag_has_help():
    missing = [f"{' '.join(path)} {action.option_strings[0]}"
               for path, parser in _parsers(build_parser()) if path and path[0] in DOCUMENTED
               for action in parser._actions
               if action.option_strings and action.help is None and action.option_strings[0] != "-h"]
    assert missing == []


def test_run_is_not_called_reserved():
    for path, parser in _parsers(build_parser()):
        if path[:1] in (("index",), ("serve",)):
            runs = [a for a in parser._actions if "--run" in a.option_strings]
            assert all("reserved" not in a.help for a in runs), path


@pytest.mark.parametrize("text, message", [("cat,dog,cat", "'cat' more than once"),
                                           (" , ,", "at least one label")])
def test_classes_must_be_distinct_and_present(text, message):
    with pytest.raises(UsageError, match=message):
        parse_classes(text)
    assert parse_classes(" cat, dog ,apple") == ["cat", "dog", "apple"]


def test_counts_print_as_integers():
    assert format_metric("num_images", 1000.0) == "1000"
    assert format_metric("clean_top1", 100.0) == "100.00"
    assert format_metric("control_top1", float("nan")) == "n/a"


def test_query_hits_name_the_split_and_file():
    data = CaptionDataset(images=torch.zeros(2, 3, 4, 4, dtype=torch.uint8), captions=[["a"], ["b"]],
                          name="captions:x.csv", split="test", files=["img/a.png", "img/b.png"])
    assert _hit(data, 1, 0.5) == {"split": "test", "index": 1, "score": 0.5, "caption": "b",
                                  "file": "img/b.png"}
    data.files = None
    assert "file" not in _hit(data, 0, 0.5)
