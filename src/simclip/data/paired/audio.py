"""Audio for the audio tower: WAV files (stdlib ``wave``) to log-mel spectrograms computed in torch.

The spectrogram is the power of a Hann-windowed STFT (``torch.stft``) on a mel filterbank (the HTK
mel scale, triangular filters, as ``torchaudio.functional.melscale_fbanks`` with ``norm=None``),
then the natural log (floored at ``1e-10``).
"""
from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from simclip.data.paired.errors import PairFileError

SILENCE = 1e-4  # peak amplitude (full scale 1) at or below which a clip counts as silent


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """float32 ``[T]`` in [-1, 1] (channels averaged) and the sample rate of a PCM WAV file.

    :class:`PairFileError` for a file that is not a PCM WAV, is truncated (fewer frames than its
    header declares), is empty or silent.
    """
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            data = w.readframes(frames)
    except (wave.Error, EOFError) as err:
        raise PairFileError(f"{path} is not a readable PCM WAV file ({err})") from None
    if width not in (1, 2, 4):
        raise PairFileError(f"{path}: {8 * width}-bit samples are not supported (8, 16 or 32-bit PCM)")
    if len(data) < frames * channels * width:
        raise PairFileError(f"{path} is truncated: its header declares {frames} frames, it holds "
                            f"{len(data) // (channels * width)}")
    if frames == 0:
        raise PairFileError(f"{path} holds no samples")
    if width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        dtype = np.dtype("<i2" if width == 2 else "<i4")
        samples = np.frombuffer(data, dtype).astype(np.float32) / float(2 ** (8 * width - 1))
    samples = samples.reshape(-1, channels).mean(axis=1)
    if float(np.abs(samples).max()) <= SILENCE:
        raise PairFileError(f"{path} is silent (peak amplitude {float(np.abs(samples).max()):.2g})")
    return samples, rate


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """``samples`` cut or zero-padded at the end to ``length``."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> Tensor:
    """float32 ``[n_freqs, n_mels]`` triangular filters on the HTK mel scale."""
    f_max = sample_rate / 2 if f_max is None else f_max
    mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)  # noqa: E731
    m_points = torch.linspace(mel(f_min), mel(f_max), n_mels + 2, dtype=torch.float64)
    f_points = 700.0 * (10 ** (m_points / 2595.0) - 1.0)
    freqs = torch.linspace(0, sample_rate / 2, n_freqs, dtype=torch.float64)
    slopes = f_points[None, :] - freqs[:, None]  # [n_freqs, n_mels + 2]
    widths = f_points[1:] - f_points[:-1]
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0).float()


def log_mel(waves: Tensor, sample_rate: int, n_fft: int = 256, hop: int = 64, n_mels: int = 40) -> Tensor:
    """float32 ``[N, n_mels, frames]`` log-mel power spectrograms of float ``waves [N, T]``;
    ``frames = 1 + T // hop`` (centred frames, reflect padding)."""
    window = torch.hann_window(n_fft, dtype=torch.float32)
    spec = torch.stft(waves.float(), n_fft, hop_length=hop, window=window, center=True,
                      pad_mode="reflect", return_complex=True)
    power = spec.abs() ** 2  # [N, n_fft // 2 + 1, frames]
    fb = mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate)
    mel = torch.einsum("nft,fm->nmt", power, fb)
    return torch.log(mel.clamp_min(1e-10))
