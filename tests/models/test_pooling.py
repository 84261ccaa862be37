import pytest
import torch

from simclip.models.encoders.pooling import global_avg_pool


@pytest.mark.parametrize("fmt", [torch.contiguous_format, torch.channels_last])
def test_global_avg_pool_matches_mean_in_value_and_gradient(fmt):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4, 6, dtype=torch.float64).contiguous(memory_format=fmt).requires_grad_()
    g = torch.randn(3, 5, dtype=torch.float64)
    (out,) = torch.autograd.grad(global_avg_pool(x), x, g)
    (ref,) = torch.autograd.grad(x.mean(dim=(2, 3)), x, g)
    torch.testing.assert_close(global_avg_pool(x), x.mean(dim=(2, 3)))
    torch.testing.assert_close(out, ref)
    assert out.stride(0) != 0 and out.is_contiguous(memory_format=fmt)  # a dense gradient


def test_global_avg_pool_gradcheck_and_shape_error():
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(global_avg_pool, (x,))
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        global_avg_pool(torch.randn(2, 3))
