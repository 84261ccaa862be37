import json

import pytest
import torch
from torch import nn

from simclip.train.checkpoint import (CheckpointError, list_checkpoints, load_checkpoint,
                                      load_weights_into, save_checkpoint)


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_save_load_round_trip_and_retention(tmp_path):
    m = _model()
    for step in (10, 20, 30):
        save_checkpoint(tmp_path, step, m, {"step": step, "rng": torch.get_rng_state()}, keep=2)
    assert list_checkpoints(tmp_path) == [20, 30]
    assert json.loads((tmp_path / "checkpoints" / "latest.json").read_text()) == {"step": 30}
    weights, state, step = load_checkpoint(tmp_path)
    assert step == 30 and state["step"] == 30
    fresh = _model(seed=1)
    load_weights_into(fresh, weights, "test")
    for a, b in zip(fresh.state_dict().values(), m.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert not list((tmp_path / "checkpoints").glob(".*.tmp"))


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    m = _model()
    save_checkpoint(tmp_path, 1, m, {"step": 1})
    save_checkpoint(tmp_path, 2, m, {"step": 2})
    newest = tmp_path / "checkpoints" / "step-00000002.safetensors"
    newest.write_bytes(newest.read_bytes()[:50])  # truncated, as by a full disk
    _, state, step = load_checkpoint(tmp_path)
    assert step == 1 and state["step"] == 1


def test_missing_and_mismatched_checkpoints_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path)
    weights = {k: v for k, v in _model().state_dict().items()}
    weights["0.weight"] = torch.zeros(5, 3)
    weights.pop("1.bias")
    weights["extra"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as info:
        load_weights_into(_model(), weights, "ckpt.safetensors")
    msg = str(info.value)
    assert "ckpt.safetensors" in msg and "1.bias" in msg and "extra" in msg and "0.weight" in msg


def test_state_file_refuses_pickled_code(tmp_path):
    m = _model()
    save_checkpoint(tmp_path, 1, m, {"step": 1})
    state_path = tmp_path / "checkpoints" / "step-00000001.state.pt"

    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    torch.save({"x": Evil()}, state_path)
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        load_checkpoint(tmp_path)


def test_any_garbage_state_file_falls_back(tmp_path):
    # Random bytes make the unpickler fail in many ways (UnpicklingError, IndexError, KeyError,
    # UnicodeDecodeError); each must count as "unreadable", never escape.
    m = _model()
    save_checkpoint(tmp_path, 1, m, {"step": 1})
    save_checkpoint(tmp_path, 2, m, {"step": 2})
    state = tmp_path / "checkpoints" / "step-00000002.state.pt"
    rng = torch.Generator().manual_seed(0)
    for _ in range(300):
        state.write_bytes(bytes(torch.randint(0, 256, (600,), generator=rng, dtype=torch.uint8).tolist()))
        assert load_checkpoint(tmp_path)[2] == 1
