"""Packing id sequences into fixed-length rows."""

import pytest
import torch

from simclip.text import pack_token_ids


def test_pack_pads_and_frames():
    out = pack_token_ids([[5, 6], []], sot_id=8, eot_id=9, context_length=5)
    assert torch.equal(out, torch.tensor([[8, 5, 6, 9, 0], [8, 9, 0, 0, 0]]))


def test_pack_truncates_keeping_end():
    out = pack_token_ids([[1, 2, 3, 4, 5]], sot_id=8, eot_id=9, context_length=4)
    assert torch.equal(out, torch.tensor([[8, 1, 2, 9]]))


def test_pack_error_policy_names_index():
    with pytest.raises(ValueError, match="text 0 is 7 tokens"):
        pack_token_ids([[1, 2, 3, 4, 5]], sot_id=8, eot_id=9, context_length=4, truncate="error")


def test_pack_empty_batch():
    assert pack_token_ids([], sot_id=8, eot_id=9, context_length=4).shape == (0, 4)
