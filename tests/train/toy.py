"""Small LayerNorm models and objectives (no batch-dependent layers) for exact gradient tests."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from simclip.losses import clip_loss, nt_xent


class ToyDual(nn.Module):
    """Image tower on x[:, :6], text tower on x[:, 6:], a learnable logit_scale."""

    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 5))
        self.text = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 5))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, x, tower="both"):
        if tower == "image":  # x holds image inputs only
            return self.image(x)
        return self.image(x[:, :6]), self.text(x[:, 6:])


class ToyCLIPObjective:
    def __init__(self, distributed=False, block_size=None):
        self.distributed, self.block_size = distributed, block_size

    def inputs(self, batch):
        return (batch[0],)

    def embed(self, model, inputs):
        return model(inputs[0])

    def loss(self, model, reps):
        image, text = (F.normalize(r, dim=-1) for r in reps)
        return clip_loss(image, text, model.logit_scale.exp(), distributed=self.distributed,
                         block_size=self.block_size), {}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class ToyNTXentObjective(ToyCLIPObjective):
    """Two 'views' of each sample: the image tower applied to both halves of x."""

    def inputs(self, batch):
        x = batch[0]
        return (torch.cat([x[:, :6], x[:, 6:]]),)

    def embed(self, model, inputs):
        return model(inputs[0], tower="image")

    def loss(self, model, z):
        return nt_xent(z.view(2, -1, z.shape[-1]), temperature=0.3, distributed=self.distributed,
                       block_size=self.block_size), {}
