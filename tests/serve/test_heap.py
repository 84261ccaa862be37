"""freeze_startup_heap: what is alive at start-up leaves the collector's passes, what requests create
later is still collected, and the collections are counted for /metrics."""

import gc
import weakref

import pytest

from simclip.serve.heap import PAUSES, GcPauses, freeze_startup_heap
from simclip.serve.metrics import Metrics
from tests.serve.test_metrics import sample


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture()
def frozen():
    was_counting = PAUSES._on_gc in gc.callbacks
    startup = Node()
    count = freeze_startup_heap()
    yield startup, count
    gc.unfreeze()  # this test process must not keep its objects out of later collections
    if not was_counting:
        PAUSES.stop()


def test_startup_objects_are_frozen_and_later_cycles_still_collected(frozen):
    startup, count = frozen
    assert count > 0 and gc.get_freeze_count() > 0  # (frozen objects that die by refcount leave it)
    assert gc.is_tracked(startup) and not any(o is startup for o in gc.get_objects(2))  # out of full passes
    later = Node()
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None
    assert startup.me is startup  # frozen, not freed


def test_collections_are_counted_by_generation():
    pauses = GcPauses()
    pauses.start()
    pauses.start()  # idempotent: one callback
    try:
        assert gc.callbacks.count(pauses._on_gc) == 1
        gc.collect(0)
        gc.collect(2)
        gc.collect(2)
    finally:
        pauses.stop()
    gc.collect(2)  # not counted once stopped
    snap = pauses.snapshot()
    assert snap["collections"]["2"] == 2 and snap["collections"]["0"] >= 1
    assert snap["pause_seconds"]["2"] > 0.0


def test_metrics_report_collections_and_frozen_objects(frozen, tmp_path):
    gc.collect(2)
    text = Metrics(lambda: 3).render()
    assert sample(text, "simclip_gc_frozen_objects") > 0
    assert sample(text, "simclip_gc_collections_total", generation="2") >= 1
    assert sample(text, "simclip_gc_pause_seconds_total", generation="2") > 0
