"""The gradient cache gives the gradients of one full-batch step, logit_scale included."""

import contextlib

import pytest
import torch

from simclip.train import forward_backward
from tests.train.toy import ToyCLIPObjective, ToyDual, ToyNTXentObjective


def _grads(objective, micro_batch, x):
    torch.manual_seed(0)
    model = ToyDual().double()
    forward_backward(objective, model, (x,), autocast=contextlib.nullcontext, micro_batch=micro_batch)
    return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("objective", [ToyCLIPObjective(), ToyNTXentObjective(),
                                       ToyCLIPObjective(block_size=4)], ids=["clip", "ntxent", "clip-tiled"])
@pytest.mark.parametrize("micro_batch", [1, 3, 5])
def test_gradient_cache_equals_full_batch(objective, micro_batch):
    x = torch.randn(10, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    full = _grads(objective, None, x)
    cached = _grads(objective, micro_batch, x)
    if isinstance(objective, ToyNTXentObjective):
        assert "logit_scale" not in full
    else:
        assert full["logit_scale"].abs() > 0
    assert cached.keys() == full.keys()
    for name in full:
        torch.testing.assert_close(cached[name], full[name], rtol=1e-10, atol=1e-12, msg=name)


def test_gradient_cache_leaves_batchnorm_statistics_as_one_pass():
    torch.manual_seed(0)
    bn_model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5))

    class Obj(ToyNTXentObjective):
        def embed(self, model, inputs):
            return model(inputs[0])

    x = torch.randn(8, 12)
    forward_backward(Obj(), bn_model, (x,), autocast=contextlib.nullcontext, micro_batch=4)
    # 4 chunks of 4 views each with grad -> 4 running-stat updates, none from the graph-free pass
    assert int(bn_model[1].num_batches_tracked) == 4
