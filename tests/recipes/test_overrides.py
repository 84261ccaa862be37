"""--set KEY=VALUE, partial config files and their validation."""

import pytest

from simclip.recipes import resolve_config
from simclip.recipes.overrides import apply_overrides, flatten, parse_assignments
from simclip.train import TrainConfig
from simclip.train.config import ConfigError


def test_values_parse_as_json_else_text():
    got = parse_assignments(["objective.temperature=0.2", "optim.betas=[0.9, 0.95]", "model.encoder=resnet18",
                             "time_budget=null", "compile=true"])
    assert got == {"objective.temperature": 0.2, "optim.betas": [0.9, 0.95], "model.encoder": "resnet18",
                   "time_budget": None, "compile": True}


@pytest.mark.parametrize("item", ["temperature", "=0.2", ""])
def test_malformed_assignment_names_itself(item):
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_assignments([item])


@pytest.mark.parametrize("key, needle", [("temprature", "temprature"), ("optim.momentun", "optim.momentun"),
                                         ("batch_size.x", "batch_size")])
def test_unknown_keys_name_the_field(key, needle):
    with pytest.raises(ConfigError, match=needle):
        apply_overrides(TrainConfig(), {key: 1})


def test_nested_and_typed_values_land_where_they_belong():
    cfg = apply_overrides(TrainConfig(), {"objective.policy_options.flip_p": 0.0, "optim.lr": 1,
                                          "optim.betas": [0.9, 0.95], "eval_protocols": "linear,knn",
                                          "batch_size": 64.0, "model.text.context_length": 24})
    assert cfg.objective == {"policy_options": {"flip_p": 0.0}} and cfg.model == {"text": {"context_length": 24}}
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float) and cfg.optim.betas == (0.9, 0.95)
    assert cfg.eval_protocols == ("linear", "knn") and cfg.batch_size == 64 and isinstance(cfg.batch_size, int)
    cfg.validate()


def test_wrong_types_fail_validation_with_the_field_name():
    cfg = apply_overrides(TrainConfig(), {"batch_size": "many"})
    with pytest.raises(ConfigError, match="batch_size"):
        cfg.validate()


def test_config_files_merge_entry_by_entry():
    flat = flatten({"optim": {"lr": 0.1}, "objective": {"temperature": 0.3, "policy_options": {"flip_p": 0.5}},
                    "epochs": 2, "model": None}, "f.json")
    assert flat == {"optim.lr": 0.1, "objective.temperature": 0.3, "objective.policy_options.flip_p": 0.5,
                    "epochs": 2}
    with pytest.raises(ConfigError, match="f.json"):
        flatten({"optim": 3}, "f.json")


def test_user_values_win_over_the_recipe_entry_by_entry():
    cfg, recipe, profile, _ = resolve_config("simclr", {"data": "digits", "epochs": 2, "batch_size": 32,
                                                        "objective.policy_options.rotation_p": 0.0,
                                                        "model.encoder": "resnet18"})
    assert cfg.recipe == "auto" and profile.n_images == 1437 and cfg.batch_size == 32 and cfg.epochs == 2
    opts = cfg.objective["policy_options"]
    assert opts["rotation_p"] == 0.0 and opts["flip_p"] == 0.0  # the rest of the recipe's options stay
    assert cfg.model["encoder"] == "resnet18" and "encoder_options" not in cfg.model
    assert recipe.settings()["objective.view_size"] == cfg.objective["view_size"] == 18
