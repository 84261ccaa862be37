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
