"""build_video_index / search_videos: the image index format, colour queries find the right video."""

import json
import shutil

import numpy as np
import pytest

from simclip.serve import ImageIndex, IndexMismatchError, index_info
from simclip.video import build_video_index, model_identity, search_videos

from .colour_model import ColourModel, tokenize


@pytest.fixture(scope="module")
def built(video_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("index") / "videos"
    model = ColourModel()
    info = build_video_index(model, None, video_dir, out, num_frames=4)
    return model, out, info


def test_index_holds_every_video_under_relative_ids(built, video_dir):
    _, out, info = built
    assert info["count"] == 4 and info["unreadable"] == 0 and info["dim"] == 3
    ids = json.loads((out / "ids.json").read_text())
    assert ids == ["blue_circle.mp4", "clock.mp4", "green_square.mkv", "shapes/red_square.mp4"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["media"] == "video" and meta["frames"] == {"num_frames": 4, "strategy": "uniform",
                                                           "pooling": "mean"}
    vectors = np.load(out / "embeddings.npy")
    assert vectors.shape == (4, 3) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    index = ImageIndex(out)  # the image search service reads it as it is
    assert len(index) == 4
    assert index.file_of("shapes/red_square.mp4") == video_dir / "shapes" / "red_square.mp4"
    assert index_info(out)["identity"] == model_identity(built[0])


@pytest.mark.parametrize("text, best", [("a red square moving", "shapes/red_square.mp4"),
                                        ("a blue circle", "blue_circle.mp4"),
                                        ("green", "green_square.mkv")])
def test_colour_query_finds_its_video_first(built, text, best):
    model, out, _ = built
    hits = search_videos(out, model, tokenize, text, k=3)
    assert len(hits) == 3 and hits[0][0] == best
    assert hits[0][1] > 0.9 and [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_identity_is_checked_when_given(built):
    model, out, _ = built
    assert search_videos(out, model, tokenize, "red", k=1, identity=model_identity(model))
    with pytest.raises(IndexMismatchError):
        search_videos(out, ColourModel(gain=3.0), tokenize, "red", identity=model_identity(ColourModel(3.0)))


def test_unreadable_videos_are_skipped_and_counted(video_dir, tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    shutil.copy(video_dir / "blue_circle.mp4", root / "ok.mp4")
    (root / "broken.avi").write_bytes(b"garbage" * 100)
    info = build_video_index(ColourModel(), None, root, tmp_path / "index", num_frames=2)
    assert info["count"] == 1 and info["unreadable"] == 1


def test_errors(built, tmp_path, video_dir):
    model, out, _ = built
    with pytest.raises(ValueError, match="already holds an index"):
        build_video_index(model, None, video_dir, out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no video files"):
        build_video_index(model, None, tmp_path / "empty", tmp_path / "index")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build_video_index(model, None, tmp_path / "nowhere", tmp_path / "index")
    with pytest.raises(ValueError, match="text"):
        search_videos(out, model, tokenize, "  ")
