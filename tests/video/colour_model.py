"""A CLIP-interface model whose image features are the mean colour and whose text features name one."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from simclip.clip import PreprocessConfig

COLOURS = ["red", "green", "blue"]


class ColourModel(nn.Module):
    preprocess_cfg = PreprocessConfig(32, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    embed_dim = 3

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.full((3,), gain))  # weights, so the model has an identity
        self.logit_scale = nn.Parameter(torch.tensor(math.log(100.0)))

    def encode_image(self, x, normalize=False):
        features = x.mean(dim=(2, 3)) * self.gain
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, tokens, normalize=False):
        return F.one_hot(tokens[:, 0], 3).float()


def tokenize(texts):
    return torch.tensor([[next(i for i, c in enumerate(COLOURS) if c in t)] for t in texts])
