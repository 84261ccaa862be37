"""Exact parity with OpenCLIP: weights saved by OpenCLIP in every format load into simclip and give the
same image features, text features and logits (float32, 1e-5)."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from safetensors.torch import save_file

from simclip.clip import load

from .reference_models import inputs, max_differences, reference_model

FAMILIES = [("vit", True), ("vit", False), ("resnet", True), ("resnet", False)]
TOL = 1e-5

# torch.jit is deprecated upstream, but OpenAI released their weights as TorchScript archives.
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning"),
              pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")]


_CACHE: dict[tuple[str, bool], object] = {}


def _reference(family: str, quick_gelu: bool):
    if (family, quick_gelu) not in _CACHE:
        _CACHE[family, quick_gelu] = reference_model(family, quick_gelu)
    return _CACHE[family, quick_gelu]


def _save(fmt: str, model, folder):
    sd = model.state_dict()
    if fmt == "memory":
        return sd
    if fmt == "pt":
        path = folder / "weights.pt"
        torch.save(sd, path)
    elif fmt == "safetensors":
        path = folder / "weights.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    elif fmt == "ddp-wrapped":  # OpenCLIP training checkpoint: {"state_dict": {"module.…": …}, …}
        path = folder / "epoch_1.pt"
        torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in sd.items()}}, path)
    elif fmt == "torchscript":
        path = folder / "model.pt"
        torch.jit.script(model).save(str(path))
    return path


# Every family in memory and as TorchScript (whose module types tell the activation); the other file
# formats for one ViT and one ResNet family (the format is independent of the architecture).
CASES = ([(f, q, fmt) for f, q in FAMILIES for fmt in ("memory", "torchscript")]
         + [(f, q, fmt) for f, q in (("vit", False), ("resnet", True))
            for fmt in ("pt", "safetensors", "ddp-wrapped")])


@pytest.mark.parametrize("family, quick_gelu, fmt", CASES,
                         ids=[f"{f}-{'quickgelu' if q else 'gelu'}-{fmt}" for f, q, fmt in CASES])
def test_features_and_logits_match(family, quick_gelu, fmt, tmp_path):
    ref = _reference(family, quick_gelu)
    source = _save(fmt, ref, tmp_path)
    # TorchScript archives carry their activation; the other formats are told
    explicit = None if fmt == "torchscript" else quick_gelu
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "cannot tell the activation" warning
        model, preprocess = load(source, quick_gelu=explicit)
    assert model.config.quick_gelu is quick_gelu
    assert model.config.vision.kind == family
    assert not model.training
    assert preprocess.cfg == model.preprocess_cfg
    diffs = max_differences(ref, model, *inputs(family))
    assert max(diffs.values()) < TOL, diffs


def test_open_clip_config_decides_activation_and_heads(tmp_path):
    # head_width 32 cannot be seen in shapes: the config next to the file provides it
    ref = reference_model("vit", quick_gelu=True, vision_overrides={"head_width": 32})
    torch.save(ref.state_dict(), tmp_path / "open_clip_pytorch_model.bin")
    cfg = {"model_cfg": {"embed_dim": 64, "quick_gelu": True,
                         "vision_cfg": {"layers": 2, "width": 128, "patch_size": 8, "image_size": 32,
                                        "head_width": 32},
                         "text_cfg": {"context_length": 20, "vocab_size": 49408, "width": 128,
                                      "heads": 2, "layers": 2}},
           "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                              "interpolation": "bilinear", "resize_mode": "squash"}}
    (tmp_path / "open_clip_config.json").write_text(json.dumps(cfg))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model, preprocess = load(tmp_path / "open_clip_pytorch_model.bin")
    assert model.config.quick_gelu and model.config.vision.heads == 4
    assert preprocess.cfg.mean == (0.5, 0.5, 0.5) and preprocess.cfg.resize_mode == "squash"
    diffs = max_differences(ref, model, *inputs("vit"))
    assert max(diffs.values()) < TOL, diffs


def test_openai_metadata_means_quickgelu(tmp_path):
    # OpenAI's released archives hold these three entries; their models use QuickGELU
    ref = reference_model("resnet", quick_gelu=True)
    sd = {k: v.half() if v.is_floating_point() else v for k, v in ref.state_dict().items()}
    sd.update(input_resolution=torch.tensor(64), context_length=torch.tensor(20),
              vocab_size=torch.tensor(49408))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model, _ = load(sd)
    assert model.config.quick_gelu
    assert next(model.parameters()).dtype == torch.float32  # fp16 release weights come back float32
    ref.load_state_dict({k: v for k, v in sd.items() if k in ref.state_dict()})  # same rounding
    diffs = max_differences(ref.float(), model, *inputs("resnet"))
    assert max(diffs.values()) < TOL, diffs


def test_undecidable_activation_warns_and_builds_gelu():
    ref = _reference("vit", False)
    with pytest.warns(UserWarning, match="cannot tell whether .* QuickGELU or GELU"):
        model, _ = load(ref.state_dict())
    assert model.config.quick_gelu is False
    assert max(max_differences(ref, model, *inputs("vit")).values()) < TOL


def test_explicit_choice_against_the_file_warns(tmp_path):
    ref = _reference("vit", True)
    torch.jit.script(ref).save(str(tmp_path / "m.pt"))
    with pytest.warns(UserWarning, match="trained with QuickGELU but quick_gelu=False"):
        model, _ = load(tmp_path / "m.pt", quick_gelu=False)
    assert model.config.quick_gelu is False
    assert max_differences(ref, model, *inputs("vit"))["image"] > 1e-4  # and it does matter


def test_traced_archive(tmp_path):
    # OpenAI's archives were made by tracing
    ref = _reference("vit", True)
    images, tokens = inputs("vit")
    traced = torch.jit.trace_module(ref, {"forward": (images, tokens)}, check_trace=False)
    traced.save(str(tmp_path / "traced.pt"))
    model, _ = load(tmp_path / "traced.pt")
    assert model.config.quick_gelu
    assert max(max_differences(ref, model, images, tokens).values()) < TOL


def test_simclip_state_dict_round_trip(tmp_path):
    ref = _reference("vit", True)
    model, _ = load(ref.state_dict(), quick_gelu=True)
    torch.save(model.state_dict(), tmp_path / "simclip.pt")  # simclip layout: text tower under "text."
    again, _ = load(tmp_path / "simclip.pt", config=model.config)
    images, tokens = inputs("vit")
    with torch.no_grad():
        assert torch.equal(again.encode_image(images), model.encode_image(images))
        assert torch.equal(again.encode_text(tokens), model.encode_text(tokens))
