"""Huge-page backed output tensors: ordinary tensors to their users."""
from __future__ import annotations

import torch

from simclip.augment.hugepages import MIN_BYTES, empty_cpu


def test_large_tensor_is_writable_and_behaves_like_torch_empty():
    shape = (MIN_BYTES // (4 * 3 * 32 * 32) + 1, 3, 32, 32)
    out = empty_cpu(shape)
    assert out.shape == shape and out.dtype == torch.float32 and out.is_contiguous()
    out.fill_(0.25)
    out[1].mul_(2)
    assert float(out[1].mean()) == 0.5 and float(out[0].mean()) == 0.25
    doubled = torch.cat([out, out])
    assert doubled.shape[0] == 2 * shape[0] and torch.equal(doubled[: shape[0]], out)


def test_small_tensor_comes_from_torch_and_dtype_is_kept():
    out = empty_cpu((2, 3), torch.uint8)
    assert out.shape == (2, 3) and out.dtype == torch.uint8
    out.fill_(7)
    assert int(out.sum()) == 42


class _InWorker(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> torch.Tensor:
        assert not empty_cpu((16,)).is_shared()  # small ones: torch's allocator
        out = empty_cpu((MIN_BYTES // 4 + 1,))
        assert out.is_shared()  # made where the main process will read it: no copy on the way
        return out.fill_(3.0)


def test_in_a_loader_worker_the_tensor_is_made_in_shared_memory():
    assert not empty_cpu((MIN_BYTES // 4 + 1,)).is_shared()
    (batch,) = torch.utils.data.DataLoader(_InWorker(), batch_size=None, num_workers=1)
    assert batch.shape == (MIN_BYTES // 4 + 1,) and float(batch.min()) == float(batch.max()) == 3.0
