"""Experiment trackers of a run (``--logger``): names, defaults, and what TensorBoard, wandb (offline)
and MLflow (a file store) hold after a short run, read back through their own formats."""

import json
import struct
import sys
import time

import pytest

from simclip.errors import MissingDependencyError, UnknownNameError
from simclip.train import TrainConfig, train
from simclip.train.logger import read_metrics
from simclip.train.loggers import LOGGERS, flat_params, logger_names
from tests.reliability.toy import PoisonedObjective, toy_config, toy_data, toy_model

STEPS = 16  # toy_config: 2 epochs of 8 steps, a row logged every step


def _run(tmp_path, **kw):
    cfg = toy_config(tmp_path / "run", checkpoint_every=1000, **kw)
    result = train(cfg, toy_model(), PoisonedObjective(), toy_data())
    return cfg, result, read_metrics(cfg.out)


def _losses(rows):
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _no_tensorboard(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)


def test_an_unknown_name_is_one_error_listing_the_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        TrainConfig(loggers=("tensorboard", "neptune")).validate()
    message = str(err.value)
    assert "'neptune'" in message and "\n" not in message
    assert all(name in message for name in LOGGERS)


def test_jsonl_is_always_written_and_named_once():
    assert logger_names(()) == ("jsonl",)
    assert logger_names(("jsonl", "jsonl")) == ("jsonl",)


def test_the_default_adds_tensorboard_only_where_it_is_installed(monkeypatch):
    assert logger_names(None) == ("jsonl", "tensorboard")
    _no_tensorboard(monkeypatch)
    assert logger_names(None) == ("jsonl",)
    with pytest.raises(MissingDependencyError, match=r"pip install 'simclip\[tensorboard\]'"):
        logger_names(("tensorboard",))


def test_a_default_run_without_tensorboard_writes_its_metrics(tmp_path, monkeypatch):
    _no_tensorboard(monkeypatch)
    cfg, result, rows = _run(tmp_path)
    assert sorted(_losses(rows)) == list(range(1, STEPS + 1)) and result["steps"] == STEPS
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_flat_params_names_nested_fields_by_dotted_key():
    flat = flat_params({"optim": {"lr": 0.3, "betas": (0.9, 0.99)}, "model": {}, "time_budget": None})
    assert flat == {"optim.lr": 0.3, "optim.betas": "[0.9, 0.99]", "model": "{}", "time_budget": "None"}


def test_tensorboard_holds_scalars_config_curves_and_final_metrics(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, result, rows = _run(tmp_path, loggers=("tensorboard",))
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert {e.step: pytest.approx(e.value) for e in events.Scalars("loss")} == _losses(rows)
    assert [e.value for e in events.Scalars("final/steps")] == [STEPS]
    assert '"batch_size": 8' in events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert events.Images("curves")[0].width > 100 and result["steps"] == STEPS


def _wandb_records(path):
    """The records of a ``.wandb`` file: a 7-byte header, then LevelDB-log chunks (crc32, length,
    type; FULL=1, FIRST=2, MIDDLE=3, LAST=4) in 32 KiB blocks, each record a protobuf."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, pending = path.read_bytes(), 7, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a chunk header is padding
            pos += 32768 - pos % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0:
            break
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _finished_records(path, timeout=30.0):
    """The records once the run's exit record is written: wandb's service process may still be
    writing the file when ``finish()`` returns."""
    deadline = time.monotonic() + timeout
    while True:
        records = list(_wandb_records(path))
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def _items(items):
    return {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}


def test_wandb_offline_run_holds_metrics_config_curves_and_summary(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    (tmp_path / "wandb-dir").mkdir()
    _, _, rows = _run(tmp_path, loggers=("wandb",))
    run_id = json.loads((tmp_path / "run" / "tracking.json").read_text())["wandb"]
    [path] = (tmp_path / "wandb-dir").rglob(f"run-{run_id}.wandb")
    history, config, summary = {}, {}, {}
    for record in _finished_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = _items(record.history.item)
            history.setdefault(row["_step"], {}).update(row)
        elif kind == "config":
            config.update(_items(record.config.update))
        elif kind == "summary":
            summary.update(_items(record.summary.update))
    assert {s: r["loss"] for s, r in history.items() if "loss" in r} == pytest.approx(_losses(rows))
    assert config["batch_size"] == 8 and config["optim"]["lr"] == 1e-2
    assert summary["final/steps"] == STEPS and summary["final/interrupted"] is False
    assert history[STEPS]["curves/_type"] == "image-file"
    assert list(path.parent.rglob("curves_*.png"))


def test_mlflow_file_store_run_holds_params_metrics_curves_and_resumes(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks file stores to opt in
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "toy")
    cfg, _, rows = _run(tmp_path, loggers=("mlflow",))
    run_id = json.loads((tmp_path / "run" / "tracking.json").read_text())["mlflow"]
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert client.get_experiment(run.info.experiment_id).name == "toy"
    assert run.data.params["batch_size"] == "8" and float(run.data.params["optim.lr"]) == 1e-2
    assert {m.step: m.value for m in client.get_metric_history(run_id, "loss")} == pytest.approx(_losses(rows))
    assert run.data.metrics["final/steps"] == STEPS
    assert [a.path for a in client.list_artifacts(run_id, "images")] == ["images/curves.png"]

    cfg.epochs = 3  # resumed with one more epoch: the same MLflow run goes on
    train(cfg, toy_model(), PoisonedObjective(), toy_data(), resume=True)
    assert max(m.step for m in client.get_metric_history(run_id, "loss")) == STEPS + 8
    assert client.get_run(run_id).data.metrics["final/steps"] == STEPS + 8
    assert len(client.search_runs([run.info.experiment_id])) == 1
