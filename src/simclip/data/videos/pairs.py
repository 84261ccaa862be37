"""``videos:DIR`` as paired data for audio-visual correspondence (``simclip pair train --pair
frame,audio``): a frame and the sound around it, from the same video, are one object of a
:class:`~simclip.data.paired.PairedDataset` (modalities ``image`` and ``audio``), so the paired
towers, objective and evaluation (cross-modal recall, probes) take them as they take a table's rows.

The training split pairs every sampled frame of each clip (``frames`` option) with the audio
centred on it (``audio_ms`` milliseconds, zero beyond the track's ends); the test split takes each
clip's middle frame only, so that retrieval ranks clips. Labels: the class sub-folders, as column
``class``. A video without an audio track or with a silent one is a counted skip (``load.py``).
"""
from __future__ import annotations

import numpy as np
import torch

from simclip.data.paired.dataset import PairedDataset
from simclip.data.paired.errors import PairFileError
from simclip.data.paired.load import log_mel_clips
from simclip.data.spec import check_split, parse_spec, spec_error
from simclip.data.videos.load import VideoOptions, read_videos

VIDEO_MODALITIES = ("image", "audio")
LABEL = "class"


def audio_window(samples: np.ndarray, rate: int, seconds: float, ms: int) -> np.ndarray:
    """float32 ``[rate * ms / 1000]``: the samples centred on time ``seconds``, zero-padded."""
    length = max(1, round(rate * ms / 1000))
    start = round(seconds * rate) - length // 2
    out = np.zeros(length, np.float32)
    lo, hi = max(start, 0), min(start + length, len(samples))
    if hi > lo:
        out[lo - start:hi - start] = samples[lo:hi]
    return out


def load_video_pairs(spec: str, split: str = "train", modalities: list[str] | tuple[str, ...] | None = None,
                     *, strict: bool = False) -> PairedDataset:
    """Split ``split`` of ``videos:DIR`` as frame/audio pairs (see the module doc)."""
    parsed = parse_spec(spec)
    if parsed.kind != "videos":
        raise spec_error(spec, "frame/audio pairs are read from a video folder, videos:DIR")
    check_split(split)
    mods = list(modalities or VIDEO_MODALITIES)
    if not mods or any(m not in VIDEO_MODALITIES for m in mods):
        raise PairFileError(f"a video folder gives the modalities {', '.join(VIDEO_MODALITIES)} (a frame and "
                            f"the audio around it), got {', '.join(mods) or '(none)'}")
    options = VideoOptions.from_spec(parsed, strict=strict)
    read = read_videos(parsed.file_path, split, options, audio="audio" in mods)
    frames, windows, owner = [], [], []
    for k, clip in enumerate(read.clips):
        positions = range(len(clip.index)) if split == "train" else [len(clip.index) // 2]
        for p in positions:
            frames.append(clip.frames[p])
            if clip.audio is not None:
                windows.append((audio_window(clip.audio, clip.sample_rate, float(clip.times[p]), options.audio_ms),
                                clip.sample_rate))
            owner.append(k)
    data: dict[str, torch.Tensor | list[str]] = {"image": torch.from_numpy(np.stack(frames))}
    rate = None
    if windows:
        data["audio"], rate = log_mel_clips(windows)
    labels, classes = {}, {}
    if read.labels is not None:
        labels[LABEL] = torch.tensor([read.labels[k] for k in owner], dtype=torch.int64)
        classes[LABEL] = read.classes
    return PairedDataset(data={m: data[m] for m in mods}, labels=labels, classes=classes, name=spec, split=split,
                         bad_files=read.bad_files, sample_rate=rate)
