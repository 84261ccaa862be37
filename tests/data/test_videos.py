"""``videos:DIR``: clips the world writes read back with PyAV, and unusable files (truncated, not a
video, silent or missing audio) refused by name or skipped and counted."""

import shutil

import av
import numpy as np
import pytest
import torch

from simclip.data import batches, load_dataset
from simclip.data.shapes import COLOR_NAMES, COLORS
from simclip.data.videos import (VideoDataset, VideoDecodeError, audio_window, even_indices, load_video_pairs,
                                 read_clip)
from simclip.data.world.objects import sample_objects
from simclip.data.world.video import FPS, FRAMES, write_clip
from simclip.data.world.write import write_videos

N = 20  # clips: 16 train, 4 test


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    write_videos(root, N, seed=0)
    return root


def _clip_files(root):
    return sorted(root.rglob("*.mp4"))


def test_world_clips_decode_to_moving_objects_of_their_colour_with_sound(videos):
    objects = sample_objects(N, 0)
    for path in _clip_files(videos)[:4]:
        i = int(path.stem)
        clip = read_clip(path, 32, FRAMES, audio=True)
        assert clip.frames.shape == (FRAMES, 3, 32, 32) and clip.frames.dtype == np.uint8
        assert clip.index.tolist() == list(range(FRAMES))
        assert np.allclose(clip.times, np.arange(FRAMES) / FPS)
        assert path.parent.name == objects.labels(i)["shape"] and path.parts[-3] == objects.split[i]
        rgb = np.array(COLORS[COLOR_NAMES[objects.color[i]]])
        close = (np.abs(clip.frames.astype(int) - rgb[None, :, None, None]).max(axis=1) < 40)  # [T, S, S]
        assert close.reshape(FRAMES, -1).sum(axis=1).min() >= 10  # the object is in every frame
        centres = [np.argwhere(c).mean(axis=0) for c in close]
        assert np.abs(centres[-1] - centres[0]).max() > 2  # and it moves
        assert clip.sample_rate == 8000 and len(clip.audio) >= 2 * 8000 and np.abs(clip.audio).max() > 0.3


def test_frames_are_sampled_evenly_and_decoded_at_the_requested_size(videos):
    clip = read_clip(_clip_files(videos)[0], 16, 4)
    assert clip.frames.shape == (4, 3, 16, 16) and clip.audio is None
    assert clip.index.tolist() == [2, 6, 10, 14] == even_indices(16, 4).tolist()
    assert even_indices(3, 5).tolist() == [0, 0, 1, 2, 2]  # short clips repeat frames


