"""Spec strings: valid forms parse, bad ones raise DatasetSpecError naming the spec and the forms."""
import pytest

from simclip.data import DatasetSpecError, list_dataset_forms, load_caption_dataset, load_dataset
from simclip.data.spec import parse_spec


def test_forms_list_every_kind():
    forms = list_dataset_forms()
    assert forms == ["digits", "shapes", "mnist:PATH", "cifar10:PATH", "cifar100:PATH",
                     "folder:PATH", "captions:FILE", "pairs:FILE", "videos:DIR", "wds:SHARDS"]
    described = list_dataset_forms(describe=True)
    assert len(described) == len(forms)
    assert all(line.startswith(form) and "options:" in line for line, form in zip(described, forms))


def test_parse_kind_path_and_options(tmp_path):
    spec = parse_spec(f"folder:{tmp_path}?size=64&channels=1&strict=true")
    assert (spec.kind, spec.path) == ("folder", tmp_path)
    assert spec.int_option("size", None) == 64
    assert spec.choice_option("channels", ("1", "3"), "3") == "1"
    assert spec.bool_option("strict", False) is True
    assert parse_spec("digits").path is None and parse_spec("  shapes ").kind == "shapes"


@pytest.mark.parametrize("spec, reason", [
    ("imagenet", "unknown dataset kind 'imagenet'"),
    ("", "unknown dataset kind ''"),
    ("mnist", "mnist needs a path"),
    ("mnist:", "mnist needs a path"),
    ("digits:/tmp", "digits is built in and takes no path"),
    ("mnist:/no/such/folder", "does not exist"),
    ("digits?size=big", "is not an integer"),
    ("digits?size=0", "must be >= 1"),
    ("digits?color=red", "unknown option 'color'"),
    ("digits?size", "is not key=value"),
    ("digits?size=8&size=9", "given twice"),
    ("shapes?label=texture", "must be one of shape, color, size, position, pair"),
])
def test_bad_specs_name_spec_and_list_forms(spec, reason):
    with pytest.raises(DatasetSpecError) as info:
        load_dataset(spec)
    message = str(info.value)
    assert repr(spec) in message and reason in message
    assert all(form in message for form in list_dataset_forms())
    assert isinstance(info.value, ValueError)


def test_path_kind_checked(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetSpecError, match="is not a folder"):
        parse_spec(f"folder:{tmp_path / 'notes.txt'}")
    with pytest.raises(DatasetSpecError, match="not a .csv or .jsonl file"):
        parse_spec(f"captions:{tmp_path / 'notes.txt'}")
    with pytest.raises(DatasetSpecError, match="not a .csv or .jsonl file"):
        parse_spec(f"captions:{tmp_path}")


def test_size_option_and_argument_must_agree():
    assert load_dataset("digits?size=12").image_size == 12
    assert load_dataset("digits?size=12", image_size=12).image_size == 12
    with pytest.raises(DatasetSpecError, match="contradicts image_size=10"):
        load_dataset("digits?size=12", image_size=10)
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("digits", image_size=0)


def test_bad_split_and_type():
    with pytest.raises(ValueError, match="split must be one of train, test, got 'validation'"):
        load_dataset("digits", split="validation")
    with pytest.raises(ValueError, match="split"):
        load_caption_dataset("shapes", split="dev")
    with pytest.raises(TypeError, match="dataset spec must be a str"):
        load_dataset(None)
