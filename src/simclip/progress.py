"""Progress of a long task on stderr: a live bar on a terminal, plain dated lines anywhere else.

A redirected stderr (a log file, a CI console, ``nohup``) cannot redraw a line: a bar written there
leaves one carriage-return update per step, all on a single line. So on a terminal this is a tqdm
bar, and elsewhere one line every ``interval`` seconds (and one when the task ends), each complete.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

PLAIN_INTERVAL = 10.0  # seconds between two plain lines: a log stays readable, a stall shows


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


class ProgressReporter:
    """Progress of one task: ``update(n)`` sets the position, ``advance(k)`` moves it on.

    Args:
        total: the end position, or None when unknown.
        desc: what is being done, e.g. ``"features"``.
        unit: what is counted (``"img"``, ``"step"``, ``"fit"``).
        initial: the start position (a resumed run).
        interval: seconds between plain lines when ``stream`` is not a terminal.
        stream: where to write (default ``sys.stderr`` at construction).
        enabled: False writes nothing.
        clock: seconds, monotonic (replaceable in tests).
    """

    def __init__(self, total: int | None, desc: str, unit: str = "it", *, initial: int = 0,
                 interval: float = PLAIN_INTERVAL, stream: TextIO | None = None, enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.interval, self.clock = interval, clock
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.postfix = ""
        self.start = clock()
        self.last_line: float | None = None  # when the last plain line was written
        self._last_n = initial
        self.bar = None
        if enabled and is_terminal(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self.stream,
                            dynamic_ncols=True)

    def update(self, n: int, postfix: str = "") -> None:
        """Set the position to ``n``; ``postfix`` (e.g. ``"loss=0.52"``) is shown after it."""
        self.n, self.postfix = n, postfix
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.n = n
            self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.refresh()
            return
        now = self.clock()
        if self.last_line is None or now - self.last_line >= self.interval:
            self._line(now)

    def advance(self, k: int = 1, postfix: str = "") -> None:
        self.update(self.n + k, postfix)

    def close(self) -> None:
        """End the bar, or write the final plain line (unless one was just written)."""
        if not self.enabled:
            return
        self.enabled = False
        if self.bar is not None:
            self.bar.close()
        elif self.last_line is None or self.n != self._last_n:
            self._line(self.clock())

    def _line(self, now: float) -> None:
        self.last_line, self._last_n = now, self.n
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        text = f"{self.desc}: {done} {self.unit}{share} [{format_seconds(now - self.start)}]"
        self.stream.write(f"{text} {self.postfix}".rstrip() + "\n")
        self.stream.flush()

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def format_seconds(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour)."""
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
