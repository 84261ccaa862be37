"""StyleCLIP on the built-in shapes: do text edits change the asked attribute and keep the other?

Everything is trained here, from nothing, on the CPU, one thread (on a shared machine, OpenMP
threads that wait for a busy core slow a step by 20x):

1. a CLIP run: ``simclip clip train --data shapes?n=8000 --tokenizer bpe:400 --batch-size 128
   --epochs 26 --policy clip-mild`` (the train split: 20 of the 30 colour x shape pairs; the
   policy's crops and blur teach the image tower to read smooth images, which a generator makes);
2. a generator: ``simclip generator train --data shapes?n=4000 --split all --epochs 16`` (a VAE,
   the library's defaults otherwise, on 4,000 train and 4,000 test shapes: all 30 pairs);
3. an independent judge: a small CNN with a shape head and a colour head, trained on the labels of
   6,000 other rendered shapes (never on CLIP or on generated images).

Edits start from 200 fresh rendered shapes (known shape and colour), encoded by the generator's
encoder. Half ask for another colour, half for another shape, drawn at random; the text names the
whole target ("a blue star" for a red star asked to turn blue), and the global direction's neutral
text names the start ("a red star"). An edit succeeds on the target when the judge reads the asked
value from the edited image, and keeps the other attribute when it reads the start's value. The
edit settings are chosen on ``--tune-edits`` tuning edits drawn under another seed (1001): each
row of ``LATENT_GRID`` and of the global directions' grid is scored there, the best of each
method by 'both' is then run on the reported edits (seed 2024), and the result says whether the
latent settings chosen are ``LatentEditConfig``'s defaults (what ``simclip edit`` runs).

Models trained here are kept in ``--work``, each in a folder named by a hash of its settings, and
reused by a later run with the same settings (a run with another ``--clip-epochs`` trains a new
CLIP but reuses the generator and the judge).

    python benchmarks/styleclip_edits.py            # writes results/styleclip_edits.json and PNGs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import time
from dataclasses import asdict, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from simclip.data.shapes import COLOR_NAMES, HELD_OUT_PAIRS, SHAPES, render_shapes
from simclip.generate import (ClipGuide, DirectionConfig, GeneratorTrainConfig,
                              GlobalDirections, LatentEditConfig, before_after_figure, optimise_latents,
                              strength_grid_figure, train_generator)

HERE = Path(__file__).resolve().parent


class Judge(nn.Module):
    """The independent classifier: 3 conv blocks, then a 5-way shape and a 6-way colour head."""

    def __init__(self) -> None:
        super().__init__()
        block = lambda a, b: [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(2)]  # noqa: E731
        self.body = nn.Sequential(*block(3, 16), *block(16, 32), *block(32, 32), nn.Flatten())
        self.shape, self.color = nn.Linear(32 * 16, len(SHAPES)), nn.Linear(32 * 16, len(COLOR_NAMES))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(2 * x - 1)
        return self.shape(h), self.color(h)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape, color = zip(*(self(x) for x in images.split(256)))
        return torch.cat(shape).argmax(1), torch.cat(color).argmax(1)


def blur(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Each image blurred by a Gaussian of its own sigma in [0, 1.5] px: the judge reads generated
    images, which are smoother than the renders it learns from."""
    g = torch.Generator().manual_seed(seed)
    sigma = torch.rand(len(x), generator=g) * 1.5 + 1e-3
    t = torch.arange(-3, 4, dtype=torch.float32)
    k = torch.exp(-t[None] ** 2 / (2 * sigma[:, None] ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(x.shape[1], 0)  # [B * C, 7], one per image
    flat = F.pad(x.reshape(1, -1, *x.shape[2:]), (3, 3, 3, 3), mode="replicate")
    flat = F.conv2d(flat, k[:, None, None, :], groups=len(k))  # along rows, then columns
    return F.conv2d(flat, k[:, None, :, None], groups=len(k)).reshape(x.shape)


def train_judge(steps: int, seed: int = 5) -> tuple[Judge, dict]:
    torch.manual_seed(seed)
    train = [render_shapes(split, n=n, seed=seed) for split, n in (("train", 4500), ("test", 1500))]
    x = torch.cat([s.images for s in train]).float() / 255
    ys, yc = torch.cat([s.shape for s in train]), torch.cat([s.color for s in train])
    judge = Judge().train()
    opt = torch.optim.Adam(judge.parameters(), lr=2e-3)
    start = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(len(x), (64,))
        a, b = judge(blur(x[idx], step))
        loss = F.cross_entropy(a, ys[idx]) + F.cross_entropy(b, yc[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    judge.eval()
    test = [render_shapes(split, n=500, seed=seed + 100) for split in ("train", "test")]
    ps, pc = judge.predict(torch.cat([s.images for s in test]).float() / 255)
    ts, tc = torch.cat([s.shape for s in test]), torch.cat([s.color for s in test])
    return judge, {"steps": steps, "seconds": time.perf_counter() - start,
                   "shape_accuracy": float((ps == ts).float().mean()) * 100,
                   "color_accuracy": float((pc == tc).float().mean()) * 100}


def cached(work: Path, name: str, settings: dict) -> Path:
    """The folder under ``work`` for a model made with ``settings`` (and this library version): a
    run is reused only when every setting it was made with is the same; its ``settings.json`` says
    which. After changing the library's training code, delete ``work`` (or pass another --work)."""
    from simclip import __version__

    key = {**settings, "simclip": __version__}
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    folder = work / f"{name}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps(key, indent=2, sort_keys=True) + "\n")
    return folder


def train_clip(work: Path, epochs: int, policy: str, n: int) -> tuple[Path, dict, float]:
    """The CLIP run, or the one in ``work`` made with the same settings (its own metrics say how)."""
    from simclip.cli import main as cli

    args = ["--data", f"shapes?n={n}", "--tokenizer", "bpe:400", "--batch-size", "128", "--epochs", str(epochs)]
    args += ["--policy", policy] if policy != "none" else []
    out = cached(work, "clip", {"clip_train_args": args})
    start = time.perf_counter()
    if (out / "bench.json").exists():
        return out, {"reused": str(out), **json.loads((out / "bench.json").read_text())}, 0.0
    argv = ["clip", "train", *args, "--no-progress", "--eval", "zeroshot", "--overwrite", "--out", str(out)]
    if cli(argv) != 0:
        raise RuntimeError("clip train failed")
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    info = {"command": "simclip " + " ".join(argv), "train_wall_seconds": time.perf_counter() - start,
            **metrics[-1]}
    (out / "bench.json").write_text(json.dumps(info, indent=2) + "\n")
    return out, info, time.perf_counter() - start


def make_generator(work: Path, data: str, split: str, epochs: int):
    """The generator ``simclip generator train --data DATA --split SPLIT --epochs EPOCHS`` makes
    (otherwise the library's defaults, the same images); one in ``work`` made with the same
    settings is reused (its config and metrics say how it was made)."""
    from simclip.generate import load_generator
    from simclip.generate.train import training_images

    cfg = GeneratorTrainConfig(data=data, split=split, epochs=epochs)
    out = cached(work, "generator", {k: v for k, v in cfg.to_dict().items() if k != "out"})
    cfg = GeneratorTrainConfig(**{**cfg.to_dict(), "out": str(out)})
    if (out / "generator.safetensors").exists():
        history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        return load_generator(out), {"reused": str(out), "config": json.loads((out / "config.json").read_text()),
                                     **history[-1]}
    images = training_images(data, split)
    settings = cfg.to_dict()
    settings["generator"].update(image_size=images.shape[-1], channels=images.shape[1])  # as the command does
    cfg = GeneratorTrainConfig(**settings)
    generator, metrics = train_generator(cfg, images)
    return generator, {"config": cfg.to_dict(), "images": len(images), **metrics}


def judge_for(work: Path, steps: int) -> tuple[Judge, dict]:
    """The judge, or the one in ``work`` trained for the same number of steps."""
    out = cached(work, "judge", {"steps": steps, "seed": 5})
    if (out / "judge.pt").exists():
        judge = Judge()
        judge.load_state_dict(torch.load(out / "judge.pt"))
        return judge.eval(), {"reused": str(out), **json.loads((out / "metrics.json").read_text())}
    judge, metrics = train_judge(steps)
    torch.save(judge.state_dict(), out / "judge.pt")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return judge, metrics


def phrase(color: int, shape: int) -> str:
    text = f"a {COLOR_NAMES[color]} {SHAPES[shape]}"
    return text.replace("a orange", "an orange")


@torch.no_grad()
def clip_pair_accuracy(guide: ClipGuide) -> dict:
    """Zero-shot: which of the 30 "a {colour} {shape}" texts is nearest each image (top-1)."""
    texts = [phrase(c, s) for s in range(len(SHAPES)) for c in range(len(COLOR_NAMES))]
    classifier = guide.text_features(texts)
    out = {}
    for split in ("train", "test"):  # test: the 10 pairs the CLIP run never saw
        scenes = render_shapes(split, n=500, seed=77)
        pred = (guide.image_features(scenes.images.float() / 255) @ classifier.T).argmax(1)
        out[f"pair_top1_{'seen' if split == 'train' else 'held_out'}_pairs"] = float(
            (pred == scenes.shape * len(COLOR_NAMES) + scenes.color).float().mean()) * 100
    return out


def edit_plan(n: int, seed: int) -> dict:
    """``n`` start shapes and, for each, the attribute to change and its new value."""
    scenes = render_shapes("train" if seed % 2 else "test", n=n, seed=seed)  # both splits' pairs
    extra = render_shapes("test" if seed % 2 else "train", n=n, seed=seed)
    pick = torch.randperm(2 * n, generator=torch.Generator().manual_seed(seed))[:n]
    images = torch.cat([scenes.images, extra.images])[pick]
    shape, color = torch.cat([scenes.shape, extra.shape])[pick], torch.cat([scenes.color, extra.color])[pick]
    rng = random.Random(seed)
    kind, new_shape, new_color, neutral, target = [], [], [], [], []
    for s, c in zip(shape.tolist(), color.tolist()):
        k = "color" if rng.random() < 0.5 else "shape"
        s2 = rng.choice([v for v in range(len(SHAPES)) if v != s]) if k == "shape" else s
        c2 = rng.choice([v for v in range(len(COLOR_NAMES)) if v != c]) if k == "color" else c
        kind.append(k)
        new_shape.append(s2)
        new_color.append(c2)
        neutral.append(phrase(c, s))
        target.append(phrase(c2, s2))
    return {"images": images, "shape": shape, "color": color, "kind": kind, "new_shape": torch.tensor(new_shape),
            "new_color": torch.tensor(new_color), "neutral": neutral, "target": target}


def score(judge: Judge, images: torch.Tensor, plan: dict) -> dict:
    ps, pc = judge.predict(images)
    is_color = torch.tensor([k == "color" for k in plan["kind"]])
    target_ok = torch.where(is_color, pc == plan["new_color"], ps == plan["new_shape"])
    kept = torch.where(is_color, ps == plan["shape"], pc == plan["color"])
    held = torch.tensor([(SHAPES[s], COLOR_NAMES[c]) in HELD_OUT_PAIRS
                         for s, c in zip(plan["new_shape"].tolist(), plan["new_color"].tolist())])
    pct = lambda m: float(m.float().mean()) * 100 if len(m) else float("nan")  # noqa: E731
    return {"target_success": pct(target_ok), "other_kept": pct(kept), "both": pct(target_ok & kept),
            "color_edits": {"target_success": pct(target_ok[is_color]), "other_kept": pct(kept[is_color])},
            "shape_edits": {"target_success": pct(target_ok[~is_color]), "other_kept": pct(kept[~is_color])},
            "target_pair_held_out_from_clip": {"n": int(held.sum()), "target_success": pct(target_ok[held]),
                                               "other_kept": pct(kept[held])},
            "target_pair_seen_by_clip": {"n": int((~held).sum()), "target_success": pct(target_ok[~held]),
                                         "other_kept": pct(kept[~held])}}


def run_latent(generator, guide, start, plan, cfg: LatentEditConfig, chunk: int) -> tuple[torch.Tensor, dict]:
    """All edits by latent optimisation, ``chunk`` images per batch; returns the edited images."""
    after, seconds, d0, d1 = [], 0.0, [], []
    for i in range(0, len(start), chunk):
        r = optimise_latents(generator, guide, start[i:i + chunk], plan["target"][i:i + chunk], cfg,
                             neutral=plan["neutral"][i:i + chunk])
        after.append(r.after)
        seconds += r.seconds
        d0.append(r.distance_before)
        d1.append(r.distance_after)
    before, edited = torch.cat(d0), torch.cat(d1)
    return torch.cat(after), {**asdict(cfg), "library_defaults": cfg == LatentEditConfig(),
                              "seconds_per_edit_batched": seconds / len(start), "batch": chunk,
                              "clip_distance_before": float(before.mean()), "clip_distance_after": float(edited.mean()),
                              "clip_distance_lowered": float((edited < before).float().mean()) * 100}


def run_global(directions: GlobalDirections, start, plan, strength: float) -> tuple[torch.Tensor, dict]:
    r = directions.apply(start, plan["neutral"], plan["target"], strength)
    return r.after, {"steps": 0, "strength": strength, "threshold": directions.cfg.threshold,
                     "seconds_per_edit": r.seconds / len(start),
                     "seconds_to_measure_channels_once": directions.seconds_to_measure,
                     "clip_distance_before": float(r.distance_before.mean()),
                     "clip_distance_after": float(r.distance_after.mean()),
                     "clip_distance_lowered": float((r.distance_after < r.distance_before).float().mean()) * 100}


def single_edit_seconds(generator, guide, start, plan, cfg: LatentEditConfig, n: int = 3) -> float:
    """Seconds per edit when each is run alone, as ``simclip edit`` runs one."""
    t0 = time.perf_counter()
    for i in range(n):
        optimise_latents(generator, guide, start[i:i + 1], plan["target"][i], cfg, neutral=plan["neutral"][i])
    return (time.perf_counter() - t0) / n


# The latent optimisation settings tried on the tuning edits (the rest of LatentEditConfig: its defaults).
_EQ1 = {"steps": 100, "lr": 0.2, "l2_weight": 0.0, "direction_weight": 0.0, "restarts": 1, "views": 1}
_NADA = {**_EQ1, "direction_weight": 0.5}
LATENT_GRID = (
    _EQ1,  # the objective of Eq. 1 alone, from the start latent
    {**_EQ1, "prompts": "shapes"},  # with the text's prompt ensemble
    _NADA,  # with the directional term
    {**_NADA, "restarts": 4, "restart_noise": 0.5},  # from 4 starts near the start latent
    {**_NADA, "restarts": 8, "restart_noise": 1.0},  # from 8 starts, farther away
    {**_NADA, "restarts": 4, "restart_noise": 1.0, "views": 2},  # CLIP reading 2 random crops per step
    {**_NADA, "restarts": 8, "restart_noise": 1.0, "views": 2},
)


def tune(generator, guide, directions, judge, start, plan, chunk) -> dict:
    """Settings tried on the tuning edits; the best by 'both' (target reached and other kept)."""
    rows = []
    for settings in LATENT_GRID:
        cfg = LatentEditConfig(**settings)
        images, _ = run_latent(generator, guide, start, plan, cfg, chunk)
        rows.append({"method": "latent", **asdict(cfg), **score(judge, images, plan)})
    for beta in (0.05, 0.1, 0.2):
        directions.cfg = DirectionConfig(threshold=beta)
        for alpha in (2.0, 3.0, 4.0, 6.0):
            images, _ = run_global(directions, start, plan, alpha)
            rows.append({"method": "global", "threshold": beta, "strength": alpha, **score(judge, images, plan)})
    for r in rows:
        print("tune", {k: v for k, v in r.items() if not isinstance(v, dict)})
    best = {m: max((r for r in rows if r["method"] == m), key=lambda r: r["both"]) for m in ("latent", "global")}
    return {"rows": rows, "best": best}


def figures(generator, guide, directions, plan, start, latent_images, global_images, out: Path) -> list[str]:
    pick = [next(i for i, k in enumerate(plan["kind"]) if k == kind) for kind in ("color", "shape")]
    pick += [i for i in range(len(start)) if i not in pick][:4]
    before = generator.decode(start[pick]).detach()
    short = lambda t: t.removeprefix("a ").removeprefix("an ")  # noqa: E731
    rows = [f"{short(plan['neutral'][i])}\n-> {short(plan['target'][i])}" for i in pick]
    paths = [before_after_figure(torch.cat([before, before]), torch.cat([latent_images[pick], global_images[pick]]),
                                 [f"latent: {short(plan['target'][i])}" for i in pick]
                                 + [f"global: {short(plan['target'][i])}" for i in pick],
                                 out / "styleclip_before_after.png")]
    strengths = [0, 1, 2, 3, 4, 6, 8]
    grid = torch.stack([directions.strength_grid(start[i:i + 1], plan["neutral"][i], plan["target"][i],
                                                 strengths)[:, 0] for i in pick], 1)
    paths.append(strength_grid_figure(grid, strengths, out / "styleclip_strength_grid.png",
                                      "global directions: alpha along the direction", row_labels=rows))
    return [str(p) for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--tune-edits", type=int, default=200)
    parser.add_argument("--clip-epochs", type=int, default=26)
    parser.add_argument("--clip-images", type=int, default=8000, help="CLIP's data: shapes?n=N (train split)")
    parser.add_argument("--clip-policy", default="clip-mild", help="augmentation policy of the CLIP run (none: off)")
    parser.add_argument("--generator-data", default="shapes?n=4000",
                        help="the generator's dataset spec (shapes?n=4000: 4,000 renders per split)")
    parser.add_argument("--generator-split", default="all", help="the generator's split (all: train and test)")
    parser.add_argument("--generator-epochs", type=int, default=16)
    parser.add_argument("--judge-steps", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=50, help="edits optimised together")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", default="runs/bench-styleclip",
                        help="models made here are reused by later runs with the same settings")
    parser.add_argument("--out", default=str(HERE / "results" / "styleclip_edits.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work, out = Path(args.work), Path(args.out)
    loads = [os.getloadavg()]
    clip_dir, clip_metrics, clip_seconds = train_clip(work, args.clip_epochs, args.clip_policy, args.clip_images)
    from simclip.clip import load

    guide = ClipGuide(load(clip_dir)[0])
    generator, gen_info = make_generator(work, args.generator_data, args.generator_split, args.generator_epochs)
    judge, judge_metrics = judge_for(work, args.judge_steps)
    with torch.no_grad():  # the channel effects are measured on encoded renders, not on the prior
        probe = generator.encode(render_shapes("train", n=256, seed=3).images)[0]
    directions = GlobalDirections(generator, guide, DirectionConfig(), latents=probe)
    tune_plan = edit_plan(args.tune_edits, seed=1001)
    with torch.no_grad():
        tune_start = generator.encode(tune_plan["images"])[0]
    tuning = tune(generator, guide, directions, judge, tune_start, tune_plan, args.chunk)
    best_l, best_g = tuning["best"]["latent"], tuning["best"]["global"]
    latent_cfg = LatentEditConfig(**{f.name: best_l[f.name] for f in fields(LatentEditConfig)})
    directions.cfg = DirectionConfig(threshold=best_g["threshold"], strength=best_g["strength"])

    plan = edit_plan(args.edits, seed=2024)
    with torch.no_grad():
        start = generator.encode(plan["images"])[0]
        recon = generator.decode(start)
    rs, rc = judge.predict(recon)
    latent_images, latent_info = run_latent(generator, guide, start, plan, latent_cfg, args.chunk)
    latent_info["seconds_per_edit_alone"] = single_edit_seconds(generator, guide, start, plan, latent_cfg)
    global_images, global_info = run_global(directions, start, plan, directions.cfg.strength)
    paths = figures(generator, guide, directions, plan, start, latent_images, global_images, out.parent)
    loads.append(os.getloadavg())
    result = {
        "benchmark": "styleclip_edits", "edits": args.edits, "tuning_edits": args.tune_edits,
        "target": {"target_success": 90.0, "other_kept": 90.0},
        "clip": {**clip_metrics, "wall_seconds": clip_seconds, **clip_pair_accuracy(guide)},
        "generator": gen_info,
        "judge": judge_metrics,
        "reconstructions_read_by_judge": {"shape": float((rs == plan["shape"]).float().mean()) * 100,
                                          "color": float((rc == plan["color"]).float().mean()) * 100},
        "no_edit_control": score(judge, recon, plan),  # the unedited reconstructions scored as edits
        "start_renders_read_by_judge": dict(zip(("shape", "color"), (
            float((p == t).float().mean()) * 100 for p, t in
            zip(judge.predict(plan["images"].float() / 255), (plan["shape"], plan["color"]))))),
        "latent_optimisation": {**latent_info, **score(judge, latent_images, plan)},
        "global_directions": {**global_info, **score(judge, global_images, plan)},
        "tuning": tuning, "figures": [Path(p).name for p in paths], "load_average_before_after": loads,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "shared": "yes, with other users' jobs"},
    }
    for name in ("latent_optimisation", "global_directions"):
        r = result[name]
        print(f"{name}: target {r['target_success']:.1f}%, other kept {r['other_kept']:.1f}%, both {r['both']:.1f}%")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
