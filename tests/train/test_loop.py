"""The training loop's pieces: the schedule's progress under a time budget, the skip rule for
non-finite steps, and the cadence of checkpoints and evaluations."""

import pytest
import torch
from torch import nn

from simclip.train import TrainConfig, TrainingError, train
from simclip.train.checkpoint import list_checkpoints
from simclip.train.loop import LoopState, _finite_gradients, check_bad_steps, due, run_progress, skip_step
from simclip.train.schedule import warmup_cosine
from tests.reliability.toy import PoisonedObjective, toy_config, toy_data, toy_model


def test_progress_without_a_budget_is_the_share_of_steps():
    assert run_progress(25, 100, elapsed=1e6, time_budget=None) == 0.25


def test_progress_with_a_budget_is_whichever_runs_out_first():
    assert run_progress(10, 100, elapsed=30.0, time_budget=60.0) == 0.5  # time ahead of the steps
    assert run_progress(90, 100, elapsed=30.0, time_budget=60.0) == 0.9  # steps ahead of the time
    # when the budget is spent the learning rate is at its floor, though most epochs are left
    at_budget = run_progress(10, 100, elapsed=60.0, time_budget=60.0)
    assert at_budget == 1.0
    assert warmup_cosine(at_budget, peak=1.0, warmup=0.1, floor=0.05) == pytest.approx(0.05)
    # in the warm-up, too, the clock leads: 5% of the budget is half the warm-up, at 2% of the steps
    assert warmup_cosine(run_progress(2, 100, 3.0, 60.0), 1.0, 0.1, 0.05) == pytest.approx(0.5)


def test_skip_counts_bad_steps_in_a_row_and_in_all():
    state = LoopState()
    skipped = [skip_step(state, finite) for finite in (True, False, False, True, False)]
    assert skipped == [False, True, True, False, True]
    assert (state.bad_steps, state.skipped_steps) == (1, 3)


def test_too_many_bad_steps_in_a_row_stop_the_run(tmp_path):
    cfg = TrainConfig(out=str(tmp_path), max_bad_steps=3)
    state = LoopState(step=7, bad_steps=2)
    check_bad_steps(state, cfg)  # two in a row: go on
    state.bad_steps = 3
    with pytest.raises(TrainingError, match=r"not finite for 3 steps in a row \(step 7\).*intact"):
        check_bad_steps(state, cfg)


def test_finite_gradients_sees_nan_and_inf_but_not_large_values():
    model = nn.Linear(3, 2)
    assert _finite_gradients(model)  # no gradients yet
    model.weight.grad = torch.full((2, 3), 1e30)  # a 2-norm in float32 would overflow here
    model.bias.grad = torch.zeros(2)
    assert _finite_gradients(model)
    for bad in (float("nan"), float("inf"), float("-inf")):
        model.bias.grad = torch.tensor([0.0, bad])
        assert not _finite_gradients(model)


def test_due():
    assert [step for step in range(1, 10) if due(step, 3)] == [3, 6, 9]
    assert not any(due(epoch, 0) for epoch in range(1, 5))  # 0: never


def test_checkpoints_every_n_steps_and_at_every_epoch_end(tmp_path):
    # 8 steps per epoch, 2 epochs: every 3rd step, plus the ends of epochs 1 and 2
    train(toy_config(tmp_path, checkpoint_every=3), toy_model(), PoisonedObjective(), toy_data())
    assert list_checkpoints(tmp_path) == [3, 6, 8, 9, 12, 15, 16]


@pytest.mark.parametrize(("eval_every", "at_steps"), [(1, [8, 16]), (2, [16]), (0, [16])])
def test_evaluation_cadence(tmp_path, eval_every, at_steps):
    seen = []

    def evaluate(model):
        assert not model.training
        seen.append(list_checkpoints(tmp_path)[-1])  # the loop saves before it evaluates
        return {"score": 1.0}

    cfg = toy_config(tmp_path, checkpoint_every=1000, eval_every=eval_every)
    result = train(cfg, toy_model(), PoisonedObjective(), toy_data(), evaluate=evaluate)
    assert seen == at_steps  # the last evaluation is not repeated after the last epoch
    assert result["score"] == 1.0
