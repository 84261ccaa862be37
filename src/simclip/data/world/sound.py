"""The sound an object makes: a plucked tone whose pitch is its shape and whose timbre is its colour.

Fundamentals are the notes A3, C#4, E4, G#4, C5 (circle ... cross), a little detuned per object;
each colour weighs the first six harmonics differently (a pure sine for blue, odd harmonics for
red, a sawtooth-like series for green, ...); large objects ring longer than small ones. A quiet
noise floor is added. Mono, 16-bit, ``SAMPLE_RATE`` Hz, ``DURATION`` seconds.
"""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 8000
DURATION = 0.5
FUNDAMENTALS = (220.0, 277.2, 329.6, 415.3, 523.3)  # by shape index (SHAPES order)
HARMONICS = (  # weights of harmonics 1..6, by colour index (COLOR_NAMES order)
    (1.0, 0.0, 0.5, 0.0, 0.3, 0.0),    # red: odd harmonics
    (1.0, 0.5, 0.33, 0.25, 0.2, 0.17),  # green: sawtooth-like
    (1.0, 0.0, 0.0, 0.0, 0.0, 0.0),    # blue: pure tone
    (1.0, 0.8, 0.0, 0.0, 0.6, 0.0),    # yellow
    (0.3, 1.0, 0.0, 0.6, 0.0, 0.0),    # purple: second harmonic dominant
    (1.0, 0.0, 0.0, 0.9, 0.0, 0.5),    # orange
)
DECAY = (0.08, 0.25)  # seconds, by size index (small, large)
DETUNE = 0.015  # +- relative pitch jitter per object
NOISE = 0.01


def synthesize(shape: np.ndarray, color: np.ndarray, size: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """int16 ``[n, SAMPLE_RATE * DURATION]`` waveforms for int ``shape``, ``color``, ``size`` ``[n]``."""
    n = len(shape)
    t = np.arange(int(SAMPLE_RATE * DURATION), dtype=np.float64) / SAMPLE_RATE
    f0 = np.asarray(FUNDAMENTALS)[shape] * (1.0 + rng.uniform(-DETUNE, DETUNE, size=n))
    weights = np.asarray(HARMONICS)[color]  # [n, 6]
    phases = rng.uniform(0, 2 * np.pi, size=(n, weights.shape[1]))
    k = np.arange(1, weights.shape[1] + 1)
    # [n, 6, T] partials; the highest (6 x 523 Hz) stays below the Nyquist frequency
    partials = np.sin(2 * np.pi * (f0[:, None, None] * k[None, :, None]) * t + phases[:, :, None])
    tone = (weights[:, :, None] * partials).sum(axis=1)
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / np.asarray(DECAY)[size][:, None])
    wave = tone * envelope
    wave /= np.abs(wave).max(axis=1, keepdims=True)
    wave = 0.8 * wave + rng.normal(0.0, NOISE, size=wave.shape)
    return np.clip(np.rint(wave * 32767), -32768, 32767).astype(np.int16)
