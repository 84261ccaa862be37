import json
import shutil

import numpy as np
import pytest

from simclip.serve.images import open_image_file
from simclip.serve.index import ImageIndex, IndexMismatchError, add_to_index, build_index, index_info
from tests.serve.conftest import FakeEmbedder, write_shapes


def test_build_writes_all_files_and_skips_unreadable(built_index, shapes_dir, clip_embedder):
    info = index_info(built_index)
    assert info["count"] == 36 and info["dim"] == 128
    assert info["vector_index"]["kind"] == "flat"
    assert info["identity"] == clip_embedder.identity
    assert info["image_root"] == str(shapes_dir.resolve())
    ids = json.loads((built_index / "ids.json").read_text())
    assert "broken.png" not in ids and "circle/red_10.png" in ids
    embeddings = np.load(built_index / "embeddings.npy")
    assert embeddings.dtype == np.float32 and embeddings.shape == (36, 128)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)


def test_build_reports_unreadable_count_and_warns(tmp_path, caplog):
    write_shapes(tmp_path / "imgs", shapes=("circle",), colours=("red",), sizes=(8, 12))
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    info = build_index(FakeEmbedder(), tmp_path / "imgs", tmp_path / "idx", progress=False)
    assert info["count"] == 2 and info["unreadable"] == 1
    assert "broken.jpg" in caplog.text


def test_indexed_image_is_its_own_nearest_neighbour(built_index, shapes_dir, clip_embedder):
    index = ImageIndex(built_index, clip_embedder.identity)
    query = clip_embedder.embed_images([open_image_file(shapes_dir / "triangle/blue_14.png")])
    scores, ids = index.search(query, 5)
    assert ids[0][0] == "triangle/blue_14.png"
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-4)
    assert np.all(np.diff(scores[0]) <= 1e-6)


def test_search_scores_equal_cosine_similarity(built_index, clip_embedder):
    index = ImageIndex(built_index)
    query = clip_embedder.embed_texts(["a red circle"])
    scores, ids = index.search(query, 36)
    embeddings = np.load(built_index / "embeddings.npy").astype(np.float64)
    rows = [index.ids.index(i) for i in ids[0]]
    np.testing.assert_allclose(scores[0], embeddings[rows] @ query[0].astype(np.float64), atol=1e-5)
    assert sorted(ids[0]) == sorted(index.ids)


def test_opening_with_another_model_is_refused(built_index):
    with pytest.raises(IndexMismatchError, match="tiny-vit.*other"):
        ImageIndex(built_index, FakeEmbedder("other").identity)


def test_build_refuses_to_overwrite_and_needs_images(tmp_path, built_index, shapes_dir):
    with pytest.raises(ValueError, match="already holds an index"):
        build_index(FakeEmbedder(), shapes_dir, built_index, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        build_index(FakeEmbedder(), tmp_path / "empty", tmp_path / "out", progress=False)
    with pytest.raises(FileNotFoundError, match="missing"):
        build_index(FakeEmbedder(), tmp_path / "missing", tmp_path / "out", progress=False)


def test_add_grows_the_index_without_duplicates(tmp_path):
    root = tmp_path / "imgs"
    write_shapes(root, shapes=("circle", "square"), colours=("red", "blue"), sizes=(8,))
    embedder = FakeEmbedder()
    build_index(embedder, root, tmp_path / "idx", progress=False)
    assert index_info(tmp_path / "idx")["count"] == 4
    write_shapes(root, shapes=("triangle",), colours=("red", "green"), sizes=(8,))
    report = add_to_index(tmp_path / "idx", embedder, root, progress=False)
    assert report == {"added": 2, "already_indexed": 4, "unreadable": 0, "count": 6}
    again = add_to_index(tmp_path / "idx", embedder, [root / "triangle" / "red_8.png"], progress=False)
    assert again == {"added": 0, "already_indexed": 1, "unreadable": 0, "count": 6}
    index = ImageIndex(tmp_path / "idx", embedder.identity)
    assert len(index) == 6 == len(set(index.ids))
    query = embedder.embed_images([open_image_file(root / "triangle/green_8.png")])
    assert index.search(query, 1)[1][0] == ["triangle/green_8.png"]


def test_add_checks_model_and_root(tmp_path, built_index):
    copy = tmp_path / "copy"
    shutil.copytree(built_index, copy)
    with pytest.raises(IndexMismatchError):
        add_to_index(copy, FakeEmbedder(), tmp_path, progress=False)
    meta = json.loads((copy / "meta.json").read_text())
    (tmp_path / "elsewhere.png").write_bytes(b"")
    with pytest.raises(ValueError, match="outside the index's image root"):
        add_to_index(copy, _SameIdentity(meta["identity"]), [tmp_path / "elsewhere.png"], progress=False)


def test_add_switches_to_an_approximate_index_past_the_threshold(tmp_path, monkeypatch):
    import simclip.serve.vector_index as vector_index

    monkeypatch.setattr(vector_index, "EXACT_MAX_VECTORS", 100)
    root = tmp_path / "imgs"
    write_shapes(root, sizes=range(4, 10))  # 72 images
    build_index(FakeEmbedder(), root, tmp_path / "idx", progress=False)
    assert index_info(tmp_path / "idx")["vector_index"]["kind"] == "flat"
    write_shapes(root, sizes=range(10, 16))  # 72 more: 144 > 100
    add_to_index(tmp_path / "idx", FakeEmbedder(), root, progress=False)
    info = index_info(tmp_path / "idx")
    assert info["count"] == 144 and info["vector_index"]["kind"] == "ivf"
    assert len(ImageIndex(tmp_path / "idx")) == 144


def test_file_of_only_resolves_indexed_ids(built_index, shapes_dir):
    index = ImageIndex(built_index)
    assert index.file_of("circle/red_10.png") == shapes_dir / "circle/red_10.png"
    for bad in ("broken.png", "notes.txt", "../shapes/circle/red_10.png", "/etc/passwd", "circle/../circle/red_10.png"):
        assert index.file_of(bad) is None


def test_index_info_on_a_plain_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an image index"):
        index_info(tmp_path)


class _SameIdentity(FakeEmbedder):
    def __init__(self, identity):
        super().__init__()
        self.identity = identity
