"""Named policies, Compose and views: the paper's defaults, shapes, ranges, seeds, dtypes, devices."""

from __future__ import annotations

import pytest
import torch

from simclip.augment import (
    ColorJitter,
    Compose,
    GaussianBlur,
    PolicyConfig,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    create_policy,
    list_policies,
    n_views,
    policy_config,
    two_views,
)
from tests.augment.conftest import seeded


def uint8_images(batch: int, channels: int, side: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (batch, channels, side, side), dtype=torch.uint8, generator=seeded(seed))


def test_list_policies_names_the_four_recipes():
    assert list_policies() == ["clip-mild", "simclr", "simclr-cifar", "simclr-gray"]


def test_unknown_policy_name_lists_the_valid_ones():
    expected = "unknown augmentation policy 'simclr-imagenet'.*clip-mild, simclr, simclr-cifar, simclr-gray"
    with pytest.raises(ValueError, match=expected):
        create_policy("simclr-imagenet", size=32)


def test_unknown_override_is_named():
    with pytest.raises(TypeError, match="crop_sale"):
        create_policy("simclr", size=32, crop_sale=(0.2, 1.0))


def test_simclr_policy_has_the_papers_imagenet_defaults():
    ops = create_policy("simclr", size=224).ops
    expected = [RandomResizedCrop, RandomHorizontalFlip, ColorJitter, RandomGrayscale, GaussianBlur]
    assert [type(op) for op in ops] == expected
    crop, flip, jitter, gray, blur = ops
    assert crop.size == (224, 224) and crop.scale == (0.08, 1.0) and crop.ratio == pytest.approx((3 / 4, 4 / 3))
    assert flip.p == 0.5
    amplitudes = (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue, jitter.p)
    assert amplitudes == pytest.approx((0.8, 0.8, 0.8, 0.2, 0.8))
    assert jitter.random_order
    assert gray.p == 0.2
    assert blur.p == 0.5 and blur.sigma == (0.1, 2.0) and blur.kernel_size is None


def test_cifar_policy_has_half_strength_jitter_and_no_blur():
    ops = create_policy("simclr-cifar", size=32).ops
    assert [type(op) for op in ops] == [RandomResizedCrop, RandomHorizontalFlip, ColorJitter, RandomGrayscale]
    assert (ops[2].brightness, ops[2].hue) == pytest.approx((0.4, 0.1))


def test_gray_policy_is_crop_and_flip_with_adjustable_crop_scale():
    ops = create_policy("simclr-gray", size=28, channels=1).ops
    assert [type(op) for op in ops] == [RandomResizedCrop, RandomHorizontalFlip]
    assert ops[0].scale == (0.08, 1.0)
    assert create_policy("simclr-gray", size=28, channels=1, crop_scale=(0.2, 1.0)).ops[0].scale == (0.2, 1.0)


def test_clip_mild_policy_keeps_colours_and_the_object_in_view():
    ops = create_policy("clip-mild", size=32).ops
    assert [type(op) for op in ops] == [RandomResizedCrop, RandomHorizontalFlip, GaussianBlur]
    assert ops[0].scale == (0.8, 1.0) and ops[2].p == 0.5 and ops[2].sigma == (0.1, 1.5)
    # a flat red image stays exactly red through every op
    red = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    red[:, 0] = 200
    out = create_policy("clip-mild", size=32)(red, generator=seeded(1))
    assert torch.allclose(out[:, 0], torch.full_like(out[:, 0], 200 / 255), atol=1e-5)
    assert out[:, 1:].abs().max() <= 1e-6


def test_small_rotation_joins_the_chain_after_the_crop_only_when_asked():
    ops = create_policy("simclr-gray", size=28, channels=1, rotation_p=0.5, rotation_degrees=20).ops
    assert [type(op) for op in ops] == [RandomResizedCrop, RandomRotation, RandomHorizontalFlip]
    assert ops[1].degrees == (-20.0, 20.0) and ops[1].p == 0.5
    with pytest.raises(ValueError, match="rotation_degrees"):
        PolicyConfig(rotation_degrees="20")


def test_policy_config_overrides_and_validates():
    config = policy_config("simclr", blur_p=0.0, crop_scale=[0.3, 1.0])
    assert config.blur_p == 0.0 and config.crop_scale == (0.3, 1.0)
    with pytest.raises(ValueError, match="grayscale_p"):
        PolicyConfig(grayscale_p=1.5)


def test_colour_policy_rejects_channel_counts_without_colour_meaning():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        create_policy("simclr", size=32, channels=4)
    assert create_policy("simclr-gray", size=32, channels=4).channels == 4


@pytest.mark.parametrize("name, channels", [("simclr", 3), ("simclr-cifar", 3), ("simclr-gray", 1), ("simclr", 1)])
def test_policy_output_shape_dtype_and_range(name, channels):
    policy = create_policy(name, size=20, channels=channels)
    out = policy(uint8_images(8, channels, 28), generator=seeded(0))
    assert out.shape == (8, channels, 20, 20) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert out.is_contiguous()


