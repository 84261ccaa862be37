"""benchmarks/gpu.py --tiny on the CPU: every code path runs and the JSON holds every figure."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

pytest.importorskip("lightly", reason="pip package lightly is not installed (extra 'bench')")
pytest.importorskip("open_clip", reason="pip package open_clip_torch is not installed (extra 'bench')")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"
STEP = ("images_per_s", "ms_per_step", "peak_memory_mb")
SIMCLR_SIDES = ("simclip", "simclip_network", "lightly_network", "lightly_pipeline")
SIMCLR_RATIOS = ("network_images_per_s", "network_peak_memory", "end_to_end_images_per_s")
LOSS_SIDES = ("simclip", "simclip_block_64", "simclip_keep_logits", "open_clip")


def positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gpu") / "gpu.json"
    # through main(argv) in this process: a second interpreter would import torch, lightly and
    # open_clip again
    spec = importlib.util.spec_from_file_location("gpu_benchmark", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    threads = torch.get_num_threads()
    try:
        assert script.main(["--tiny", "--device", "cpu", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)  # --tiny on a CPU runs on one thread
    return json.loads(out.read_text())


def test_environment(result):
    assert result["mode"] == "tiny"
    env = result["environment"]
    for key in ("device_type", "device_name", "torch", "lightly", "open_clip"):
        assert env[key], key
    assert env["device_type"] == "cpu"


@pytest.mark.parametrize("case", ["32", "224"])
def test_simclr(result, case):
    simclr = result["simclr"][case]
    for side in SIMCLR_SIDES:
        for key in STEP:
            assert positive(simclr[side].get(key)), (side, key, simclr[side])
    for key in SIMCLR_RATIOS:
        assert positive(simclr["ratios"][key]), key


def test_clip(result):
    clip = result["clip"]
    for side in ("simclip", "open_clip"):
        for key in (*STEP, "parameters"):
            assert positive(clip[side][key]), (side, key)
    # the same architecture on both sides
    assert clip["simclip"]["parameters"] == clip["open_clip"]["parameters"]
    for key in ("images_per_s", "peak_memory"):
        assert positive(clip["ratios"][key]), key


def test_clip_loss(result):
    loss = result["clip_loss"]
    for side in LOSS_SIDES:
        for key in ("seconds", "peak_extra_memory_mb"):
            assert positive(loss[side].get(key)), (side, key, loss[side])
    for key in ("seconds", "peak_extra_memory"):
        assert positive(loss["ratios"][key]), key
