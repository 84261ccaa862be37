"""Non-finite losses and gradients in the one loop: skipped and counted, and never saved.

A toy contrastive objective turns one step non-finite in one of three ways: a NaN loss, a NaN
pixel in the batch (which also reaches the BatchNorm running statistics in the forward pass), or a
finite loss whose gradient is NaN. A skipped step must leave the model exactly as it was — its
weights, its BatchNorm buffers and the optimiser — and after ``max_bad_steps`` in a row the run
stops with an error while its newest checkpoint stays finite and loadable.
"""

import pytest
import torch

from simclip.train import TrainingError, train
from simclip.train.checkpoint import list_checkpoints, load_checkpoint
from tests.reliability.toy import PoisonedObjective, toy_config, toy_data, toy_model

def _checkpoint(run, step):
    weights, state, _ = load_checkpoint(run, step)
    return weights, state


def _all_finite(tensors):
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


def test_each_kind_of_nonfinite_step_is_skipped_exactly(tmp_path):
    bad = {"nan_loss": [3], "nan_input": [6], "nan_grad": [9]}
    result = train(toy_config(tmp_path), toy_model(), PoisonedObjective(**bad), toy_data())
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
    cfg = toy_config(tmp_path, max_bad_steps=3, keep_checkpoints=2)
    objective = PoisonedObjective(**{kind: range(5, 17)})  # every step from the 5th on
    with pytest.raises(TrainingError, match=r"not finite for 3 steps in a row") as info:
        train(cfg, toy_model(), objective, toy_data())
    assert "checkpoints" in str(info.value) and "intact" in str(info.value)
    weights, state, step = load_checkpoint(tmp_path)
    assert step == 6 and _all_finite(weights.values())
    assert state["loop"]["skipped_steps"] == 2  # steps 5 and 6; the error came at step 7
    clean = tmp_path / "clean"  # the same run without the fault: its model after step 4
    train(toy_config(clean), toy_model(), PoisonedObjective(), toy_data())
    good = _checkpoint(clean, 4)[0]
    assert all(torch.equal(weights[k], good[k]) for k in good)
