"""MLflow (the ``mlflow`` extra), through its client: no global active run is left behind.
MLflow's own settings apply: ``MLFLOW_TRACKING_URI`` (a server, ``sqlite:///mlflow.db``, or a
folder ``file:///path/mlruns``), ``MLFLOW_EXPERIMENT_NAME`` (default ``simclip``)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from simclip.train.loggers.base import TrackerError, finite_numbers, flat_params

_BATCH = 100  # MLflow takes at most 100 parameters per request (1000 metrics)
_MAX_VALUE = 6000  # characters of a parameter value MLflow stores
_NOT_IN_NAMES = re.compile(r"[^\w\-. :/]")  # MLflow's metric and parameter names allow only these


def mlflow_name(name: str) -> str:
    """``name`` as MLflow accepts it: ``eval/image_to_text_R@1`` -> ``eval/image_to_text_R_1``."""
    return _NOT_IN_NAMES.sub("_", name)


class MlflowLogger:
    """One MLflow run per simclip run, named after the run folder, in experiment ``simclip``; a
    resumed simclip run continues the MLflow run it started. Parameters are the config's fields
    by dotted name (``optim.lr``); metrics per step; images as artifacts under ``images/``; the
    final metrics as ``final/*`` at the last step."""

    name = "mlflow"

    def __init__(self, run_dir: Path, resume_id: str | None = None) -> None:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            self._client = MlflowClient()
            continued = self._continue(resume_id)
            self.run_id: str = continued or self._start(run_dir.name)
            # MLflow keeps every value logged at a step: a resumed run skips the steps trained
            # again that the run holds already (with the same values, as resuming is exact)
            self._logged_through = self._last_step() if continued else -1
        except MlflowException as err:
            raise TrackerError(f"mlflow could not start a run: {err.message}") from None

    def _start(self, run_name: str) -> str:
        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME", "simclip")
        found = self._client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else self._client.create_experiment(experiment)
        return str(self._client.create_run(experiment_id, run_name=run_name).info.run_id)

    def _continue(self, run_id: str | None) -> str | None:
        """``run_id`` when it is a run of this tracking store (set running again), else None."""
        from mlflow.exceptions import MlflowException

        if run_id is None:
            return None
        try:
            self._client.get_run(run_id)
        except MlflowException:  # another store (MLFLOW_TRACKING_URI changed): a new run
            return None
        self._client.update_run(run_id, status="RUNNING")
        return run_id

    def _last_step(self) -> int:
        """The highest step at which the run holds a metric (-1: none)."""
        keys = self._client.get_run(self.run_id).data.metrics
        return max((m.step for key in keys for m in self._client.get_metric_history(self.run_id, key)),
                   default=-1)

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        # MLflow refuses to change a logged parameter: a resumed run logs only the ones it lacks
        known = self._client.get_run(self.run_id).data.params
        items = [Param(mlflow_name(k), str(v)[:_MAX_VALUE]) for k, v in flat_params(params).items()
                 if mlflow_name(k) not in known]
        for i in range(0, len(items), _BATCH):
            self._client.log_batch(self.run_id, params=items[i:i + _BATCH])

    def log_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        if step <= self._logged_through:
            return
        now = int(time.time() * 1000)
        self._client.log_batch(self.run_id, metrics=[Metric(mlflow_name(k), v, now, step)
                                                     for k, v in finite_numbers(metrics).items()])

    def log_image(self, key: str, path: Path, step: int) -> None:
        self._client.log_artifact(self.run_id, str(path), artifact_path="images")

    def log_summary(self, metrics: dict[str, Any], step: int) -> None:
        self.log_metrics(step, {f"final/{k}": v for k, v in metrics.items()})

    def close(self, failed: bool = False) -> None:
        self._client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")
