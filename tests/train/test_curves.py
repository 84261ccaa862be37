"""Training curves: drawn without the trainer needing matplotlib, a title clear of the panels, and
an evaluation run once still visible."""

import subprocess
import sys

import numpy as np
from PIL import Image

from simclip.train.curves import plot_training_curves, training_curves_figure

ROWS = ([{"step": s, "loss": 3 - s / 500, "lr": 1e-3, "epoch": 0} for s in range(5, 500, 5)]
        + [{"step": 495, "eval/zeroshot_top1": 41.5}])


def test_importing_the_trainer_imports_no_matplotlib():
    code = ("import sys, simclip.train, simclip.train.loop, simclip.train.curves; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'); "
            "assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_single_point_series_has_a_marker_and_its_value():
    fig = training_curves_figure(ROWS, title="clip on shapes")
    ax = next(a for a in fig.axes if a.get_title() == "eval/zeroshot_top1")
    (line,) = ax.lines
    assert list(line.get_xdata()) == [495] and line.get_marker() == "o" and line.get_markersize() > 0
    assert [t.get_text() for t in ax.texts] == ["41.5"]
    loss = next(a for a in fig.axes if a.get_title() == "loss")
    assert not loss.texts  # only single values are labelled


def test_title_does_not_overlap_the_panels():
    fig = training_curves_figure(ROWS, title="clip on shapes")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        if ax.axison:
            box = ax.get_tightbbox(renderer)  # the panel with its own title and labels
            assert title.y0 >= box.y1 - 0.5, f"the title overlaps panel {ax.get_title()!r}"


def test_png_is_written(tmp_path):
    path = plot_training_curves(ROWS, tmp_path / "curves.png", title="t")
    pixels = np.asarray(Image.open(path).convert("L"))
    assert pixels.shape[0] > 300 and pixels.min() < 50  # drawn, not blank
