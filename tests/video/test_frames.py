"""sample_frames: count, shape, which frames, containers without a frame count, bad files."""

import pytest
import torch

from simclip.video import frame_indices, sample_frames


def test_uniform_indices_are_segment_middles():
    assert frame_indices(16, 8) == [1, 3, 5, 7, 9, 11, 13, 15]
    assert frame_indices(10, 4) == [1, 3, 6, 8]  # segments of 2.5 frames, middles 1.25, 3.75, ...
    assert frame_indices(3, 6) == [0, 0, 1, 1, 2, 2]  # short videos repeat frames
    assert frame_indices(100, 1) == [50]


def test_random_indices_fall_one_per_segment():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        idx = frame_indices(40, 8, "random", g)
        assert all(5 * i <= j < 5 * (i + 1) for i, j in enumerate(idx))


@pytest.mark.parametrize("num_frames", [1, 4, 8, 16, 20])
def test_count_and_shape(video_dir, num_frames):
    frames = sample_frames(video_dir / "shapes" / "red_square.mp4", num_frames)
    assert frames.shape == (num_frames, 3, 32, 32) and frames.dtype == torch.uint8
    red = frames[:, 0].float().mean()
    assert red > 5 * frames[:, 2].float().mean()  # yuv420p smears colour over the edges


def _bar_positions(frames):
    """The frame number of each bar_clock frame: its brightest column pair, halved."""
    return [int(f.float().mean(dim=(0, 1)).argmax()) // 2 for f in frames]


def test_uniform_picks_the_expected_frames(video_dir):
    got = _bar_positions(sample_frames(video_dir / "clock.mp4", 8))
    expected = frame_indices(16, 8)
    assert all(abs(g - e) <= 1 for g, e in zip(got, expected))  # mpeg4 is lossy: bars may blur
    assert got == sorted(got) and len(set(got)) == 8


def test_random_is_seeded(video_dir):
    a = sample_frames(video_dir / "clock.mp4", 4, "random", seed=1)
    assert torch.equal(a, sample_frames(video_dir / "clock.mp4", 4, "random", seed=1))


def test_container_without_frame_count(video_dir):
    """Matroska records no frame count: the frames are counted by decoding."""
    import av

    with av.open(str(video_dir / "green_square.mkv")) as container:
        assert container.streams.video[0].frames == 0
    frames = sample_frames(video_dir / "green_square.mkv", 8)
    assert frames.shape == (8, 3, 32, 32)
    assert frames[:, 1].float().mean() > 5 * frames[:, 0].float().mean()


def test_unreadable_and_missing_files_are_named(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00 this is not a video" * 50)
    with pytest.raises(ValueError, match="broken.mp4"):
        sample_frames(bad)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        sample_frames(tmp_path / "missing.mp4")


@pytest.mark.parametrize("kwargs, match", [(dict(num_frames=0), "num_frames"),
                                           (dict(strategy="dense"), "strategy")])
def test_bad_arguments(video_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_frames(video_dir / "clock.mp4", **kwargs)
