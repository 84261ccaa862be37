"""Images/s from real-size JPEG photos to two SimCLR views each: simclip beside OpenCLIP and lightly.

Run: ``python benchmarks/input_pipeline.py [--count 2000] [--size 224] [--batches 16] [--rounds 7]``
Writes ``benchmarks/results/input_pipeline.json``.

Data: ``--count`` distinct JPEGs (quality 85..95), 500x375 (one in four 375x500), made from
scikit-image's sample photos by a random crop (30..100% of the area), a flip, a brightness and
colour gain and a resize; ten class folders (one per photo), and the same bytes in WebDataset tar
shards of 250 samples (``KEY.jpg`` + ``KEY.cls``). Made once into ``--cache`` (default
``$TMPDIR/simclip-input-pipeline``) and reused.

Pipelines, all with 2 worker processes and batches of 64, each giving two float ``[64, 3, S, S]``
views per batch (on the GPU when there is one):

- simclip wds: ``load_dataset("wds:DIR?workers=2", image_size=S)`` -> ``batches`` with the
  views SimCLR's training asks for (``SimCLRObjective.loader_views``): on the CPU each worker
  makes the views of the batches it decodes and hands them over as uint8, and the main process
  makes them float ``[2B, 3, S, S]`` with ``SimCLRObjective.inputs``, as training does (that
  conversion is timed); with a GPU the ``simclr`` policy's ``two_views`` runs on the device in the
  main process, as training does there. ``simclip_wds_views_in_main``: the views made in the
  main process on the CPU (one core) while the workers decode.
- simclip folder: ``load_dataset("folder:DIR?workers=2", image_size=S)`` decodes every file
  once, in 2 processes into shared memory; then the same augmentation, made by 2 loader workers
  on the CPU. Its first epoch costs decoding plus augmentation per image, later epochs the
  augmentation only; both are reported.
- OpenCLIP wds: the stages of ``open_clip_train.data.get_wds_dataset`` (shard list, shard shuffle,
  ``split_by_worker``, ``tarfile_to_samples``, sample shuffle, decode to RGB PIL, transform,
  ``batched`` with ``default_collate``, ``WebLoader``) with ``open_clip.image_transform(S,
  is_train=True)`` configured with SimCLR's crop scale (0.08, 1), colour jitter (0.4, 0.4, 0.4,
  0.1) with p 0.8 and grayscale with p 0.2, applied twice per image. It has no blur (its transform
  offers none), so it does less work than the other two.
- lightly folder: ``LightlyDataset(DIR, transform=SimCLRTransform(input_size=S))`` with a
  ``DataLoader(num_workers=2, shuffle=True)``.

Timing: after 2 warm-up batches (worker start-up), the wall time of the next ``--batches``
batches; the pipelines are measured in turn, ``--rounds`` times, and the median is reported.
``--threads`` is torch's thread count in the main process (default: torch's own, one per core, as
a training run has); workers use one each. simclip's augmentation runs each op on one thread
whatever that count.

Stage shares: each pipeline's stages timed one after another in one process with one thread, on
128 of the files; the pipelines are measured in turn three times, each stage twice a turn, and the
fastest time of each stage is kept: decode (bytes -> pixels), crop/resize
(simclip: fitting the stored square; the peers: their random resized crop), augment (the rest of
the views' transform; simclip on the CPU: the loader's uint8 views), collate/transfer
(batch assembly, and the copy to the GPU when there is one; simclip on the CPU: the uint8 views
made float by ``SimCLRObjective.inputs``).

Stored square: ms per file of fitting a file to the stored square at several sizes, the former
path (full decode, whole image resized, then cropped) against ``decode.decode_square``, one thread,
with the mean absolute difference of their pixels.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import tarfile
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

RESULTS = Path(__file__).parent / "results" / "input_pipeline.json"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
          "retina", "cat")
SHARD_SIZE, BATCH, WORKERS, WARMUP, STAGE_IMAGES = 250, 64, 2, 2, 128


def sample_photos() -> list[np.ndarray]:
    import skimage.data

    photos = []
    for name in PHOTOS:
        loader = getattr(skimage.data, name, None)
        try:
            image = loader() if loader is not None else None
        except Exception:  # a sample that needs a download: skipped
            image = None
        if image is not None and image.ndim == 3 and image.shape[2] == 3:
            photos.append(image)
    return photos


def make_data(root: Path, count: int) -> tuple[Path, Path]:
    """``root/n{count}/folder`` (class folders) and ``root/n{count}/shards`` (tars), reused."""
    base = root / f"n{count}"
    folder, shards = base / "folder", base / "shards"
    if (base / ".complete").is_file():
        return folder, shards
    photos = sample_photos()
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    shards.mkdir(parents=True, exist_ok=True)
    tar = None
    for i in range(count):
        label = i % len(photos)
        data = jittered_jpeg(photos[label], rng, portrait=i % 4 == 3)
        (folder / f"class{label}").mkdir(exist_ok=True)
        (folder / f"class{label}" / f"{i:06d}.jpg").write_bytes(data)
        if i % SHARD_SIZE == 0:
            if tar is not None:
                tar.close()
            tar = tarfile.open(shards / f"{i // SHARD_SIZE:06d}.tar", "w")
        for suffix, payload in (("jpg", data), ("cls", str(label).encode())):
            member = tarfile.TarInfo(f"{i:06d}.{suffix}")
            member.size = len(payload)
            tar.addfile(member, io.BytesIO(payload))
    if tar is not None:
        tar.close()
    counts = {p.name: min(SHARD_SIZE, count - int(p.stem) * SHARD_SIZE) for p in shards.glob("*.tar")}
    (shards / "sizes.json").write_text(json.dumps(counts))
    (base / ".complete").write_text("ok\n")
    return folder, shards


def jittered_jpeg(photo: np.ndarray, rng: np.random.Generator, portrait: bool) -> bytes:
    height, width = photo.shape[:2]
    area = rng.uniform(0.3, 1.0) * height * width
    aspect = (375 / 500) if not portrait else (500 / 375)
    ch = int(min(height, np.sqrt(area * aspect)))
    cw = int(min(width, ch / aspect))
    top, left = rng.integers(0, height - ch + 1), rng.integers(0, width - cw + 1)
    crop = photo[top:top + ch, left:left + cw].astype(np.float32)
    crop = crop * rng.uniform(0.7, 1.3) * rng.uniform(0.85, 1.15, size=3)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    image = Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8))
    image = image.resize((375, 500) if portrait else (500, 375), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=int(rng.integers(85, 96)))
    return buf.getvalue()


# --- the pipelines: each yields batches of (view1, view2) float tensors on `device` ---

def simclip_views(size: int, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    from simclip.augment import create_policy, two_views

    policy, generator = create_policy("simclr", size=size), torch.Generator().manual_seed(0)
    return lambda images: two_views(policy, images.to(device, non_blocking=True), generator=generator)


def simclip_stream(dataset, size: int, device: torch.device, in_main: bool = False) -> Iterator:
    """Two views per image, as training makes them: on the CPU the loader's workers make them
    (``SimCLRObjective.loader_views``), elsewhere the main process makes them on the device;
    ``in_main``: views in the main process on the CPU too (the path before loader views)."""
    from simclip.augment import create_policy
    from simclip.data import batches
    from simclip.train.objectives.simclr import SimCLRObjective

    objective = SimCLRObjective(create_policy("simclr", size=size), seed=0)
    loader_views = objective.loader_views(device) if not in_main else None
    make = simclip_views(size, device)
    for epoch in range(1000):
        for batch in batches(dataset, BATCH, seed=0, epoch=epoch, views=loader_views):
            # the loader's uint8 views become float [2B, C, S, S] as training's inputs() makes them
            yield objective.inputs(batch)[0].view(2, BATCH, 3, size, size) if loader_views else make(batch[0])


def simclip_wds(shards: Path, size: int, device: torch.device, in_main: bool = False) -> Iterator:
    from simclip.data import load_dataset

    dataset = load_dataset(f"wds:{shards}?workers={WORKERS}&shuffle_buffer=1000", image_size=size)
    return simclip_stream(dataset, size, device, in_main)


def simclip_folder_load(folder: Path, size: int):
    """``folder:DIR?workers=2``: decoded by 2 processes; 2 loader workers make the views."""
    from simclip.data.folder import load_folder

    return load_folder(folder, image_size=size, workers=WORKERS)


def openclip_transform(size: int):
    import open_clip
    from open_clip.transform import AugmentationCfg

    cfg = AugmentationCfg(scale=(0.08, 1.0), color_jitter=(0.4, 0.4, 0.4, 0.1), color_jitter_prob=0.8,
                          gray_scale_prob=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_clip.image_transform(size, is_train=True, aug_cfg=cfg)


class TwoViews:
    """A picklable ``image -> (view, view)`` for the workers."""

    def __init__(self, transform: Callable) -> None:
        self.transform = transform

    def __call__(self, image: Image.Image) -> tuple:
        return self.transform(image), self.transform(image)


def decode_pil_rgb(data: bytes) -> Image.Image:
    with io.BytesIO(data) as stream:
        image = Image.open(stream)
        image.load()
        return image.convert("RGB")


def openclip_wds(shards: Path, size: int, device: torch.device) -> Iterator:
    import webdataset as wds
    from torch.utils.data import default_collate

    urls = [str(p) for p in sorted(shards.glob("*.tar"))]
    pipeline = wds.DataPipeline(
        wds.SimpleShardList(urls), wds.shuffle(bufsize=2000, initial=500), wds.split_by_worker,
        wds.tarfile_to_samples(), wds.shuffle(bufsize=1000, initial=100),
        wds.rename(image="jpg;png;jpeg;webp", keep=False), wds.map_dict(image=decode_pil_rgb),
        wds.map_dict(image=TwoViews(openclip_transform(size))), wds.to_tuple("image"),
        wds.batched(BATCH, partial=False, collation_fn=default_collate))
    loader = wds.WebLoader(pipeline, batch_size=None, shuffle=False, num_workers=WORKERS,
                           persistent_workers=True)
    while True:
        for (views,) in loader:
            yield tuple(v.to(device, non_blocking=True) for v in views)


def lightly_folder(folder: Path, size: int, device: torch.device) -> Iterator:
    from lightly.data import LightlyDataset
    from lightly.transforms import SimCLRTransform

    dataset = LightlyDataset(str(folder), transform=SimCLRTransform(input_size=size))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=WORKERS,
                                         drop_last=True, persistent_workers=True)
    while True:
        for views, _, _ in loader:
            yield tuple(v.to(device, non_blocking=True) for v in views)


def timed(stream: Iterator, batches: int, device: torch.device) -> float:
    """Images/s over ``batches`` batches after the warm-up ones; checks the views' shape."""
    for _ in range(WARMUP):
        out = next(stream)
    started = time.perf_counter()
    for _ in range(batches):
        out = next(stream)
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    assert len(out) == 2 and out[0].shape[:2] == (BATCH, 3), [tuple(v.shape) for v in out]
    stream.close()  # type: ignore[attr-defined]
    return batches * BATCH / elapsed


