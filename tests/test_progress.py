"""Progress on stderr: a bar on a terminal, a plain line every N seconds anywhere else."""

import io

import torch

from simclip.progress import ProgressReporter
from simclip.train.progress import Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_every_interval_when_not_a_terminal():
    out, clock = io.StringIO(), FakeClock()
    with ProgressReporter(100, "features", unit="img", interval=10, stream=out, clock=clock) as report:
        for _ in range(100):
            clock.now += 1.0
            report.advance(1, "x=1")
    text = out.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and text.endswith("\n")
    assert 10 <= len(lines) <= 12  # the first update, one every 10 s, the end
    assert lines[0] == "features: 1/100 img (1%) [0:01] x=1"
    assert lines[-1] == "features: 100/100 img (100%) [1:40] x=1"


def test_a_bar_on_a_terminal_and_nothing_when_disabled():
    out = Terminal()
    with ProgressReporter(5, "fits", stream=out) as report:
        for _ in range(5):
            report.advance()
    assert "\r" in out.getvalue() and "5/5" in out.getvalue()
    quiet = io.StringIO()
    with ProgressReporter(5, "fits", stream=quiet, enabled=False) as report:
        report.advance(5)
    assert quiet.getvalue() == ""


def test_training_progress_in_a_log_is_one_line_per_interval():
    out = io.StringIO()
    progress = Progress(total_steps=1000, time_budget=None, stream=out, interval=3600)
    for step in range(1, 1001):
        progress.update(step, elapsed=step * 0.01, loss=1.0, lr=0.1, ips=100.0)
    progress.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 2  # the first step, then the end (the interval is never reached)
    assert lines[-1].startswith("train: 1000/1000 step (100%)") and "loss=1.0000" in lines[-1]


def test_training_progress_with_a_time_budget_names_the_step():
    out = io.StringIO()
    progress = Progress(total_steps=10**9, time_budget=60, stream=out)
    progress.update(7, elapsed=30.0, loss=0.5, lr=0.1, ips=10.0)
    progress.close()
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("train: 30/60 s (50%)") and "step=7 " in line and "eta=0:30" in line


def test_feature_extraction_and_linear_probe_report_on_stderr(capsys):
    from simclip.eval import extract_features
    from simclip.eval.linear import linear_probe

    images = torch.randint(0, 256, (40, 1, 4, 4), dtype=torch.uint8)
    feats = extract_features(lambda x: x.flatten(1), images, batch_size=16)
    assert capsys.readouterr().err == ""  # quiet by default in the library
    extract_features(lambda x: x.flatten(1), images, batch_size=16, progress="features (train)")
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("features (train): 40/40 img (100%)")
    labels = torch.arange(40) % 2
    linear_probe(feats, labels, feats, labels, c_grid=[0.1, 1.0], refine_steps=1, max_iter=20)
    assert capsys.readouterr().err == ""
    linear_probe(feats, labels, feats, labels, c_grid=[0.1, 1.0], refine_steps=1, max_iter=20,
                 progress=True)
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("linear probe: 4/4 fit (100%)") and "C=" in err
