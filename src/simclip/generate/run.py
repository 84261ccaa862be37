"""One edit from files to files, as ``simclip edit`` runs it: load the generator and CLIP, find the
start latent (an image's encoding or a seed's draw), edit by latent optimisation and/or the global
direction, and write ``before_after.png``, ``grid_<method>.png`` and ``result.json`` into ``out``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.errors import UsageError
from simclip.generate.checkpoint import load_generator
from simclip.generate.config import DirectionConfig, LatentEditConfig
from simclip.generate.directions import GlobalDirections
from simclip.generate.edit import EditResult, optimise_latents
from simclip.generate.figures import before_after_figure, strength_grid_figure
from simclip.generate.guide import ClipGuide
from simclip.generate.model import Generator

METHODS = ("latent", "global", "both")


@dataclass
class EditRequest:
    """An edit of one image: exactly one of ``image`` (a file) and ``seed`` gives the start."""

    generator: str
    clip: str
    text: str
    out: str
    neutral: str | None = None
    method: str = "latent"
    image: str | None = None
    seed: int | None = None
    steps: int = LatentEditConfig.steps
    lr: float = LatentEditConfig.lr
    l2_weight: float = LatentEditConfig.l2_weight
    prompts: str | tuple[str, ...] = LatentEditConfig.prompts
    direction_weight: float = LatentEditConfig.direction_weight
    restarts: int = LatentEditConfig.restarts
    restart_noise: float = LatentEditConfig.restart_noise
    views: int = LatentEditConfig.views
    strength: float = DirectionConfig.strength
    threshold: float = DirectionConfig.threshold
    samples: int = DirectionConfig.samples
    grid: list[float] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5])
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UsageError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if (self.image is None) == (self.seed is None):
            raise UsageError("give exactly one of --image FILE or --seed S")
        if self.method != "latent" and not self.neutral:
            raise UsageError(f"--method {self.method} needs --neutral TEXT")
        if not self.text.strip():
            raise UsageError("--text is empty")


def start_latent(generator: Generator, image: str | None, seed: int | None) -> Tensor:
    """``[1, D]``: the posterior mean of an image file (resized to the generator's side), or the
    prior draw of ``seed``."""
    if seed is not None:
        return generator.sample_latents(1, seed)
    from simclip.augment import load_image

    pixels = load_image(str(image)).float()
    cfg = generator.config
    if pixels.shape[0] != cfg.channels:  # grey <-> RGB, as CLIP's preprocessing matches channels
        pixels = pixels.expand(3, -1, -1) if cfg.channels == 3 else pixels.mean(0, keepdim=True)
    pixels = F.interpolate(pixels[None], size=(cfg.image_size, cfg.image_size), mode="bilinear",
                           antialias=True, align_corners=False)
    with torch.no_grad():
        return generator.encode(pixels.clamp(0, 255) / 255)[0]


def _summary(result: EditResult) -> dict[str, Any]:
    return {"distance_before": float(result.distance_before[0]),
            "distance_after": float(result.distance_after[0]), "steps": result.steps,
            "seconds": result.seconds, "latent_change": float((result.latents - result.start).norm())}


def run_edit(request: EditRequest) -> dict[str, Any]:
    """Run ``request``; returns what ``result.json`` holds (distances, steps, seconds, figure paths)."""
    from simclip.clip import load

    generator = load_generator(request.generator, request.device)
    model, _ = load(request.clip, device=request.device)
    guide = ClipGuide(model)
    start = start_latent(generator, request.image, request.seed).to(request.device)
    out = Path(request.out)
    results: dict[str, EditResult] = {}
    grids: dict[str, Tensor] = {}
    if request.method in ("latent", "both"):
        cfg = LatentEditConfig(steps=request.steps, lr=request.lr, l2_weight=request.l2_weight,
                               prompts=request.prompts, direction_weight=request.direction_weight,
                               restarts=request.restarts, restart_noise=request.restart_noise,
                               views=request.views)
        r = results["latent"] = optimise_latents(generator, guide, start, request.text, cfg,
                                                 neutral=request.neutral)
        with torch.no_grad():  # multiples of the step found: 1 is the edit itself
            grids["latent"] = torch.stack([generator.decode(start + a * (r.latents - start)) for a in request.grid])
    if request.method in ("global", "both"):
        assert request.neutral is not None
        directions = GlobalDirections(generator, guide, DirectionConfig(
            samples=request.samples, strength=request.strength, threshold=request.threshold))
        results["global"] = directions.apply(start, request.neutral, request.text)
        grids["global"] = directions.strength_grid(start, request.neutral, request.text, request.grid)
    names = list(results)
    figures = [str(before_after_figure(
        torch.cat([results[n].before for n in names]), torch.cat([results[n].after for n in names]),
        [f"{n}: {request.text}" for n in names], out / "before_after.png",
        (torch.cat([results[n].distance_before for n in names]),
         torch.cat([results[n].distance_after for n in names]))))]
    for name, grid in grids.items():
        what = "alpha along the direction" if name == "global" else "multiple of the optimised step"
        figures.append(str(strength_grid_figure(grid, request.grid, out / f"grid_{name}.png",
                                                title=f'{name}: "{request.text}" ({what})')))
    summary = {"request": asdict(request), "methods": {n: _summary(r) for n, r in results.items()},
               "figures": figures}
    (out / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
