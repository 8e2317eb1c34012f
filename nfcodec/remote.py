"""Reading `.nff` files over HTTP(S) with Range requests (formats/nff.md, 5.3), stdlib only.

A `RangeFetcher` grows a prefix of a remote file: `fetch_to(end)` makes sure the first `end`
bytes are held, with as few requests as it can:

* `206 Partial Content`: the bytes asked for; `Content-Range` must start where we asked, and a
  server that sends a shorter range than asked is simply asked again for the rest;
* `200 OK` (a server that ignores Range): the whole file from byte 0; the fetcher keeps that
  response open and reads from it only as far as it is asked to, so later calls continue it
  instead of downloading the start again;
* `416 Range Not Satisfiable`, or a body that ends cleanly before the header's file size: the
  server holds a truncated copy; the bytes held are what there is (`truncated` is set);
* redirects (to http/https only) are followed and counted as requests, and later requests go
  to the final location; `If-Range` with the first response's strong `ETag` (or
  `Last-Modified`) keeps a resumed download from joining two versions of a file;
* timeouts, resets, cut bodies and 5xx answers are retried with capped exponential back-off,
  resuming from the last byte held; errors that cannot improve (4xx, DNS, TLS) are not. After
  `retries` failures in a row, a one-line RemoteError;
* `timeout` bounds each wait for the server, `deadline` the whole download (every request from
  the first on): a watchdog cuts the connection when it passes, so a server that drips a byte
  at a time (which no per-read timeout notices) is given up on in time.

`bytes_fetched` counts every body byte received (also those of a 200 answer a client skips).
"""
from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from . import __version__, container
from .errors import InputError, TruncatedFile

