"""ONNX export of a CLIP model's two towers, each with a dynamic batch dimension.

``image.onnx``: ``images float32[batch, C, S, S]`` (already preprocessed) -> ``features[batch, E]``.
``text.onnx``: ``tokens int64[batch, length]`` (``length`` <= the context length, dynamic as well:
the causal text tower gives the same features when the padding after the last end token is cut)
-> ``features[batch, E]``.
Both go through the public ``encode_image``/``encode_text``. The text tower pools at each row's
largest token id (OpenAI's end-of-text token); ``argmax`` becomes ONNX ``ArgMax``, which like
``torch.argmax`` returns the first of tied maxima, and the gather is traced on the batch index, so
rows pool at their own positions for any batch size. Each file carries the model's config (including
the preprocessing its inputs need) in its metadata as ``simclip.config``.

The TorchScript-based exporter is used: ``torch.export`` (``dynamo=True``) cannot trace the token
value check in ``encode_text``, which branches on the data.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from simclip.errors import MissingDependencyError, UsageError

if TYPE_CHECKING:
    from simclip.clip.model import CLIP

DEFAULT_OPSET = 17
ATOL = 1e-4


class ImageTower(nn.Module):
    """``model.encode_image`` as a module of its own, for export."""

    def __init__(self, model: CLIP, normalize: bool = False) -> None:
        super().__init__()
        self.model, self.normalize = model, normalize

    def forward(self, images: Tensor) -> Tensor:
        return self.model.encode_image(images, normalize=self.normalize)


class TextTower(nn.Module):
    """``model.encode_text`` as a module of its own, for export."""

    def __init__(self, model: CLIP, normalize: bool = False) -> None:
        super().__init__()
        self.model, self.normalize = model, normalize

    def forward(self, tokens: Tensor) -> Tensor:
        return self.model.encode_text(tokens, normalize=self.normalize)


def example_inputs(model: CLIP, batch: int = 2, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Random preprocessed images ``[batch, C, S, S]`` and token ids ``[batch, L]`` whose largest id
    sits at a different position in every row (as end-of-text tokens of captions of different
    lengths do), on the model's device."""
    v, t = model.config.vision, model.config.text
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, v.in_channels, v.image_size, v.image_size, generator=g)
    tokens = torch.randint(0, t.vocab_size - 1, (batch, t.context_length), generator=g)
    ends = torch.randint(1, t.context_length, (batch,), generator=g)
    tokens[torch.arange(batch), ends] = t.vocab_size - 1
    tokens[torch.arange(t.context_length) > ends[:, None]] = 0  # padding after the end token
    device = next(model.parameters()).device
    return images.to(device), tokens.to(device)


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise MissingDependencyError(f"ONNX export needs the '{module}' package: pip install onnx onnxruntime") from err


def _export_one(tower: nn.Module, example: Tensor, name: str, path: Path, opset: int, props: dict,
                axes: dict[int, str]) -> None:
    with warnings.catch_warnings():
        # The towers' input checks read tensor values; the tracer warns that such Python branches are
        # not recorded, which is intended: the graph need not re-check its inputs.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        # The pooling gathers at (arange, argmax) indices, never negative, which the warning is about.
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(tower, (example,), str(path), input_names=[name], output_names=["features"],
                          dynamic_axes={name: axes, "features": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    onnx = _require("onnx")
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, str(path))


def export_onnx(model: CLIP, out_dir: str | Path, *, opset: int = DEFAULT_OPSET, normalize: bool = False,
                check: bool = True, atol: float = ATOL) -> tuple[Path, Path]:
    """Write ``out_dir/image.onnx`` and ``out_dir/text.onnx``; returns their paths.

    ``normalize`` bakes the L2 normalisation into both graphs. With ``check``, onnxruntime's outputs
    on new inputs of another batch size must equal PyTorch's within ``atol`` (else ``RuntimeError``).
    """
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < 17:
        raise UsageError(f"opset must be an int >= 17, got {opset!r}")
    if not hasattr(model, "config") or not hasattr(model, "encode_text"):
        raise TypeError(f"model must be a simclip CLIP model, got {type(model).__name__}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / "image.onnx", out_dir / "text.onnx"
    props = {"simclip.config": json.dumps(model.config.to_dict()), "simclip.normalize": str(normalize),
             "simclip.embed_dim": str(model.embed_dim)}
    images, tokens = example_inputs(model)
    was_training = model.training
    model.eval()  # batch norm must be traced with its running statistics
    try:
        for tower, example, name, path, axes in (
                (ImageTower(model, normalize), images, "images", paths[0], {0: "batch"}),
                (TextTower(model, normalize), tokens, "tokens", paths[1], {0: "batch", 1: "length"})):
            _export_one(tower.eval(), example, name, path, opset, {**props, "simclip.tower": name[:-1]}, axes)
        if check:
            diffs = onnx_max_abs_diff(model, *paths, normalize=normalize)
            bad = {k: v for k, v in diffs.items() if not v <= atol}
            if bad:
                raise RuntimeError(f"ONNX outputs differ from PyTorch's by {bad} (> atol {atol})")
    finally:
        model.train(was_training)
    return paths


def onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session for ``path`` (``threads`` intra-op threads; default onnxruntime's)."""
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@torch.inference_mode()
def onnx_max_abs_diff(model: CLIP, image_path: str | Path, text_path: str | Path, batch: int = 5,
                      normalize: bool = False, seed: int = 1) -> dict[str, float]:
    """Largest absolute difference between onnxruntime and PyTorch features for each tower, on
    :func:`example_inputs` of ``batch`` rows (choose a batch size other than the export's)."""
    was_training = model.training
    model.eval()
    try:
        images, tokens = example_inputs(model, batch, seed)
        expected = (model.encode_image(images, normalize=normalize),
                    model.encode_text(tokens, normalize=normalize))
    finally:
        model.train(was_training)
    out = {}
    for key, path, x, want in (("image", image_path, images, expected[0]),
                               ("text", text_path, tokens, expected[1])):
        session = onnx_session(path)
        got = session.run(None, {session.get_inputs()[0].name: x.cpu().numpy()})[0]
        out[f"{key}_max_abs_diff"] = float(np.abs(got - want.float().cpu().numpy()).max())
    return out
