"""CPU throughput of the exported ONNX towers (onnxruntime) against PyTorch eager, in the same run.

Run: ``python benchmarks/onnx_export.py [--models tiny-vit small-cnn-28] [--batches 1 32]
[--repeats 20] [--threads 1] [--json benchmarks/results/onnx_export.json]``.

For each model, tower (image, text) and batch size, PyTorch (``inference_mode``, eval) and onnxruntime
(CPU provider, all graph optimisations) run on the same inputs with the same number of intra-op
threads; their timings alternate repeat by repeat so that load from other processes hits both alike.
Reported: median and fastest milliseconds per batch, items per second at the median, the speed-up
of onnxruntime, and the largest absolute difference between their outputs. Informal, not a test.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from simclip.clip import create_model
from simclip.export import example_inputs, export_onnx, onnx_session


def time_pair(run_torch, run_ort, repeats: int) -> tuple[list[float], list[float]]:
    """Milliseconds of ``repeats`` calls of each, alternating, after two warm-up calls each."""
    for _ in range(2):
        run_torch()
        run_ort()
    torch_ms, ort_ms = [], []
    for _ in range(repeats):
        for fn, times in ((run_torch, torch_ms), (run_ort, ort_ms)):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
    return torch_ms, ort_ms


def bench_model(name: str, batches: list[int], repeats: int, threads: int, folder: Path) -> list[dict]:
    torch.manual_seed(0)
    model = create_model(name).eval()
    image_path, text_path = export_onnx(model, folder / name)
    rows = []
    towers = (("image", image_path, model.encode_image), ("text", text_path, model.encode_text))
    for tower, path, encode in towers:
        session = onnx_session(path, threads)
        for batch in batches:
            images, tokens = example_inputs(model, batch, seed=batch)
            x = images if tower == "image" else tokens
            feed = {session.get_inputs()[0].name: x.numpy()}
            with torch.inference_mode():
                diff = float((encode(x) - torch.from_numpy(session.run(None, feed)[0])).abs().max())
                torch_ms, ort_ms = time_pair(functools.partial(encode, x),
                                             functools.partial(session.run, None, feed), repeats)
            row = {"model": name, "tower": tower, "batch": batch,
                   "torch_ms_median": statistics.median(torch_ms), "torch_ms_fastest": min(torch_ms),
                   "onnxruntime_ms_median": statistics.median(ort_ms), "onnxruntime_ms_fastest": min(ort_ms),
                   "max_abs_diff": diff}
            row["torch_items_per_s"] = batch / row["torch_ms_median"] * 1e3
            row["onnxruntime_items_per_s"] = batch / row["onnxruntime_ms_median"] * 1e3
            row["speedup"] = row["torch_ms_median"] / row["onnxruntime_ms_median"]
            rows.append({k: v if k == "max_abs_diff" or not isinstance(v, float) else round(v, 4)
                         for k, v in row.items()})
            print(f"{name:13s} {tower:5s} B={batch:4d}: torch {row['torch_items_per_s']:9.1f}/s, "
                  f"onnxruntime {row['onnxruntime_items_per_s']:9.1f}/s (x{row['speedup']:.2f}), "
                  f"max |diff| {diff:.1e}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["tiny-vit", "small-cnn-28"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for both runtimes")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    import onnxruntime

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {args.threads} thread(s)")
    with tempfile.TemporaryDirectory() as folder:
        rows = [r for name in args.models for r in bench_model(name, args.batches, args.repeats, args.threads,
                                                                 Path(folder))]
    if args.json:
        result = {"benchmark": "onnx_export", "torch": torch.__version__,
                  "onnxruntime": onnxruntime.__version__,
                  "threads": args.threads, "repeats": args.repeats, "machine": platform.machine(),
                  "processor": platform.processor() or platform.machine(), "results": rows}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
