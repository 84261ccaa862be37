"""--backend onnx: the served embeddings and search results equal PyTorch's within the export's
parity tolerance (1e-4, simclip.export.onnx.ATOL)."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from simclip.export.onnx import ATOL
from simclip.serve.app import create_app
from simclip.serve.onnx_embedder import OnnxEmbedder, export_towers, onnx_embedder
from tests.serve.conftest import COLOURS, draw_shape


@pytest.fixture(scope="module")
def onnx(clip_embedder, tmp_path_factory) -> OnnxEmbedder:
    folder = export_towers(clip_embedder, tmp_path_factory.mktemp("onnx"))
    return onnx_embedder(clip_embedder, folder, threads=1)


def test_embeddings_equal_pytorch(onnx, clip_embedder):
    texts = [f"a {c} circle" for c in COLOURS] + ["", "a much longer caption about a small green square"]
    images = [draw_shape(s, rgb, 11) for s in ("circle", "triangle") for rgb in COLOURS.values()]
    for got, want in ((onnx.embed_texts(texts), clip_embedder.embed_texts(texts)),
                      (onnx.embed_images(images), clip_embedder.embed_images(images))):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=ATOL)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert onnx.embed_images([]).shape == (0, 128)
    assert onnx.trims_padding  # the text graph takes the queries without their padding
    assert onnx.image_size == clip_embedder.image_size == 32
    assert onnx.identity == clip_embedder.identity and onnx.logit_scale == clip_embedder.logit_scale


def test_served_results_equal_pytorch(onnx, clip_embedder, built_index, shapes_dir):
    upload = (shapes_dir / "triangle/yellow_10.png").read_bytes()
    answers = []
    for embedder in (onnx, clip_embedder):
        with TestClient(create_app(built_index, embedder)) as client:
            text = client.get("/api/search", params={"q": "a red square", "k": 36}).json()["results"]
            image = client.post("/api/search/image", params={"k": 36},
                                files={"file": ("q.png", upload, "image/png")}).json()["results"]
            answers.append((text, image))
    for got, want in zip(*answers):
        got_scores, want_scores = ({h["id"]: h["score"] for h in hits} for hits in (got, want))
        assert got_scores.keys() == want_scores.keys()
        np.testing.assert_allclose([got_scores[i] for i in want_scores], list(want_scores.values()), atol=ATOL)
    assert answers[0][1][0]["id"] == "triangle/yellow_10.png"


def test_missing_graphs_are_named(clip_embedder, tmp_path):
    with pytest.raises(FileNotFoundError, match="image.onnx"):
        onnx_embedder(clip_embedder, tmp_path)
