"""The typed objective options: unknown keys and bad values name ``objective.KEY``; a config
survives ``to_dict`` -> JSON -> ``from_dict``; the defaults are the ones runs have always used."""

import json

import pytest

from simclip.train.config import ConfigError
from simclip.train.objectives import CLIPObjectiveConfig, SimCLRObjectiveConfig, objective_config

OLD_SIMCLR_DEFAULTS = {"temperature": 0.5, "n_views": 2, "policy": None, "policy_options": {}, "view_size": None}
OLD_CLIP_DEFAULTS = {"loss": "clip", "policy": None, "policy_options": {}, "templates": None, "tokenizer": "clip"}


def test_defaults_are_the_old_objective_defaults():
    from simclip.recipes import clip, simclr

    assert SimCLRObjectiveConfig().to_dict() == OLD_SIMCLR_DEFAULTS == simclr.OBJECTIVE_DEFAULTS
    assert CLIPObjectiveConfig().to_dict() == OLD_CLIP_DEFAULTS == clip.OBJECTIVE_DEFAULTS
    assert SimCLRObjectiveConfig.from_dict({}) == SimCLRObjectiveConfig()


@pytest.mark.parametrize("cls, method", [(SimCLRObjectiveConfig, "simclr"), (CLIPObjectiveConfig, "clip")])
def test_unknown_key_is_named_with_the_known_ones(cls, method):
    with pytest.raises(ConfigError) as err:
        cls.from_dict({"temprature": 0.2})
    message = str(err.value)
    assert "objective.temprature" in message and method in message
    assert all(name in message for name in cls().to_dict())


@pytest.mark.parametrize("options, field", [
    ({"temperature": 0}, "objective.temperature"),
    ({"temperature": -0.5}, "objective.temperature"),
    ({"temperature": float("nan")}, "objective.temperature"),
    ({"temperature": float("inf")}, "objective.temperature"),
    ({"temperature": "hot"}, "objective.temperature"),
    ({"temperature": True}, "objective.temperature"),
    ({"n_views": 1}, "objective.n_views"),
    ({"n_views": 2.0}, "objective.n_views"),
    ({"n_views": True}, "objective.n_views"),
    ({"view_size": 0}, "objective.view_size"),
    ({"view_size": 20.5}, "objective.view_size"),
    ({"policy": "sepia"}, "sepia"),
    ({"policy": 3}, "objective.policy"),
    ({"policy_options": [1]}, "objective.policy_options"),
])
def test_bad_simclr_value_names_its_field(options, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        SimCLRObjectiveConfig.from_dict(options)


@pytest.mark.parametrize("options, field", [
    ({"loss": "triplet"}, "objective.loss"),
    ({"tokenizer": "bpe"}, "objective.tokenizer"),
    ({"tokenizer": "bpe:many"}, "objective.tokenizer"),
    ({"tokenizer": 5}, "objective.tokenizer"),
    ({"policy": "sepia"}, "sepia"),
    ({"policy_options": None}, "objective.policy_options"),
    ({"templates": "a photo of a {}."}, "objective.templates"),
    ({"templates": [1]}, "objective.templates"),
])
def test_bad_clip_value_names_its_field(options, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        CLIPObjectiveConfig.from_dict(options)


def test_round_trip_through_json():
    simclr = SimCLRObjectiveConfig(temperature=0.2, n_views=4, policy="simclr-gray",
                                   policy_options={"flip_p": 0.0}, view_size=18)
    clip = CLIPObjectiveConfig(loss="siglip", policy="simclr", templates=["a photo of a {}."], tokenizer="bpe:512")
    for cfg, method in [(simclr, "simclr"), (clip, "clip")]:
        again = objective_config(json.loads(json.dumps(cfg.to_dict())), method)
        assert again == cfg and type(again) is type(cfg)
    assert clip.bpe_vocab_size == 512 and CLIPObjectiveConfig().bpe_vocab_size is None


def test_configs_are_frozen():
    cfg = SimCLRObjectiveConfig()
    with pytest.raises(AttributeError):
        cfg.temperature = 0.1  # type: ignore[misc]
