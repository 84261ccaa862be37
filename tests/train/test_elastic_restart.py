"""A worker lost mid-epoch under ``torchrun --max-restarts 1`` costs nothing but time.

Two gloo processes train a tiny SimCLR run with ``simclip simclr train`` under torchrun, once
undisturbed and once with rank 1 SIGKILLed in step 35 (after the checkpoint of step 32, in the
middle of the second epoch; ``elastic_worker.py``). The surviving rank says in one line that it
lost its peer and that torchrun restarts the job. torchrun restarts both workers with the same
command; they must continue the run from step 32 by themselves, and end with the undisturbed run's
metrics.jsonl (each step once, same loss, learning rate and epoch) and bitwise the same weights
and optimiser state; rank 0 alone prints the recipe and the result.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

from simclip.train.checkpoint import list_checkpoints

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()
         and importlib.util.find_spec("torch.distributed.run") is not None),
    reason="needs torch.distributed with the gloo backend and torchrun (torch.distributed.run)")

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("elastic_worker.py")
# digits at 16x16: 1,437 images -> 22 global batches of 2 x 32 per epoch, 44 steps in all.
TINY = {"method": "simclr", "data": "digits?size=16", "seed": 3, "batch_size": 32, "epochs": 2,
        "precision": "fp32", "channels_last": False, "log_every": 3, "checkpoint_every": 8,
        "progress": False,
        "model": {"encoder": "small-cnn", "encoder_options": {"widths": [8, 16, 32], "strides": [1, 2, 2]},
                  "proj_hidden_dim": 32, "proj_dim": 16},
        "objective": {"temperature": 0.5},
        "optim": {"name": "adamw", "lr": 1e-3, "lr_scaling": "none", "weight_decay": 1e-4}}
KILL_RANK, KILL_STEP, RESUME_STEP = 1, 35, 32  # the row of step 33 is logged before the kill


def _torchrun(config: Path, out: Path, **env: str) -> subprocess.Popen:
    child_env = {**os.environ, "OMP_NUM_THREADS": "1", **env,
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    child_env.pop("TORCHELASTIC_RESTART_COUNT", None)
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "--max-restarts", "1", str(WORKER), "simclr", "train", "--config", str(config), "--out", str(out)]
    return subprocess.Popen(argv, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    try:
        output, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    assert proc.returncode == 0, output[-4000:]
    return output


def _curve(run: Path) -> list[dict]:
    """metrics.jsonl without its timing (images/s differs between any two runs)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "images_per_s"} for row in rows]


def _final(run: Path) -> tuple[int, dict[str, torch.Tensor], dict]:
    step = list_checkpoints(run)[-1]
    weights = load_file(str(run / "checkpoints" / f"step-{step:08d}.safetensors"))
    state = torch.load(run / "checkpoints" / f"step-{step:08d}.state.pt", weights_only=True)
    return step, weights, state["optimizer"]["state"]


def test_a_worker_killed_mid_epoch_restarts_and_ends_as_an_undisturbed_run(tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    undisturbed = _torchrun(config, tmp_path / "undisturbed")
    faulty = _torchrun(config, tmp_path / "faulty", SIMCLIP_TEST_KILL=f"{KILL_RANK}:{KILL_STEP}")
    quiet = _finish(undisturbed)
    output = _finish(faulty)

    # the survivor says what was lost and what happens next, in one line (no traceback, no "internal error")
    assert (f"simclip: error: rank 0: lost a peer process (rank {KILL_RANK} of 2); torchrun restarts the "
            f"workers (restart 1 of 1) and the run resumes from its newest checkpoint (step {RESUME_STEP})"
            in output), output[-4000:]
    assert "internal error" not in output and "Traceback" not in output, output[-4000:]
    assert f"torchrun restart 1: continuing {tmp_path / 'faulty'} from step {RESUME_STEP}" in output, output[-4000:]
    # rank 0 alone prints the recipe (once per attempt) and the result
    assert (quiet.count("recipe auto:"), quiet.count("\ndone: ")) == (1, 1), quiet[-4000:]
    assert (output.count("recipe auto:"), output.count("\ndone: ")) == (2, 1), output[-4000:]
    curve, reference = _curve(tmp_path / "faulty"), _curve(tmp_path / "undisturbed")
    steps = [row["step"] for row in curve]
    assert steps == list(range(3, 45, 3))  # each logged step once: the killed attempt's row 33 was cut
    assert curve == reference
    step, weights, optimizer = _final(tmp_path / "faulty")
    ref_step, ref_weights, ref_optimizer = _final(tmp_path / "undisturbed")
    assert step == ref_step == 44
    assert weights.keys() == ref_weights.keys()
    assert all(torch.equal(weights[k], ref_weights[k]) for k in weights)
    assert optimizer.keys() == ref_optimizer.keys()
    assert all(torch.equal(optimizer[i][k], ref_optimizer[i][k]) for i in optimizer for k in optimizer[i])