def test_uint8_and_float_inputs_give_the_same_views_up_to_the_8_bit_crop():
    policy = create_policy("simclr", size=24)
    images = uint8_images(64, 3, 32)
    from_uint8 = policy(images, generator=seeded(1))
    from_float = policy(images.double() / 255, generator=seeded(1))
    # uint8 images are cropped in 8 bits (within one gray level, tests/augment/test_geometric.py);
    # colour jitter's factors (up to 1.8 each) and the hue's slopes amplify that in a few pixels
    gray_levels = (from_uint8 - from_float).abs() * 255
    assert float(gray_levels.mean()) < 0.5 and float(gray_levels.max()) < 12
    float_policy = create_policy("simclr", size=24)
    float_policy.chunk = None  # the whole-batch path takes float images as the chunked one does
    torch.testing.assert_close(float_policy(images.double() / 255, generator=seeded(1)), from_float,
                               atol=1e-5, rtol=0)


def test_same_seed_same_views_different_seed_different_views():
    policy = create_policy("simclr", size=16)
    images = uint8_images(4, 3, 16)
    first = policy(images, generator=seeded(3))
    assert torch.equal(first, policy(images, generator=seeded(3)))
    assert not torch.equal(first, policy(images, generator=seeded(4)))


def test_every_sample_gets_its_own_parameters():
    policy = create_policy("simclr", size=16)
    same_image = uint8_images(1, 3, 16).expand(16, -1, -1, -1)
    out = policy(same_image, generator=seeded(5))
    distances = torch.cdist(out.flatten(1), out.flatten(1))
    assert float(distances[~torch.eye(16, dtype=torch.bool)].min()) > 1e-3


def test_policy_checks_the_channel_count_of_its_input():
    with pytest.raises(ValueError, match="expects images with 1 channel"):
        create_policy("simclr-gray", size=16, channels=1)(uint8_images(2, 3, 16))


@pytest.mark.parametrize(
    "bad, error",
    [
        (torch.zeros(3, 16, 16), ValueError),  # missing batch dim
        (torch.zeros(2, 3, 16, 16, dtype=torch.int32), TypeError),
        (torch.full((2, 3, 16, 16), 255.0), ValueError),  # float in [0, 255]
        ([[0.0]], TypeError),
    ],
)
def test_bad_inputs_raise_clear_errors(bad, error):
    with pytest.raises(error, match="x"):
        create_policy("simclr", size=16)(bad)


def test_generator_must_be_a_torch_generator():
    with pytest.raises(TypeError, match="generator"):
        create_policy("simclr", size=16)(uint8_images(2, 3, 16), generator=0)


def test_compose_converts_uint8_and_resizes_to_its_size():
    images = uint8_images(3, 3, 16)
    out = Compose([], size=8)(images)
    assert out.shape == (3, 3, 8, 8) and out.dtype == torch.float32
    torch.testing.assert_close(Compose([])(images), images.float() / 255, rtol=0, atol=0)
    with pytest.raises(TypeError, match="ops\\[0\\]"):
        Compose([42])


def test_compose_runs_plain_callables_with_the_generator():
    calls = []

    def invert(x, generator=None):
        calls.append(generator)
        return 1.0 - x

    g = seeded(0)
    out = Compose([invert, RandomHorizontalFlip(p=1.0)])(torch.zeros(1, 1, 2, 2), generator=g)
    assert torch.equal(out, torch.ones(1, 1, 2, 2)) and calls == [g]


def test_two_views_are_independent_views_of_the_same_images():
    images = uint8_images(5, 3, 16)
    views = two_views(create_policy("simclr", size=12), images, generator=seeded(6))
    assert views.shape == (2, 5, 3, 12, 12)
    assert not torch.equal(views[0], views[1])
    identity = n_views(Compose([]), images, n=3, generator=seeded(7))
    assert identity.shape == (3, 5, 3, 16, 16)
    for v in range(3):
        torch.testing.assert_close(identity[v], images.float() / 255, rtol=0, atol=0)


def test_n_views_rejects_a_bad_count():
    with pytest.raises(ValueError, match="n must be"):
        n_views(Compose([]), uint8_images(2, 1, 4), n=0)


def test_empty_batch_gives_an_empty_batch_of_the_output_size():
    out = create_policy("simclr", size=8)(torch.zeros(0, 3, 16, 16, dtype=torch.uint8))
    assert out.shape == (0, 3, 8, 8)


def test_repr_names_the_ops_and_their_settings():
    text = repr(create_policy("simclr-cifar", size=32))
    assert "RandomResizedCrop(size=(32, 32), scale=(0.08, 1.0)" in text
    assert "ColorJitter(brightness=0.4" in text and "RandomGrayscale(p=0.2)" in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_views_match_cpu_views():
    policy = create_policy("simclr", size=24)
    images = uint8_images(8, 3, 32)
    cpu = policy(images, generator=seeded(8))
    cuda = policy(images.cuda(), generator=seeded(8))
    assert cuda.device.type == "cuda"
    torch.testing.assert_close(cuda.cpu(), cpu, atol=1e-4, rtol=0)