INITIAL_BYTES = 4096  # first request: the whole header of typical files, and part of stage 1
READ_PIECE = 1 << 16
MAX_BACKOFF = 8.0  # seconds between retries at most
DEADLINE = 600.0  # seconds a whole download may take, by default
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


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Counts redirects as requests and follows them to http(s) URLs only."""

    def __init__(self, stats: FetchStats):
        super().__init__()
        self.stats = stats

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        self.stats.requests += 1
        self.stats.statuses.append(code)
        if not is_url(newurl):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-http(s) URL: {newurl}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _watched(base: type, on_socket: Callable[[socket.socket], None]) -> type:
    """`base` (an HTTP(S)Connection class) reporting each TCP socket as soon as it connects,
    before any TLS handshake, so that the fetcher's deadline watchdog can cut the handshake too."""

    class Watched(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            create = self._create_connection

            def create_watched(*a: Any, **kw: Any) -> socket.socket:
                sock = create(*a, **kw)
                on_socket(sock)
                return sock

            self._create_connection = create_watched

    return Watched


def _opener(stats: FetchStats, on_socket: Callable[[socket.socket], None]) -> urllib.request.OpenerDirector:
    plain = _watched(http.client.HTTPConnection, on_socket)

    class Plain(urllib.request.HTTPHandler):
        def http_open(self, req):  # type: ignore[override]
            return self.do_open(plain, req)

    handlers = [urllib.request.ProxyHandler(), Plain(), _Redirects(stats), urllib.request.HTTPDefaultErrorHandler(),
                urllib.request.HTTPErrorProcessor()]
    if hasattr(http.client, "HTTPSConnection"):  # Python built with ssl
        tls = _watched(http.client.HTTPSConnection, on_socket)

        class TLS(urllib.request.HTTPSHandler):
            def https_open(self, req):  # type: ignore[override]
                return self.do_open(tls, req, context=self._context)

        handlers.append(TLS())
    opener = urllib.request.OpenerDirector()
    for handler in handlers:
        opener.add_handler(handler)
    return opener


class _Retry(Exception):
    """A transient failure: retry from the bytes held."""


class RangeFetcher:
    def __init__(self, url: str, timeout: float = 10.0, retries: int = 4, backoff: float = 0.25, deadline: float = DEADLINE):
        if not is_url(url):
            raise InputError(f"not an http(s) URL: {url}")
        self.url = url
        self.timeout = timeout  # per connection attempt and per read
        self.retries = retries  # failures in a row before giving up
        self.backoff = backoff
        self.deadline = deadline  # seconds the whole download may take, from the first request on
        self._deadline_at: float | None = None
        self._expired = False  # the watchdog fired: whatever the connection did next is moot
        self._sock: socket.socket | None = None  # a duplicate of the connection in use (the watchdog cuts it)
        self._watchdog: threading.Timer | None = None
        self.data = bytearray()
        self.stats = FetchStats()
        self.total: int | None = None  # the file's size, once a response or the header says
        self.truncated = False  # the server's copy is shorter than the header declares
        self._declared: int | None = None  # the header's file size
        self._server_total: int | None = None  # the size the server reports
        self._validator: str | None = None
        self._open: http.client.HTTPResponse | None = None  # a 200 response being read on demand
        self._opener = _opener(self.stats, self._on_socket)

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None
        self._forget_socket()

    def __enter__(self) -> "RangeFetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def expect_size(self, size: int) -> None:
        """The size the header declares. A server copy that is shorter is a truncated file
        (the stages it holds still decode); a longer one is not this file."""
        self._declared = size
        if self._server_total is not None:
            self._agree_total(self._server_total)
        else:
            self.total = size

    def fetch_to(self, end: int, on_data: Callable[[bytes], None] | None = None) -> None:
        """Hold the first `end` bytes (all there are, if the server's copy is shorter).
        `on_data` sees each new piece as it arrives (progressive decoding)."""
        if len(self.data) >= (end if self.total is None else min(end, self.total)):
            return
        if self._deadline_at is None:
            self._deadline_at = time.monotonic() + self.deadline
        self._start_watchdog()
        try:
            self._fetch_loop(end, on_data)
        finally:
            self._stop_watchdog()
            if self._open is None:  # the duplicate would hold the finished connection open
                self._forget_socket()

    def _fetch_loop(self, end: int, on_data: Callable[[bytes], None] | None) -> None:
        failures = 0
        while len(self.data) < (end if self.total is None else min(end, self.total)):
            self._check_deadline()
            held = len(self.data)
            try:
                self._fetch_once(end, on_data)
            except _Retry as exc:
                self._check_deadline(exc)
                failures = 0 if len(self.data) > held else failures + 1  # progress resets the count
                if failures > self.retries:
                    self.close()
                    raise RemoteError(f"{self.url}: gave up after {failures} failed attempts in a row: {exc}") from None
                self.stats.retries += 1
                pause = min(MAX_BACKOFF, self.backoff * 2 ** max(0, failures - 1))
                if time.monotonic() + pause > self._deadline_at:
                    self._give_up(exc)
                time.sleep(pause)

    # ---- the deadline ----------------------------------------------------------------------

    def _start_watchdog(self) -> None:
        self._watchdog = threading.Timer(max(0.0, self._deadline_at - time.monotonic()), self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _deliver(self, on_data: Callable[[bytes], None], piece: bytes) -> None:
        """`on_data(piece)` with the deadline's clock stopped: the deadline bounds the download,
        not what the caller does with it (a progressive decode renders each width in there)."""
        self._stop_watchdog()
        started = time.monotonic()
        try:
            on_data(piece)
        finally:
            self._deadline_at += time.monotonic() - started
            self._start_watchdog()

    def _on_socket(self, sock: socket.socket) -> None:
        """A new connection. The watchdog cuts a duplicate of its descriptor: shutting the
        socket down through it stops the TLS handshake and any read, and never touches the
        SSLSocket's own state from the timer thread."""
        self._forget_socket()
        self._sock = sock.dup()
        if self._expired:  # connected just as the deadline passed
            self._cut()

    def _forget_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _expire(self) -> None:
        """The watchdog: runs on a timer thread when the deadline passes."""
        self._expired = True
        self._cut()

    def _cut(self) -> None:
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked on a dripping server
            except OSError:
                pass

    def _check_deadline(self, exc: BaseException | None = None) -> None:
        if self._expired or (self._deadline_at is not None and time.monotonic() >= self._deadline_at):
            self._give_up(exc)

    def _give_up(self, exc: BaseException | None) -> None:
        why = f": {exc}" if exc is not None and not self._expired else ""  # after a cut, the error is ours
        self._expired = True
        self.close()
        raise RemoteError(f"{self.url}: gave up after {self.deadline:g} s (the deadline), at byte {len(self.data)}{why}") from None

    # ---- one attempt ---------------------------------------------------------------------

    def _fetch_once(self, end: int, on_data: Callable[[bytes], None] | None) -> None:
        if self._open is not None:
            self._read_body(self._open, end, on_data)
            return
        start = len(self.data)
        headers = {"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity", "User-Agent": f"nfcodec/{__version__}"}
        if self._validator and start > 0:
            headers["If-Range"] = self._validator
        self.stats.requests += 1
        try:
            # no longer than the deadline leaves: the connection and its handshake included
            wait = max(0.01, min(self.timeout, self._deadline_at - time.monotonic()))
            response = self._opener.open(urllib.request.Request(self.url, headers=headers), timeout=wait)
        except urllib.error.HTTPError as exc:
            self.stats.statuses.append(exc.code)
            exc.close()
            if exc.code == 416:  # nothing from `start` on: the server's copy ends here
                self._server_copy_ends()
                return
            if exc.code >= 500 or exc.code in (408, 429):
                raise _Retry(f"HTTP {exc.code} {exc.reason}") from None
            raise RemoteError(f"{self.url}: HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (socket.gaierror, ssl.SSLError)):
                raise RemoteError(f"{self.url}: {_reason(exc)}") from None  # retrying cannot help
            raise _Retry(_reason(exc)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(_reason(exc)) from None
        except ValueError as exc:  # a URL urllib cannot use
            raise RemoteError(f"{self.url}: {exc}") from None
        try:
            self.stats.statuses.append(response.status)
            self.url = response.geturl() or self.url  # after a redirect, ask the final location next time
            self._check_validator(response, start)
            if response.status == 206:
                range_end = self._check_content_range(response, start)
                self._read_body(response, min(end, range_end), on_data, close=True)
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
                raise RemoteError(f"{self.url}: unexpected HTTP {response.status}")
        except BaseException:
            self._drop(response)
            raise

    def _read_body(self, response: http.client.HTTPResponse, end: int, on_data: Callable[[bytes], None] | None,
                   close: bool = False) -> None:
        """Read `response` until `end` bytes are held, each piece as soon as it arrives (read1:
        a slow server's bytes reach `on_data` without waiting for a whole piece). `on_data` is
        called outside the network error handling: its own failures (a full disk) are not
        mistaken for a dropped link."""
        while len(self.data) < end:
            try:
                piece = response.read1(min(READ_PIECE, end - len(self.data)))
            except (OSError, http.client.HTTPException) as exc:  # reset, timeout, cut body
                self._drop(response)
                raise _Retry(_reason(exc)) from None
            if not piece:
                self._drop(response)
                self._check_deadline()  # the watchdog's cut, not the end of the file
                if response.status == 200:
                    self._server_copy_ends()  # a clean end of the whole body: that is the file
                    return
                if self.total is not None and len(self.data) >= self.total:
                    return
                raise _Retry(f"the response ended early, at byte {len(self.data)}")
            self.stats.bytes_fetched += len(piece)
            self.data += piece
            if on_data is not None:
                self._deliver(on_data, piece)
        if close:
            response.close()

    def _skip(self, response: http.client.HTTPResponse, count: int) -> None:
        """Read and discard the first `count` bytes of a 200 body (we hold them already)."""
        try:
            while count:
                piece = response.read(min(READ_PIECE, count))
                if not piece:
                    self._check_deadline()
                    raise _Retry("the response ended early")
                self.stats.bytes_fetched += len(piece)
                count -= len(piece)
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(_reason(exc)) from None

    def _drop(self, response: http.client.HTTPResponse) -> None:
        response.close()
        if self._open is response:
            self._open = None

    # ---- consistency ---------------------------------------------------------------------

    def _server_copy_ends(self) -> None:
        """The server has no bytes past those held: a truncated copy (or, before the header is
        known, a file this short)."""
        self._server_total = None
        self._agree_total(len(self.data))

    def _check_validator(self, response: http.client.HTTPResponse, start: int) -> None:
        """Remember the first response's validator (a strong ETag, else Last-Modified) for
        If-Range; refuse a later response that carries a different one, or none."""
        etag = response.headers.get("ETag")
        validator = etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")
        if self._validator is None:
            self._validator = validator if start == 0 else None
        elif validator != self._validator:
            raise RemoteError(f"{self.url}: the file changed on the server while it was being fetched")

    def _check_content_range(self, response: http.client.HTTPResponse, start: int) -> int:
        """The exclusive end of the range a 206 carries (which may be shorter than asked)."""
        match = _CONTENT_RANGE.fullmatch((response.headers.get("Content-Range") or "").strip())
        if match is None or int(match.group(1)) != start or int(match.group(2)) < start:
            raise RemoteError(f"{self.url}: the server answered a range request with Content-Range {response.headers.get('Content-Range')!r}")
        if match.group(3) != "*":
            self._agree_total(int(match.group(3)))
        return int(match.group(2)) + 1

    def _agree_total(self, size: int) -> None:
        """The file's size as the server reports it: constant across responses, and at most
        what the header declares (less: a truncated copy)."""
        if self._server_total is not None and size != self._server_total:
            raise RemoteError(f"{self.url}: the file changed on the server ({size} bytes, was {self._server_total})")
        if self._declared is not None and size > self._declared:
            raise RemoteError(f"{self.url}: the server reports {size} bytes, the file's header says {self._declared}")
        self._server_total = self.total = size
        self.truncated = self._declared is not None and size < self._declared


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


def fetch_header(fetcher: RangeFetcher, initial: int = INITIAL_BYTES) -> container.Header:
    """Fetch and parse the header: one request when it fits in `initial` bytes."""
    fetcher.fetch_to(initial)
    need = container.header_bytes_needed(bytes(fetcher.data[:16]))
    if need is None:
        raise TruncatedFile(f"{fetcher.url}: only {len(fetcher.data)} bytes: not a complete .nff header")
    if need > len(fetcher.data):
        fetcher.fetch_to(need)
        if need > len(fetcher.data):
            raise TruncatedFile(f"{fetcher.url}: the file ends inside its header ({len(fetcher.data)} of {need} bytes)")
    header = container.read_header(bytes(fetcher.data[:need]))
    fetcher.expect_size(header.file_size)
    return header
