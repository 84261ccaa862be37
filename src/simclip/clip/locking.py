"""Locked towers (LiT, Zhai et al. 2022): frozen parts of a CLIP tower that neither learn nor drift.

A locked module has ``requires_grad=False`` on its parameters (so :func:`simclip.train.build_optimizer`
leaves it out) and stays in eval mode while the rest of the model trains: dropout is off and
batch-norm running statistics do not move, so its outputs and its state dict stay bit-identical.

A tower is a sequence of parameter *groups*, input to output; locking with ``unlocked=k`` freezes
all but the last ``k`` groups (as OpenCLIP's ``lock_image_tower(unlocked_groups=k)`` does):

- ViT: stem (``conv1``, ``class_embedding``, ``positional_embedding``, ``ln_pre``), each residual
  block, head (``ln_post``, ``proj``);
- ModifiedResNet: stem (three convolutions with their batch norms), ``layer1`` .. ``layer4``,
  ``attnpool``;
- encoder tower: the encoder, the projection;
- CLIP text transformer: embeddings (``token_embedding``, ``positional_embedding``), each residual
  block, head (``ln_final``, ``text_projection``).

A Hugging Face text tower locks itself (:meth:`HFTextTower.lock`): its projection, new at
construction, always trains.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import nn

Group = Sequence[nn.Module | nn.Parameter]
LOCKED_ATTR = "_simclip_locked"


def lock_(parts: Iterable[nn.Module | nn.Parameter]) -> None:
    """Freeze modules and parameters; modules are marked to stay in eval mode
    (see :func:`keep_locked_eval_`)."""
    for part in parts:
        if isinstance(part, nn.Parameter):
            part.requires_grad_(False)
        elif isinstance(part, nn.Module):
            part.requires_grad_(False)
            setattr(part, LOCKED_ATTR, True)
            part.eval()
        else:
            raise TypeError(f"can only lock modules and parameters, got {type(part).__name__}")


def unlock_(module: nn.Module) -> None:
    """Make every parameter of ``module`` trainable again and clear the eval-mode marks under it."""
    module.requires_grad_(True)
    for m in module.modules():
        if getattr(m, LOCKED_ATTR, False):
            setattr(m, LOCKED_ATTR, False)
            m.train(module.training)


def keep_locked_eval_(root: nn.Module) -> None:
    """Put every locked module under ``root`` back into eval mode; call after ``root.train()``."""
    for m in root.modules():
        if getattr(m, LOCKED_ATTR, False):
            m.eval()


def is_locked(module: nn.Module) -> bool:
    """Whether no parameter of ``module`` trains (a module without parameters counts as locked)."""
    return not any(p.requires_grad for p in module.parameters())


def lock_last_groups_(tower: nn.Module, groups: Sequence[Group], unlocked: int, argument: str) -> None:
    """Unlock ``tower``, then lock all but the last ``unlocked`` of its ``groups``."""
    if not isinstance(unlocked, int) or isinstance(unlocked, bool) or not 0 <= unlocked <= len(groups):
        raise ValueError(f"{argument} must be an integer in [0, {len(groups)}] (this tower has "
                         f"{len(groups)} groups), got {unlocked!r}")
    unlock_(tower)
    if unlocked == 0:
        lock_([tower])
        return
    for group in groups[:len(groups) - unlocked]:
        lock_(group)


def vision_groups(tower: nn.Module) -> list[Group]:
    """The parameter groups of an image tower, input to output."""
    from simclip.clip.encoder_tower import EncoderTower
    from simclip.clip.modified_resnet import ModifiedResNet
    from simclip.clip.vision_transformer import VisionTransformer

    if isinstance(tower, VisionTransformer):
        stem: Group = [tower.conv1, tower.class_embedding, tower.positional_embedding, tower.ln_pre]
        return [stem, *([b] for b in tower.transformer.resblocks), [tower.ln_post, tower.proj]]
    if isinstance(tower, ModifiedResNet):
        stem = [tower.conv1, tower.bn1, tower.conv2, tower.bn2, tower.conv3, tower.bn3]
        return [stem, *([getattr(tower, f"layer{i}")] for i in range(1, 5)), [tower.attnpool]]
    if isinstance(tower, EncoderTower):
        return [[tower.encoder], [tower.proj]]
    raise TypeError(f"cannot lock an image tower of type {type(tower).__name__}")


def text_groups(tower: nn.Module) -> list[Group]:
    """The parameter groups of CLIP's text transformer, input to output."""
    from simclip.clip.text_transformer import TextTransformer

    if isinstance(tower, TextTransformer):
        embeddings: Group = [tower.token_embedding, tower.positional_embedding]
        return [embeddings, *([b] for b in tower.transformer.resblocks),
                [tower.ln_final, tower.text_projection]]
    raise TypeError(f"cannot lock a text tower of type {type(tower).__name__}")
