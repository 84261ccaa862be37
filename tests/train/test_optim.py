import math

import pytest
import torch
from torch import nn

from simclip.train import LARS, OptimConfig, build_optimizer
from simclip.train.optim import param_groups
from simclip.train.schedule import warmup_cosine


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))


def test_bn_and_bias_are_excluded_from_weight_decay():
    groups = param_groups(_net(), 0.1)
    decay, no_decay = groups
    assert decay["weight_decay"] == 0.1 and all(p.ndim == 2 for p in decay["params"])
    assert no_decay["weight_decay"] == 0.0 and no_decay["lars_exclude"]
    assert len(no_decay["params"]) == 4  # two biases, BN weight and bias


def test_lars_update_matches_a_hand_computation():
    w = nn.Parameter(torch.tensor([3.0, 4.0]))  # |w| = 5
    b = nn.Parameter(torch.tensor([1.0]))
    opt = LARS([{"params": [w], "weight_decay": 0.1, "lars_exclude": False},
                {"params": [b], "weight_decay": 0.0, "lars_exclude": True}],
               lr=0.5, momentum=0.9, trust_coefficient=0.01)
    w.grad = torch.tensor([0.0, 1.0])
    b.grad = torch.tensor([2.0])
    opt.step()
    g = torch.tensor([0.3, 1.4])  # grad + wd * w
    ratio = 0.01 * 5.0 / math.sqrt(0.3**2 + 1.4**2)
    torch.testing.assert_close(w.detach(), torch.tensor([3.0, 4.0]) - 0.5 * ratio * g)
    torch.testing.assert_close(b.detach(), torch.tensor([0.0]))  # excluded: plain SGD step 1 - 0.5*2


@pytest.mark.parametrize("name,cls", [("sgd", torch.optim.SGD), ("adamw", torch.optim.AdamW), ("lars", LARS)])
def test_build_optimizer(name, cls):
    opt = build_optimizer(_net(), OptimConfig(name=name))
    assert isinstance(opt, cls)
    assert [g["weight_decay"] for g in opt.param_groups] == [1e-6, 0.0]


def test_warmup_cosine_shape():
    assert warmup_cosine(0.0, 1.0, 0.1) == 0.0
    assert warmup_cosine(0.05, 1.0, 0.1) == pytest.approx(0.5)
    assert warmup_cosine(0.1, 1.0, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(0.55, 1.0, 0.1) == pytest.approx(0.5)
    assert warmup_cosine(1.0, 1.0, 0.1, floor=0.1) == pytest.approx(0.1)
    assert warmup_cosine(2.0, 1.0, 0.1) == pytest.approx(0.0)


def test_lr_scaling_rules():
    assert OptimConfig(lr=0.3, lr_scaling="linear").peak_lr(512) == pytest.approx(0.6)
    assert OptimConfig(lr=0.3, lr_scaling="sqrt").peak_lr(256) == pytest.approx(0.3)
    assert OptimConfig(lr=0.3, lr_scaling="none").peak_lr(4096) == pytest.approx(0.3)
