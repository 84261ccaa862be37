"""The tiled (blockwise) cores against the dense path, for every loss that has one."""

import pytest
import torch
from torch.overrides import TorchFunctionMode

from simclip.losses import clip_loss, info_nce, nt_xent, siglip_loss
from simclip.losses import reductions
from simclip.losses.reductions import DEFAULT_BLOCK_SIZE, DENSE_MAX_LOGITS, resolve_block_size

DIM = 8


@pytest.fixture(params=["kept", "recomputed"])
def logits_kept(request, monkeypatch):
    """Run a test with the tiled logits kept for backward and with them recomputed."""
    if request.param == "recomputed":
        monkeypatch.setattr(reductions, "KEEP_LOGITS_MAX_BYTES", -1)
    return request.param


def _inputs(name: str, n: int, dtype: torch.dtype) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(n)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=dtype)

    unit = lambda *shape: torch.nn.functional.normalize(randn(*shape), dim=-1)  # noqa: E731
    if name.startswith("nt_xent"):
        return [randn(3 if name.endswith("3") else 2, n, DIM)]
    if name == "info_nce_shared":
        return [randn(n, DIM), randn(n, DIM), randn(n + 5, DIM)]
    if name.startswith("info_nce"):
        return [randn(n, DIM), randn(n, DIM)]
    if name == "clip":
        return [unit(n, DIM), unit(n, DIM), torch.tensor(7.0, dtype=dtype)]
    return [unit(n, DIM), unit(n, DIM), torch.tensor(5.0, dtype=dtype), torch.tensor(-3.0, dtype=dtype)]


