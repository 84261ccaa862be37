"""export_embeddings: .npy and .parquet round trips with ids, equal to the model's own features."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from simclip.clip import create_model, preprocess_tensor
from simclip.data import load_dataset
from simclip.export import export_embeddings, read_embeddings


@pytest.fixture(scope="module")
def model_and_data():
    torch.manual_seed(0)
    data = load_dataset("digits", split="test")
    data.images, data.labels = data.images[:40], data.labels[:40]
    return create_model("small-cnn-28").eval(), data


def _reference(model, images, normalize=True):
    with torch.inference_mode():
        x = preprocess_tensor(images.float() / 255.0, model.preprocess_cfg)
        return model.encode_image(x, normalize=normalize).numpy()


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_round_trip_equals_the_model(model_and_data, tmp_path, suffix):
    model, data = model_and_data
    ids = [f"digit-{i:03d}" for i in range(40)]
    path = export_embeddings(model, data, tmp_path / f"emb{suffix}", ids, batch_size=16)
    got_ids, vectors = read_embeddings(path)
    assert got_ids == ids and vectors.dtype == np.float32 and vectors.shape == (40, 64)
    assert np.allclose(vectors, _reference(model, data.images), atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_parquet_has_labels_and_metadata(model_and_data, tmp_path):
    model, data = model_and_data
    table = pq.read_table(export_embeddings(model, data, tmp_path / "emb.parquet"))
    assert table.column_names == ["id", "embedding", "label"]
    assert table.column("label").to_pylist() == data.labels.tolist()
    meta = json.loads(table.schema.metadata[b"simclip"])
    assert meta == {"embed_dim": 64, "normalized": True, "classes": data.classes}


def test_plain_tensor_default_ids_and_raw_features(model_and_data, tmp_path):
    model, data = model_and_data
    path = export_embeddings(model, data.images[:5], tmp_path / "sub" / "raw.npy", normalize=False)
    ids, vectors = read_embeddings(path)
    assert ids == ["0", "1", "2", "3", "4"]
    assert json.loads((tmp_path / "sub" / "raw.ids.json").read_text()) == ids
    assert np.allclose(vectors, _reference(model, data.images[:5], normalize=False), atol=1e-4)
    pq_path = export_embeddings(model, data.images[:5], tmp_path / "raw.parquet")
    assert pq.read_table(pq_path).column_names == ["id", "embedding"]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(out_path="emb.csv"), ValueError, ".npy"),
    (dict(ids=["a", "b"]), ValueError, "2 entries"),
    (dict(ids=["a"] * 40), ValueError, "unique"),
    (dict(dataset_or_images=[1, 2]), TypeError, "dataset_or_images"),
])
def test_bad_arguments(model_and_data, tmp_path, kwargs, error, match):
    model, data = model_and_data
    args = dict(dataset_or_images=data, out_path="emb.npy", ids=None)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        export_embeddings(model, args["dataset_or_images"], tmp_path / args["out_path"], args["ids"])


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npy"):
        read_embeddings(tmp_path / "nothing.npy")
    np.save(tmp_path / "lonely.npy", np.zeros((2, 3), np.float32))
    with pytest.raises(FileNotFoundError, match="lonely.ids.json"):
        read_embeddings(tmp_path / "lonely.npy")
