"""What the defaults learn: the README's commands with no recipe flags, against named presets,
lightly's documented SimCLR example recipe and random initialisation, on MNIST (the data the
defaults were chosen on) and on three held-out data sets (``heldout_data.py``, frozen before any
default was chosen, used here only to report); then semi-supervised fine-tuning and CLIP.

Every simclip figure comes from the command line, exactly as a user runs it
(``simclip simclr train --data SPEC --time-budget S``, ``simclip eval --run RUN ...``), through
``simclip.cli.main``. lightly's side is its example (``examples/pytorch/simclr.py``): torchvision
ResNet-18, ``SimCLRProjectionHead(512, 512, 128)``, ``NTXentLoss()`` (T = 0.5), SGD lr 0.06, batch
256, ``SimCLRTransform(input_size=S, gaussian_blur=0.0)`` in DataLoader workers, run for the same
wall-clock time with the same bf16 autocast; one-channel images are given to it as RGB, as its
``LightlyDataset`` reads them.

    python benchmarks/defaults.py                     # all sections, ~35 min on 2 cores
    python benchmarks/defaults.py --only mnist        # mnist | heldout | finetune | finetune-heldout | clip
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import time
from pathlib import Path

import torch

from simclip.cli import main as simclip
from simclip.data import load_dataset
from simclip.eval import evaluate_classification

HERE = Path(__file__).resolve().parent
MNIST = HERE.parent.parent / "shared" / "data" / "mnist"
PROBES = ("linear", "knn")
# held-out set -> the named presets also run on it (the table reports the best)
HELDOUT = {"mnist-inverted-32": ("handwriting",), "digits-occluded": ("handwriting", "small-data"),
           "patterns-32": ("small-data",)}


def cli(*argv: str) -> dict:
    """Run ``simclip ARGV --json`` and return its JSON output (the recipe goes to stderr)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = simclip([*argv, "--json"])
    if code != 0:
        raise RuntimeError(f"simclip {' '.join(argv)} exited with {code}")
    return json.loads(out.getvalue())


def train_and_probe(name: str, spec: str, runs: Path, *flags: str) -> dict:
    run = runs / name
    t0 = time.perf_counter()
    trained = cli("simclr", "train", "--data", spec, "--out", str(run), "--overwrite", "--no-progress", *flags)
    probes = cli("eval", "--run", str(run), "--protocol", "linear,knn")
    config = json.loads((run / "config.json").read_text())
    row = {"command": f"simclip simclr train --data {spec} {' '.join(flags)}".strip(),
           "recipe": config["recipe"], "steps": trained["steps"], "train_seconds": trained["train_seconds"],
           "images_per_s": trained["images_per_s"], "linear_top1": probes["linear_top1"],
           "knn_top1": probes["knn_top1"], "wall_seconds": time.perf_counter() - t0}
    print(name, json.dumps(row), flush=True)
    return row


def random_init(run: Path) -> dict:
    probes = cli("eval", "--run", str(run), "--protocol", "linear,knn", "--random-init")
    return {"linear_top1": probes["linear_top1"], "knn_top1": probes["knn_top1"]}


class _PIL(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor, transform) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        x = self.images[i]
        x = x.expand(3, -1, -1) if x.shape[0] == 1 else x
        return self.transform(Image.fromarray(x.permute(1, 2, 0).numpy(), mode="RGB"))


def lightly_example(spec: str, seconds: float, workers: int) -> dict:
    """lightly's SimCLR example recipe for ``seconds`` of training, then the same probes."""
    import torchvision
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead
    from lightly.transforms import SimCLRTransform

    train, test = load_dataset(spec, split="train"), load_dataset(spec, split="test")
    transform = SimCLRTransform(input_size=train.image_size, gaussian_blur=0.0)
    loader = torch.utils.data.DataLoader(_PIL(train.images, transform), batch_size=256, shuffle=True,
                                         drop_last=True, num_workers=workers, persistent_workers=workers > 0)
    torch.manual_seed(0)
    backbone = torch.nn.Sequential(*list(torchvision.models.resnet18().children())[:-1])
    head = SimCLRProjectionHead(512, 512, 128)
    model = torch.nn.Sequential(backbone, torch.nn.Flatten(), head).to(memory_format=torch.channels_last)
    criterion = NTXentLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.06)
    elapsed, images = 0.0, 0
    while elapsed < seconds:
        t0 = time.perf_counter()
        for views in loader:
            x0, x1 = (v.contiguous(memory_format=torch.channels_last) for v in views)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = criterion(model(x0).float(), model(x1).float())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            images += len(x0)
            now = time.perf_counter()
            elapsed += now - t0
            t0 = now
            if elapsed >= seconds:
                break
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    backbone.eval()

    def encode(x: torch.Tensor) -> torch.Tensor:
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return backbone((x - mean) / std).flatten(1)

    probes = evaluate_classification(encode, train, test, protocols=PROBES)
    row = {"recipe": "lightly example", "images_per_s": images / elapsed, "train_seconds": elapsed,
           "linear_top1": probes["linear_top1"], "knn_top1": probes["knn_top1"]}
    print("lightly", spec, json.dumps(row), flush=True)
    return row


def section_mnist(args, runs: Path) -> dict:
    spec = f"mnist:{args.mnist}"
    s = str(args.mnist_seconds)
    out = {"readme_epochs_1": train_and_probe("mnist-epochs1", spec, runs, "--epochs", "1"),
           "defaults_budget": train_and_probe("mnist-auto", spec, runs, "--time-budget", s),
           "handwriting_budget": train_and_probe("mnist-handwriting", spec, runs, "--time-budget", s,
                                                 "--recipe", "handwriting")}
    out["random_init"] = random_init(runs / "mnist-auto")
    if not args.skip_lightly:
        out["lightly_budget"] = lightly_example(spec, args.mnist_seconds, args.workers)
    return out


