"""Paired training through the one loop: the objective learns a fixed batch, a seeded run is
reproducible, resuming continues exactly, and the evaluation reports retrieval beside chance."""

import json

import pytest
import torch

from simclip.data.paired import load_paired_dataset
from simclip.data.world import make_world
from simclip.pairs import build_pair, evaluate_pairs, load_pair_run, pair_config, run_pairs
from simclip.train.config import ConfigError, read_run_config

MODALITIES = ["image", "audio", "depth", "points", "text"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"), 60, seed=2, videos=0)


def _cfg(world, out, **overrides):
    return pair_config(data=f"pairs:{world}", out=str(out), batch_size=16, progress=False, eval_protocols=(),
                       objective={"modalities": MODALITIES, "anchor": "image"}, **overrides)


def test_loss_goes_down_on_a_fixed_batch(world, tmp_path):
    torch.manual_seed(0)
    cfg = _cfg(world, tmp_path)
    model, objective = build_pair(cfg)
    data = load_paired_dataset(f"pairs:{world}", "train", MODALITIES)
    batch = data.take(torch.arange(16))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(15):
        loss, metrics = objective(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        objective.after_step(model)
        losses.append(loss.item())
    assert set(metrics) >= {"loss_audio", "loss_text", "logit_scale_points"}
    assert losses[-1] < 0.5 * losses[0]


def _weights(run):
    model, _ = load_pair_run(run)
    return model.state_dict()


def _constant_lr(cfg):
    """A flat schedule, so that a 1-epoch run resumed to 2 epochs can equal a 2-epoch run."""
    cfg.optim.warmup_fraction, cfg.optim.min_lr_fraction = 0.0, 1.0
    return cfg


def test_a_seeded_run_is_reproducible_and_resumes_exactly(world, tmp_path):
    a = run_pairs(_constant_lr(_cfg(world, tmp_path / "a", epochs=2, seed=4)))
    b = run_pairs(_constant_lr(_cfg(world, tmp_path / "b", epochs=2, seed=4)))
    run_pairs(_constant_lr(_cfg(world, tmp_path / "c", epochs=1, seed=4)))
    saved = json.loads((tmp_path / "c" / "config.json").read_text())
    assert saved["method"] == "pair" and saved["objective"]["anchor"] == "image"
    resumed = read_run_config(tmp_path / "c", "pair")
    resumed.epochs = 2
    c = run_pairs(resumed, resume=True)
    assert a["steps"] == b["steps"] == c["steps"] == 6
    wa, wb, wc = _weights(tmp_path / "a"), _weights(tmp_path / "b"), _weights(tmp_path / "c")
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=0, atol=0)
        torch.testing.assert_close(wa[key], wc[key], rtol=0, atol=0)
    other = run_pairs(_cfg(world, tmp_path / "d", epochs=1, seed=5))
    assert other["steps"] == 3 and not torch.equal(_weights(tmp_path / "d")["logit_scale.audio"],
                                                    wa["logit_scale.audio"])


def test_evaluation_reports_every_tower_and_retrieval_with_chance(world, tmp_path):
    run_pairs(_cfg(world, tmp_path, epochs=1))
    model, _ = load_pair_run(tmp_path)
    train = load_paired_dataset(f"pairs:{world}", "train", MODALITIES)
    test = load_paired_dataset(f"pairs:{world}", "test", MODALITIES)
    result = evaluate_pairs(model, train, test, labels=["shape", "color"])
    assert result["retrieval.chance_R@1"] == pytest.approx(100 / 12)
    for m in ("audio", "depth", "points", "text"):
        assert 0 <= result[f"retrieval.{m}_to_image_R@1"] <= result[f"retrieval.{m}_to_image_R@5"] <= 100
    for m in MODALITIES:
        assert 0 <= result[f"{m}.color.linear_top1"] <= 100 and 0 <= result[f"{m}.shape.knn_top1"] <= 100
    assert result["chance.color"] == pytest.approx(100 / 6)
    with pytest.raises(ConfigError, match="no label column"):
        evaluate_pairs(model, train, test, labels=["texture"])


@pytest.mark.parametrize("objective, message", [
    ({"modalities": ["image"]}, "two or more"),
    ({"modalities": ["image", "smell"]}, "unknown 'smell'"),
    ({"modalities": ["image", "audio"], "anchor": "depth"}, "objective.anchor 'depth'"),
    ({"modalities": ["image", "audio"], "temperature": 0.1}, "objective.temperature"),
])
def test_bad_objective_options_are_named_before_any_data_is_read(tmp_path, objective, message):
    with pytest.raises(ConfigError, match=message):
        run_pairs(pair_config(data="pairs:/no/such.csv", out=str(tmp_path), objective=objective))
