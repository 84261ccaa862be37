"""How a run continues where it stopped — after ``--resume``, and when ``torchrun`` restarts it.

torchrun (``--max-restarts N``) restarts every worker of a job when one of them fails, with the
same command line. :func:`resumes_after_restart` makes that command continue the run instead of
refusing its folder ("already holds a run"): on a restart (``TORCHELASTIC_RESTART_COUNT`` >= 1),
a folder whose ``config.json`` holds this run's config is resumed from its newest checkpoint (or
from step 0 when the failed attempt saved none). A folder with another config is treated as
without torchrun: refused, or replaced with ``overwrite``.

:func:`start_together` then checks that every rank starts from the same checkpoint (every node must
read the same run folder) and cuts ``metrics.jsonl`` back to that step: the steps after it are
trained again and logged once, with the values an uninterrupted run logs.

When a process dies, the collective calls of the others fail with the backend's own words (gloo:
"Connection closed by peer"); :func:`peer_loss_reported` turns that into one
:class:`PeerLostError` line saying which process was lost, where known, and what happens next.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch.distributed as dist

from simclip.errors import SimclipError
from simclip.train.checkpoint import list_checkpoints
from simclip.train.config import TrainConfig
from simclip.train.distributed import DistInfo, gather_objects
from simclip.train.errors import TrainingError

# what process-group backends say when the process at the other end is gone
_PEER_GONE = ("connection closed by peer", "connection reset by peer", "broken pipe",
              "remote worker crash", "communicator was aborted", "socket timeout")


class PeerLostError(TrainingError):
    """Another process of a distributed run died (or stopped answering) during a collective call."""

_DISPLAY_ONLY = ("progress",)  # config fields that do not change what a run computes


def restart_count() -> int:
    """How often torchrun has restarted this job's workers (0 outside torchrun)."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        return 0


def resumes_after_restart(cfg: TrainConfig, info: DistInfo) -> bool:
    """Whether this worker, restarted by torchrun, continues the run in ``cfg.out`` (see the module
    doc). Rank 0 decides for every rank."""
    if restart_count() < 1:
        return False
    path = Path(cfg.out) / "config.json"
    same = info.is_main and _same_config(cfg.to_dict(), path)
    return bool(gather_objects(same, info)[0])


def start_together(run_dir: Path, step: int, info: DistInfo, resumed: bool) -> None:
    """Check that every rank starts at ``step``; for a resumed run, drop the rows of
    ``metrics.jsonl`` logged after it (rank 0), and after a torchrun restart say so on stderr."""
    steps = gather_objects(step, info)
    if len(set(steps)) > 1:
        raise TrainingError(f"the processes start {run_dir} at different steps ({steps}, by rank): "
                            "every node must read the same run folder — put --out on a filesystem "
                            "they share")
    if resumed and info.is_main:
        truncate_metrics(run_dir / "metrics.jsonl", step)
        if restart_count() >= 1:
            print(f"simclip: torchrun restart {restart_count()}: continuing {run_dir} from step {step}",
                  file=sys.stderr, flush=True)


def max_restarts() -> int | None:
    """The restarts torchrun allows this job (``--max-restarts``); None outside torchrun's agent."""
    try:
        return int(os.environ["TORCHELASTIC_MAX_RESTARTS"])
    except (KeyError, ValueError):
        return None


def is_peer_loss(err: BaseException) -> bool:
    """Whether ``err`` is a collective call failing because another process is gone."""
    if isinstance(err, SimclipError) or not isinstance(err, RuntimeError):
        return False
    return isinstance(err, dist.DistError) or any(words in str(err).lower() for words in _PEER_GONE)


def peer_loss_message(info: DistInfo, run_dir: Path) -> str:
    """What the surviving rank says: the lost rank (known when there are two), then whether torchrun
    restarts the job and from which checkpoint the run continues."""
    peer = f"rank {1 - info.rank}" if info.world_size == 2 else "one of the other processes"
    steps = list_checkpoints(run_dir)
    resume = f"the run resumes from its newest checkpoint (step {steps[-1]})" if steps else \
        "the run starts again from step 0 (it had no checkpoint yet)"
    allowed, done = max_restarts(), restart_count()
    if allowed is None:
        then = f"restart the job: with --resume {run_dir}, {resume}"
    elif done < allowed:
        then = f"torchrun restarts the workers (restart {done + 1} of {allowed}) and {resume}"
    else:
        then = (f"torchrun has no restarts left (--max-restarts {allowed}); run the job again with "
                f"--resume {run_dir}: {resume}")
    return f"rank {info.rank}: lost a peer process ({peer} of {info.world_size}); {then}"


@contextlib.contextmanager
def peer_loss_reported(info: DistInfo, run_dir: Path) -> Iterator[None]:
    """Within the block, a collective call failing because another process of the run is gone
    raises :class:`PeerLostError` (:func:`peer_loss_message`) instead of the backend's error."""
    try:
        yield
    except RuntimeError as err:
        if not info.enabled or not is_peer_loss(err):
            raise
        raise PeerLostError(peer_loss_message(info, run_dir)) from err


def truncate_metrics(path: Path, step: int) -> None:
    """Keep the rows of ``path`` up to ``step`` (and drop a torn last line), replacing it whole."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(row, dict) or not isinstance(row.get("step"), int) or row["step"] <= step:
            kept.append(line + "\n")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    os.replace(tmp, path)


def _same_config(config: dict[str, Any], path: Path) -> bool:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    ours = json.loads(json.dumps(config))  # tuples as lists, as config.json holds them
    if not isinstance(saved, dict):
        return False
    return all(saved.get(k) == ours.get(k) for k in set(saved) | set(ours) if k not in _DISPLAY_ONLY)


__all__ = ["PeerLostError", "is_peer_loss", "max_restarts", "peer_loss_message", "peer_loss_reported",
           "restart_count", "resumes_after_restart", "start_together", "truncate_metrics"]