def section_heldout(args, runs: Path) -> dict:
    from heldout_data import build

    sums = build(Path(args.heldout))
    frozen = json.loads((HERE / "results" / "heldout_data.json").read_text())
    if sums != frozen:
        raise RuntimeError(f"held-out data differ from the frozen checksums: {sums} vs {frozen}")
    out = {}
    for name, presets in HELDOUT.items():
        spec = f"folder:{Path(args.heldout) / name}"
        s = str(args.seconds)
        rows = {"defaults": train_and_probe(f"{name}-auto", spec, runs, "--time-budget", s)}
        for preset in presets:
            rows[preset] = train_and_probe(f"{name}-{preset}", spec, runs, "--time-budget", s, "--recipe", preset)
        rows["random_init"] = random_init(runs / f"{name}-auto")
        if not args.skip_lightly:
            rows["lightly"] = lightly_example(spec, args.seconds, args.workers)
        out[name] = rows
    return out


def finetune_rows(run: Path, fractions: tuple[str, ...] = ("1%", "10%")) -> dict:
    """``simclip eval --protocol finetune`` at each label fraction, pretrained and from scratch."""
    out = {}
    for labels in fractions:
        for init in ("pretrained", "random_init"):
            flags = ["--random-init"] if init == "random_init" else []
            t0 = time.perf_counter()
            got = cli("eval", "--run", str(run), "--protocol", "finetune", "--labels", labels, *flags)
            out[f"{labels} {init}"] = {"finetune_top1": got["finetune_top1"], "labels": got["finetune_labels"],
                                      "seconds": time.perf_counter() - t0,
                                      "command": f"simclip eval --run RUN --protocol finetune --labels {labels} "
                                                 + " ".join(flags)}
            print("finetune", run.name, labels, init, json.dumps(out[f"{labels} {init}"]), flush=True)
    return out


def section_finetune(args, runs: Path) -> dict:
    run = runs / "mnist-auto"
    if not (run / "config.json").exists():
        train_and_probe("mnist-auto", f"mnist:{args.mnist}", runs, "--time-budget", str(args.mnist_seconds))
    return finetune_rows(run)


def section_finetune_heldout(args, runs: Path) -> dict:
    """Fine-tuning with 1% of the labels on the held-out sets, from their ``--time-budget`` default runs
    (trained if missing)."""
    from heldout_data import build

    build(Path(args.heldout))
    out = {}
    for name in HELDOUT:
        run = runs / f"{name}-auto"
        pretrain = None
        if not (run / "config.json").exists():
            pretrain = train_and_probe(f"{name}-auto", f"folder:{Path(args.heldout) / name}", runs,
                                       "--time-budget", str(args.seconds))
        out[name] = {**finetune_rows(run, ("1%",)), "pretrain": pretrain}
    return out


def section_clip(args, runs: Path) -> dict:
    from heldout_data import build

    build(Path(args.heldout), ("patterns-32",))
    root = Path(args.heldout) / "patterns-32"
    files = {}
    with open(root / "captions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for split in ("train", "test"):  # a caption file is one split
        path = runs / f"patterns-{split}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image", "caption"])
            w.writerows([(str((root / r["image"]).resolve()), r["caption"]) for r in rows if r["split"] == split])
        files[split] = path
    run = runs / "clip-patterns"
    trained = cli("clip", "train", "--data", f"captions:{files['train']}", "--time-budget", str(args.clip_seconds),
                  "--eval", "", "--out", str(run), "--overwrite", "--no-progress")
    zs = cli("zeroshot", "--run", str(run), "--data", f"folder:{root}")
    retrieval = cli("retrieve", "--run", str(run), "--data", f"captions:{files['test']}")
    config = json.loads((run / "config.json").read_text())
    out = {"command": f"simclip clip train --data captions:TRAIN.csv --time-budget {args.clip_seconds}",
           "model": config["model"], "batch_size": config["batch_size"], "steps": trained["steps"],
           "images_per_s": trained["images_per_s"], "zeroshot": zs, "retrieval": retrieval,
           "chance_top1": 10.0}
    print("clip", json.dumps(out), flush=True)
    return out


SECTIONS = {"mnist": section_mnist, "heldout": section_heldout, "finetune": section_finetune,
            "finetune-heldout": section_finetune_heldout, "clip": section_clip}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), default=None)
    parser.add_argument("--mnist", default=str(MNIST), help="folder with the MNIST IDX files")
    parser.add_argument("--heldout", default="runs/heldout", help="where heldout_data.py writes its sets")
    parser.add_argument("--seconds", type=float, default=60.0, help="training budget on each held-out set")
    parser.add_argument("--mnist-seconds", type=float, default=120.0)
    parser.add_argument("--clip-seconds", type=float, default=120.0)
    parser.add_argument("--workers", type=int, default=2, help="lightly DataLoader workers")
    parser.add_argument("--skip-lightly", action="store_true")
    parser.add_argument("--runs", default="runs/bench-defaults")
    parser.add_argument("--out", default=str(HERE / "results" / "defaults.json"))
    args = parser.parse_args()
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    results["machine"] = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__}
    for name, section in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        results[name] = section(args, Path(args.runs))
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(results, indent=2) + "\n")  # after each section


if __name__ == "__main__":
    main()
