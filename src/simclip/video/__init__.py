"""Text->video retrieval with an image CLIP: frames sampled per video (:func:`sample_frames`),
their embeddings mean-pooled (:func:`embed_video`, CLIP4Clip's "meanP", Luo et al. 2021), and an
index in the image search format (:func:`build_video_index`, :func:`search_videos`)."""

from simclip.video.embed import embed_video, mean_pool
from simclip.video.frames import STRATEGIES, frame_indices, sample_frames
from simclip.video.index import (
                                 VIDEO_EXTENSIONS,
                                 build_video_index,
                                 find_videos,
                                 model_identity,
                                 search_videos,
)

__all__ = ["STRATEGIES", "VIDEO_EXTENSIONS", "build_video_index", "embed_video", "find_videos",
           "frame_indices", "mean_pool", "model_identity", "sample_frames", "search_videos"]
