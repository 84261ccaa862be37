import pytest

from simclip.train import ConfigError, OptimConfig, TrainConfig


@pytest.mark.parametrize("change,field", [
    ({"batch_size": 1}, "batch_size"), ({"epochs": 0}, "epochs"), ({"time_budget": -1.0}, "time_budget"),
    ({"precision": "fp8"}, "precision"), ({"optim": OptimConfig(name="rmsprop")}, "optim.name"),
    ({"optim": OptimConfig(lr=-0.1)}, "optim.lr"), ({"optim": OptimConfig(warmup_fraction=2.0)}, "warmup"),
])
def test_out_of_range_values_name_the_field(change, field):
    cfg = TrainConfig(**change)
    with pytest.raises(ConfigError, match=field):
        cfg.validate()


def test_round_trip_through_json(tmp_path):
    cfg = TrainConfig(data="mnist:/x", batch_size=64, optim=OptimConfig(name="adamw", betas=(0.9, 0.98)),
                      eval_protocols=("knn",), model={"encoder": "small-cnn"})
    cfg.save(tmp_path / "c.json")
    back = TrainConfig.load(tmp_path / "c.json")
    assert back == cfg


def test_unknown_fields_are_rejected(tmp_path):
    (tmp_path / "c.json").write_text('{"batchsize": 3}')
    with pytest.raises(ConfigError, match="batchsize"):
        TrainConfig.load(tmp_path / "c.json")
    (tmp_path / "d.json").write_text('{broken')
    with pytest.raises(ConfigError, match="d.json"):
        TrainConfig.load(tmp_path / "d.json")


def test_handwriting_recipe_builds_its_policy_and_takes_overrides():
    import torch

    from simclip.augment.geometric import RandomRotation
    from simclip.data import load_dataset
    from simclip.recipes import build_simclr, resolve_config

    cfg = resolve_config("simclr", {"out": "unused", "data": "digits", "batch_size": 64}, recipe="handwriting")[0]
    assert cfg.batch_size == 64 and cfg.optim.weight_decay == 0.1 and cfg.objective["temperature"] == 0.15
    model, objective = build_simclr(cfg, load_dataset("digits", split="test"))
    assert any(isinstance(op, RandomRotation) and op.degrees == (-20.0, 20.0) for op in objective.augment.ops)
    assert model.num_features == 256 and objective.state_dict()["generator"].numel() > 0
    views = objective.augment(torch.zeros(2, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    assert views.shape == (2, 1, 18, 18)


def test_view_size_sets_the_side_of_the_augmented_views_only():
    import torch

    from simclip.data import load_dataset
    from simclip.recipes import build_simclr, resolve_config

    data = load_dataset("digits", split="test")
    cfg = resolve_config("simclr", {"out": "unused", "data": "digits", "objective.temperature": 0.2,
                                    "objective.view_size": 20}, recipe="handwriting")[0]
    model, objective = build_simclr(cfg, data)
    views = objective.augment(data.images[:4].float() / 255, generator=torch.Generator().manual_seed(0))
    assert views.shape == (4, 1, 20, 20)
    assert cfg.objective["view_size"] == 20  # written into the run's config
    assert model.encode_image(data.images[:4].float() / 255).shape == (4, 256)  # whole images still encode
