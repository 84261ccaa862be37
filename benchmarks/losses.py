"""Side-by-side benchmark of simclip's contrastive losses against lightly and OpenCLIP.

For each case (loss, implementation, N, d) a fresh Python process builds the inputs, runs forward +
backward a few times and reports the median time and the peak extra resident memory. The same run
measures this machine's float32 matmul rate and reports, per case, the bound set by the three
unavoidable matrix products (logits forward, then G @ k and G.T @ q in backward; 2 N M d FLOPs
each, M = N columns) and simclip's ratio to it.

Memory method: the child resets the kernel's peak-RSS counter (``/proc/self/clear_refs`` <- 5)
after the inputs exist, then reads ``VmHWM`` after the runs; extra = VmHWM - VmRSS before. Where
the counter cannot be reset, a thread samples VmRSS every millisecond instead (the JSON records
which). Process RSS counts everything the loss allocates (the logit matrices, autograd buffers,
the gradients), and a fresh process per case keeps cases from sharing allocator caches.

Everything here runs on the CPU, so simclip's automatic tiles are the CPU ones
(``reductions.DEFAULT_BLOCK_SIZES["cpu"]``, 1024); ``benchmarks/gpu.py`` measures the CUDA tile.

Usage:
    python benchmarks/losses.py                          # full run (N = 4096, 8192, 16384; CLIP at 32768, d=512)
    python benchmarks/losses.py --sizes 1024 --quick     # smoke run
    python benchmarks/losses.py --crossover              # dense vs tiled at small N (sets DENSE_MAX_LOGITS)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

TARGET_RATIO = 1.5  # simclip within 1.5x of the three-product bound
TARGET_MEMORY_MB = 100.0  # NT-Xent at 2 x 8192, d = 128
DEFAULT_OUT = Path(__file__).parent / "results" / "losses.json"
SRC = Path(__file__).resolve().parents[1] / "src"  # run from a checkout without installing
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


# ---------------------------------------------------------------- child side: one case per process


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


class PeakMemory:
    """Peak resident memory above the level at construction, in MB."""

    def __init__(self) -> None:
        self.start_kb = _status_kb("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
            self.method, self._peak_kb = "VmHWM after clear_refs", None
        except OSError:
            self.method, self._peak_kb, self._stop = "VmRSS sampled every 1 ms", self.start_kb, False
            threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop:
            self._peak_kb = max(self._peak_kb, _status_kb("VmRSS"))
            time.sleep(0.001)

    def extra_mb(self) -> float:
        if self._peak_kb is None:
            return (_status_kb("VmHWM") - self.start_kb) / 1024
        self._stop = True
        return (max(self._peak_kb, _status_kb("VmRSS")) - self.start_kb) / 1024


def _loss_fn(spec: dict):
    """(callable, inputs) for one case; the callable returns the loss."""
    import torch

    n, dim = spec["n"], spec["dim"]
    generator = torch.Generator().manual_seed(0)
    features = [torch.nn.functional.normalize(torch.randn(n, dim, generator=generator), dim=1) for _ in range(2)]
    inputs = [f.requires_grad_(True) for f in features]
    if spec["loss"] == "clip":
        inputs.append(torch.tensor(1 / 0.07, requires_grad=True))
    impl = spec["impl"]
    if impl == "lightly":
        from lightly.loss import NTXentLoss

        return NTXentLoss(temperature=0.5), inputs
    if impl == "open_clip":
        from open_clip.loss import ClipLoss

        return ClipLoss(), inputs
    if impl == "simclip_dense":
        _force_path("dense")
    from simclip.losses import CLIPLoss, NTXentLoss

    block_size = spec.get("block_size")
    if spec["loss"] == "nt_xent":
        return NTXentLoss(0.5, block_size), inputs
    return CLIPLoss(block_size, keep_logits=False if impl == "simclip_recompute" else None), inputs


def _clock(cpu_time: bool):
    # process CPU time is immune to other processes on a shared machine, and equals wall time
    # for a single-threaded run on an otherwise idle core
    return time.process_time if cpu_time else time.perf_counter


def _force_path(path: str) -> None:
    """Make block_size=None pick the dense ("dense") or tiled ("tiled") path at every size."""
    import simclip.losses.reductions as reductions

    for core in reductions.DENSE_MAX_LOGITS:
        reductions.DENSE_MAX_LOGITS[core] = 1 << 62 if path == "dense" else 0


def run_case(spec: dict) -> dict:
    """Median forward + backward seconds over ``repeats`` runs after one warm-up, and peak extra MB."""
    import torch

    torch.set_num_threads(spec["threads"])
    clock = _clock(spec["cpu_time"])
    # a small run first, so lazy imports and BLAS/OpenMP start-up buffers are not counted
    small_fn, small_inputs = _loss_fn({**spec, "n": 64})
    torch.autograd.grad(small_fn(*small_inputs), small_inputs)
    loss_fn, inputs = _loss_fn(spec)
    meter = PeakMemory()
    times = []
    for _ in range(spec["repeats"] + 1):
        start = clock()
        grads = torch.autograd.grad(loss_fn(*inputs), inputs)
        times.append(clock() - start)
        del grads
    return {"seconds": statistics.median(times[1:]), "extra_mb": meter.extra_mb(), "memory_method": meter.method}


def matmul_rate(dims: list[int], threads: int, cpu_time: bool) -> dict[str, float]:
    """Best float32 GFLOP/s of [b, d] @ [d, b] products, b in 1024..4096, for each d in ``dims``."""
    import torch

    torch.set_num_threads(threads)
    clock = _clock(cpu_time)
    rates = {}
    for dim in dims:
        best = 0.0
        for side in (1024, 2048, 4096):
            a, b = torch.randn(side, dim), torch.randn(side, dim)
            out = torch.empty(side, side)
            torch.mm(a, b.T, out=out)
            start = clock()
            for _ in range(5):
                torch.mm(a, b.T, out=out)
            best = max(best, 5 * 2 * side * side * dim / (clock() - start) / 1e9)
        rates[str(dim)] = best
    return rates


def crossover(threads: int, repeats: int, cpu_time: bool) -> list[dict]:
    """Dense vs tiled forward + backward time at small N, for choosing DENSE_MAX_LOGITS."""
    import torch

    from simclip.losses import clip_loss, info_nce, nt_xent

    torch.set_num_threads(threads)
    clock = _clock(cpu_time)
    losses = {  # block_size=None: the automatic choice, forced to one path below
        "nt_xent": lambda z: nt_xent(z, 0.5),
        "clip": lambda z: clip_loss(z[0], z[1], 14.0),
        "info_nce": lambda z: info_nce(z[0], z[1]),
    }
    rows = []
    for n in (64, 128, 256, 384, 512, 768, 1024):
        z = torch.randn(2, n, 128, requires_grad=True)
        for name, fn in losses.items():
            timing = {}
            for path in ("dense", "tiled"):
                _force_path(path)
                fn(z)  # warm-up
                times = []
                for _ in range(repeats):
                    start = clock()
                    torch.autograd.grad(fn(z), z)
                    times.append(clock() - start)
                timing[path] = statistics.median(times)
            logits = (2 * n) ** 2 if name == "nt_xent" else n * n
            ratio = timing["tiled"] / timing["dense"]
            rows.append({"loss": name, "n": n, "logits": logits, **timing, "tiled/dense": ratio})
    return rows


# ---------------------------------------------------------------- parent side


def _child(kind: str, payload: dict, timeout: float) -> dict:
    code = [sys.executable, __file__, "--child", kind, json.dumps(payload)]
    done = subprocess.run(code, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _machine_info(threads: int) -> dict:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    versions = {}
    for name in ("lightly", "open_clip"):
        try:
            versions[name] = __import__(name).__version__
        except Exception as error:  # a peer missing only removes its rows
            versions[name] = f"unavailable: {error}"
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        **versions,
    }


def _cases(args: argparse.Namespace) -> list[dict]:
    cases = []
    for n in args.sizes:
        for loss, impls in (("nt_xent", ("simclip", "lightly")),
                            ("clip", ("simclip", "simclip_recompute", "open_clip"))):
            for impl in impls:
                cases.append({"loss": loss, "impl": impl, "n": n, "dim": args.dim})
    if args.clip_large_n:
        for impl in ("simclip", "open_clip"):
            cases.append({"loss": "clip", "impl": impl, "n": args.clip_large_n, "dim": args.clip_large_dim})
    return cases


def _matrix_gb(case: dict) -> float:
    rows = 2 * case["n"] if case["loss"] == "nt_xent" else case["n"]
    return rows * rows * 4 / 1e9


def _annotate(result: dict, rates: dict[str, float]) -> dict:
    rows = 2 * result["n"] if result["loss"] == "nt_xent" else result["n"]
    flops = 3 * 2 * rows * rows * result["dim"]
    result["bound_seconds"] = flops / (rates[str(result["dim"])] * 1e9)
    if "seconds" in result:
        result["ratio_to_bound"] = result["seconds"] / result["bound_seconds"]
    if result["impl"].startswith("simclip"):
        from simclip.losses.reductions import KEEP_LOGITS_MAX_BYTES, resolve_block_size

        block = resolve_block_size(None, rows, rows, "symmetric" if result["loss"] == "nt_xent" else "dual", "cpu")
        result["path"] = "dense" if block is None else f"tiled, block {block}"
        if block is not None and result["loss"] == "clip":
            kept = result["impl"] == "simclip" and rows * rows * 4 <= KEEP_LOGITS_MAX_BYTES
            result["path"] += ", logits kept" if kept else ", recomputed"
    return result


def _table(results: list[dict]) -> str:
    lines = [
        "| loss | impl | N | d | path | fwd+bwd s | bound s | ratio | extra MB | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        seconds = f"{r['seconds']:.3f}" if "seconds" in r else "-"
        ratio = f"{r['ratio_to_bound']:.2f}" if "ratio_to_bound" in r else "-"
        memory = f"{r['extra_mb']:.0f}" if "extra_mb" in r else "-"
        note = r.get("skipped") or r.get("error") or ""
        lines.append(
            f"| {r['loss']} | {r['impl']} | {r['n']} | {r['dim']} | {r.get('path', '')} | {seconds} "
            f"| {r['bound_seconds']:.3f} | {ratio} | {memory} | {note} |"
        )
    return "\n".join(lines)


def _targets(results: list[dict]) -> list[dict]:
    checks = []
    for r in results:
        if r["impl"] == "simclip" and "ratio_to_bound" in r:
            checks.append({"case": f"{r['loss']} N={r['n']} d={r['dim']}", "target": f"ratio <= {TARGET_RATIO}",
                           "value": round(r["ratio_to_bound"], 3), "met": r["ratio_to_bound"] <= TARGET_RATIO})
        if r["impl"] == "simclip" and r["loss"] == "nt_xent" and r["n"] == 8192 and r["dim"] == 128 and "extra_mb" in r:
            checks.append({"case": "nt_xent 2x8192 d=128", "target": f"extra memory <= {TARGET_MEMORY_MB} MB",
                           "value": round(r["extra_mb"], 1), "met": r["extra_mb"] <= TARGET_MEMORY_MB})
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 8192, 16384], help="batch sizes N")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--clip-large-n", type=int, default=32768, help="extra CLIP case; 0 skips it")
    parser.add_argument("--clip-large-dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (after one warm-up)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--cpu-time", action="store_true", help="time with process CPU time (use with --threads 1)")
    parser.add_argument("--max-matrix-gb", type=float, default=2.0, help="skip peers whose logit matrix is larger")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per case")
    parser.add_argument("--quick", action="store_true", help="one timed run per case, no large CLIP case")
    parser.add_argument("--crossover", action="store_true", help="only time dense vs tiled at small N")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, payload = args.child[0], json.loads(args.child[1])
        handlers = {"case": run_case, "matmul": lambda p: matmul_rate(**p), "crossover": lambda p: crossover(**p)}
        print(json.dumps(handlers[kind](payload)))
        return 0
    if args.quick:
        args.repeats, args.clip_large_n = 1, 0
    settings = {key: value for key, value in vars(args).items() if key not in ("child", "out")}
    report = {
        "machine": _machine_info(args.threads),
        "settings": settings,
        "clock": "process CPU time" if args.cpu_time else "wall",
    }
    if args.crossover:
        payload = {"threads": args.threads, "repeats": args.repeats, "cpu_time": args.cpu_time}
        report["crossover"] = _child("crossover", payload, args.timeout)
        print(json.dumps(report["crossover"], indent=1))
    else:
        report.update(_benchmark(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def _benchmark(args: argparse.Namespace) -> dict:
    dims = sorted({args.dim, args.clip_large_dim} if args.clip_large_n else {args.dim})
    rates = _child("matmul", {"dims": dims, "threads": args.threads, "cpu_time": args.cpu_time}, args.timeout)
    results = []
    for case in _cases(args):
        case.update(repeats=args.repeats, threads=args.threads, cpu_time=args.cpu_time)
        gb = _matrix_gb(case)
        if case["impl"] != "simclip" and gb > args.max_matrix_gb:
            result = {**case, "skipped": f"would need {gb:.1f} GB per matrix (cap {args.max_matrix_gb} GB)"}
        else:
            result = {**case, **_child("case", case, args.timeout)}
        results.append(_annotate(result, rates))
        print(_table(results[-1:]).splitlines()[-1], flush=True)
    print(f"\nfloat32 matmul GFLOP/s: {rates}\n\n{_table(results)}")
    targets = _targets(results)
    for check in targets:
        print(f"{'MET' if check['met'] else 'MISSED'}: {check['case']}: {check['target']} (got {check['value']})")
    return {"matmul_gflops": rates, "results": results, "targets": targets}


if __name__ == "__main__":
    raise SystemExit(main())
