"""The one training loop. It knows nothing of SimCLR or CLIP: an objective turns a batch into a loss.

Read top to bottom: set up devices and processes, build the optimiser, resume if asked, then for
every batch — set the learning rate from run progress, run the objective's forward and backward
(whole batch or gradient cache), skip non-finite losses, step, log, checkpoint, evaluate. A run ends
at its last epoch, at its time budget, or at Ctrl-C (after saving). Under ``torchrun`` the model is
wrapped in DDP, every rank reads its own shard of each batch, and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import signal
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar, cast

import torch
from torch import nn

from simclip.augment.batch_views import BatchViews
from simclip.data import CaptionDataset, ImageDataset, ShardedDataset, batches
from simclip.data.videos.dataset import VideoDataset
from simclip.train import distributed as dist_, rng
from simclip.heap import keep_freed_memory
from simclip.train.bad_data import bad_samples, check_before_work, judge_streamed_bad
from simclip.train.checkpoint import list_checkpoints, load_checkpoint, load_weights_into, save_checkpoint
from simclip.train.config import TrainConfig
from simclip.train.curves import plot_training_curves
from simclip.train.errors import TrainingError
from simclip.train.logger import RunLogger, read_metrics
from simclip.train.optim import build_optimizer
from simclip.train.progress import Progress
from simclip.train.restart import peer_loss_reported, resumes_after_restart, start_together
from simclip.train.run_dir import claim_for_new_run, write_config
from simclip.train.schedule import warmup_cosine
from simclip.train.step import Objective, forward_backward

TrainData = ImageDataset | CaptionDataset | ShardedDataset


@dataclass
class LoopState:
    step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    elapsed: float = 0.0  # seconds spent in training steps (not evaluation or checkpoints)
    bad_steps: int = 0  # consecutive non-finite losses
    skipped_steps: int = 0
    interrupted: bool = False
    window: list[float] = field(default_factory=list)  # losses since the last logged row


@dataclass
class _Run:
    """What the helpers of :func:`train` share."""

    cfg: TrainConfig
    model: nn.Module  # the module itself (saved, evaluated)
    step_model: nn.Module  # what runs the forward pass: compiled and/or DDP-wrapped
    objective: Objective[Any, Any]  # the loop passes inputs and representations through untouched
    optimizer: torch.optim.Optimizer
    dist: dist_.DistInfo
    device: torch.device
    run_dir: Path
    dataset: Any = None  # the training data, once train() has checked it
    first_step: int = 0  # the step this process started at (a resumed run's checkpoint)
    views: BatchViews | None = None  # what the data loader makes in place of images (the objective asks)


ModelT = TypeVar("ModelT", bound=nn.Module)


def train(cfg: TrainConfig, model: ModelT, objective: Objective[Any, Any], dataset: TrainData,
          evaluate: Callable[[ModelT], dict[str, float]] | None = None,
          resume: bool = False) -> dict[str, Any]:
    """Train ``model`` on ``dataset`` with ``objective`` as ``cfg`` says; return the final metrics.

    With ``resume=True`` the run continues from the newest complete checkpoint in ``cfg.out``
    exactly where it stopped (same batches, augmentations, optimiser state); torchrun's restarts too.
    ``cfg.batch_size`` is per process; the learning rate scales with the global batch.
    """
    cfg.validate()
    if cfg.keep_freed_memory:
        keep_freed_memory()
    info = dist_.setup(cfg.device)
    with peer_loss_reported(info, Path(cfg.out)):  # a process lost under torchrun: one line saying so
        resume = resume or resumes_after_restart(cfg, info)
        spe = check_before_work(cfg, dataset, info)
        run = _prepare(cfg, model, objective, info, resume)
        state = _start_state(run, resume)
        start_together(run.run_dir, state.step, info, resume)
        run.dataset, run.first_step = dataset, state.step
        run.views = _loader_views(objective, dataset, run.device)
        # however the run ends, its trackers are closed (marked failed by an error), their files complete
        with RunLogger(run.run_dir, info.is_main, cfg.loggers, params=cfg.to_dict(),
                       resume_step=state.step if resume else None) as logger:
            return _train_steps(run, state, cfg.epochs * spe, logger,
                                None if evaluate is None else lambda: evaluate(model))


def _train_steps(run: _Run, state: LoopState, total: int, logger: RunLogger,
                 evaluate: Callable[[], dict[str, float]] | None) -> dict[str, Any]:
    """The loop itself, from ``state`` to the end of the run (``total`` steps in all); returns the
    final metrics."""
    cfg, info = run.cfg, run.dist
    peak = cfg.optim.peak_lr(cfg.batch_size * info.world_size)
    progress = Progress(total, cfg.time_budget, enabled=cfg.progress and info.is_main,
                        start_step=state.step, start_elapsed=state.elapsed)
    final: dict[str, Any] = {}
    evaluated_at, window = -1, state.window
    run.model.train()
    with _stop_on_sigint() as stop:
        while state.epoch < cfg.epochs and not _should_stop(run, state, stop):
            for batch in _epoch_batches(run.dataset, cfg, state, info, run.views):
                t0 = time.perf_counter()
                frac = run_progress(state.step, total, state.elapsed, cfg.time_budget)
                lr = warmup_cosine(frac, peak, cfg.optim.warmup_fraction, cfg.optim.min_lr_fraction)
                loss, metrics = _step(run, batch, lr, state)
                state.elapsed += time.perf_counter() - t0
                state.step += 1
                state.step_in_epoch += 1
                window.append(loss)
                progress.update(state.step, state.elapsed, loss=loss, lr=lr,
                                ips=len(batch[0]) * info.world_size / max(time.perf_counter() - t0, 1e-9))
                if state.step % cfg.log_every == 0:
                    logger.log(state.step, {"loss": _mean(window), "lr": lr, "epoch": state.epoch,
                                            "images_per_s": _throughput(cfg, state, info), **metrics})
                    window.clear()
                if due(state.step, cfg.checkpoint_every):
                    _save(run, state)
                if _should_stop(run, state, stop):
                    break
            else:
                state.epoch += 1
                state.step_in_epoch = 0
                _save(run, state)
                if evaluate and due(state.epoch, cfg.eval_every):
                    final.update(_evaluate(run, evaluate, logger, state.step))
                    evaluated_at = state.step
    state.interrupted = stop.is_set()
    progress.close()
    _save(run, state)
    if evaluate is not None and not state.interrupted and evaluated_at != state.step:
        final.update(_evaluate(run, evaluate, logger, state.step))
    if info.is_main and (rows := read_metrics(run.run_dir)):
        plot_training_curves(rows, run.run_dir / "curves.png", title=f"{cfg.method} on {cfg.data}")
    # the trackers get the curves and these final metrics
    return logger.finish({**final, "steps": state.step, "epochs": state.epoch, "train_seconds": state.elapsed,
                          "images_per_s": _throughput(cfg, state, info), "skipped_steps": state.skipped_steps,
                          "bad_samples": bad_samples(run.dataset), "interrupted": state.interrupted}, state.step)


def _prepare(cfg: TrainConfig, model: nn.Module, objective: Objective[Any, Any], info: dist_.DistInfo,
             resume: bool) -> _Run:
    device = dist_.device_for(info, cfg.device)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    # torch.compile of a module returns a module (OptimizedModule); its stubs say only "callable"
    step_model = cast(nn.Module, torch.compile(model)) if cfg.compile else model
    if info.enabled:
        ids = [device.index] if device.type == "cuda" else None
        step_model = torch.nn.parallel.DistributedDataParallel(step_model, device_ids=ids)
    run_dir = Path(cfg.out)
    refused: TrainingError | None = None
    if info.is_main and not resume:
        try:
            claim_for_new_run(run_dir, cfg.overwrite)
        except TrainingError as err:
            refused = err
    if dist_.any_rank(refused is not None, info, device):  # every rank stops, none waits forever
        raise refused or TrainingError(f"rank 0 refused to start a new run in {run_dir}: it holds one already")
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(cfg, run_dir / "config.json")
    return _Run(cfg, model, step_model, objective, build_optimizer(model, cfg.optim), info, device, run_dir)


def _step(run: _Run, batch: tuple, lr: float, state: LoopState) -> tuple[float, dict[str, Any]]:
    cfg = run.cfg
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    batch = tuple(b.to(run.device, non_blocking=True) if torch.is_tensor(b) else b for b in batch)
    run.optimizer.zero_grad(set_to_none=True)
    autocast = lambda: torch.autocast(run.device.type, dtype=torch.bfloat16,  # noqa: E731
                                      enabled=cfg.precision == "bf16")
    no_sync = getattr(run.step_model, "no_sync", None)
    sync = (lambda: dist_.average_gradients(run.model, run.dist)) if run.dist.enabled else None
    buffers = [b.clone() for b in run.model.buffers()]  # BatchNorm statistics, restored on a skip
    value, metrics = forward_backward(run.objective, run.step_model, batch, autocast=autocast,
                                      micro_batch=cfg.micro_batch, raw_model=run.model,
                                      no_sync=no_sync, sync_gradients=sync)
    # A finite loss can still have a non-finite gradient (an overflow in the backward pass); the
    # step would make every weight NaN, so it is skipped like a non-finite loss.
    if skip_step(state, math.isfinite(value) and _finite_gradients(run.model)):
        run.optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():  # the forward pass of a bad batch already moved them
            for b, saved in zip(run.model.buffers(), buffers):
                b.copy_(saved)
        check_bad_steps(state, cfg)
        return value, {}
    if cfg.optim.clip_grad_norm:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.optim.clip_grad_norm)
    run.optimizer.step()
    after = getattr(run.objective, "after_step", None)
    if after is not None:
        after(run.model)
    return value, {k: float(v) for k, v in metrics.items()}


def run_progress(step: int, total_steps: int, elapsed: float, time_budget: float | None) -> float:
    """How far the run is, for the learning-rate schedule: the larger of the steps done over all
    ``total_steps`` and, with a time budget, the training seconds over the budget — so a run with a
    budget decays to its floor when the budget runs out, even if that is before its last epoch."""
    return max(step / total_steps, elapsed / time_budget if time_budget else 0.0)


def due(count: int, every: int) -> bool:
    """Whether a periodic action (a checkpoint every ``every`` steps, an evaluation every ``every``
    epochs) falls on ``count``; ``every`` 0 means never."""
    return bool(every) and count % every == 0


def skip_step(state: LoopState, finite: bool) -> bool:
    """Count a step's outcome in ``state``: True when it is to be skipped (its loss or a gradient
    was not finite), counted as skipped and as one more bad step in a row; a finite step ends the row."""
    if finite:
        state.bad_steps = 0
        return False
    state.bad_steps += 1
    state.skipped_steps += 1
    return True


def check_bad_steps(state: LoopState, cfg: TrainConfig) -> None:
    """Raise :class:`TrainingError` once ``cfg.max_bad_steps`` steps in a row were skipped."""
    if state.bad_steps >= cfg.max_bad_steps:
        raise TrainingError(f"loss was not finite for {state.bad_steps} steps in a row (step "
                            f"{state.step}); the last good checkpoint in {cfg.out}/checkpoints is "
                            f"intact — lower the learning rate or check the data")


def _finite_gradients(model: nn.Module) -> bool:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return True
    # max |g| per tensor in one multi-tensor kernel: NaN or inf exactly when an entry is, and it
    # cannot overflow the way a 2-norm of large finite gradients can
    largest = torch._foreach_norm(grads, float("inf"))
    return bool(torch.stack([m.float() for m in largest]).isfinite().all())


def _loader_views(objective: Objective[Any, Any], dataset: TrainData, device: torch.device) -> BatchViews | None:
    """The views an objective asks the loader to make (SimCLR's on the CPU) for image datasets."""
    ask = getattr(objective, "loader_views", None)
    images = isinstance(dataset, (ImageDataset, ShardedDataset)) and not isinstance(dataset, VideoDataset)
    if ask is None or not images or getattr(dataset, "with_captions", False):
        return None
    views: BatchViews | None = ask(device)
    return views


def _epoch_batches(dataset: TrainData, cfg: TrainConfig, state: LoopState, info: dist_.DistInfo,
                   views: BatchViews | None = None) -> Iterator[tuple]:
    return batches(dataset, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=state.epoch,
                   start=state.step_in_epoch, drop_last=True, rank=info.rank, world_size=info.world_size,
                   views=views)


def _should_stop(run: _Run, state: LoopState, stop: threading.Event) -> bool:
    out_of_time = run.cfg.time_budget is not None and state.elapsed >= run.cfg.time_budget
    return dist_.any_rank(out_of_time or stop.is_set(), run.dist, run.device)


def _throughput(cfg: TrainConfig, state: LoopState, info: dist_.DistInfo) -> float:
    return state.step * cfg.batch_size * info.world_size / max(state.elapsed, 1e-9)


def _save(run: _Run, state: LoopState) -> None:
    objective_states = dist_.gather_objects(run.objective.state_dict(), run.dist)
    rng_states = dist_.gather_objects(rng.capture(run.device), run.dist)  # one per rank
    if run.dist.is_main:
        payload = {"optimizer": run.optimizer.state_dict(), "loop": asdict(state),
                   "rng": rng_states, "objective": objective_states}
        try:
            save_checkpoint(run.run_dir, state.step, run.model, payload, keep=run.cfg.keep_checkpoints)
        except OSError as err:  # torch.save's own words for a full disk are cryptic: add the space
            free = shutil.disk_usage(run.run_dir).free / 1e6
            raise TrainingError(f"cannot write a checkpoint in {run.run_dir / 'checkpoints'} ({free:.1f} MB "
                                f"free there): {err}; the previous checkpoint is intact") from None
    dist_.barrier(run.dist)
    judge_streamed_bad(run.cfg, run.dataset, state.step - run.first_step, state.step, run.dist, run.device)


def _start_state(run: _Run, resume: bool) -> LoopState:
    """The newest checkpoint's state, or step 0 (seeded) for a new run — and for a resumed one
    that stopped before its first checkpoint, so that a job restarted with ``--resume`` recovers."""
    if resume and list_checkpoints(run.run_dir):
        return _restore(run)
    if resume:
        warnings.warn(f"{run.run_dir} has no checkpoint yet (it stopped before its first): "
                      "training starts from step 0", stacklevel=3)
    torch.manual_seed(run.cfg.seed)
    return LoopState()


def _restore(run: _Run) -> LoopState:
    weights, payload, step = load_checkpoint(run.run_dir)
    load_weights_into(run.model, weights, f"checkpoint step {step} of {run.run_dir}")
    run.optimizer.load_state_dict(payload["optimizer"])
    states = payload["objective"]
    if len(states) != run.dist.world_size:
        raise TrainingError(f"checkpoint step {step} of {run.run_dir} was written by {len(states)} "
                            f"process(es); resume it with the same number (now {run.dist.world_size})")
    run.objective.load_state_dict(states[run.dist.rank])
    rng.restore(payload["rng"] if "rng" in payload else payload["torch_rng"], run.dist.rank, run.device)
    loop = dict(payload["loop"])
    loop["interrupted"] = False
    return LoopState(**loop)


def _evaluate(run: _Run, evaluate: Callable[[], dict[str, float]], logger: RunLogger, step: int
              ) -> dict[str, Any]:
    """``evaluate()`` scores ``run.model`` (in eval mode, on rank 0); its metrics are logged."""
    metrics: dict[str, Any] = {}
    if run.dist.is_main:  # the full evaluation sets, on one process
        run.model.eval()
        try:
            metrics = evaluate()
        finally:
            run.model.train()
        logger.log(step, {f"eval/{k}": v for k, v in metrics.items()})
    dist_.barrier(run.dist)
    return metrics


def _mean(xs: list[float]) -> float:
    finite = [x for x in xs if math.isfinite(x)]
    return sum(finite) / len(finite) if finite else float("nan")


@contextlib.contextmanager
def _stop_on_sigint() -> Iterator[threading.Event]:
    """Ctrl-C (or SIGTERM) sets a flag that the loop reads between steps, so a step is never cut in
    half; a second Ctrl-C gives up at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, previous[signal.SIGINT])
            raise KeyboardInterrupt
        stop.set()

    for s in previous:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
