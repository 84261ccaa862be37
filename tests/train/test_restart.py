"""The pieces of a restart, in one process: which restarted run continues, metrics.jsonl cut back to
the checkpoint, and every random generator a checkpoint restores (``test_elastic_restart.py`` runs
the whole under torchrun)."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import numpy as np
import pytest
import torch

from simclip.train import rng
from simclip.train.config import TrainConfig
from simclip.train.distributed import DistInfo
from simclip.train.restart import resumes_after_restart, start_together, truncate_metrics


def _run(tmp_path, **fields) -> TrainConfig:
    cfg = replace(TrainConfig(out=str(tmp_path), epochs=3), **fields)
    cfg.save(tmp_path / "config.json")
    return cfg


def test_a_restarted_worker_continues_the_run_of_its_own_config(tmp_path, monkeypatch):
    cfg = _run(tmp_path, eval_protocols=("linear",))  # a tuple, a list in config.json
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    assert not resumes_after_restart(cfg, DistInfo())  # not under torchrun: the usual rules
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    assert not resumes_after_restart(cfg, DistInfo())  # the first attempt starts a new run
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert resumes_after_restart(cfg, DistInfo())
    assert resumes_after_restart(replace(cfg, progress=not cfg.progress), DistInfo())  # display only


def test_a_restarted_worker_does_not_take_over_another_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    cfg = _run(tmp_path, seed=1)
    assert not resumes_after_restart(replace(cfg, seed=2), DistInfo())
    assert not resumes_after_restart(replace(cfg, out=str(tmp_path / "elsewhere")), DistInfo())
    (tmp_path / "config.json").write_text("{not json")
    assert not resumes_after_restart(cfg, DistInfo())


def test_metrics_are_cut_back_to_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 1.0 / s} for s in (10, 20, 30)] + [{"step": 20, "eval/knn": 0.5}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 40, "lo')  # torn last line
    truncate_metrics(path, 20)
    kept = [json.loads(line) for line in path.read_text().splitlines()]
    assert kept == [rows[0], rows[1], rows[3]]
    truncate_metrics(tmp_path / "missing.jsonl", 20)  # nothing to cut
    assert not (tmp_path / "missing.jsonl").exists()


def test_start_together_cuts_metrics_only_for_a_resumed_run(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 5}\n{"step": 9}\n')
    start_together(tmp_path, 5, DistInfo(), resumed=False)
    assert path.read_text().count("\n") == 2
    start_together(tmp_path, 5, DistInfo(), resumed=True)
    assert path.read_text() == '{"step": 5}\n'


def _draw() -> tuple:
    return torch.rand(3).tolist(), random.random(), np.random.rand(3).tolist()


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    states = [rng.capture(torch.device("cpu"))]
    torch.save({"rng": states}, tmp_path / "state.pt")
    expected = _draw()
    _draw()  # the generators move on
    loaded = torch.load(tmp_path / "state.pt", weights_only=True)
    rng.restore(loaded["rng"], 0, torch.device("cpu"))
    assert _draw() == expected


def test_rng_restore_takes_the_rank_s_own_state_and_reads_older_checkpoints():
    torch.manual_seed(1)
    rank0 = rng.capture(torch.device("cpu"))
    torch.manual_seed(2)
    rank1 = rng.capture(torch.device("cpu"))
    expected = torch.rand(2)
    rng.restore([rank0, rank1], 1, torch.device("cpu"))
    assert torch.equal(torch.rand(2), expected)
    rng.restore(rank1["torch"], 0, torch.device("cpu"))  # a checkpoint that held torch's state only
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_rng_includes_the_cuda_generator_of_the_device():
    device = torch.device("cuda", 0)
    state = rng.capture(device)
    expected = torch.rand(2, device=device)
    rng.restore([state], 0, device)
    assert torch.equal(torch.rand(2, device=device), expected)


def _checkpoint(run_dir, step):
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    for suffix in ("safetensors", "state.pt"):
        (run_dir / "checkpoints" / f"step-{step:08d}.{suffix}").write_bytes(b"")


def test_a_lost_peer_is_reported_by_the_survivor_with_what_happens_next(tmp_path, monkeypatch):
    from simclip.cli.errors import report_error
    from simclip.train.restart import PeerLostError, peer_loss_reported

    _checkpoint(tmp_path, 32)
    monkeypatch.setenv("TORCHELASTIC_MAX_RESTARTS", "1")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    gloo = RuntimeError("[gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:2987. This is "
                        "typically caused by a remote worker crashing.")
    with pytest.raises(PeerLostError) as lost, peer_loss_reported(DistInfo(rank=0, world_size=2), tmp_path):
        raise gloo
    assert str(lost.value) == ("rank 0: lost a peer process (rank 1 of 2); torchrun restarts the workers "
                               "(restart 1 of 1) and the run resumes from its newest checkpoint (step 32)")
    assert report_error(lost.value) == 2  # one line on the terminal, not an internal error
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")  # the last restart is spent
    with pytest.raises(PeerLostError, match=r"rank 2: lost a peer process \(one of the other processes of 4\); "
                                            r"torchrun has no restarts left .* --resume"):
        with peer_loss_reported(DistInfo(rank=2, world_size=4), tmp_path):
            raise gloo


def test_other_errors_pass_through_unchanged(tmp_path):
    from simclip.train.errors import TrainingError
    from simclip.train.restart import peer_loss_reported

    for info, err in ((DistInfo(rank=0, world_size=2), RuntimeError("CUDA out of memory")),
                      (DistInfo(rank=0, world_size=2), TrainingError("loss was not finite; broken pipe")),
                      (DistInfo(), RuntimeError("Connection closed by peer"))):  # one process has no peers
        with pytest.raises(type(err)) as raised, peer_loss_reported(info, tmp_path):
            raise err
        assert raised.value is err
