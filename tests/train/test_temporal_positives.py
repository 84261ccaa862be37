"""Temporal positives: which frames a SimCLR step takes a clip's views from (``frames:K``)."""

import pytest
import torch

from simclip.data.videos import parse_positives, take_frames, view_frames
from simclip.train import SimCLRObjective
from simclip.train.config import ConfigError
from simclip.train.objectives.config import SimCLRObjectiveConfig


def test_parse_positives():
    assert parse_positives(None) is None
    assert parse_positives("frames:0") == 0 and parse_positives("frames:12") == 12
    for bad in ("frames:", "frames:-1", "frame:3", "3", "frames:2.5"):
        with pytest.raises(ValueError, match="frames:K"):
            parse_positives(bad)


def test_config_checks_positives_once_naming_the_field():
    assert SimCLRObjectiveConfig(positives="frames:4").max_gap == 4
    assert SimCLRObjectiveConfig().max_gap is None
    with pytest.raises(ConfigError, match="objective.positives must be frames:K"):
        SimCLRObjectiveConfig.from_dict({"positives": "frames:x"})


@pytest.mark.parametrize("stride, gap", [(1, 0), (1, 2), (3, 4), (3, 100)])
def test_views_lie_within_the_gap_and_reach_every_allowed_frame(stride, gap):
    b, t = 400, 8
    index = (torch.arange(t) * stride).expand(b, t)
    g = torch.Generator().manual_seed(0)
    pos = view_frames(index, 3, gap, g)  # [3, B]
    frames = index.gather(1, pos.T).T  # frame numbers of each view
    assert ((frames[1:] - frames[0]).abs() <= gap).all()
    reachable = {d for d in range(-gap, gap + 1) if d % stride == 0 and abs(d) < t * stride}
    seen = set((frames[1] - frames[0]).tolist())
    assert seen <= reachable and len(seen) >= min(len(reachable), 2 * (gap // stride) + 1) - 1
    assert len(set(pos[0].tolist())) == t  # the first view's frame is drawn over the whole clip


def test_without_positives_every_view_takes_the_same_frame():
    index = torch.arange(6).expand(50, 6)
    pos = view_frames(index, 2, None, torch.Generator().manual_seed(1))
    assert torch.equal(pos[0], pos[1]) and len(set(pos[0].tolist())) > 1


def _clips(b=64, t=8, stride=2):
    """Clips whose frame k is filled with the value k, and frame numbers k * stride."""
    clips = torch.arange(t, dtype=torch.uint8)[None, :, None, None, None].expand(b, t, 3, 4, 4).clone()
    return clips, (torch.arange(t) * stride).expand(b, t).clone()


def test_objective_takes_each_view_from_its_own_frame_then_augments():
    clips, index = _clips()
    calls = []

    def augment(x, generator):
        calls.append(x.shape)
        return x.float()

    objective = SimCLRObjective(augment, n_views=2, max_gap=2, seed=0)
    (views,) = objective.inputs((clips, index, None))
    assert views.shape == (128, 3, 4, 4) and calls == [(64, 3, 4, 4)] * 2  # one augmentation call per view
    k0, k1 = views[:64, 0, 0, 0], views[64:, 0, 0, 0]  # the frame each view came from
    assert ((k0 - k1).abs() * 2 <= 2).all() and (k0 != k1).any()
    single = SimCLRObjective(augment, n_views=2, seed=0)
    (views,) = single.inputs((clips, index, None))
    assert torch.equal(views[:64], views[64:])
    assert torch.equal(take_frames(clips, torch.full((64,), 5)), clips[:, 5])
