"""export_onnx: onnxruntime equals PyTorch within 1e-4 for a ViT, an encoder tower and a ModifiedResNet,
at batch sizes other than the export's; the text tower pools at each row's own end token."""

import json

import numpy as np
import onnx
import pytest
import torch

from simclip.clip import create_model
from simclip.export import example_inputs, export_onnx, onnx_max_abs_diff, onnx_session

SMALL_RESNET = dict(embed_dim=32, vision={"layers": [1, 1, 1, 1], "width": 16, "image_size": 64,
                                          "head_width": 16},
                    text={"context_length": 16, "width": 64, "heads": 2, "layers": 1})
MODELS = {"tiny-vit": ("tiny-vit", {}), "small-cnn-28": ("small-cnn-28", {}),
          "small-resnet": ("RN50", SMALL_RESNET)}


@pytest.fixture(scope="module", params=sorted(MODELS))
def exported(request, tmp_path_factory):
    name, overrides = MODELS[request.param]
    torch.manual_seed(0)
    model = create_model(name, **overrides)
    model.train()  # export must trace eval-mode batch norm and put the model back as it was
    paths = export_onnx(model, tmp_path_factory.mktemp(request.param), check=False)
    assert model.training
    return model.eval(), paths


@pytest.mark.parametrize("batch", [1, 7])
def test_onnxruntime_equals_pytorch(exported, batch):
    model, (image_path, text_path) = exported
    diffs = onnx_max_abs_diff(model, image_path, text_path, batch=batch, seed=batch)
    assert diffs["image_max_abs_diff"] <= 1e-4 and diffs["text_max_abs_diff"] <= 1e-4


def test_text_tower_pools_at_each_rows_end_token(exported):
    """Rows whose end tokens sit at other positions than in the export example, including a tie
    (two equal largest ids: the first counts, as in torch.argmax)."""
    model, (_, text_path) = exported
    t = model.config.text
    tokens = torch.zeros(4, t.context_length, dtype=torch.long)
    tokens[:, 0] = 49406 % t.vocab_size
    for row, end in enumerate([1, t.context_length - 1, 5, 3]):
        tokens[row, 1:end] = torch.arange(1, end) + 100
        tokens[row, end] = t.vocab_size - 1
    tokens[3, 7] = t.vocab_size - 1  # tie after the first end token
    session = onnx_session(text_path)
    got = session.run(None, {"tokens": tokens.numpy()})[0]
    with torch.inference_mode():
        want = model.encode_text(tokens).numpy()
    assert np.abs(got - want).max() <= 1e-4
    assert np.abs(got[1] - got[2]).max() > 1e-3  # different end positions give different features


def test_files_carry_the_config_and_a_dynamic_batch(exported):
    model, (image_path, text_path) = exported
    for path, name in ((image_path, "images"), (text_path, "tokens")):
        proto = onnx.load(str(path))
        assert proto.opset_import[0].version >= 17
        props = {p.key: p.value for p in proto.metadata_props}
        assert json.loads(props["simclip.config"]) == model.config.to_dict()
        assert props["simclip.embed_dim"] == str(model.embed_dim)
        (graph_input,) = proto.graph.input
        assert graph_input.name == name
        assert graph_input.type.tensor_type.shape.dim[0].dim_param == "batch"


def test_normalized_export_and_check(tmp_path):
    torch.manual_seed(0)
    model = create_model("small-cnn-28").eval()
    image_path, _ = export_onnx(model, tmp_path, normalize=True, check=True)
    images, _ = example_inputs(model, 3)
    got = onnx_session(image_path).run(None, {"images": images.numpy()})[0]
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_bad_arguments(tmp_path):
    model = create_model("small-cnn-28")
    with pytest.raises(ValueError, match="opset"):
        export_onnx(model, tmp_path, opset=13)
    with pytest.raises(TypeError, match="CLIP"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path)


def test_text_graph_takes_shorter_rows_and_equals_the_full_length(exported):
    """The token length is dynamic: cutting the padding after the last end token changes nothing."""
    model, (_, text_path) = exported
    t = model.config.text
    tokens = torch.zeros(3, t.context_length, dtype=torch.long)
    for row, end in enumerate([2, 5, 4]):
        tokens[row, :end] = torch.arange(end) + 100
        tokens[row, end] = t.vocab_size - 1
    session = onnx_session(text_path)
    assert session.get_inputs()[0].shape == ["batch", "length"]
    full = session.run(None, {"tokens": tokens.numpy()})[0]
    short = session.run(None, {"tokens": tokens[:, :6].numpy()})[0]
    with torch.inference_mode():
        want = model.encode_text(tokens[:, :6]).numpy()
    assert np.abs(short - full).max() <= 1e-5 and np.abs(short - want).max() <= 1e-4
