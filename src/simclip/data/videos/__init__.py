"""Video folders (``videos:DIR``) read with PyAV: clips of frames at the model's size for SimCLR
(temporal positives, ``positives.py``), and frames with the audio around them as paired data."""

from simclip.data.videos.dataset import VideoDataset
from simclip.data.videos.decode import VIDEO_EXTENSIONS, Clip, even_indices, read_clip
from simclip.data.videos.errors import VideoDecodeError
from simclip.data.videos.load import VideoOptions, load_videos, read_videos
from simclip.data.videos.pairs import LABEL, VIDEO_MODALITIES, audio_window, load_video_pairs
from simclip.data.videos.positives import parse_positives, take_frames, view_frames

__all__ = ["LABEL", "VIDEO_EXTENSIONS", "VIDEO_MODALITIES", "Clip", "VideoDataset", "VideoDecodeError",
           "VideoOptions", "audio_window", "even_indices", "load_video_pairs", "load_videos",
           "parse_positives", "read_clip", "read_videos", "take_frames", "view_frames"]
