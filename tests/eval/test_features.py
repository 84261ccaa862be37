import functools

import pytest
import torch
from torch import nn

from simclip.eval.features import extract_features, extract_text_features


def images(n: int = 10) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, 2, 2), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_uint8_becomes_float_in_unit_range_and_batches_are_joined():
    x = images(10)
    calls = []

    def encode(batch):
        calls.append(batch.shape[0])
        return batch.flatten(1)

    features = extract_features(encode, x, batch_size=4)
    assert calls == [4, 4, 2]
    assert features.dtype == torch.float32 and features.shape == (10, 12)
    torch.testing.assert_close(features, x.flatten(1).float() / 255.0)


def test_iterable_of_batches_and_loader_tuples():
    x = images(10)
    expected = extract_features(lambda b: b.flatten(1), x)
    as_tuples = [(x[:6], torch.zeros(6)), (x[6:], torch.zeros(4))]
    torch.testing.assert_close(extract_features(lambda b: b.flatten(1), as_tuples), expected)
    floats = [x[:3].float() / 255.0, x[3:].float() / 255.0]  # already converted: taken as is
    torch.testing.assert_close(extract_features(lambda b: b.flatten(1), floats), expected)


def test_transform_runs_after_conversion():
    x = images(5)
    features = extract_features(lambda b: b.flatten(1), x, transform=lambda b: (b - 0.5) / 0.25)
    torch.testing.assert_close(features, (x.flatten(1).float() / 255.0 - 0.5) / 0.25)


def test_runs_without_gradients_and_in_eval_mode():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.BatchNorm1d(4))
    model.train()
    state = {}

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def encode_image(self, x):
            state["grad"] = torch.is_grad_enabled()
            state["training"] = self.net.training
            return self.net(x)

    wrapper = Wrapper().train()
    running_mean = model[2].running_mean.clone()
    features = extract_features(wrapper.encode_image, images(8), batch_size=3)
    assert state == {"grad": False, "training": False}
    assert not features.requires_grad
    assert torch.equal(model[2].running_mean, running_mean)  # batch-norm statistics untouched
    assert wrapper.training and model.training  # restored afterwards
    state.clear()
    extract_features(functools.partial(wrapper.encode_image), images(4))
    assert state["training"] is False and model.training


def test_bad_inputs():
    encode = lambda b: b.flatten(1)  # noqa: E731
    with pytest.raises(ValueError, match=r"images must have shape \[N, C, H, W\]"):
        extract_features(encode, torch.zeros(4, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="images is empty"):
        extract_features(encode, torch.zeros(0, 3, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="images is empty"):
        extract_features(encode, [])
    with pytest.raises(TypeError, match="uint8 or floating point"):
        extract_features(encode, torch.zeros(2, 3, 2, 2, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"encode must return features \[4, F\]"):
        extract_features(lambda b: b.flatten(1)[:2], images(4))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        extract_features(encode, images(4), batch_size=0)
    with pytest.raises(TypeError, match="encode must be callable"):
        extract_features("model", images(4))


def test_text_features_in_batches():
    texts = [f"t{i}" for i in range(5)]
    tokenizer = lambda batch: torch.tensor([[int(t[1:])] for t in batch])  # noqa: E731
    calls = []

    def encode_text(tokens):
        calls.append(tokens.shape[0])
        return tokens.float().repeat(1, 3)

    features = extract_text_features(encode_text, tokenizer, texts, batch_size=2)
    assert calls == [2, 2, 1]
    torch.testing.assert_close(features, torch.arange(5.0)[:, None].repeat(1, 3))
    with pytest.raises(TypeError, match="texts must be a list of str"):
        extract_text_features(encode_text, tokenizer, "t1")
    with pytest.raises(ValueError, match="texts is empty"):
        extract_text_features(encode_text, tokenizer, [])
