"""Trackers when a run does not go straight through: a step that raises still leaves every tracker
closed (marked failed) with every row up to the crash in its files, and the resumed run records the
steps it trains again once — TensorBoard hides the failed attempt's rows after the checkpoint
(purge_step), MLflow skips the steps it holds."""

import json

import pytest

from simclip.train import train
from simclip.train import logger as run_logger
from simclip.train.logger import read_metrics
from tests.reliability.toy import PoisonedObjective, toy_config, toy_data, toy_model

CHECKPOINT_EVERY, CRASH_STEP, STEPS = 4, 11, 16  # the crash: 2 rows after the checkpoint of step 8


class CrashingObjective(PoisonedObjective):
    """The toy objective, raising in the forward pass of step ``crash_at`` (1-based)."""

    def __init__(self, crash_at=None):
        super().__init__()
        self.crash_at = crash_at

    def inputs(self, batch):
        if self.step + 1 == self.crash_at:
            raise RuntimeError("the data loader broke")
        return super().inputs(batch)


def _config(out, loggers):
    return toy_config(out, checkpoint_every=CHECKPOINT_EVERY, loggers=loggers)


def _scalars(run, tag):
    """``[(step, value)]`` of ``tag`` as TensorBoard shows it (purged events left out)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_a_step_that_raises_leaves_the_trackers_closed_and_their_files_complete(tmp_path, monkeypatch):
    closed = []
    create = run_logger.create_logger

    def recording(name, *args):
        backend = create(name, *args)
        close = backend.close
        backend.close = lambda failed=False: (closed.append((name, failed)), close(failed))[1]
        return backend

    monkeypatch.setattr(run_logger, "create_logger", recording)
    cfg = _config(tmp_path / "run", ("tensorboard",))
    with pytest.raises(RuntimeError, match="the data loader broke"):
        train(cfg, toy_model(), CrashingObjective(CRASH_STEP), toy_data())
    assert closed == [("jsonl", True), ("tensorboard", True)]
    logged = list(range(1, CRASH_STEP))
    assert [r["step"] for r in read_metrics(cfg.out)] == logged
    assert [step for step, _ in _scalars(tmp_path / "run", "loss")] == logged  # flushed, not left in a queue


def test_a_resumed_run_records_each_step_once(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "crash")
    cfg = _config(tmp_path / "run", ("tensorboard", "mlflow"))
    with pytest.raises(RuntimeError):
        train(cfg, toy_model(), CrashingObjective(CRASH_STEP), toy_data())
    run_id = json.loads((tmp_path / "run" / "tracking.json").read_text())["mlflow"]
    client = MlflowClient(uri)
    assert client.get_run(run_id).info.status == "FAILED"

    train(cfg, toy_model(), CrashingObjective(), toy_data(), resume=True)  # from the checkpoint of step 8
    rows = read_metrics(cfg.out)
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    tensorboard = _scalars(tmp_path / "run", "loss")
    assert [step for step, _ in tensorboard] == list(range(1, STEPS + 1))  # steps 9, 10 once
    assert [v for _, v in tensorboard] == pytest.approx([r["loss"] for r in rows])
    mlflow = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "loss"))
    assert [step for step, _ in mlflow] == list(range(1, STEPS + 1))
    assert [v for _, v in mlflow] == pytest.approx([r["loss"] for r in rows])
    assert client.get_run(run_id).info.status == "FINISHED"
