"""Video as context on the built-in world: temporal positives against single-frame SimCLR for the
same wall-clock budget, and audio-visual correspondence.

The world's clips (``simclip data make-world --videos N``: objects that move, grow and shrink
under a drifting light, with their sound) are split as the world's objects are: a fifth of them,
other objects drawn alike, held out. Two SimCLR runs with the same recipe, encoder (small-cnn
narrowed to three stride-2 blocks, the pair run's frame tower), batches, seed and time
budget, run side by side so that both see the same machine, differ only in where a clip's two
views come from: one frame (single-frame SimCLR on the clips' frames) or two frames at most K
apart (``--positives frames:K``). Each encoder is scored by weighted kNN (k=20) and a linear probe
on the held-out clips' middle frames, by shape, beside the same encoder untrained, and by how alike
its features of a frame and the frame K later are (against two different clips). Then a frame tower and a
log-mel audio tower are trained on frames and the audio around them (``--pair frame,audio``) for
two thirds of that budget: audio->frame recall@1/5 over the held-out clips, beside chance
(100 k / N) and the ceiling a sound allows (it tells shape, colour and size, so it ties with every
held-out clip alike in those).

    python benchmarks/video_world.py --seconds 60 [--gap 4] [--videos 500]

The same runs from the command line:

    simclip data make-world --out world --objects 10 --videos 500
    simclip simclr train --data videos:world/videos --time-budget 60 --batch-size 64 --precision fp32 \\
        --no-channels-last --set 'model.encoder_options={"widths": [32, 64, 128], "strides": [2, 2, 2]}' \\
        --eval knn --out runs/frame
    (the same with --positives frames:4 --out runs/temporal)
    simclip pair train --data videos:world/videos --pair frame,audio --time-budget 40 --batch-size 64 \\
        --out runs/av
    simclip pair eval --run runs/av
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
# the pair run's frame tower: small-cnn narrowed for 32-pixel frames, a quarter of its default's work
NARROW = {"widths": [32, 64, 128], "strides": [2, 2, 2]}
# torch threads per run: on the shared 2-core machine (load ~10) a step with two threads took 7x as
# long as with one (0.2 s against 1.4 s for this encoder's forward and backward at 128 views)
THREADS = 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="training budget of each SimCLR run (60; the two run side by side) and of the "
                             "audio-visual run (two thirds of it)")
    parser.add_argument("--gap", type=int, default=4, help="K of --positives frames:K (4 frames: 0.5 s)")
    parser.add_argument("--videos", type=int, default=500, help="clips in the world (500; 20%% held out)")
    parser.add_argument("--batch-size", type=int, default=64, help="clips per step (64)")
    parser.add_argument("--out", default="runs/bench-video", help="folder for the world and the runs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the world and the runs (0)")
    parser.add_argument("--json", default=str(HERE / "results" / "video_world.json"), help="result file")
    args = parser.parse_args()
    load_before = os.getloadavg()

    import torch

    from simclip.data import load_dataset
    from simclip.data.world import make_world

    torch.set_num_threads(THREADS)

    out = Path(args.out)
    t0 = time.perf_counter()
    make_world(out / "world", 10, args.seed, overwrite=True, videos=args.videos)
    world_seconds = time.perf_counter() - t0
    spec = f"videos:{out / 'world' / 'videos'}"
    t0 = time.perf_counter()
    train, test = load_dataset(spec, "train"), load_dataset(spec, "test")
    read_seconds = time.perf_counter() - t0
    # Side by side, in two processes: on a shared machine whose load moves, runs one after the other
    # would get different shares of the cores for the same wall-clock budget.
    conditions = {"single_frame": None, "temporal": f"frames:{args.gap}"}
    with ProcessPoolExecutor(len(conditions), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {name: pool.submit(simclr_run, spec, str(out / name), vars(args), positives)
                   for name, positives in conditions.items()}
        simclr = {name: f.result() for name, f in futures.items()}
    pairs = pair_run(spec, out / "av", args)
    report = {
        "command": f"python benchmarks/video_world.py --seconds {args.seconds:g} --gap {args.gap} "
                   f"--videos {args.videos}",
        "conditions": {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                       "load_average_before": load_before, "load_average_after": os.getloadavg(),
                       "machine": platform.machine(), "shared": "2 CPU cores shared with other jobs"},
        "world": {"videos": args.videos, "train_clips": len(train), "test_clips": len(test),
                  "frames_per_clip": train.frames_per_clip, "write_seconds": round(world_seconds, 1),
                  "read_seconds": round(read_seconds, 1)},
        "simclr": simclr,
        "audio_visual": pairs,
    }
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    for name, r in simclr.items():
        print(f"{name:<13} shape kNN {r['knn_top1']:6.2f} linear {r['linear_top1']:6.2f} (untrained "
              f"{r['untrained']['knn_top1']:.2f} / {r['untrained']['linear_top1']:.2f}); cosine to the frame "
              f"{args.gap} later {r['same_clip_cosine']:.3f}, to other clips {r['other_clip_cosine']:.3f}; "
              f"{r['steps']} steps in {r['train_seconds']:.0f} s")
    print(f"audio->frame R@1 {pairs['audio_to_frame_R@1']:.2f} (chance {pairs['chance_R@1']:.2f}, ceiling "
          f"{pairs['ceiling_R@1']:.2f}); R@5 {pairs['audio_to_frame_R@5']:.2f}; -> {args.json}")
    return 0


def simclr_run(spec: str, run_dir: str, args: dict, positives: str | None) -> dict:
    """One SimCLR run (in its own process) and the kNN of its encoder and of the untrained one."""
    import torch

    torch.set_num_threads(THREADS)
    from simclip.data import load_dataset
    from simclip.eval import evaluate
    from simclip.recipes import resolve_config, run_simclr
    from simclip.recipes.simclr import load_simclr_run

    train, test = load_dataset(spec, "train"), load_dataset(spec, "test")
    values = {"data": spec, "out": run_dir, "overwrite": True, "time_budget": args["seconds"],
              "epochs": 100_000, "batch_size": args["batch_size"], "seed": args["seed"], "progress": False,
              "eval_protocols": (), "precision": "fp32", "channels_last": False,  # bf16 slows small CPU convs
              "model.encoder": "small-cnn", "model.encoder_options": NARROW}
    if positives:
        values["objective.positives"] = positives
    cfg = resolve_config("simclr", values, dataset=train)[0]
    result = run_simclr(cfg, dataset=train)
    scores = {}
    for name, random_init in (("trained", False), ("untrained", True)):
        model = load_simclr_run(run_dir, random_init=random_init)[0]
        r = evaluate(model, ("knn", "linear"), train=train, test=test, options={"knn": {"k": 20}})
        scores[name] = {"knn_top1": r["knn_top1"], "linear_top1": r["linear_top1"],
                        **similarities(model, test.clips, args["gap"])}
    return {"positives": positives, **scores["trained"], "untrained": scores["untrained"],
            "steps": result["steps"], "train_seconds": round(result["train_seconds"], 1),
            "images_per_s": round(result["images_per_s"], 1), "config": cfg.to_dict()}


def similarities(model, clips, gap: int) -> dict[str, float]:
    """Mean cosine similarity of the encoder's features (held-out clips ``[N, T, 3, S, S]``) between
    a clip's middle frame and the frame ``gap`` later, and between middle frames of different clips
    (whose shapes differ or not): how much of a clip's motion the features already ignore."""
    import torch.nn.functional as F

    from simclip.eval import extract_features

    mid = clips.shape[1] // 2
    a = F.normalize(extract_features(model.encode_image, clips[:, mid]), dim=1)
    b = F.normalize(extract_features(model.encode_image, clips[:, min(mid + gap, clips.shape[1] - 1)]), dim=1)
    n = len(a)
    others = (a @ a.T).sum().item() - n
    return {"same_clip_cosine": float((a * b).sum(1).mean()), "other_clip_cosine": others / (n * (n - 1))}


