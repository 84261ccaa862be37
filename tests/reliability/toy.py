"""A toy contrastive run for in-process loop tests: a tiny BatchNorm MLP on random 4x4 images, and
an NT-Xent objective that can be made non-finite at chosen steps."""

import torch
from torch import nn

from simclip.data import ImageDataset
from simclip.losses import nt_xent
from simclip.train import OptimConfig, TrainConfig

N, BATCH = 64, 8  # 8 steps per epoch


class PoisonedObjective:
    """NT-Xent on two views (the image and its mirror); chosen steps (1-based) go non-finite."""

    def __init__(self, nan_loss=(), nan_input=(), nan_grad=()):
        self.nan_loss, self.nan_input, self.nan_grad = set(nan_loss), set(nan_input), set(nan_grad)
        self.step = 0

    def inputs(self, batch):
        self.step += 1
        x = batch[0].float() / 255
        if self.step in self.nan_input:
            x[0, 0, 0, 0] = float("nan")  # one corrupt pixel
        return (torch.cat([x, x.flip(-1)]),)

    def embed(self, model, inputs):
        return model(inputs[0])

    def loss(self, model, z):
        loss = nt_xent(z.view(2, -1, z.shape[-1]), temperature=0.5)
        if self.step in self.nan_loss:
            loss = loss * float("nan")
        if self.step in self.nan_grad:  # d/dw sqrt(|w - w|^2) at 0 is inf * 0 = NaN; the value is 0
            w = model[1].weight
            loss = loss + torch.sqrt(((w - w.detach()) ** 2).sum())
        return loss, {}

    def state_dict(self):
        return {"step": self.step}

    def load_state_dict(self, state):
        self.step = state["step"]


def toy_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))


def toy_data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (N, 1, 4, 4), dtype=torch.uint8, generator=g)
    return ImageDataset(images=images, labels=None, classes=[], name="toy", split="train")


def toy_config(out, **kw):
    settings = dict(data="toy", batch_size=BATCH, epochs=2, precision="fp32", channels_last=False,
                    progress=False, log_every=1, checkpoint_every=1, keep_checkpoints=100,
                    optim=OptimConfig(name="adamw", lr=1e-2, lr_scaling="none"))
    return TrainConfig(out=str(out), **{**settings, **kw})
