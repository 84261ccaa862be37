"""Real ``simclip`` training processes and the faults done to them.

A tiny SimCLR run on the built-in digits (16x16 images, a three-block CNN of widths 8-16-32, batch
32: 44 steps per epoch, a few seconds of training) is started as ``python -m simclip.cli simclr
train`` and then killed with SIGKILL at a random moment or in the middle of a checkpoint write,
interrupted with SIGINT, or started under a file-size limit so that a checkpoint no longer fits.
The tests and ``benchmarks/reliability.py`` share these helpers.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from simclip.train.checkpoint import list_checkpoints

SRC = Path(__file__).resolve().parents[2] / "src"

# digits at 16x16: 1,437 training images -> 44 batches of 32 per epoch. log_every=1 makes every
# step's loss comparable between runs; checkpoint_every=2 gives a kill many writes to land in.
TINY_RUN = {
    "method": "simclr", "data": "digits?size=16", "seed": 3, "batch_size": 32, "epochs": 2,
    "precision": "fp32", "channels_last": False, "log_every": 1, "checkpoint_every": 2,
    "keep_checkpoints": 2, "progress": False,
    "model": {"encoder": "small-cnn", "encoder_options": {"widths": [8, 16, 32], "strides": [1, 2, 2]},
              "proj_hidden_dim": 32, "proj_dim": 16},
    "objective": {"temperature": 0.5},
    "optim": {"name": "adamw", "lr": 1e-3, "lr_scaling": "none", "weight_decay": 1e-4},
}


def write_config(path: Path, **overrides) -> Path:
    """``TINY_RUN`` with ``overrides`` as a ``--config`` file."""
    path.write_text(json.dumps({**TINY_RUN, **overrides}, indent=1))
    return path


def child_env() -> dict[str, str]:
    """The environment of a child run: this checkout's sources first, one thread (so that runs
    are bitwise comparable and several can share two cores)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["OMP_NUM_THREADS"] = "1"
    env["MKL_NUM_THREADS"] = "1"
    return env


def _limit_file_size(limit: int) -> None:  # runs in the child between fork and exec
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def start(argv: list[str], file_size_limit: int | None = None) -> subprocess.Popen:
    """``python -m simclip.cli ARGV`` with output captured; ``file_size_limit`` caps the size of
    every file the child writes (the shell's ``ulimit -f``)."""
    preexec = (lambda: _limit_file_size(file_size_limit)) if file_size_limit else None
    return subprocess.Popen([sys.executable, "-m", "simclip.cli", *argv], env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec)


def train_argv(config: Path, run: Path) -> list[str]:
    return ["simclr", "train", "--config", str(config), "--out", str(run), "--no-progress"]


def resume_argv(run: Path) -> list[str]:
    return ["simclr", "train", "--resume", str(run), "--no-progress"]


@dataclass
class Finished:
    code: int
    out: str
    err: str


def finish(proc: subprocess.Popen, timeout: float = 300) -> Finished:
    out, err = proc.communicate(timeout=timeout)
    return Finished(proc.returncode, out, err)


def logged_steps(run: Path) -> int:
    """How many complete rows ``metrics.jsonl`` has (0 before training starts)."""
    try:
        return (run / "metrics.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_for(proc: subprocess.Popen, ready, timeout: float = 120, poll: float = 0.005) -> bool:
    """Poll ``ready()`` until it holds (True) or the process ends or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(poll)
    return False


def kill_at_random(proc: subprocess.Popen, run: Path, rng: random.Random, max_delay: float) -> dict:
    """SIGKILL once training has logged a step, after a further uniform delay in [0, max_delay)."""
    stale, before = _half_written(run), logged_steps(run)
    started = wait_for(proc, lambda: logged_steps(run) > before)
    delay = rng.uniform(0, max_delay)
    time.sleep(delay)
    return _kill(proc, run, "random", stale, started=started, delay=round(delay, 3))


def kill_after(proc: subprocess.Popen, run: Path, delay: float) -> dict:
    """SIGKILL ``delay`` seconds after the start, whatever the process is doing by then (importing,
    loading data, training, writing a checkpoint, drawing the curves, exiting)."""
    stale, deadline = _half_written(run), time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return _kill(proc, run, "uniform", stale, delay=round(delay, 3))


def kill_in_checkpoint_write(proc: subprocess.Popen, run: Path, timeout: float = 120) -> dict:
    """SIGKILL as soon as a checkpoint file is seen half-written (a new ``.tmp`` in
    ``checkpoints/``; one a killed process left behind does not count)."""
    stale = _half_written(run)
    caught = wait_for(proc, lambda: bool(_half_written(run) - stale), timeout, poll=0.0002)
    return _kill(proc, run, "checkpoint-write", stale, caught_mid_write=caught)


def _kill(proc: subprocess.Popen, run: Path, how: str, stale: set[str], **details) -> dict:
    mid_write = bool(_half_written(run) - stale)
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return {"how": how, "killed": alive, "mid_write": alive and mid_write, "at_step": logged_steps(run),
            "checkpoints": list_checkpoints(run), **details}


def _half_written(run: Path) -> set[str]:
    """The temporary checkpoint files (``.tmp``) in ``checkpoints/`` right now."""
    try:
        return {name for name in os.listdir(run / "checkpoints") if name.endswith(".tmp")}
    except FileNotFoundError:
        return set()


def interrupt(proc: subprocess.Popen, run: Path, after_steps: int = 3) -> Finished:
    """SIGINT (Ctrl-C) once ``after_steps`` more steps are logged; the run should save and exit."""
    before = logged_steps(run)
    wait_for(proc, lambda: logged_steps(run) >= before + after_steps)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    return finish(proc)


def copy_run(src: Path, dst: Path) -> Path:
    """A copy of run folder ``src`` that resumes into itself (``config.json`` names its folder)."""
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    cfg["out"] = str(dst)
    (dst / "config.json").write_text(json.dumps(cfg, indent=2))
    return dst


def newest_weights(run: Path) -> tuple[int, dict[str, torch.Tensor]]:
    step = list_checkpoints(run)[-1]
    return step, load_file(str(run / "checkpoints" / f"step-{step:08d}.safetensors"))


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Bitwise equality of two state dicts."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def losses_by_step(run: Path) -> dict[int, set[float]]:
    """Every loss logged at each step: a resumed run logs the steps after its checkpoint again."""
    out: dict[int, set[float]] = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "loss" in row:
            out.setdefault(row["step"], set()).add(row["loss"])
    return out


def curves_agree(reference: dict[int, set[float]], other: dict[int, set[float]],
                 from_step: int = 0) -> bool:
    """Every step from ``from_step`` on was logged by ``other`` with the reference's loss only."""
    steps = [s for s in reference if s >= from_step]
    return all(other.get(s) == reference[s] for s in steps) and max(other) == max(reference)
