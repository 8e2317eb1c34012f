"""Reading `.nff` files over HTTP(S) with Range requests (formats/nff.md, 5.3), stdlib only.

A `RangeFetcher` grows a prefix of a remote file: `fetch_to(end)` makes sure the first `end`
bytes are held, with as few requests as it can:

* `206 Partial Content`: the bytes asked for; `Content-Range` must start where we asked and
  name the same total size as before (else the file changed: error);
* `200 OK` (a server that ignores Range): the whole file from byte 0; the fetcher keeps that
  response open and reads from it only as far as it is asked to, so later calls continue it
  instead of downloading the start again;
* `416 Range Not Satisfiable`: the file is shorter than its header says: a truncated file;
* redirects are followed (and counted as requests); `If-Range` with the first response's
  `ETag` / `Last-Modified` keeps a resumed download from joining two versions of a file;
* timeouts, resets, truncated bodies and 5xx answers are retried with exponential back-off,
  resuming from the last byte held; after `retries` failures a one-line RemoteError.

`bytes_fetched` counts every body byte received (also those of a 200 answer a client skips).
"""
from __future__ import annotations

import http.client
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable

from . import __version__, container
from .errors import InputError, TruncatedFile

INITIAL_BYTES = 4096  # first request: the whole header of typical files, and part of stage 1
READ_PIECE = 1 << 16
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class RemoteError(InputError):
    """The remote file could not be fetched (after retries) or changed while being fetched."""


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


@dataclass
class FetchStats:
    requests: int = 0  # HTTP requests sent, redirects and retries included
    bytes_fetched: int = 0  # body bytes received
    retries: int = 0
    statuses: list[int] = field(default_factory=list)


class _CountingRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, stats: FetchStats):
        super().__init__()
        self.stats = stats

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        self.stats.requests += 1
        self.stats.statuses.append(code)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Retry(Exception):
    """A transient failure: retry from the bytes held."""


