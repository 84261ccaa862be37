"""``--logger`` on both train commands: a bad name is one line and exit 2; the trackers named record
the run (MLflow into a file store, read back through its client), also when it is resumed."""

import json

import pytest

from simclip.cli import main

CLIP = ["clip", "train", "--data", "shapes?n=256", "--model", "small-cnn-32", "--batch-size", "64",
        "--precision", "fp32", "--no-progress", "--lr", "0.002"]  # 4 steps an epoch
SIMCLR = ["simclr", "train", "--data", "digits", "--encoder", "small-cnn", "--batch-size", "256",
          "--precision", "fp32", "--no-progress", "--view-size", "20"]  # 5 steps an epoch


@pytest.mark.parametrize("command", [SIMCLR, CLIP])
def test_an_unknown_logger_is_one_line_listing_the_valid_ones(command, tmp_path, capsys):
    assert main(command + ["--out", str(tmp_path / "r"), "--logger", "tensorboard,comet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'comet'" in err
    assert all(name in err for name in ("jsonl", "tensorboard", "wandb", "mlflow"))
    assert not (tmp_path / "r").exists()  # refused before the run folder is made


def test_logger_flag_records_the_run_in_mlflow_and_the_config(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run = tmp_path / "run"
    # zero-shot and retrieval at the end: metric names such as image_to_text_R@1 reach MLflow too
    assert main(CLIP + ["--epochs", "1", "--out", str(run), "--logger", "mlflow", "--eval", "zeroshot,retrieval"]) == 0
    assert json.loads((run / "config.json").read_text())["loggers"] == ["mlflow"]
    assert not (run / "tensorboard").exists()  # only the trackers named, beside metrics.jsonl
    run_id = json.loads((run / "tracking.json").read_text())["mlflow"]
    client = MlflowClient(uri)
    tracked = client.get_run(run_id).data
    assert tracked.params["batch_size"] == "64" and tracked.params["model.name"] == "small-cnn-32"
    assert tracked.metrics["final/steps"] == 4 and "eval/image_to_text_R_1" in tracked.metrics
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert tracked.metrics["eval/image_to_text_R_1"] == pytest.approx(rows[-1]["eval/image_to_text_R@1"])

    # resumed with one more epoch and TensorBoard added: the same MLflow run goes on
    args = ["clip", "train", "--resume", str(run), "--epochs", "2", "--no-progress", "--logger", "mlflow,tensorboard"]
    assert main(args) == 0
    assert client.get_run(run_id).data.metrics["final/steps"] == 8
    assert list((run / "tensorboard").glob("events.*"))