def pair_run(spec: str, run_dir: Path, args: argparse.Namespace) -> dict:
    from simclip.data.videos import load_video_pairs
    from simclip.pairs import evaluate_pairs, load_pair_run, pair_config, run_pairs

    train, test = load_video_pairs(spec, "train"), load_video_pairs(spec, "test")
    cfg = pair_config(data=spec, out=str(run_dir), overwrite=True, time_budget=2 * args.seconds / 3,
                      epochs=100_000, seed=args.seed, batch_size=args.batch_size, progress=False, eval_protocols=(),
                      objective={"modalities": ["image", "audio"], "anchor": "image"})
    trained = run_pairs(cfg, dataset=train)
    model, _ = load_pair_run(cfg.out)
    metrics = evaluate_pairs(model, train, test, ("knn", "retrieval"))
    ceiling = audio_ceiling(args.videos, args.seed)
    return {"train_pairs": len(train), "test_clips": len(test), "steps": trained["steps"],
            "train_seconds": round(trained["train_seconds"], 1),
            **{k.replace("retrieval.", "").replace("image", "frame"): v for k, v in metrics.items()},
            **{f"ceiling_{k}": v for k, v in ceiling.items()}}


def audio_ceiling(videos: int, seed: int) -> dict[str, float]:
    """The best audio->frame recall: a sound tells shape, colour and size, so a query ties with
    every held-out clip alike in the three; a uniform pick among them hits with probability
    min(1, k / group size)."""
    from collections import Counter

    from simclip.data.world import sample_objects

    objects = sample_objects(videos, seed)
    keys = [(int(objects.shape[i]), int(objects.color[i]), int(objects.size[i]))
            for i in range(videos) if objects.split[i] == "test"]
    size = Counter(keys)
    return {f"R@{k}": 100.0 * sum(min(1.0, k / size[key]) for key in keys) / len(keys) for k in (1, 5)}


if __name__ == "__main__":
    raise SystemExit(main())