class RangeFetcher:
    def __init__(self, url: str, timeout: float = 10.0, retries: int = 4, backoff: float = 0.25):
        if not is_url(url):
            raise InputError(f"not an http(s) URL: {url}")
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.data = bytearray()
        self.stats = FetchStats()
        self.total: int | None = None  # the file's size, once a response or the header says
        self.truncated = False  # the server's copy is shorter than the header declares
        self._validator: str | None = None
        self._open: http.client.HTTPResponse | None = None  # a 200 response being read on demand
        self._opener = urllib.request.build_opener(_CountingRedirects(self.stats))

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def __enter__(self) -> "RangeFetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def expect_size(self, size: int) -> None:
        """The size the header declares. A server copy that is shorter is a truncated file
        (the stages it holds still decode); a longer one is not this file."""
        if self.total is not None and self.total > size:
            raise RemoteError(f"{self.url}: the server reports {self.total} bytes, the file's header says {size}")
        if self.total is None:
            self.total = size
        self.truncated = self.total < size

    def fetch_to(self, end: int, on_data: Callable[[bytes], None] | None = None) -> None:
        """Hold at least the first `end` bytes (all of them if the file is shorter). `on_data`
        sees each new piece as it arrives (progressive decoding)."""
        failures = 0
        while len(self.data) < (end if self.total is None else min(end, self.total)):
            try:
                self._fetch_once(end, on_data)
            except _Retry as exc:
                failures += 1
                if failures > self.retries:
                    self.close()
                    raise RemoteError(f"{self.url}: gave up after {failures} attempts: {exc}") from None
                self.stats.retries += 1
                time.sleep(self.backoff * 2 ** (failures - 1))

    # ---- one attempt ---------------------------------------------------------------------

    def _fetch_once(self, end: int, on_data: Callable[[bytes], None] | None) -> None:
        if self._open is not None:
            self._read_body(self._open, end, on_data)
            return
        start = len(self.data)
        headers = {"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity", "User-Agent": f"nfcodec/{__version__}"}
        if self._validator and start > 0:
            headers["If-Range"] = self._validator
        request = urllib.request.Request(self.url, headers=headers)
        self.stats.requests += 1
        try:
            response = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            self.stats.statuses.append(exc.code)
            exc.close()
            if exc.code == 416:
                raise TruncatedFile(f"{self.url}: the server has no bytes from {start} on (416): the file is shorter than its header says") from None
            if exc.code >= 500 or exc.code == 429:
                raise _Retry(f"HTTP {exc.code} {exc.reason}") from None
            raise RemoteError(f"{self.url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise _Retry(_reason(exc)) from None
        self.stats.statuses.append(response.status)
        self.url = response.geturl() or self.url  # after a redirect, ask the final location next time
        self._check_validator(response)
        if response.status == 206:
            self._check_content_range(response, start)
            self._read_body(response, end, on_data, close=True)
        elif response.status == 200:
            # The whole file from byte 0 (a server without Range support; a newer version would
            # have failed the validator check above): skip what we hold, read on demand.
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit():
                self._agree_total(int(length))
            if start:
                self._skip(response, start)
            self._open = response
            self._read_body(response, end, on_data)
        else:
            response.close()
            raise RemoteError(f"{self.url}: unexpected HTTP {response.status}")

    def _read_body(self, response: http.client.HTTPResponse, end: int, on_data: Callable[[bytes], None] | None, close: bool = False) -> None:
        try:
            self._read_into(response, end, on_data)
        finally:
            if close:
                response.close()

    def _read_into(self, response: http.client.HTTPResponse, end: int, on_data: Callable[[bytes], None] | None) -> None:
        try:
            while len(self.data) < end:
                piece = response.read(min(READ_PIECE, end - len(self.data)))
                if not piece:
                    self._drop(response)
                    if self.total is not None and len(self.data) >= self.total:
                        return  # the whole file is held
                    raise _Retry(f"the response ended early, at byte {len(self.data)}")
                self.stats.bytes_fetched += len(piece)
                self.data += piece
                if on_data is not None:
                    on_data(piece)
        except (OSError, http.client.HTTPException) as exc:  # reset, timeout, incomplete read
            self._drop(response)
            raise _Retry(_reason(exc)) from None

    def _skip(self, response: http.client.HTTPResponse, count: int) -> None:
        """Read and discard the first `count` bytes of a 200 body (we hold them already)."""
        try:
            while count:
                piece = response.read(min(READ_PIECE, count))
                if not piece:
                    raise _Retry("the response ended early")
                self.stats.bytes_fetched += len(piece)
                count -= len(piece)
        except (OSError, http.client.HTTPException) as exc:
            self._drop(response)
            raise _Retry(_reason(exc)) from None

    def _drop(self, response: http.client.HTTPResponse) -> None:
        response.close()
        if self._open is response:
            self._open = None

    # ---- consistency ---------------------------------------------------------------------

    def _check_validator(self, response: http.client.HTTPResponse) -> None:
        """Remember the first response's validator (a strong ETag, else Last-Modified) for
        If-Range; refuse a later response that carries a different one."""
        etag = response.headers.get("ETag")
        validator = etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")
        if validator is None:
            return
        if self._validator is None:
            self._validator = validator
        elif validator != self._validator:
            response.close()
            raise RemoteError(f"{self.url}: the file changed on the server while it was being fetched")

    def _check_content_range(self, response: http.client.HTTPResponse, start: int) -> None:
        match = _CONTENT_RANGE.fullmatch((response.headers.get("Content-Range") or "").strip())
        if match is None or int(match.group(1)) != start:
            response.close()
            raise RemoteError(f"{self.url}: the server answered a range request with Content-Range {response.headers.get('Content-Range')!r}")
        if match.group(3) != "*":
            self._agree_total(int(match.group(3)))

    def _agree_total(self, size: int) -> None:
        if self.total is not None and size != self.total:
            self.close()
            raise RemoteError(f"{self.url}: the file changed on the server ({size} bytes, was {self.total})")
        self.total = size


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


# ---- what the commands need -------------------------------------------------------------


def fetch_header(fetcher: RangeFetcher, initial: int = INITIAL_BYTES) -> container.Header:
    """Fetch and parse the header: one request when it fits in `initial` bytes."""
    fetcher.fetch_to(initial)
    need = container.header_bytes_needed(bytes(fetcher.data[:16]))
    if need is None:
        raise TruncatedFile(f"{fetcher.url}: only {len(fetcher.data)} bytes: not a complete .nff header")
    if need > len(fetcher.data):
        fetcher.fetch_to(need)
    header = container.read_header(bytes(fetcher.data[:need]))
    fetcher.expect_size(header.file_size)
    return header