# --- stage shares, one process, one thread ---

def _clock(fn: Callable[[], object], repeats: int = 2) -> tuple[float, object]:
    """The fastest of ``repeats`` runs of ``fn`` (the machine is shared), and its result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _synced(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def simclip_stages(files: list[Path], size: int, device: torch.device) -> dict[str, float]:
    from simclip.data.decode import fit_square
    from simclip.imageio import decode_reduced

    blobs = [f.read_bytes() for f in files]
    decode, reduced = _clock(lambda: [decode_reduced(b, 3, min_side=size, fast_jpeg=True) for b in blobs])
    crop, squares = _clock(lambda: [fit_square(r.pixels, size, scale=r.scale, full_size=r.full_size)
                                    for r in reduced])

    if device.type == "cpu":  # as a loader worker and the training step make them
        from simclip.augment import create_policy
        from simclip.train.objectives.simclr import SimCLRObjective

        objective = SimCLRObjective(create_policy("simclr", size=size), seed=0)
        loader_views = objective.loader_views(device)
        assert loader_views is not None
        stack_s, stacked = _clock(lambda: [torch.from_numpy(np.stack(squares[i:i + BATCH])).permute(0, 3, 1, 2)
                                     for i in range(0, len(squares), BATCH)])
        made, views = _clock(lambda: [loader_views(b, epoch=0, batch=i) for i, b in enumerate(stacked)])
        converted, _ = _clock(lambda: [objective.inputs((v,)) for v in views])
        return {"decode": decode, "crop_resize": crop, "augment": made, "collate_transfer": stack_s + converted}

    def collate() -> list[torch.Tensor]:
        out = [torch.from_numpy(np.stack(squares[i:i + BATCH])).permute(0, 3, 1, 2).contiguous().to(device)
               for i in range(0, len(squares), BATCH)]
        _synced(device)
        return out

    collate_s, batches = _clock(collate)
    make = simclip_views(size, device)
    make(batches[0])  # first call: allocations, kernel set-up
    augment, _ = _clock(lambda: ([make(b) for b in batches], _synced(device)))
    return {"decode": decode, "crop_resize": crop, "augment": augment, "collate_transfer": collate_s}


def peer_stages(files: list[Path], transform: Callable, crop: Callable, device: torch.device
                ) -> dict[str, float]:
    from torch.utils.data import default_collate

    blobs = [f.read_bytes() for f in files]
    decode, images = _clock(lambda: [decode_pil_rgb(b) for b in blobs])
    crop_s, _ = _clock(lambda: [(crop(im), crop(im)) for im in images])
    whole, outputs = _clock(lambda: [transform(im) for im in images])

    def collate() -> None:
        for i in range(0, len(outputs), BATCH):
            [v.to(device) for v in default_collate(outputs[i:i + BATCH])]
        _synced(device)

    collate_s, _ = _clock(collate)
    return {"decode": decode, "crop_resize": crop_s, "augment": max(whole - crop_s, 0.0),
            "collate_transfer": collate_s}


def former_fit(data: bytes, size: int) -> np.ndarray:
    """The path before reduced-size decoding: a full decode, the whole image resized, then cropped."""
    from simclip.imageio import decode_array

    image = decode_array(data)
    height, width, _ = image.shape
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    pil = Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BICUBIC)
    return np.asarray(pil.crop((left, top, left + size, top + size)))


def square_speed(folder: Path, sizes: tuple[int, ...] = (224, 160, 96, 64, 32)) -> list[dict]:
    """ms per file of the former and the current ``decode_square`` path per stored size, one thread,
    and their mean absolute difference in grey levels."""
    from simclip.data.decode import decode_square

    blobs = [f.read_bytes() for f in sorted(folder.rglob("*.jpg"))[:64]]
    rows = []
    for size in sizes:
        former, old = _clock(lambda size=size: [former_fit(b, size) for b in blobs])
        current, new = _clock(lambda size=size: [decode_square(b, size) for b in blobs])
        diff = float(np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in zip(old, new)]))
        rows.append({"size": size, "former_ms": round(1e3 * former / len(blobs), 2),
                     "current_ms": round(1e3 * current / len(blobs), 2),
                     "speedup": round(former / current, 2), "mean_abs_diff": round(diff, 2)})
    return rows


def shares(seconds: dict[str, float], images: int) -> dict:
    total = sum(seconds.values())
    return {"ms_per_image": {k: round(1e3 * v / images, 3) for k, v in seconds.items()},
            "share": {k: round(v / total, 3) for k, v in seconds.items()},
            "single_thread_images_per_s": round(images / total, 1)}


def stage_table(folder: Path, size: int, device: torch.device, rounds: int = 3) -> dict:
    """Each pipeline's stages, measured in turn ``rounds`` times; each stage's fastest time is kept,
    so a burst of load from other processes on a shared machine does not land in one pipeline."""
    from lightly.transforms import SimCLRTransform

    files = sorted(folder.rglob("*.jpg"))[:STAGE_IMAGES]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lightly = SimCLRTransform(input_size=size)
        openclip = TwoViews(openclip_transform(size))
        measure = {
            "simclip": lambda: simclip_stages(files, size, device),
            "openclip": lambda: peer_stages(files, openclip, openclip.transform.transforms[0], device),
            "lightly": lambda: peer_stages(files, lightly, lightly.transforms[0].transform.transforms[0],
                                           device),
        }
        best: dict[str, dict[str, float]] = {}
        for _ in range(rounds):
            for name, run in measure.items():
                seconds = run()
                best[name] = {k: min(v, best.get(name, seconds)[k]) for k, v in seconds.items()}
        return {name: shares(seconds, len(files)) for name, seconds in best.items()}
    finally:
        torch.set_num_threads(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="distinct JPEG files to make")
    parser.add_argument("--size", type=int, default=224, help="side of the views")
    parser.add_argument("--batches", type=int, default=16,
                        help="timed batches of 64 per pipeline and round (fewer leave a worker too few to time)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the main process (default: torch's, one per core)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "simclip-input-pipeline"))
    args = parser.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    load_before = os.getloadavg()
    made = time.perf_counter()
    folder, shards = make_data(Path(args.cache), args.count)
    print(f"{args.count} JPEGs in {folder} and {shards} ({time.perf_counter() - made:.0f} s)", flush=True)

    runs: dict[str, list[float]] = {"simclip_wds": [], "simclip_wds_views_in_main": [], "simclip_folder_epoch1": [],
                                    "simclip_folder_later_epochs": [], "openclip_wds": [],
                                    "lightly_folder": [], "simclip_wds_no_augment": []}
    folder_load_s = []
    for round_ in range(args.rounds):
        runs["simclip_wds"].append(timed(simclip_wds(shards, args.size, device), args.batches, device))
        runs["simclip_wds_views_in_main"].append(
            timed(simclip_wds(shards, args.size, device, in_main=True), args.batches, device))
        runs["openclip_wds"].append(timed(openclip_wds(shards, args.size, device), args.batches, device))
        runs["lightly_folder"].append(timed(lightly_folder(folder, args.size, device), args.batches, device))
        started = time.perf_counter()
        dataset = simclip_folder_load(folder, args.size)
        load_s = time.perf_counter() - started
        folder_load_s.append(load_s)
        later = timed(simclip_stream(dataset, args.size, device), args.batches, device)
        runs["simclip_folder_later_epochs"].append(later)
        runs["simclip_folder_epoch1"].append(1 / (load_s / len(dataset) + 1 / later))
        runs["simclip_wds_no_augment"].append(timed(_no_augment(shards, args.size), args.batches, device))
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in runs.items()), flush=True)
    median = {k: round(statistics.median(v), 1) for k, v in runs.items()}
    stages = stage_table(folder, args.size, device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    squares = square_speed(folder)
    torch.set_num_threads(threads)
    load_after = os.getloadavg()
    best_peer = max(median["openclip_wds"], median["lightly_folder"])
    result = {
        "benchmark": "input_pipeline",
        "data": {"files": args.count, "image": "500x375 JPEG (1 in 4 375x500), quality 85..95, from "
                 "scikit-image sample photos", "shards": f"tar, {SHARD_SIZE} samples each"},
        "views": {"size": args.size, "per_image": 2, "batch": BATCH, "dtype": "float32"},
        "workers": WORKERS, "main_threads": torch.get_num_threads(), "device": str(device),
        "timed_batches": args.batches, "rounds": args.rounds,
        "images_per_s": median, "runs": {k: [round(x, 1) for x in v] for k, v in runs.items()},
        "simclip_folder_load_s": [round(s, 2) for s in folder_load_s],
        "ratio_to_best_peer": {k: round(median[k] / best_peer, 2) for k in
                               ("simclip_wds", "simclip_wds_views_in_main", "simclip_folder_epoch1",
                                "simclip_folder_later_epochs",
                                "simclip_wds_no_augment")},
        "target": "simclip >= 2x OpenCLIP's and lightly's images/s on the same JPEG shards and cores",
        "stages": stages,
        "stored_square": squares,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                    "load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in load_after]},
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"images_per_s": median, "ratio_to_best_peer": result["ratio_to_best_peer"]}))
    for name, table in stages.items():
        print(f"{name:9s} " + "  ".join(f"{k} {100 * v:.0f}%" for k, v in table["share"].items())
              + f"  ({table['single_thread_images_per_s']} images/s on one thread)")
    for row in squares:
        print(f"fit to {row['size']}: {row['former_ms']} -> {row['current_ms']} ms per file "
              f"(x{row['speedup']}), mean |diff| {row['mean_abs_diff']} grey levels")
    print(f"wrote {RESULTS}")


def _no_augment(shards: Path, size: int) -> Iterator:
    """simclip's wds loader alone (decode, fit, collate in the workers): what remains on the CPU
    when the augmentation runs on an accelerator. The "views" are the uint8 batch, twice."""
    from simclip.data import batches, load_dataset

    dataset = load_dataset(f"wds:{shards}?workers={WORKERS}&shuffle_buffer=1000", image_size=size)
    for epoch in range(1000):
        for images, _ in batches(dataset, BATCH, seed=0, epoch=epoch):
            yield images, images


if __name__ == "__main__":
    main()
