"""Non-finite losses and gradients in the one loop: skipped and counted, and never saved.

A toy contrastive objective turns one step non-finite in one of three ways: a NaN loss, a NaN
pixel in the batch (which also reaches the BatchNorm running statistics in the forward pass), or a
finite loss whose gradient is NaN. A skipped step must leave the model exactly as it was — its
weights, its BatchNorm buffers and the optimiser — and after ``max_bad_steps`` in a row the run
stops with an error while its newest checkpoint stays finite and loadable.
"""

import pytest
import torch
from torch import nn

from simclip.data import ImageDataset
from simclip.losses import nt_xent
from simclip.train import OptimConfig, TrainConfig, TrainingError, train
from simclip.train.checkpoint import list_checkpoints, load_checkpoint

N, BATCH = 64, 8  # 8 steps per epoch


class PoisonedObjective:
    """NT-Xent on two views (the image and its mirror); chosen steps (1-based) go non-finite."""

    def __init__(self, nan_loss=(), nan_input=(), nan_grad=()):
        self.nan_loss, self.nan_input, self.nan_grad = set(nan_loss), set(nan_input), set(nan_grad)
        self.step = 0

    def inputs(self, batch):
        self.step += 1
        x = batch[0].float() / 255
        if self.step in self.nan_input:
            x[0, 0, 0, 0] = float("nan")  # one corrupt pixel
        return (torch.cat([x, x.flip(-1)]),)

    def embed(self, model, inputs):
        return model(inputs[0])

    def loss(self, model, z):
        loss = nt_xent(z.view(2, -1, z.shape[-1]), temperature=0.5)
        if self.step in self.nan_loss:
            loss = loss * float("nan")
        if self.step in self.nan_grad:  # d/dw sqrt(|w - w|^2) at 0 is inf * 0 = NaN; the value is 0
            w = model[1].weight
            loss = loss + torch.sqrt(((w - w.detach()) ** 2).sum())
        return loss, {}

    def state_dict(self):
        return {"step": self.step}

    def load_state_dict(self, state):
        self.step = state["step"]


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))


def _data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (N, 1, 4, 4), dtype=torch.uint8, generator=g)
    return ImageDataset(images=images, labels=None, classes=[], name="toy", split="train")


def _cfg(out, **kw):
    settings = dict(data="toy", batch_size=BATCH, epochs=2, precision="fp32", channels_last=False,
                    progress=False, log_every=1, checkpoint_every=1, keep_checkpoints=100,
                    optim=OptimConfig(name="adamw", lr=1e-2, lr_scaling="none"))
    return TrainConfig(out=str(out), **{**settings, **kw})


def _checkpoint(run, step):
    weights, state, _ = load_checkpoint(run, step)
    return weights, state


def _all_finite(tensors):
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


def test_each_kind_of_nonfinite_step_is_skipped_exactly(tmp_path):
    bad = {"nan_loss": [3], "nan_input": [6], "nan_grad": [9]}
    result = train(_cfg(tmp_path), _model(), PoisonedObjective(**bad), _data())
    assert result["steps"] == 16 and result["skipped_steps"] == 3
    for step in (3, 6, 9):  # the model after a skipped step is bitwise the model before it
        before, after = _checkpoint(tmp_path, step - 1)[0], _checkpoint(tmp_path, step)[0]
        assert all(torch.equal(before[k], after[k]) for k in before), step
    for step in list_checkpoints(tmp_path):
        weights, state = _checkpoint(tmp_path, step)
        assert _all_finite(weights.values()), step
    adam = _checkpoint(tmp_path, 16)[1]["optimizer"]["state"]
    assert {int(s["step"]) for s in adam.values()} == {16 - 3}  # optimiser steps actually taken


@pytest.mark.parametrize("kind", ["nan_loss", "nan_input", "nan_grad"])
def test_k_nonfinite_steps_in_a_row_stop_the_run_and_keep_the_last_good_checkpoint(tmp_path, kind):
    cfg = _cfg(tmp_path, max_bad_steps=3, keep_checkpoints=2)
    objective = PoisonedObjective(**{kind: range(5, 17)})  # every step from the 5th on
    with pytest.raises(TrainingError, match=r"not finite for 3 steps in a row") as info:
        train(cfg, _model(), objective, _data())
    assert "checkpoints" in str(info.value) and "intact" in str(info.value)
    weights, state, step = load_checkpoint(tmp_path)
    assert step == 6 and _all_finite(weights.values())
    assert state["loop"]["skipped_steps"] == 2  # steps 5 and 6; the error came at step 7
    clean = tmp_path / "clean"  # the same run without the fault: its model after step 4
    train(_cfg(clean), _model(), PoisonedObjective(), _data())
    good = _checkpoint(clean, 4)[0]
    assert all(torch.equal(weights[k], good[k]) for k in good)
