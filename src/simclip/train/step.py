"""One optimisation step's forward and backward, whole-batch or with a gradient cache.

Objectives split a step in three: ``inputs(batch)`` (augmentation, tokenisation: tensors whose first
dimension is the batch), ``embed(model, inputs) -> representations`` (the network: the expensive,
memory-hungry part) and ``loss(model, representations) -> (loss, metrics)`` (the contrastive loss
over the whole batch). The gradient cache of Gao et al. 2021 ("Scaling Deep Contrastive Learning
Batch Size under Memory Limited Setup") uses that split: embed all micro-batches without a graph,
compute the loss and its gradient with respect to the representations over the full batch, then
re-embed each micro-batch with a graph and back-propagate its slice of that gradient. Parameters
used by the loss itself (CLIP's ``logit_scale``) get their gradient once, from the full-batch loss.
The result equals a full-batch step for models without batch-dependent layers (BatchNorm normalises
each micro-batch with its own statistics; LayerNorm models are exact).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, cast

import torch
from torch import nn

Reps = torch.Tensor | tuple[torch.Tensor, ...]
# What an objective's inputs and representations are (SimCLR: one tensor of views; CLIP: images
# and tokens, two embeddings): embed takes exactly what inputs gives, loss what embed gives.
InputsT = TypeVar("InputsT", bound=tuple[torch.Tensor, ...])
RepsT = TypeVar("RepsT", bound=Reps)


class Objective(Protocol[InputsT, RepsT]):
    def inputs(self, batch: tuple) -> InputsT: ...

    def embed(self, model: nn.Module, inputs: InputsT) -> RepsT: ...

    def loss(self, model: nn.Module, reps: RepsT) -> tuple[torch.Tensor, dict[str, Any]]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def forward_backward(objective: Objective[InputsT, RepsT], model: nn.Module, batch: tuple, *,
                     autocast: Callable[[], contextlib.AbstractContextManager],
                     micro_batch: int | None = None, raw_model: nn.Module | None = None,
                     no_sync: Callable[[], contextlib.AbstractContextManager] | None = None,
                     sync_gradients: Callable[[], None] | None = None,
                     ) -> tuple[float, dict[str, Any]]:
    """Compute the objective on ``batch`` and accumulate parameter gradients (unless the loss is not
    finite, in which case nothing is back-propagated). Returns the loss value and metrics.

    ``model`` is what runs the network (possibly DDP-wrapped); ``raw_model`` is the module whose
    own parameters the loss may use (default ``model``). Under DDP the gradient cache runs every
    backward inside ``no_sync`` and then calls ``sync_gradients`` once: DDP's own all-reduce only
    covers parameters used in the forward pass of that backward, and the loss's parameters
    (``logit_scale``) get their gradient outside any forward pass.
    """
    raw_model = raw_model if raw_model is not None else model
    inputs = objective.inputs(batch)
    n = inputs[0].shape[0]
    if micro_batch is None or micro_batch >= n:
        with autocast():
            reps = objective.embed(model, inputs)
        loss, metrics = objective.loss(raw_model, reps)
        value = float(loss.detach())
        if math.isfinite(value):
            loss.backward()
        return value, metrics
    with no_sync() if no_sync is not None else contextlib.nullcontext():
        value, metrics = _grad_cache(objective, model, raw_model, inputs, micro_batch, autocast)
    if sync_gradients is not None and math.isfinite(value):
        sync_gradients()
    return value, metrics


def _grad_cache(objective: Objective[InputsT, RepsT], model: nn.Module, raw_model: nn.Module,
                inputs: InputsT, micro_batch: int,
                autocast: Callable[[], contextlib.AbstractContextManager]) -> tuple[float, dict[str, Any]]:
    # each chunk holds the same tensors as the inputs, micro_batch rows of each
    chunks = [cast(InputsT, chunk) for chunk in zip(*(t.split(micro_batch) for t in inputs))]
    buffers = {k: v.clone() for k, v in raw_model.named_buffers()}
    rng_states: list[tuple] = []
    pieces: list[RepsT] = []
    with torch.no_grad():
        for chunk in chunks:
            rng_states.append(_rng_state())
            with autocast():
                pieces.append(objective.embed(model, chunk))
    # The graph-free pass must not advance BatchNorm running statistics: restore them.
    for k, v in raw_model.named_buffers():
        v.copy_(buffers[k])
    reps = _cat(pieces)
    leaves = tuple(_full_precision(r.detach()).requires_grad_() for r in _as_tuple(reps))
    loss, metrics = objective.loss(raw_model, cast(RepsT, leaves if isinstance(reps, tuple) else leaves[0]))
    value = float(loss.detach())
    if not math.isfinite(value):
        return value, metrics
    loss.backward()
    grads = [_grad(leaf).split(micro_batch) for leaf in leaves]
    for i, chunk in enumerate(chunks):
        _set_rng_state(rng_states[i])  # same dropout masks as in the graph-free pass
        with autocast():
            out = _as_tuple(objective.embed(model, chunk))
        torch.autograd.backward([_full_precision(o) for o in out], [g[i] for g in grads])
    return value, metrics


def _full_precision(x: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 autocast outputs become float32; float32/float64 stay as they are."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


def _grad(leaf: torch.Tensor) -> torch.Tensor:
    assert leaf.grad is not None  # the backward pass above reached every leaf
    return leaf.grad


def _as_tuple(reps: Reps) -> tuple[torch.Tensor, ...]:
    return reps if isinstance(reps, tuple) else (reps,)


def _cat(pieces: Sequence[Reps]) -> Reps:
    if isinstance(pieces[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*pieces))
    return torch.cat(cast(list[torch.Tensor], pieces))


def _rng_state() -> tuple:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])
