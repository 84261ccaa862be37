"""Run logging: every logged row goes to ``RUN/metrics.jsonl`` and to the experiment trackers the
run names (``TrainConfig.loggers``: TensorBoard, Weights & Biases, MLflow; see
:mod:`simclip.train.loggers`), with the run's config, its final metrics and its images."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import TracebackType
from typing import Any

from simclip.train.loggers import Logger, create_logger, logger_names

TRACKING_FILE = "tracking.json"  # tracker name -> the id of its run, for a resumed run to continue


class RunLogger:
    """The run's loggers, one per name in :func:`~simclip.train.loggers.logger_names` of
    ``loggers``; ``params`` (the resolved config) goes to each at the start. Inactive on non-zero
    ranks. ``resume_step``: the checkpoint step a resumed run continues from; the trackers continue
    the runs they recorded this run folder in, and the steps after it, trained again, are not
    recorded twice (see each tracker). As a context manager, it closes every tracker on the way
    out, marked failed when an exception ends the run."""

    def __init__(self, run_dir: str | Path, active: bool = True, loggers: tuple[str, ...] | None = None,
                 params: dict[str, Any] | None = None, resume_step: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.active = active
        self.backends: list[Logger] = []
        if not active:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ids = _read_ids(self.run_dir) if resume_step is not None else {}
        try:
            for name in logger_names(loggers):
                self.backends.append(create_logger(name, self.run_dir, ids.get(name), resume_step))
            ids.update({b.name: b.run_id for b in self.backends if b.run_id is not None})
            _write_ids(self.run_dir, ids)
            for backend in self.backends:
                if params is not None:
                    backend.log_params(params)
        except BaseException:
            self.close(failed=True)
            raise

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(failed=error is not None)

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """One row: numbers (tensors are read out), non-finite values as ``"nan"``/``"inf"`` text."""
        if not self.active:
            return
        row = {k: _plain(v) for k, v in metrics.items()}
        for backend in self.backends:
            backend.log_metrics(step, row)

    def finish(self, summary: dict[str, Any], step: int) -> dict[str, Any]:
        """Attach the run folder's PNGs (its training curves) and ``summary`` (the final metrics) to
        every tracker, then close them; returns ``summary``."""
        if not self.active:
            return summary
        for path in sorted(self.run_dir.glob("*.png")):
            for backend in self.backends:
                backend.log_image(path.stem, path, step)
        plain = {k: _plain(v) for k, v in summary.items()}
        for backend in self.backends:
            backend.log_summary(plain, step)
        self.close()
        return summary

    def close(self, failed: bool = False) -> None:
        """Flush and end every tracker's run (``failed``: an error ended the training); a tracker
        that fails to close does not keep the others open. Closing twice does nothing."""
        backends, self.backends = self.backends, []
        errors = []
        for backend in backends:
            try:
                backend.close(failed)
            except Exception as err:  # the rest still close; the first error is raised after
                errors.append(err)
        if errors and not failed:  # on a failed run, the error that ended it is the one to see
            raise errors[0]


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def _read_ids(run_dir: Path) -> dict[str, str]:
    try:
        ids = json.loads((run_dir / TRACKING_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in ids.items() if isinstance(v, str)} if isinstance(ids, dict) else {}


def _write_ids(run_dir: Path, ids: dict[str, str]) -> None:
    """A new run's ids replace those of a run the folder held before (``--overwrite``)."""
    path = run_dir / TRACKING_FILE
    if ids:
        path.write_text(json.dumps(ids, indent=2) + "\n", encoding="utf-8")
    else:
        path.unlink(missing_ok=True)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All rows of ``RUN/metrics.jsonl`` (a truncated last line, from a killed run, is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows
