"""``simclip`` as a torchrun worker that can lose itself: the entry point of the elastic-restart test.

Run as ``python -m torch.distributed.run ... tests/train/elastic_worker.py simclr train ...``. With
``SIMCLIP_TEST_KILL=RANK:STEP`` in the environment, the worker of rank ``RANK`` SIGKILLs itself in
the forward pass of step ``STEP`` (1-based) — on the first attempt only (torchrun's
``TORCHELASTIC_RESTART_COUNT`` 0), so the restarted workers run to the end. No cleanup runs: the
rank is lost as a crashed machine would be.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # this checkout's simclip

import simclip.train.loop as loop  # noqa: E402
from simclip.cli import main  # noqa: E402


def _kill_at(rank: int, step: int) -> None:
    forward_backward, calls = loop.forward_backward, [0]

    def dying(*args, **kwargs):
        calls[0] += 1
        if calls[0] == step and int(os.environ["RANK"]) == rank:
            os.kill(os.getpid(), signal.SIGKILL)
        return forward_backward(*args, **kwargs)

    loop.forward_backward = dying  # type: ignore[assignment]  # the loop calls it by this name


if __name__ == "__main__":
    fault = os.environ.get("SIMCLIP_TEST_KILL")
    if fault and os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0":
        rank, step = (int(x) for x in fault.split(":"))
        _kill_at(rank, step)
    sys.exit(main())
