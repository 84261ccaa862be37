import pytest
import torch

from simclip.models import ProjectionHead, SimCLRModel, SimCLRModelConfig, create_encoder, list_encoders

SMALL_INPUT = {"small-cnn": {}, "resnet18": {"cifar_stem": True}, "resnet50": {"cifar_stem": True},
               "vit-tiny": {"image_size": 16, "patch_size": 4}, "vit-small": {"image_size": 16, "patch_size": 4}}


def test_registry_lists_the_required_encoders():
    assert {"small-cnn", "resnet18", "resnet50", "vit-tiny", "vit-small"} <= set(list_encoders())


@pytest.mark.parametrize("name", sorted(SMALL_INPUT))
@pytest.mark.parametrize("channels", [1, 3])
def test_encoder_maps_images_to_num_features(name, channels):
    enc = create_encoder(name, in_channels=channels, **SMALL_INPUT[name]).eval()
    out = enc(torch.rand(2, channels, 16, 16))
    assert out.shape == (2, enc.num_features)
    assert torch.isfinite(out).all()


def test_small_cnn_architecture_matches_its_description():
    enc = create_encoder("small-cnn", in_channels=1)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256]
    assert [c.stride[0] for c in convs] == [1, 2, 2, 2]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert enc.num_features == 256


def test_cifar_stem_keeps_resolution_longer():
    std = create_encoder("resnet18", in_channels=3)
    cifar = create_encoder("resnet18", in_channels=3, cifar_stem=True)
    assert cifar.net.conv1.kernel_size == (3, 3) and isinstance(cifar.net.maxpool, torch.nn.Identity)
    assert std.net.conv1.kernel_size == (7, 7)


def test_unknown_encoder_and_bad_option_are_clear_errors():
    with pytest.raises(ValueError, match="unknown encoder 'resnet9'.*small-cnn"):
        create_encoder("resnet9")
    with pytest.raises(ValueError, match="bad option for encoder 'small-cnn'"):
        create_encoder("small-cnn", depth=3)
    with pytest.raises(ValueError, match="patch_size"):
        create_encoder("vit-tiny", image_size=30, patch_size=4)


def test_projection_head_shapes_and_depth():
    head = ProjectionHead(256, 256, 128, layers=3)
    assert head(torch.randn(4, 256)).shape == (4, 128)
    assert sum(isinstance(m, torch.nn.Linear) for m in head.modules()) == 3


def test_simclr_model_normalises_inside_and_checks_channels():
    cfg = SimCLRModelConfig(encoder="small-cnn", in_channels=1, mean=(0.25,), std=(0.5,))
    model = SimCLRModel(cfg).eval()
    x = torch.rand(3, 1, 28, 28)
    expected = model.encoder((x - 0.25) / 0.5)
    torch.testing.assert_close(model.encode(x), expected)
    assert model(x).shape == (3, 128)
    norm = model.encode_image(x, normalize=True).norm(dim=-1)
    torch.testing.assert_close(norm, torch.ones(3))
    with pytest.raises(ValueError, match=r"expected images \[B, 1, H, W\]"):
        model.encode(torch.rand(3, 3, 28, 28))
