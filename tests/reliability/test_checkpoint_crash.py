"""A process that dies at any point of a checkpoint write leaves a run that resumes.

A forked child saves a checkpoint and ends itself with ``os._exit`` (no clean-up handlers run, as
under SIGKILL) just before its k-th file-system operation — a rename, an fsync, an unlink — or
half-way through writing a file, for every k. The parent then checks that the newest loadable
checkpoint is complete (the old step or the new one, never a mixture), and that the next save
leaves exactly the kept checkpoints behind: no temporary files, no orphaned halves.
"""

import os

import pytest
import torch
from torch import nn

from simclip.train import checkpoint as ckpt
from simclip.train.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint

KEEP = 2


def _model(value: float) -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    with torch.no_grad():
        for t in model.state_dict().values():
            t.fill_(value)
    return model


def _save(run, step):
    save_checkpoint(run, step, _model(step), {"step": step, "rng": torch.get_rng_state()}, keep=KEEP)


def _die_at(k: int | None) -> int:
    """Patch the file-system calls of a checkpoint save so that the process dies at call ``k``
    (None: never); returns a function giving the number of calls seen."""
    calls = [0]

    def tick(die_half_written: str | None = None) -> None:
        calls[0] += 1
        if calls[0] == k:
            if die_half_written is not None:
                with open(die_half_written, "r+b") as fh:  # the bytes a slow disk had taken so far
                    fh.truncate(max(os.fstat(fh.fileno()).st_size // 2, 1))
            os._exit(0)

    def before(fn):
        def wrapped(*args, **kwargs):
            tick()
            return fn(*args, **kwargs)
        return wrapped

    def writer(fn):
        def wrapped(obj, path, *args, **kwargs):
            fn(obj, path, *args, **kwargs)
            tick(die_half_written=str(path))
        return wrapped

    os.replace, os.fsync, os.unlink = before(os.replace), before(os.fsync), before(os.unlink)
    ckpt.save_file = writer(ckpt.save_file)
    torch.save = writer(torch.save)
    return lambda: calls[0]


def _in_child(run, step, k) -> int:
    """Fork; the child saves ``step`` dying at call ``k``; returns the calls a full save makes
    (reported through the exit status) when ``k`` is None."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            count = _die_at(k)
            _save(run, step)
            code = min(count(), 255) if k is None else 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_death_at_every_point_of_a_save_leaves_a_loadable_run(tmp_path):
    probe = tmp_path / "probe"
    _save(probe, 1)
    calls = _in_child(probe, 2, None)
    assert 10 <= calls < 255 and list_checkpoints(probe) == [1, 2]
    outcomes = set()
    for k in range(1, calls + 1):
        run = tmp_path / f"k{k}"
        for step in (1, 2):
            _save(run, step)
        _in_child(run, 3, k)
        weights, state, step = load_checkpoint(run)
        assert step in (2, 3), k
        outcomes.add(step)
        assert state["step"] == step and all(torch.all(w == step) for w in weights.values()), k
        _save(run, 4)  # the run goes on: the next save tidies whatever the dead one left
        names = sorted(p.name for p in (run / "checkpoints").iterdir())
        kept = sorted(f"step-{s:08d}.{ext}" for s in (step, 4) for ext in ("safetensors", "state.pt"))
        assert names == sorted(kept + ["latest.json"]), (k, names)
    assert outcomes == {2, 3}  # some deaths came before the new checkpoint was complete, some after


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_newest_checkpoint_damaged_after_the_fact_falls_back(tmp_path, damage):
    for step in (1, 2):
        _save(tmp_path, step)
    for name in ("step-00000002.safetensors", "step-00000002.state.pt"):
        path = tmp_path / "checkpoints" / name
        data = path.read_bytes()
        path.write_bytes({"truncate": data[: len(data) // 3], "empty": b"",
                          "garbage": os.urandom(len(data))}[damage])
        weights, state, step = load_checkpoint(tmp_path)
        assert step == 1 and state["step"] == 1 and all(torch.all(w == 1) for w in weights.values())
        path.write_bytes(data)


def test_a_save_after_falling_back_keeps_itself_not_the_damaged_newer_one(tmp_path):
    for step in (10, 20):
        save_checkpoint(tmp_path, step, _model(step), {"step": step}, keep=1 if step == 20 else 2)
    save_checkpoint(tmp_path, 10, _model(10), {"step": 10}, keep=2)  # 10 and 20 on disk
    (tmp_path / "checkpoints" / "step-00000020.state.pt").write_bytes(b"\0" * 10)  # damaged
    assert load_checkpoint(tmp_path)[2] == 10
    # The resumed run is interrupted at step 15 and saves with keep=1: the damaged step 20 must
    # not be what survives.
    save_checkpoint(tmp_path, 15, _model(15), {"step": 15}, keep=1)
    _, state, step = load_checkpoint(tmp_path)
    assert step == 15 and state["step"] == 15 and list_checkpoints(tmp_path) == [15]