def test_dataset_splits_labels_batches_and_middle_frames(videos):
    train, test = load_dataset(f"videos:{videos}"), load_dataset(f"videos:{videos}?frames=8&size=24", "test")
    assert isinstance(train, VideoDataset) and (len(train), len(test)) == (16, 4)
    assert train.clips.shape == (16, FRAMES, 3, 32, 32) and test.clips.shape == (4, 8, 3, 24, 24)
    assert train.classes == test.classes and set(train.classes) <= {"circle", "square", "triangle", "star", "cross"}
    assert torch.equal(train.images, train.clips[:, FRAMES // 2]) and train.image_size == 32
    clips, index, labels = next(iter(batches(train, 4, seed=1)))
    assert clips.shape == (4, FRAMES, 3, 32, 32) and index.shape == (4, FRAMES) and labels.shape == (4,)


def test_a_flat_folder_holds_out_every_fifth_video(videos, tmp_path):
    for k, path in enumerate(_clip_files(videos)[:10]):
        shutil.copy(path, tmp_path / f"{k:02d}.mp4")
    train, test = load_dataset(f"videos:{tmp_path}"), load_dataset(f"videos:{tmp_path}", "test")
    assert (len(train), len(test)) == (8, 2) and train.labels is None


def _cut(src, dst, keep):
    data = src.read_bytes()
    dst.write_bytes(data[:int(len(data) * keep)])
    return dst


def _faststart_clip(path, frames=FRAMES):
    """An MP4 whose index comes first, so that a cut file still opens and declares every frame."""
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as c:
        s = c.add_stream("mpeg4", rate=FPS)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        for t in range(frames):
            f = av.VideoFrame.from_ndarray(np.random.default_rng(t).integers(0, 255, (32, 32, 3), np.uint8), "rgb24")
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return path


def test_truncated_and_undecodable_files_are_refused_by_name(videos, tmp_path):
    src = _clip_files(videos)[0]
    for bad in (_cut(src, tmp_path / "half.mp4", 0.5), _cut(src, tmp_path / "empty.mp4", 0.0)):
        with pytest.raises(VideoDecodeError, match=bad.name):
            read_clip(bad, 32, 4)
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(VideoDecodeError, match="text.mp4 is not a readable video"):
        read_clip(tmp_path / "text.mp4", 32, 4)
    whole = _faststart_clip(tmp_path / "fast.mp4")
    assert read_clip(whole, 32, 4).frames.shape == (4, 3, 32, 32)
    with pytest.raises(VideoDecodeError, match="truncated: its container declares 16 frames"):
        read_clip(_cut(whole, tmp_path / "fast_cut.mp4", 0.5), 32, 4)


def _copy_world_with(videos, tmp_path, extra):
    root = tmp_path / "v"
    shutil.copytree(videos, root)
    for name, make in extra.items():
        make(root / "train" / "circle" / name)
    return root


def test_bad_videos_are_counted_skips_and_strict_raises(videos, tmp_path):
    src = _clip_files(videos)[0]
    root = _copy_world_with(videos, tmp_path, {"cut.mp4": lambda p: _cut(src, p, 0.4)})
    with pytest.warns(UserWarning, match="skipped 1 of 17 train videos"):
        train = load_dataset(f"videos:{root}")
    assert len(train) == 16 and len(train.bad_files) == 1 and "cut.mp4" in train.bad_files[0]
    with pytest.raises(VideoDecodeError, match="cut.mp4"):
        load_dataset(f"videos:{root}?strict=1")


def _silent(path):
    frames = np.full((FRAMES, 32, 32, 3), 90, np.uint8)
    write_clip(path, frames, np.zeros(FRAMES * 8000 // FPS, np.int16), 8000)


def _mute(path):
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("mpeg4", rate=FPS)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        for _ in range(FRAMES):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((32, 32, 3), 90, np.uint8), "rgb24")))
        c.mux(s.encode(None))


def test_silent_or_missing_audio_is_a_counted_skip_only_where_the_audio_is_wanted(videos, tmp_path):
    root = _copy_world_with(videos, tmp_path, {"silent.mp4": _silent, "mute.mp4": _mute})
    with pytest.warns(UserWarning, match="skipped 2 of 18"):
        pairs = load_video_pairs(f"videos:{root}")
    reasons = " | ".join(pairs.bad_files)
    assert "silent.mp4: its audio track is silent" in reasons and "mute.mp4 has no audio track" in reasons
    assert len(load_dataset(f"videos:{root}")) == 18  # frames alone: both are usable
    with pytest.raises(VideoDecodeError, match="silent"):
        load_video_pairs(f"videos:{root}?strict=1")


def test_pairs_frame_and_audio_around_it(videos):
    train, test = load_video_pairs(f"videos:{videos}"), load_video_pairs(f"videos:{videos}?audio_ms=250", "test")
    assert train.modalities == ("image", "audio") and len(train) == 16 * FRAMES and len(test) == 4
    assert train.data["image"].shape == (16 * FRAMES, 3, 32, 32) and train.sample_rate == 8000
    audio, shorter = train.data["audio"], test.data["audio"]
    assert audio.shape[:2] == (16 * FRAMES, 1) and shorter.shape[3] < audio.shape[3]  # 250 ms, not 500
    assert train.labels["class"].tolist()[:FRAMES] == [train.labels["class"][0].item()] * FRAMES


def test_audio_window_is_centred_and_zero_padded():
    samples = np.arange(1, 101, dtype=np.float32)  # 100 samples at 10 Hz: 10 s
    assert audio_window(samples, 10, 5.0, 400).tolist() == [49, 50, 51, 52]
    assert audio_window(samples, 10, 0.0, 400).tolist() == [0, 0, 1, 2]
    assert audio_window(samples, 10, 9.95, 400).tolist()[-1] == 0
