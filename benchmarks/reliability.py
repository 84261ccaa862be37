"""Fault-injection campaigns against simclip's training and data paths; writes
``results/reliability.json`` with what was tried, what survived and what was lost (must be 0).

    python benchmarks/reliability.py                      # about 7 minutes on two CPU cores
    python benchmarks/reliability.py --trials 2 --faults 2 --fuzz-examples 200   # a quick look

Campaigns (each against real ``python -m simclip.cli`` processes unless said otherwise):

- kill: a tiny digits run is killed right after its first checkpoint; a copy of that folder is
  resumed once (the reference). Each trial takes another copy through ``--faults`` faults, each
  one a resume that is SIGKILLed after a uniform random delay (anywhere from start-up to exit),
  SIGKILLed at a random moment of its training, SIGKILLed the moment a checkpoint file is
  half-written, or interrupted with SIGINT; then resumes it to the end. After every fault the
  newest checkpoint must load and be no older than before; at the end the weights must equal the
  reference bitwise and every step's loss must match.
- early-kill: fresh runs killed before their first checkpoint; ``--resume`` must start over.
- disk-full: resumes under a file-size limit (RLIMIT_FSIZE) of a few sizes, and in a tmpfs that
  fills up where mounting one is allowed: exit 2, one line, the previous checkpoint intact, and the
  run completes once there is room.
- bad-inputs (in process, through ``simclip.cli.main``): an image folder of broken and unusual
  files, malformed caption files, out-of-range flags and config files, and checkpoint files whose
  pickles would run code.
- fuzz: the tokenizer, spec and caption-file fuzz tests with ``--fuzz-examples`` examples each.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fault helpers live beside the tests that use them

import torch  # noqa: E402

from simclip.train.checkpoint import CheckpointError, list_checkpoints, load_checkpoint  # noqa: E402
from tests.reliability import harness as h  # noqa: E402
from tests.reliability.corpus import (caption_file_cases, write_bad_images, write_caption_images,  # noqa: E402
                                      write_plain_images, write_unusual_images)

FAULTS = ("uniform", "training", "checkpoint-write", "sigint")


def kill_campaign(work: Path, trials: int, faults: int, rng: random.Random) -> dict:
    config = h.write_config(work / "tiny.json", epochs=3)  # 132 steps, a checkpoint every 2
    base = work / "base"
    first = h.start(h.train_argv(config, base))
    h.wait_for(first, lambda: bool(list_checkpoints(base)))
    h.kill_after(first, base, 0)
    start_step = list_checkpoints(base)[-1]
    reference = h.copy_run(base, work / "reference")
    t0 = time.monotonic()
    done = h.finish(h.start(h.resume_argv(reference)))
    duration = time.monotonic() - t0
    assert done.code == 0, done.err
    ref = {"step_weights": h.newest_weights(reference), "curve": h.losses_by_step(reference),
           "start_step": start_step, "seconds": duration,
           "train_seconds": float(re.search(r"epochs, ([\d.]+) s", done.out).group(1))}
    results = [_trial(base, work / f"trial{t}", rng, faults, ref) for t in range(trials)]
    events = [e for r in results for e in r["events"]]
    return {
        "trials": trials, "faults_per_trial": faults, "reference_seconds": round(duration, 1),
        "faults_injected": len(events),
        "sigkill_delivered": sum(e["how"] != "sigint" and e.get("killed", False) for e in events),
        "sigkill_mid_checkpoint_write": sum(e.get("mid_write", False) for e in events),
        "sigkill_before_training_resumed": sum(e.get("before_training", False) for e in events),
        "sigint": sum(e["how"] == "sigint" for e in events),
        "sigint_clean_exit_130_with_checkpoint": sum(e.get("clean", False) for e in events),
        "run_ended_before_fault": sum(not e.get("killed", True) for e in events),
        "faults_survived": sum(e["intact"] for e in events),
        "resumes": len(events) + trials,
        "resumes_matched_bitwise": sum(r["weights_match"] for r in results),
        "loss_curves_matched": sum(r["curve_match"] for r in results),
        "leftover_files": sum(len(r["leftovers"]) for r in results),
        "lost": sum(not e["intact"] for e in events) + sum(not (r["weights_match"] and r["curve_match"])
                                                           for r in results),
        "events": events,
    }


def _trial(base: Path, run: Path, rng: random.Random, faults: int, ref: dict) -> dict:
    h.copy_run(base, run)
    events = []
    for _ in range(faults):
        before, logged = list_checkpoints(run)[-1], h.logged_steps(run)
        proc = h.start(h.resume_argv(run))
        how = rng.choice(FAULTS)
        if how == "uniform":  # anywhere from start-up to exit
            event = h.kill_after(proc, run, rng.uniform(0, ref["seconds"]))
        elif how == "training":  # after a first step, within the training time
            event = h.kill_at_random(proc, run, rng, max_delay=ref["train_seconds"])
        elif how == "checkpoint-write":
            event = h.kill_in_checkpoint_write(proc, run)
        else:
            event = _sigint(proc, run, rng.randint(1, 40))
        event["before_training"] = event.get("killed", False) and h.logged_steps(run) == logged
        try:
            event["intact"] = load_checkpoint(run)[2] >= before
        except CheckpointError:
            event["intact"] = False
        events.append({k: v for k, v in event.items() if k != "checkpoints"})
    final = h.finish(h.start(h.resume_argv(run)))
    step, weights = h.newest_weights(run)
    ref_step, ref_weights = ref["step_weights"]
    curve = h.losses_by_step(run)
    kept = {f"step-{s:08d}.{x}" for s in list_checkpoints(run) for x in ("safetensors", "state.pt")}
    return {"events": events,
            "weights_match": final.code == 0 and step == ref_step and h.same_weights(weights, ref_weights),
            "curve_match": all(len(v) == 1 for v in curve.values())
            and h.curves_agree(ref["curve"], curve, from_step=ref["start_step"] + 1),
            "leftovers": sorted(p.name for p in (run / "checkpoints").iterdir()
                                if p.name not in kept | {"latest.json"})}


def _sigint(proc: subprocess.Popen, run: Path, after_steps: int) -> dict:
    done = h.interrupt(proc, run, after_steps)
    newest = list_checkpoints(run)[-1]
    clean = done.code == 130 and "--resume" in done.out and "Traceback" not in done.err \
        and f": {newest} steps" in done.out
    return {"how": "sigint", "killed": done.code == 130, "code": done.code, "clean": clean,
            "after_steps": after_steps}


def early_kill_campaign(work: Path, n: int, rng: random.Random) -> dict:
    config = h.write_config(work / "tiny.json", epochs=1)
    outcomes = []
    for i in range(n):
        run = work / f"early{i}"
        proc = h.start(h.train_argv(config, run))
        h.wait_for(proc, lambda run=run: (run / "config.json").exists())
        kill = h.kill_after(proc, run, 0 if i % 2 == 0 else rng.uniform(0, 0.3))  # checkpoint 1: ~0.1 s on
        had_checkpoint = bool(list_checkpoints(run))
        done = h.finish(h.start(h.resume_argv(run)))
        outcomes.append({"killed": kill["killed"], "had_checkpoint": had_checkpoint, "code": done.code,
                         "completed": done.code == 0 and list_checkpoints(run)[-1] == 44})
    return {"runs": n, "sigkill_delivered": sum(o["killed"] for o in outcomes),
            "killed_before_first_checkpoint": sum(not o["had_checkpoint"] for o in outcomes),
            "resumed_to_completion": sum(o["completed"] for o in outcomes),
            "lost": sum(not o["completed"] for o in outcomes)}


def disk_full_campaign(work: Path, limits: tuple[int, ...]) -> dict:
    config = h.write_config(work / "tiny.json", epochs=1)
    base = work / "base"
    assert h.finish(h.start(h.train_argv(config, base))).code == 0
    cases = [_full_disk(base, work / f"limit{limit}", dict(file_size_limit=limit), f"RLIMIT_FSIZE={limit}")
             for limit in limits]
    tmpfs = _tmpfs_case(base, work)
    if tmpfs is not None:
        cases.append(tmpfs)
    return {"cases": cases, "tmpfs": tmpfs is not None,
            "clear_exit_2": sum(c["code"] == 2 and c["one_line"] for c in cases),
            "previous_checkpoint_intact": sum(c["intact"] for c in cases),
            "completed_after_space_returned": sum(c["completed_later"] for c in cases),
            "lost": sum(not (c["intact"] and c["completed_later"]) for c in cases)}


def _full_disk(base: Path, run: Path, start_kwargs: dict, what: str, grow=None) -> dict:
    if not run.exists():
        h.copy_run(base, run)
    before = load_checkpoint(run)
    done = h.finish(h.start(h.resume_argv(run) + ["--epochs", "2"], **start_kwargs))
    try:
        weights, _, step = load_checkpoint(run)
        intact = step >= before[2] and (step > before[2] or all(weights[k].equal(before[0][k]) for k in weights))
    except (CheckpointError, FileNotFoundError):
        intact = False
    if grow is not None:
        grow()
    later = h.finish(h.start(h.resume_argv(run) + ["--epochs", "2"]))
    lines = done.err.strip().splitlines()
    return {"what": what, "code": done.code, "error": lines[-1][:300] if lines else "",
            "one_line": done.code == 0 or (len(lines) >= 1 and lines[-1].startswith("simclip: error:")
                                           and "Traceback" not in done.err),
            "intact": intact, "tmp_files_left": len(list((run / "checkpoints").glob(".*.tmp"))),
            "completed_later": later.code == 0 and list_checkpoints(run)[-1] == 88}


def _tmpfs_case(base: Path, work: Path) -> dict | None:
    """A run folder on a tmpfs with room for what it holds plus 40 kB: the next checkpoint (118 kB)
    does not fit. Skipped where mounting is not allowed."""
    mount = work / "tmpfs"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        return None
    try:
        h.copy_run(base, mount / "run")
        fs = os.statvfs(mount)
        size = (fs.f_blocks - fs.f_bfree) * fs.f_frsize + 40_000
        subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)
        grow = lambda: subprocess.run(["mount", "-o", "remount,size=4m", str(mount)], check=True)  # noqa: E731
        return _full_disk(base, mount / "run", {}, f"tmpfs with {size} bytes", grow)
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def _cli(argv: list[str], run: Path | None = None) -> dict:
    """``simclip ARGV`` in this process: exit code, stderr, and whether it stayed one clear line."""
    from simclip.cli import main

    err, t0 = io.StringIO(), time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(argv)
        except BaseException as exc:  # noqa: BLE001 - an escaped exception is what is counted
            code, err = -1, io.StringIO(f"Traceback: {type(exc).__name__}: {exc}")
    text = err.getvalue()
    return {"code": code, "err": text.strip()[:300],
            "seconds": round(time.monotonic() - t0, 2), "traceback": "Traceback" in text,
            "clear": code == 2 and text.startswith("simclip: error:") and "Traceback" not in text
            and (run is None or not run.exists())}


def bad_inputs_campaign(work: Path) -> dict:
    from simclip.data import load_dataset
    from tests.reliability.test_config_errors import CONFIG_FILES, FLAGS

    photos = work / "photos"
    write_plain_images(photos / "a", 80)
    write_plain_images(photos / "b", 80, seed=1)
    unusual, bad = write_unusual_images(photos / "a" / "unusual"), write_bad_images(photos / "b" / "bad")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_dataset(f"folder:{photos}?size=16")
    config = h.write_config(work / "tiny.json", epochs=1)
    strict = _cli(h.train_argv(config, work / "strict") + ["--data", f"folder:{photos}?strict=1"], work / "strict")
    images = {"bad_files": len(bad), "bad_skipped_and_listed": len({Path(p).name for p in data.bad_files} & set(bad)),
              "unusual_files": len(unusual), "decoded": len(data), "strict_is_clear_error": strict["clear"]}
    names = write_caption_images(work / "captions")
    captions = []
    for name, suffix, content, fragment in caption_file_cases(names):
        path = work / "captions" / f"pairs{suffix}"
        path.write_bytes(content)
        out = _cli(["clip", "train", "--data", f"captions:{path}?channels=1&size=28", "--model", "small-cnn-28",
                    "--epochs", "1", "--no-progress", "--out", str(work / "cap-run")], work / "cap-run")
        captions.append({"input": name, **out, "clear": out["clear"] and fragment in out["err"]})
    configs = []
    for item in [*FLAGS, *CONFIG_FILES]:
        values, gap = getattr(item, "values", item), bool(getattr(item, "marks", ()))
        run = work / f"cfg{len(configs)}"
        if isinstance(values[0], list):
            argv = ["simclr", "train", "--data", "digits?size=12", "--batch-size", "256", "--epochs", "1",
                    "--no-progress", "--out", str(run), *values[0]]
        else:
            (work / "config.json").write_text(values[0], encoding="utf-8")
            argv = ["simclr", "train", "--config", str(work / "config.json"), "--no-progress", "--out", str(run)]
        out = _cli(argv, run)
        configs.append({"input": str(values[0])[:60], "known_gap": gap, **out,
                        "clear": out["clear"] and values[1] in out["err"]})
    hostile = _hostile_checkpoints(work)
    every = captions + configs
    return {"image_folder": images, "caption_files": len(captions),
            "caption_files_clear": sum(c["clear"] for c in captions), "config_inputs": len(configs),
            "config_inputs_clear": sum(c["clear"] for c in configs),
            "config_known_gaps": [c["input"] for c in configs if c["known_gap"]],
            "hostile_checkpoints": hostile,
            "bad_inputs_tried": len(bad) + len(unusual) + 1 + len(every) + hostile["files"],
            "tracebacks": [c["input"] for c in every if c["traceback"]],
            "lost": hostile["code_ran"] + (images["bad_skipped_and_listed"] != len(bad))
            + (images["decoded"] != 160 + len(unusual)),
            "details": every}


def _hostile_checkpoints(work: Path) -> dict:
    """State files and CLIP files whose pickles would create a folder when unpickled."""
    from simclip.clip import create_model, load
    from simclip.train.checkpoint import save_checkpoint

    marker = work / "code-ran"
    payload = type("Payload", (), {"__reduce__": lambda self: (os.mkdir, (str(marker),))})()
    run = work / "hostile-run"
    save_checkpoint(run, 1, torch.nn.Linear(2, 2), {"step": 1})
    torch.save({"loop": payload}, run / "checkpoints" / "step-00000001.state.pt")
    refused = 0
    try:
        load_checkpoint(run)
    except CheckpointError:
        refused += 1
    clip_file = work / "hostile.pt"
    torch.save({"state_dict": create_model("small-cnn-28").state_dict(), "x": payload}, clip_file)
    try:
        load(clip_file)
    except ValueError:
        refused += 1
    return {"files": 2, "refused": refused, "code_ran": int(marker.exists())}


def fuzz_campaign(examples: int) -> dict:
    env = {**h.child_env(), "SIMCLIP_FUZZ_EXAMPLES": str(examples)}
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/reliability/test_fuzz_parsers.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    return {"parsers": ["clip tokenizer", "dataset spec", "caption csv/jsonl"],
            "examples_per_parser": examples, "passed": done.returncode == 0, "pytest": summary,
            "seconds": round(time.monotonic() - t0, 1)}


def summarize(result: dict) -> dict:
    """The headline counts over all campaigns."""
    kill, early, disk, bad, fuzz = (result[k] for k in ("kill", "early_kill", "disk_full", "bad_inputs", "fuzz"))
    return {"sigkill_delivered": kill["sigkill_delivered"] + early["sigkill_delivered"],
            "sigkill_mid_checkpoint_write": kill["sigkill_mid_checkpoint_write"],
            "sigint": kill["sigint"], "disk_full_cases": len(disk["cases"]),
            "faults_survived": kill["faults_survived"] + early["resumed_to_completion"]
            + disk["previous_checkpoint_intact"],
            "resumes_matched_bitwise": f"{kill['resumes_matched_bitwise']}/{kill['trials']}",
            "bad_inputs_tried": bad["bad_inputs_tried"],
            "fuzzed_inputs": 3 * fuzz["examples_per_parser"] if fuzz["passed"] else 0,
            "lost": kill["lost"] + early["lost"] + disk["lost"] + bad["lost"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--faults", type=int, default=4, help="faults per trial")
    p.add_argument("--early-kills", type=int, default=4)
    p.add_argument("--fuzz-examples", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reliability.json"))
    args = p.parse_args()
    rng = random.Random(args.seed)
    torch.set_num_threads(1)
    result = {"command": "python benchmarks/reliability.py " + " ".join(sys.argv[1:]),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="simclip-reliability-") as tmp:
        work = Path(tmp)
        for name, run in (("kill", lambda w: kill_campaign(w, args.trials, args.faults, rng)),
                          ("early_kill", lambda w: early_kill_campaign(w, args.early_kills, rng)),
                          ("disk_full", lambda w: disk_full_campaign(w, (1_000, 12_000, 30_000, 100_000))),
                          ("bad_inputs", bad_inputs_campaign),
                          ("fuzz", lambda w: fuzz_campaign(args.fuzz_examples))):
            (work / name).mkdir()
            t = time.monotonic()
            result[name] = run(work / name)
            result[name]["seconds"] = round(time.monotonic() - t, 1)
            summary = {k: v for k, v in result[name].items() if k not in ("events", "cases", "details")}
            print(f"{name}: {json.dumps(summary)}", flush=True)
            shutil.rmtree(work / name, ignore_errors=True)
    result["summary"] = summarize(result)
    result["lost"] = result["summary"]["lost"]
    result["seconds"] = round(time.monotonic() - t0, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"summary: {json.dumps(result['summary'])}; wrote {args.out} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