LOSSES = {
    "nt_xent_2": lambda v, block_size: nt_xent(v, 0.2, block_size=block_size),
    "nt_xent_3": lambda v, block_size: nt_xent(v, 0.2, block_size=block_size),
    "info_nce_cosine": lambda q, p, block_size: info_nce(q, p, temperature=0.1, block_size=block_size),
    "info_nce_euclidean": lambda q, p, block_size: info_nce(q, p, None, 3.0, "euclidean", block_size=block_size),
    "info_nce_shared": lambda q, p, n, block_size: info_nce(q, p, n, 0.3, "dot", block_size=block_size),
    "clip": lambda i, t, s, block_size: clip_loss(i, t, s, block_size=block_size),
    "siglip": lambda i, t, s, b, block_size: siglip_loss(i, t, s, b, block_size=block_size),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("n, block_size", [(12, 4), (12, 5), (13, 13), (13, 64), (20, 7), (8, 1)])
def test_tiled_equals_dense_float64(name, n, block_size, value_and_grads, assert_same, logits_kept):
    assert resolve_block_size(None, 3 * n, 3 * n, "dual", "cpu") is None  # block_size=None is the dense path here
    inputs = _inputs(name, n, torch.float64)
    dense = value_and_grads(lambda *x: LOSSES[name](*x, block_size=None), *inputs)
    tiled = value_and_grads(lambda *x: LOSSES[name](*x, block_size=block_size), *inputs)
    assert_same(tiled, dense, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("n, block_size", [(33, 8), (33, 10)])
def test_tiled_float32_equals_dense_float64(name, n, block_size, value_and_grads, assert_same, logits_kept):
    inputs = _inputs(name, n, torch.float64)
    want = value_and_grads(lambda *x: LOSSES[name](*x, block_size=None), *inputs)
    got = value_and_grads(lambda *x: LOSSES[name](*x, block_size=block_size), *(x.float() for x in inputs))
    assert got[0].dtype == torch.float32
    assert_same(got, want, atol=1e-5)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_bfloat16_inputs(name, value_and_grads, assert_same):
    inputs = [x.bfloat16() for x in _inputs(name, 24, torch.float32)]
    tiled = value_and_grads(lambda *x: LOSSES[name](*x, block_size=7), *inputs)
    # the same bf16 values, promoted by hand: statistics are accumulated in float32 either way
    want = value_and_grads(lambda *x: LOSSES[name](*(t.float() for t in x), block_size=None), *inputs)
    assert tiled[0].dtype == torch.float32
    assert all(g.dtype == torch.bfloat16 for g in tiled[1])
    assert_same(tiled, want, atol=1e-5, rtol=1e-2)


class _LargestResult(TorchFunctionMode):
    """Records the largest number of elements of any tensor a torch function returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("name", ["nt_xent_2", "info_nce_cosine", "clip", "siglip"])
def test_tiled_never_materialises_the_logit_matrix(name, monkeypatch):
    n, block_size = 160, 32
    inputs = [x.requires_grad_(True) for x in _inputs(name, n, torch.float32)]
    for core in DENSE_MAX_LOGITS:
        monkeypatch.setitem(DENSE_MAX_LOGITS, core, 1 << 62)  # block_size=None: always dense
    with _LargestResult() as dense_probe:
        LOSSES[name](*inputs, block_size=None).backward()
    monkeypatch.setattr(reductions, "KEEP_LOGITS_MAX_BYTES", -1)  # recompute: O((N + M) d)
    with _LargestResult() as tiled_probe:
        LOSSES[name](*inputs, block_size=block_size).backward()
    assert dense_probe.largest >= n * n  # the probe does see the dense path's full matrix
    assert tiled_probe.largest <= max(block_size * block_size, 2 * n * DIM)


@pytest.mark.parametrize("keep", [True, False])
def test_kept_logits_take_exactly_one_matrix_and_only_when_asked(keep):
    n, block_size = 160, 32
    inputs = [x.requires_grad_(True) for x in _inputs("clip", n, torch.float32)]
    with _LargestResult() as probe:
        clip_loss(*inputs, block_size=block_size, keep_logits=keep).backward()
    assert probe.largest == n * n if keep else probe.largest <= max(block_size * block_size, 2 * n * DIM)
    with _LargestResult() as probe, torch.no_grad():  # nothing to keep for without gradients
        clip_loss(*inputs, block_size=block_size, keep_logits=True)
    assert probe.largest < n * n


@pytest.mark.parametrize("core", sorted(DENSE_MAX_LOGITS))
def test_resolve_block_size(core):
    assert resolve_block_size(17, 10, 10, core, "cpu") == 17
    assert resolve_block_size(None, 10, 10, core, "cpu") is None
    assert resolve_block_size(None, DENSE_MAX_LOGITS[core], 1, core, "cpu") is None
    assert resolve_block_size(None, DENSE_MAX_LOGITS[core] + 1, 1, core, "cpu") == DEFAULT_BLOCK_SIZE


@pytest.mark.parametrize("weights", ["positive", "mixed signs"])
def test_cores_with_arbitrary_upstream_weights(weights, value_and_grads, assert_same):
    """The cores' backward for any upstream gradient, not only the uniform one of a mean."""
    from simclip.losses.reductions import row_col_logsumexp, softplus_sum, symmetric_logsumexp

    generator = torch.Generator().manual_seed(7)
    q = torch.randn(11, 3, generator=generator, dtype=torch.float64)
    k = torch.randn(9, 3, generator=generator, dtype=torch.float64)
    scale, bias = torch.tensor(1.3, dtype=torch.float64), torch.randn(9, generator=generator, dtype=torch.float64)
    exclude = torch.randint(0, 9, (11,), generator=generator)
    w_rows, w_cols = torch.rand(11, dtype=torch.float64) + 0.1, torch.rand(9, dtype=torch.float64) + 0.1
    if weights == "mixed signs":
        w_rows, w_cols = w_rows * torch.tensor([1.0, -1.0]).repeat(6)[:11], -w_cols

    def dual(q, k, s, b, block_size):
        rows, cols = row_col_logsumexp(q, k, s, b, exclude=exclude, cols=True, block_size=block_size)
        return (rows * w_rows).sum() + (cols * w_cols).sum()

    def rows_only(q, k, s, b, block_size):
        return (row_col_logsumexp(q, k, s, b, exclude=exclude, block_size=block_size)[0] * w_rows).sum()

    def symmetric(q, s, block_size):
        return (symmetric_logsumexp(q, s, block_size=block_size) * w_rows).sum()

    def softplus(q, k, s, b, block_size):
        return softplus_sum(q, k, s, b, block_size=block_size) * w_rows[0]

    for core, inputs in ((dual, 4), (rows_only, 4), (symmetric, 2), (softplus, 4)):
        args = (q, k, scale, bias) if inputs == 4 else (q, scale)
        dense = value_and_grads(lambda *x: core(*x, None), *args)
        for block_size in (2, 4, 5):
            assert_same(value_and_grads(lambda *x: core(*x, block_size), *args), dense, atol=1e-10)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("block_size", [None, 7])
def test_autocast_does_not_lower_precision(name, block_size, value_and_grads, assert_same):
    inputs = _inputs(name, 24, torch.float32)
    want = value_and_grads(lambda *x: LOSSES[name](*x, block_size=block_size), *inputs)

    def under_autocast(*x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return LOSSES[name](*x, block_size=block_size)

    assert_same(value_and_grads(under_autocast, *inputs), want, atol=1e-6)
