"""The one training loop. It knows nothing of SimCLR or CLIP: an objective turns a batch into a loss.

Read top to bottom: build the optimiser, resume if asked, then for every batch — set the learning
rate from run progress, compute the objective under autocast, skip non-finite losses, step, log,
checkpoint, evaluate. A run ends at its last epoch, at its time budget, or at Ctrl-C (after saving).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import torch
from torch import nn

from simclip.data import batches, steps_per_epoch
from simclip.plots import plot_training_curves
from simclip.train.checkpoint import load_checkpoint, load_weights_into, save_checkpoint
from simclip.train.config import TrainConfig
from simclip.train.logger import RunLogger, read_metrics
from simclip.train.optim import build_optimizer
from simclip.train.progress import Progress
from simclip.train.schedule import warmup_cosine


class Objective(Protocol):
    """``(model, batch) -> (loss, metrics)``; ``state_dict``/``load_state_dict`` carry its RNG."""

    def __call__(self, model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict[str, Any]]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class TrainingError(RuntimeError):
    """The run cannot go on; the message says why and what was kept."""


@dataclass
class LoopState:
    step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    elapsed: float = 0.0  # seconds spent in training steps (not evaluation or checkpoints)
    bad_steps: int = 0  # consecutive non-finite losses
    skipped_steps: int = 0
    interrupted: bool = False


def train(cfg: TrainConfig, model: nn.Module, objective: Objective, dataset,
          evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
          resume: bool = False) -> dict[str, Any]:
    """Train ``model`` on ``dataset`` with ``objective`` as ``cfg`` says; return the final metrics.

    With ``resume=True`` the run continues from the newest complete checkpoint in ``cfg.out``
    exactly where it stopped (same batches, same augmentations, same optimiser state).
    """
    cfg.validate()
    run_dir = Path(cfg.out)
    device = torch.device(cfg.device)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, cfg.optim)
    state = LoopState()
    if resume:
        state = _restore(run_dir, model, optimizer, objective)
    else:
        torch.manual_seed(cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "config.json")
    step_model = torch.compile(model) if cfg.compile else model
    logger = RunLogger(run_dir)
    spe = steps_per_epoch(len(dataset), cfg.batch_size, drop_last=True)
    if spe < 1:
        raise TrainingError(f"dataset {cfg.data!r} has {len(dataset)} samples, fewer than one batch "
                            f"of {cfg.batch_size}")
    total = cfg.epochs * spe
    peak = cfg.optim.peak_lr(cfg.batch_size)
    progress = Progress(total, cfg.time_budget, enabled=cfg.progress, start_step=state.step,
                        start_elapsed=state.elapsed)
    final: dict[str, Any] = {}
    evaluated_at = -1
    window: list[float] = []
    model.train()
    with _stop_on_sigint() as stop:
        while state.epoch < cfg.epochs and not _out_of_time(cfg, state) and not stop.is_set():
            for batch in _epoch_batches(dataset, cfg, state):
                t0 = time.perf_counter()
                frac = max(state.step / total, state.elapsed / cfg.time_budget if cfg.time_budget else 0.0)
                lr = warmup_cosine(frac, peak, cfg.optim.warmup_fraction, cfg.optim.min_lr_fraction)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss, metrics = _step(cfg, step_model, objective, optimizer, batch, device, state)
                state.elapsed += time.perf_counter() - t0
                state.step += 1
                state.step_in_epoch += 1
                window.append(loss)
                progress.update(state.step, state.elapsed, loss=loss, lr=lr,
                                ips=len(batch[0]) / max(time.perf_counter() - t0, 1e-9))
                if state.step % cfg.log_every == 0:
                    logger.log(state.step, {"loss": _mean(window), "lr": lr, "epoch": state.epoch,
                                            "images_per_s": state.step * cfg.batch_size / max(state.elapsed, 1e-9),
                                            **metrics})
                    window.clear()
                if state.step % cfg.checkpoint_every == 0:
                    _save(run_dir, model, optimizer, objective, state, cfg)
                if stop.is_set() or _out_of_time(cfg, state):
                    break
            else:
                state.epoch += 1
                state.step_in_epoch = 0
                _save(run_dir, model, optimizer, objective, state, cfg)
                if evaluate and cfg.eval_every and state.epoch % cfg.eval_every == 0:
                    final.update(_evaluate(evaluate, model, logger, state.step))
                    evaluated_at = state.step
    state.interrupted = stop.is_set()
    progress.close()
    _save(run_dir, model, optimizer, objective, state, cfg)
    if evaluate is not None and not state.interrupted and evaluated_at != state.step:
        final.update(_evaluate(evaluate, model, logger, state.step))
    logger.close()
    rows = read_metrics(run_dir)
    if rows:
        plot_training_curves(rows, run_dir / "curves.png", title=f"{cfg.method} on {cfg.data}")
    return {**final, "steps": state.step, "epochs": state.epoch, "train_seconds": state.elapsed,
            "images_per_s": state.step * cfg.batch_size / max(state.elapsed, 1e-9),
            "skipped_steps": state.skipped_steps, "interrupted": state.interrupted}


def _step(cfg: TrainConfig, model: nn.Module, objective: Objective, optimizer: torch.optim.Optimizer,
          batch: tuple, device: torch.device, state: LoopState) -> tuple[float, dict[str, Any]]:
    batch = tuple(b.to(device, non_blocking=True) if torch.is_tensor(b) else b for b in batch)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
        loss, metrics = objective(model, batch)
    value = float(loss.detach())
    if not math.isfinite(value):
        state.bad_steps += 1
        state.skipped_steps += 1
        optimizer.zero_grad(set_to_none=True)
        if state.bad_steps >= cfg.max_bad_steps:
            raise TrainingError(f"loss was not finite for {state.bad_steps} steps in a row (step "
                                f"{state.step}); the last good checkpoint in {cfg.out}/checkpoints is "
                                f"intact — lower the learning rate or check the data")
        return value, metrics
    state.bad_steps = 0
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.optim.clip_grad_norm:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip_grad_norm)
    optimizer.step()
    after = getattr(objective, "after_step", None)
    if after is not None:
        after(model)
    return value, {k: float(v) for k, v in metrics.items() if k != "loss"}


def _epoch_batches(dataset, cfg: TrainConfig, state: LoopState) -> Iterator[tuple]:
    return batches(dataset, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=state.epoch,
                   start=state.step_in_epoch, drop_last=True)


def _out_of_time(cfg: TrainConfig, state: LoopState) -> bool:
    return cfg.time_budget is not None and state.elapsed >= cfg.time_budget


def _save(run_dir: Path, model: nn.Module, optimizer, objective: Objective, state: LoopState,
          cfg: TrainConfig) -> None:
    payload = {"optimizer": optimizer.state_dict(), "loop": asdict(state),
               "torch_rng": torch.get_rng_state(), "objective": objective.state_dict()}
    try:
        save_checkpoint(run_dir, state.step, model, payload, keep=cfg.keep_checkpoints)
    except OSError as err:
        raise TrainingError(f"cannot write a checkpoint in {run_dir / 'checkpoints'}: {err}; the "
                            f"previous checkpoint is intact") from None


def _restore(run_dir: Path, model: nn.Module, optimizer, objective: Objective) -> LoopState:
    weights, payload, step = load_checkpoint(run_dir)
    load_weights_into(model, weights, f"checkpoint step {step} of {run_dir}")
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["torch_rng"])
    objective.load_state_dict(payload["objective"])
    loop = dict(payload["loop"])
    loop["interrupted"] = False
    return LoopState(**loop)


def _evaluate(evaluate: Callable, model: nn.Module, logger: RunLogger, step: int) -> dict[str, Any]:
    model.eval()
    try:
        metrics = evaluate(model)
    finally:
        model.train()
    logger.log(step, {f"eval/{k}": v for k, v in metrics.items()})
    return metrics


def _mean(xs: list[float]) -> float:
    finite = [x for x in xs if math.isfinite(x)]
    return sum(finite) / len(finite) if finite else float("nan")


@contextlib.contextmanager
def _stop_on_sigint() -> Iterator[threading.Event]:
    """Ctrl-C sets a flag that the loop reads between steps, so a step is never cut in half."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if stop.is_set():  # a second Ctrl-C: give up at once
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
