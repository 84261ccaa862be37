"""``timm:NAME`` encoders: any timm model without its classifier, for any channel count, built at the
data's image size when the model has one."""

from __future__ import annotations

import pytest
import torch

from simclip.errors import SimclipError, UnknownNameError
from simclip.models import SimCLRModel, SimCLRModelConfig, create_encoder

pytest.importorskip("timm")


def test_resnet_on_one_channel_images_gives_its_pooled_features():
    encoder = create_encoder("timm:resnet18", in_channels=1, image_size=28)  # a size it does not need
    assert encoder.num_features == 512 and encoder.conv1.in_channels == 1
    assert encoder(torch.rand(2, 1, 28, 28)).shape == (2, 512)


def test_vit_is_built_for_small_images_and_takes_smaller_views():
    encoder = create_encoder("timm:vit_tiny_patch16_224", in_channels=3, image_size=32, patch_size=8)
    assert tuple(encoder.patch_embed.img_size) == (32, 32) and encoder.pos_embed.shape[1] == 1 + 16
    assert encoder(torch.rand(2, 3, 32, 32)).shape == (2, 192)
    assert encoder(torch.rand(2, 3, 24, 24)).shape == (2, 192)  # SimCLR's crops


def test_unknown_timm_model_and_bad_option_are_one_line_errors():
    with pytest.raises(UnknownNameError, match="resnet_nope"):
        create_encoder("timm:resnet_nope")
    with pytest.raises(SimclipError, match="timm:resnet18.*no_such_option"):
        create_encoder("timm:resnet18", no_such_option=3)


def test_simclr_model_with_a_timm_encoder_rebuilds_from_its_config():
    torch.manual_seed(0)
    cfg = SimCLRModelConfig(encoder="timm:resnet18", in_channels=1, encoder_options={"image_size": 16},
                            proj_dim=16)
    model = SimCLRModel(cfg)
    again = SimCLRModel(SimCLRModelConfig(**model.config_dict()))
    again.load_state_dict(model.state_dict())
    x = torch.rand(3, 1, 16, 16)
    model.eval(), again.eval()
    with torch.no_grad():
        assert model(x).shape == (3, 16)
        torch.testing.assert_close(again.encode(x), model.encode(x), rtol=0, atol=0)
