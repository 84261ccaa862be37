import pytest

from simclip.eval.templates import get_templates, list_template_sets


def test_imagenet_has_the_80_clip_prompts():
    templates = get_templates("imagenet")
    assert len(templates) == 80 == len(set(templates))
    assert templates[:2] == ["a bad photo of a {}.", "a photo of many {}."]
    assert templates[-1] == "a tattoo of the {}."
    for expected in ("a photo of a {}.", "itap of my {}.", "a {} in a video game.",
                     "a jpeg corrupted photo of the {}."):
        assert expected in templates


@pytest.mark.parametrize(
    ("name", "count", "first"),
    [
        ("cifar10", 18, "a photo of a {}."),
        ("cifar100", 18, "a photo of a {}."),
        ("mnist", 1, 'a photo of the number: "{}".'),
        ("oxford_pets", 1, "a photo of a {}, a type of pet."),
        ("flowers102", 1, "a photo of a {}, a type of flower."),
        ("food101", 1, "a photo of {}, a type of food."),
        ("eurosat", 3, "a centered satellite photo of {}."),
        ("country211", 5, "a photo i took in {}."),
        ("resisc45", 18, "satellite imagery of {}."),
        ("stl10", 2, "a photo of a {}."),
        ("dtd", 8, "a photo of a {} texture."),
        ("fgvc_aircraft", 2, "a photo of a {}, a type of aircraft."),
        ("stanford_cars", 8, "a photo of a {}."),
        ("sun397", 2, "a photo of a {}."),
        ("caltech101", 34, "a photo of a {}."),
    ],
)
def test_per_dataset_templates(name, count, first):
    templates = get_templates(name)
    assert len(templates) == count
    assert templates[0] == first


def test_every_set_has_one_placeholder_per_template():
    for name in list_template_sets():
        for template in get_templates(name, strict=True):
            assert template.count("{}") == 1, (name, template)


def test_names_are_matched_loosely_and_by_alias():
    assert get_templates("Oxford-Pets") == get_templates("pets") == get_templates("oxford_pets")
    assert get_templates("FLOWERS") == get_templates("flowers102")
    assert get_templates("cars") == get_templates("stanford_cars")


def test_fallback_and_strict():
    assert get_templates("no-such-dataset") == ["a photo of a {}."]
    assert get_templates(None) == ["a photo of a {}."]
    with pytest.raises(KeyError, match="no templates for dataset 'no-such-dataset'"):
        get_templates("no-such-dataset", strict=True)


def test_returned_list_is_a_copy():
    get_templates("mnist").append("mutated {}")
    assert get_templates("mnist") == ['a photo of the number: "{}".']
