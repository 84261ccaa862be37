"""SIGKILL and Ctrl-C against real ``python -m simclip.cli simclr train`` processes.

A run is killed at a random moment after its first checkpoint; a copy of what it left is resumed
once without trouble (the reference), while the original is resumed, killed again in the middle of
a checkpoint write, resumed and interrupted with SIGINT, and resumed to the end. Both must end
with bitwise identical weights and the same loss at every step: resuming is exact. (The reference
starts from the first kill's checkpoint rather than from scratch because a fresh run's
initialisation is not seeded by ``--seed``.) ``benchmarks/reliability.py`` runs the long campaign.
"""

import random
import re

import pytest

from simclip.train import train
from simclip.train.checkpoint import list_checkpoints
from tests.reliability import harness as h
from tests.reliability.toy import PoisonedObjective, toy_config, toy_data, toy_model


def test_killed_and_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path):
    config = h.write_config(tmp_path / "tiny.json")
    run = tmp_path / "run"
    rng = random.Random(0)

    first = h.start(h.train_argv(config, run))
    h.wait_for(first, lambda: bool(list_checkpoints(run)))
    kill = h.kill_at_random(first, run, rng, max_delay=0.5)
    assert kill["killed"] and kill["checkpoints"], kill
    start_step = kill["checkpoints"][-1]

    reference = h.start(h.resume_argv(h.copy_run(run, tmp_path / "reference")))
    write_kill = h.kill_in_checkpoint_write(h.start(h.resume_argv(run)), run)
    assert write_kill["killed"], write_kill
    assert not list((run / "checkpoints").glob(".*.tmp")) or write_kill["caught_mid_write"]

    interrupted = h.interrupt(h.start(h.resume_argv(run)), run)
    assert interrupted.code == 130, interrupted.err
    assert "--resume" in interrupted.out and "Traceback" not in interrupted.err
    stopped_at = int(re.search(r"interrupted .*?: (\d+) steps", interrupted.out).group(1))
    assert list_checkpoints(run)[-1] == stopped_at  # saved where it stopped, not at an older step

    last = h.finish(h.start(h.resume_argv(run)))
    ref = h.finish(reference)
    assert last.code == 0 and ref.code == 0, (last.err, ref.err)
    step, weights = h.newest_weights(run)
    ref_step, ref_weights = h.newest_weights(tmp_path / "reference")
    assert step == ref_step == 88 and h.same_weights(weights, ref_weights)
    curve, ref_curve = h.losses_by_step(run), h.losses_by_step(tmp_path / "reference")
    assert all(len(v) == 1 for v in curve.values())  # replayed steps logged the same loss again
    assert h.curves_agree(ref_curve, curve, from_step=start_step + 1)


def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_over(tmp_path):
    with pytest.warns(UserWarning, match="no checkpoint yet"):
        result = train(toy_config(tmp_path), toy_model(), PoisonedObjective(), toy_data(), resume=True)
    assert result["steps"] == 16 and list_checkpoints(tmp_path)[-1] == 16
