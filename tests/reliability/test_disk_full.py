"""A checkpoint that cannot be written ends the run with one clear line and exit code 2, and the
previous checkpoint stays intact and resumable.

"Disk full" is a file-size limit on the child process (``RLIMIT_FSIZE``, SIGXFSZ ignored): every
write past it fails with EFBIG, as on a full disk, whoever the user is (chmod does not stop root).
A run folder that cannot be made is one below a regular file.
"""

import pytest

from simclip.cli import main
from simclip.train.checkpoint import list_checkpoints, load_checkpoint
from tests.reliability import harness as h

# bytes: 1,000 stops the rewrite of the 1.2 kB config.json; at 30,000 config and logs fit and the
# 33 kB weights file of the tiny model does not
LIMITS = [(1_000, "cannot write "), (30_000, "cannot write a checkpoint")]


def _first_epoch(tmp_path, capsys):
    config = h.write_config(tmp_path / "tiny.json", epochs=1)
    run = tmp_path / "run"
    assert main(h.train_argv(config, run)) == 0
    capsys.readouterr()
    return run


@pytest.mark.parametrize("limit, message", LIMITS)
def test_a_full_disk_stops_the_run_with_its_last_checkpoint_intact(tmp_path, capsys, limit, message):
    run = _first_epoch(tmp_path, capsys)
    before = load_checkpoint(run)
    full = h.finish(h.start(h.resume_argv(run) + ["--epochs", "2"], file_size_limit=limit))
    assert full.code == 2, full.err
    assert full.err.startswith(f"simclip: error: {message}") and "Traceback" not in full.err
    assert "File too large" in full.err and ("config.json" in full.err or "intact" in full.err)
    weights, state, step = load_checkpoint(run)
    assert step == before[2] == 44 and all(weights[k].equal(before[0][k]) for k in weights)
    assert not list((run / "checkpoints").glob(".*.tmp"))
    assert main(h.resume_argv(run) + ["--epochs", "2"]) == 0  # space again: the run goes on
    assert list_checkpoints(run)[-1] == 88


def test_a_run_folder_that_cannot_be_made_is_one_error_line(tmp_path, capsys):
    config = h.write_config(tmp_path / "tiny.json", epochs=1)
    (tmp_path / "file").write_text("a file where a folder should be\n")
    assert main(h.train_argv(config, tmp_path / "file" / "run")) == 2
    err = capsys.readouterr().err
    assert err.startswith("simclip: error:") and "file/run" in err and "Traceback" not in err
