import asyncio
import threading
import time

import pytest

from simclip.serve.limits import Busy, ModelGate, WorkTimeout


def test_gate_runs_work_in_a_worker_thread():
    gate = ModelGate(max_concurrency=2, timeout_s=1)

    async def main():
        return await gate.run(lambda: threading.current_thread().name)

    assert asyncio.run(main()).startswith("model")
    gate.close()


def test_gate_bounds_concurrency_and_refuses_when_the_queue_wait_passes():
    gate = ModelGate(max_concurrency=2, timeout_s=2, queue_wait_s=0.05)
    running, peak, lock = 0, 0, threading.Lock()

    def work():
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return "done"

    async def main():
        return await asyncio.gather(*[gate.run(work) for _ in range(4)], return_exceptions=True)

    results = asyncio.run(main())
    assert peak == 2
    assert results.count("done") == 2 and sum(isinstance(r, Busy) for r in results) == 2
    gate.close()


def test_a_timed_out_call_keeps_its_slot_until_the_thread_ends():
    gate = ModelGate(max_concurrency=1, timeout_s=0.1, queue_wait_s=0.0)

    async def main():
        with pytest.raises(WorkTimeout):
            await gate.run(time.sleep, 0.4)
        with pytest.raises(Busy):  # the sleeping thread still holds the only slot
            await gate.run(lambda: 1)
        await asyncio.sleep(0.4)
        return await gate.run(lambda: 2)

    assert asyncio.run(main()) == 2
    gate.close()


def test_errors_of_the_work_reach_the_caller():
    gate = ModelGate(max_concurrency=1, timeout_s=1)

    def fail():
        raise KeyError("boom")

    async def main():
        with pytest.raises(KeyError, match="boom"):
            await gate.run(fail)
        return await gate.run(lambda: "slot released")

    assert asyncio.run(main()) == "slot released"
    gate.close()


@pytest.mark.parametrize("kwargs", [{"max_concurrency": 0}, {"timeout_s": 0}, {"queue_wait_s": -1}])
def test_gate_validates_its_arguments(kwargs):
    with pytest.raises(ValueError):
        ModelGate(**kwargs)


def test_requests_beyond_the_bound_are_let_in_first_come_first_served():
    # the batching service lets few requests into the model at once; the others must not overtake
    gate = ModelGate(max_concurrency=1, timeout_s=30, queue_wait_s=30)
    release, order = threading.Event(), []

    def work(i):
        if i == 0:
            assert release.wait(30)
        order.append(i)
        return i

    async def main():
        first = asyncio.ensure_future(gate.run(work, 0))
        await asyncio.sleep(0.05)  # the first holds the only slot
        waiting = []
        for i in range(1, 7):
            waiting.append(asyncio.ensure_future(gate.run(work, i)))
            await asyncio.sleep(0.01)  # queued in this order
        release.set()
        return await asyncio.gather(first, *waiting)

    assert asyncio.run(main()) == list(range(7))
    assert order == list(range(7))
    gate.close()