def test_policy_without_size_keeps_the_input_size():
    policy = create_policy("simclr-cifar")
    assert policy(uint8_images(3, 3, 20), generator=seeded(9)).shape == (3, 3, 20, 20)
    assert policy(uint8_images(3, 3, 12), generator=seeded(9)).shape == (3, 3, 12, 12)
    with pytest.raises(ValueError, match="size"):
        create_policy("simclr", size=0)


def test_ops_and_policies_never_modify_the_callers_tensor():
    from simclip.augment import Cutout, GaussianNoise, RandomRotation90, SobelFilter

    x = torch.rand(12, 3, 16, 16, generator=seeded(10))
    before = x.clone()
    ops = [RandomHorizontalFlip(0.5), ColorJitter(p=0.5), RandomGrayscale(0.5), GaussianBlur(p=0.5),
           RandomRotation90(p=0.5), Cutout(p=0.5), GaussianNoise(p=0.5), SobelFilter(p=0.5)]
    for op in ops:
        op(x, generator=seeded(11))
        assert torch.equal(x, before), op
    Compose(ops)(x, generator=seeded(12))
    create_policy("simclr", size=16)(x, generator=seeded(13))
    Compose([lambda t, generator=None: t[:, :, :, :], *ops])(x, generator=seeded(14))  # a view of x
    assert torch.equal(x, before)


def test_overwriting_inside_a_chain_gives_the_same_views_as_copying():
    from simclip.augment import Cutout, GaussianNoise

    ops = [RandomHorizontalFlip(0.5), ColorJitter(p=0.5), RandomGrayscale(0.5), GaussianBlur(p=0.5),
           Cutout(p=0.5), GaussianNoise(p=0.5)]
    x = torch.rand(12, 3, 16, 16, generator=seeded(15))
    chained = Compose(ops)(x.clone(), generator=seeded(16))
    g = seeded(16)
    one_by_one = x
    for op in ops:
        one_by_one = op(one_by_one, generator=g)  # __call__ on a float input never overwrites
    torch.testing.assert_close(chained, one_by_one, rtol=0, atol=0)


def test_running_in_chunks_gives_the_views_of_one_whole_batch_pass():
    from simclip.augment import Cutout, GaussianNoise, RandomRotation

    ops = [RandomResizedCrop(12), RandomRotation(p=0.5), RandomHorizontalFlip(0.5), ColorJitter(p=0.5),
           RandomGrayscale(0.5), GaussianBlur(p=0.5), Cutout(p=0.5), GaussianNoise(p=0.5)]
    images = uint8_images(10, 3, 16)
    whole = Compose(ops, chunk=None)(images, generator=seeded(17))
    for chunk in (1, 3, 16):
        chunked = Compose(ops, chunk=chunk)(images, generator=seeded(17))
        torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-6)
    floats = images.float() / 255
    torch.testing.assert_close(Compose(ops, chunk=4)(floats, generator=seeded(18)),
                               Compose(ops, chunk=None)(floats, generator=seeded(18)), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="chunk"):
        Compose(ops, chunk=0)


def test_views_do_not_depend_on_the_thread_count_which_is_restored():
    ops = [RandomResizedCrop(12), RandomHorizontalFlip(0.5), ColorJitter(p=0.8), RandomGrayscale(0.2),
           GaussianBlur(p=0.5)]
    images = torch.randint(0, 256, (21, 3, 16, 16), dtype=torch.uint8, generator=seeded(40))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = Compose(ops, chunk=2)(images, generator=seeded(41))
        torch.set_num_threads(3)
        three = Compose(ops, chunk=2)(images, generator=seeded(41))
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, three)
    assert not torch.equal(one[:2], one[2:4])


def test_repeats_equal_augmenting_the_tiled_batch():
    from simclip.augment import two_views

    policy = create_policy("simclr", size=12)
    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8, generator=seeded(42))
    tiled = torch.cat([images, images, images])
    expected = policy(tiled, generator=seeded(43))
    assert torch.equal(policy(images, generator=seeded(43), repeats=3), expected)
    whole = Compose(policy.ops, size=12, chunk=None)
    assert torch.equal(whole(images, generator=seeded(43), repeats=3), expected)
    pair = policy(torch.cat([images, images]), generator=seeded(43))
    assert torch.equal(two_views(policy, images, generator=seeded(43)).flatten(0, 1), pair)
    with pytest.raises(ValueError, match="repeats"):
        policy(images, repeats=0)


def test_a_crop_and_its_flip_fused_give_the_values_of_the_two_ops():
    ops = [RandomResizedCrop(20), RandomHorizontalFlip(0.5)]
    images = torch.randint(0, 256, (16, 3, 24, 24), dtype=torch.uint8, generator=seeded(44))
    for given in (images.float() / 255, images):  # uint8 ones are cropped in 8 bits
        fused = Compose(ops, chunk=4)(given, generator=seeded(45))
        g = seeded(45)
        separate = ops[1](Compose(ops[:1], chunk=4)(given, generator=g), generator=g)
        assert torch.equal(fused, separate)
        assert not torch.equal(fused, Compose(ops[:1])(given, generator=seeded(45)))  # some were flipped
