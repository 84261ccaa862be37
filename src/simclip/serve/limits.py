"""Bounds that keep the service responsive under load and hostile input.

* :class:`ModelGate`: at most ``max_concurrency`` model calls at once, run in worker threads so the
  event loop keeps answering; a request that cannot get a slot within ``queue_wait_s`` is refused
  (503) rather than queued without end, and one whose work outlives its deadline gets 504.
* :class:`BodySizeLimit`: request bodies above a byte limit are refused with 413 before they are
  read into memory or spooled to disk, whether or not the client declared a Content-Length.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")
MAX_K = 100
MAX_QUERY_CHARS = 300  # CLIP reads 77 tokens (~300 characters of English); longer text is truncated anyway
MAX_LABELS = 50
MAX_LABEL_CHARS = 100
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Multipart framing and the small form fields that travel beside an uploaded file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class Busy(Exception):
    """Every model slot stayed taken for the whole queue wait."""


class WorkTimeout(Exception):
    """The model work did not finish before the request's deadline."""


class ModelGate:
    """Runs blocking model work in at most ``max_concurrency`` threads, each call within a deadline.

    A slot is held until the thread really finishes, even when the caller has already been answered
    with a timeout: a thread cannot be killed, and freeing its slot early would let work pile up.
    """

    def __init__(self, max_concurrency: int = 4, timeout_s: float = 10.0, queue_wait_s: float = 2.0) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if timeout_s <= 0 or queue_wait_s < 0:
            raise ValueError(f"timeout_s must be > 0 and queue_wait_s >= 0, got {timeout_s}, {queue_wait_s}")
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.queue_wait_s = queue_wait_s
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="model")

    def _slots_of_running_loop(self) -> asyncio.Semaphore:
        # An asyncio semaphore belongs to one event loop; a server runs one, test clients may start more.
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots, self._loop = asyncio.Semaphore(self.max_concurrency), loop
        return self._slots

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread; raises :class:`Busy` or :class:`WorkTimeout`."""
        deadline = time.monotonic() + self.timeout_s
        slots = self._slots_of_running_loop()
        if slots.locked():  # (wait_for with a zero timeout would refuse even a free semaphore)
            try:
                await asyncio.wait_for(slots.acquire(), min(self.queue_wait_s, self.timeout_s))
            except TimeoutError:
                raise Busy() from None
        else:
            await slots.acquire()

        def release(done: asyncio.Future) -> None:
            slots.release()
            if not done.cancelled():
                done.exception()  # retrieved, so an abandoned failure is not reported as unhandled

        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except BaseException:
            slots.release()
            raise
        future.add_done_callback(release)
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(deadline - time.monotonic(), 0.0))
        except TimeoutError:
            raise WorkTimeout() from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"request body exceeds the limit of {limit:,} bytes")


class BodySizeLimit:
    """ASGI middleware: 413 for bodies over ``max_body_bytes``.

    A declared Content-Length over the limit is refused before reading; otherwise bytes are counted as
    they arrive and reading stops at the limit (chunked uploads cannot slip past).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            status = 413 if declared.isdigit() else 400
            detail = _too_large(self.max_body_bytes).detail if status == 413 else "invalid Content-Length"
            await _send_json(send, status, {"detail": detail})
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _too_large(self.max_body_bytes)  # FastAPI turns this into the 413 response
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as err:  # raised where no exception handler sits (outside the router)
            if started or err.status_code != 413:
                raise
            await _send_json(send, 413, {"detail": err.detail})


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
