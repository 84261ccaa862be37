"""Where a shard's bytes come from: a local file, a command's output, an http(s) or fsspec URL.

Locations, as the ``webdataset`` package spells them::

    shards/000003.tar                         a local file
    pipe:aws s3 cp s3://bucket/000003.tar -   the standard output of a shell command
    https://host/data/000003.tar              streamed over HTTP(S), with timeouts and retries
    s3://bucket/data/000003.tar               any other URL, through fsspec (``simclip[remote]``)

HTTP: every connection and read waits at most ``HTTP_TIMEOUT_S``; a failed connection, a 5xx
answer or a read that breaks off mid-stream is retried ``HTTP_RETRIES`` times with growing pauses,
a broken-off read resuming where it stopped (a ``Range`` request). A 4xx answer is not retried.
A ``pipe:`` command that exits with a non-zero status is an error, unless the reader stopped
early and closed the pipe (SIGPIPE). Every failure is a :class:`ShardSourceError` naming the
location.
"""
from __future__ import annotations

import contextlib
import http.client
import io
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from simclip.data.shards.errors import ShardSourceError

HTTP_TIMEOUT_S = 30.0
HTTP_RETRIES = 3
RETRY_PAUSE_S = 0.25  # doubled after each failed try
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SIGPIPE = {-signal.SIGPIPE, 128 + signal.SIGPIPE}  # killed by it, or a shell reporting that


def is_remote(location: str) -> bool:
    """True for ``pipe:`` commands and URLs (``scheme://``), False for local paths."""
    return location.startswith("pipe:") or _URL.match(location) is not None


def sibling(location: str, name: str) -> str | None:
    """The location of file ``name`` in the same folder as ``location`` (None for ``pipe:``)."""
    if location.startswith("pipe:"):
        return None
    if _URL.match(location):
        return f"{location.rsplit('/', 1)[0]}/{name}"
    return str(Path(location).parent / name)


def join(folder: str, name: str) -> str:
    """``folder/name`` for a local folder or a URL (not for ``pipe:``)."""
    return f"{folder.rstrip('/')}/{name}" if _URL.match(folder) else str(Path(folder) / name)


def read_optional(location: str) -> bytes | None:
    """The whole content of a small file, or None when it does not exist (a missing local file,
    HTTP 404, fsspec's FileNotFoundError). Other failures raise ``ShardSourceError``."""
    if not is_remote(location):
        path = Path(location)
        return path.read_bytes() if path.is_file() else None
    try:
        with open_location(location) as stream:
            return stream.read()
    except _Missing:
        return None


@contextlib.contextmanager
def open_location(location: str) -> Iterator[BinaryIO]:
    """A binary stream of the bytes at ``location``, closed (and its command ended) on exit.

    Raises:
        FileNotFoundError: a local file that does not exist.
        ShardSourceError: anything else that fails; the message names ``location``.
    """
    if location.startswith("pipe:"):
        with _pipe(location) as stream:
            yield stream
    elif location.startswith(("http://", "https://")):
        http = _HttpStream(location)
        with contextlib.closing(http), io.BufferedReader(http, 1 << 16) as buffered:
            yield buffered
    elif _URL.match(location):
        with _fsspec_open(location) as stream:
            yield stream
    else:
        with open(location, "rb") as stream:
            yield stream


class _Missing(ShardSourceError):
    """The location does not exist (HTTP 404 and the like)."""


@contextlib.contextmanager
def _pipe(location: str) -> Iterator[BinaryIO]:
    command = location[len("pipe:"):]
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE, stderr=stderr)
        assert proc.stdout is not None
        failed = False
        try:
            yield proc.stdout  # type: ignore[misc]
        except BaseException:
            failed = True
            raise
        finally:
            proc.stdout.close()  # a command still writing gets SIGPIPE
            status = proc.wait()
            if status != 0 and status not in _SIGPIPE:
                stderr.seek(0)
                lines = stderr.read().decode("utf-8", "replace").strip().splitlines()
                said = f": {lines[-1]}" if lines else ""
                error = ShardSourceError(f"{location}: the command exited with status {status}{said}")
                if failed:  # the reader's error is a consequence of this one
                    raise error from None
                raise error


def _fsspec_open(location: str) -> contextlib.AbstractContextManager[BinaryIO]:
    scheme = location.split("://", 1)[0]
    try:
        import fsspec
    except ImportError:
        raise ShardSourceError(f"{location}: reading {scheme}:// URLs needs fsspec "
                               "(pip install 'simclip[remote]')") from None
    try:
        return fsspec.open(location, "rb").open()
    except FileNotFoundError:
        raise _Missing(f"{location}: no such file") from None
    except ImportError as err:  # fsspec knows the scheme but its package (s3fs, gcsfs) is missing
        raise ShardSourceError(f"{location}: fsspec cannot open {scheme}:// URLs ({err})") from None
    except ValueError as err:
        raise ShardSourceError(f"{location}: unknown URL scheme {scheme!r} ({err})") from None
    except OSError as err:
        raise ShardSourceError(f"{location}: cannot open ({type(err).__name__}: {err})") from None


class _HttpStream(io.RawIOBase):
    """An HTTP(S) download read front to back; a read that breaks off resumes with ``Range``."""

    def __init__(self, url: str) -> None:
        self.url, self.position = url, 0
        self.response = self._connect()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        for attempt in range(HTTP_RETRIES + 1):
            try:
                count = self.response.readinto(buffer)
                if count == 0 and len(buffer) and self.response.length:  # closed before the end
                    raise http.client.IncompleteRead(b"", self.response.length)
                self.position += count
                return count
            except (OSError, http.client.HTTPException) as err:
                if attempt == HTTP_RETRIES:
                    raise ShardSourceError(f"{self.url}: the download broke off at byte "
                                           f"{self.position} ({type(err).__name__}: {err})") from None
                self.response.close()
                time.sleep(RETRY_PAUSE_S * 2 ** attempt)
                self.response = self._connect()
        raise AssertionError("unreachable")

    def close(self) -> None:
        if hasattr(self, "response"):
            self.response.close()
        super().close()

    def _connect(self) -> http.client.HTTPResponse:
        headers = {"Range": f"bytes={self.position}-"} if self.position else {}
        request = urllib.request.Request(self.url, headers=headers)
        for attempt in range(HTTP_RETRIES + 1):
            try:
                response = urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)
            except urllib.error.HTTPError as err:
                err.close()
                if err.code == 404:
                    raise _Missing(f"{self.url}: HTTP 404 {err.reason} (no such shard)") from None
                if err.code < 500 or attempt == HTTP_RETRIES:
                    raise ShardSourceError(f"{self.url}: HTTP {err.code} {err.reason}") from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
                if attempt == HTTP_RETRIES:
                    reason = getattr(err, "reason", err)
                    raise ShardSourceError(f"{self.url}: cannot connect after {attempt + 1} tries "
                                           f"({reason})") from None
            else:
                if self.position and response.status != 206:
                    response.close()
                    raise ShardSourceError(f"{self.url}: the download broke off at byte "
                                           f"{self.position} and the server cannot resume it")
                return response
            time.sleep(RETRY_PAUSE_S * 2 ** attempt)
        raise AssertionError("unreachable")
