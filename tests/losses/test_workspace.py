import gc

import torch

from simclip.losses import CLIPLoss, LogitWorkspace, clip_loss


class _User:
    pass


def test_workspace_lends_one_buffer_reuses_it_and_never_shares_a_loan():
    ws, like = LogitWorkspace(), torch.zeros(1)
    first_user = _User()
    first = ws.claim(100, like, first_user)
    assert first.numel() == 100 and ws.nbytes == 400
    second = ws.claim(50, like, _User())  # first is still on loan: fresh memory
    assert second.data_ptr() != first.data_ptr()
    del first_user
    gc.collect()
    third = ws.claim(80, like, _User())  # loan over: the same memory again
    assert third.data_ptr() == first.data_ptr()
    del third
    gc.collect()
    bigger = ws.claim(200, like, _User())  # too small: grows
    assert bigger.numel() == 200 and ws.nbytes == 800
    ws.release()
    assert ws.nbytes == 0


def test_clip_module_reuses_its_workspace_and_matches_the_function():
    torch.manual_seed(0)
    image, text = (torch.nn.functional.normalize(torch.randn(40, 8), dim=1).requires_grad_() for _ in range(2))
    scale = torch.tensor(10.0, requires_grad=True)
    module = CLIPLoss(block_size=16, keep_logits=True)
    pointers = []
    for _ in range(3):
        grads = torch.autograd.grad(module(image, text, scale), (image, text, scale))
        pointers.append(module.workspace._buffer.data_ptr())
    want = torch.autograd.grad(clip_loss(image, text, scale, block_size=16, keep_logits=False), (image, text, scale))
    assert len(set(pointers)) == 1 and module.workspace.nbytes == 40 * 40 * 4
    for g, w in zip(grads, want):
        torch.testing.assert_close(g, w, atol=1e-6, rtol=1e-5)


def test_two_losses_in_flight_on_one_workspace_do_not_overwrite_each_other():
    torch.manual_seed(1)
    ws = LogitWorkspace()
    a = [torch.nn.functional.normalize(torch.randn(24, 8), dim=1).requires_grad_() for _ in range(2)]
    b = [torch.nn.functional.normalize(torch.randn(24, 8), dim=1).requires_grad_() for _ in range(2)]
    scale = torch.tensor(12.0)
    loss_a = clip_loss(*a, scale, block_size=8, keep_logits=True, workspace=ws)
    loss_b = clip_loss(*b, scale, block_size=8, keep_logits=True, workspace=ws)  # before a's backward
    got = torch.autograd.grad(loss_a + loss_b, a + b)
    want = torch.autograd.grad(
        clip_loss(*a, scale, block_size=8, keep_logits=False) + clip_loss(*b, scale, block_size=8, keep_logits=False),
        a + b,
    )
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-6, rtol=1e-5)
