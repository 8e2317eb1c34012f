"""Real HTTP servers on loopback for the streaming tests: werkzeug's WSGI server (threaded),
serving files with werkzeug's own Range support (`send_file(conditional=True)`: 206,
Content-Range, If-Range, 416), or configured to ignore Range, cut responses short, redirect,
stall, or vanish. Every response's status, Range and If-Range headers and body bytes sent are
logged.

Servers that lie (the fault tests), by URL mode:

* `shift`: a 206 for a range `shift_by` bytes later than asked (its Content-Range says so);
* `overtotal`: the right bytes, with a Content-Range total larger than the file;
* `wobble`: the right bytes, with a total one byte short from the second request on;
* `swap`: from the second request on, the file `swaps[name]` instead (with its own ETag; If-Range
  is honoured, so a resumed request gets a 200 with the whole other file); `swap-206`: the
  same, ignoring If-Range (a 206 range of the other file); `swap-same-etag`: the other file's
  bytes under the first file's validators and size (a liar no If-Range can catch);
* `drip`: the body `drip_bytes` at a time, one piece every `drip_interval` seconds (for at most
  `drip_for` seconds, then the connection is dropped).

`Trickle` is a raw socket server that drips its whole answer, status line and headers
included, a byte at a time.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response


LIARS = frozenset({"shift", "overtotal", "wobble", "swap", "swap-206", "swap-same-etag", "drip"})
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


def _send(path: Path, environ: dict):
    try:
        return send_file(path, environ, conditional=True, max_age=0)
    except HTTPException as exc:
        return exc.get_response(environ)


@dataclass
class LogEntry:
    path: str
    range: str | None
    status: int
    sent: int = 0
    if_range: str | None = None


@dataclass
class FileServer:
    root: Path
    cut_after: int = 1000  # /cut-once/ and /die/ stop sending after this many body bytes
    stall: float = 2.0  # /slow-once/ waits this long before its first answer
    shift_by: int = 100  # /shift/
    swaps: dict[str, str] = field(default_factory=dict)  # /swap*/: name -> the file served instead
    drip_bytes: int = 1  # /drip/
    drip_interval: float = 1.0
    drip_for: float = 30.0
    log: list[LogEntry] = field(default_factory=list)
    _cut_done: set = field(default_factory=set)
    _stalled: set = field(default_factory=set)
    _seen: dict = field(default_factory=dict)  # name -> requests so far, and the first validators
    _stopped: bool = False

    def __post_init__(self) -> None:
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def url(self, mode: str, name: str) -> str:
        return f"{self.base}/{mode}/{name}"

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.server.shutdown()
        self.server.server_close()

    def bytes_sent(self) -> int:
        return sum(e.sent for e in self.log)

    def app(self, environ, start_response):
        request = Request(environ)
        _, mode, name = request.path.split("/", 2)
        path = self.root / name
        entry = LogEntry(request.path, request.headers.get("Range"), 0, if_range=request.headers.get("If-Range"))
        self.log.append(entry)
        if mode in LIARS and path.is_file():
            response = self._lie(mode, name, path, environ)
        elif mode == "redirect":
            response = Response(status=302, headers={"Location": f"/range/{name}"})
        elif not path.is_file():
            response = Response("not found", status=404)
        elif mode == "norange":
            response = send_file(path, environ, conditional=False, etag=False, max_age=0)
        else:
            if mode == "slow-once" and name not in self._stalled:
                self._stalled.add(name)
                time.sleep(self.stall)
            try:
                response = send_file(path, environ, conditional=True, max_age=0)
            except HTTPException as exc:  # what a framework does with werkzeug's 416
                response = exc.get_response(environ)
            cut = mode == "die" or (mode == "cut-once" and name not in self._cut_done)
            if cut and response.status_code in (200, 206):
                self._cut_done.add(name)
                response.direct_passthrough = False
                body = b"".join(response.iter_encoded())[: self.cut_after]
                # declare the full length, send a part, then drop the connection
                response.response = [body]
                response.headers["Connection"] = "close"
                if mode == "die":  # and then the server goes away for good
                    threading.Timer(0.05, self.stop).start()
        entry.status = response.status_code

        def counting(iterable):
            for piece in iterable:
                entry.sent += len(piece)
                yield piece

        return counting(response(environ, start_response))

    def _lie(self, mode: str, name: str, path: Path, environ: dict):
        """A lying answer (the modes are in the module's docstring)."""
        count, validators = self._seen.get(name, (0, None))
        environ = dict(environ)
        if mode == "shift" and (m := _RANGE.fullmatch(environ.get("HTTP_RANGE", ""))):
            start, stop = int(m.group(1)) + self.shift_by, m.group(2) and int(m.group(2)) + self.shift_by
            environ["HTTP_RANGE"] = f"bytes={start}-{stop}"
        later = count > 0 and mode.startswith("swap")
        if later:
            path = path.parent / self.swaps[name]
            if mode != "swap":
                environ.pop("HTTP_IF_RANGE", None)
        response = _send(path, environ)
        if count == 0:
            validators = (response.headers.get("ETag"), response.headers.get("Last-Modified"))
        self._seen[name] = (count + 1, validators)
        content_range = response.headers.get("Content-Range")
        if content_range and (mode == "overtotal" or (mode == "wobble" and count > 0)):
            head, total = content_range.rsplit("/", 1)
            response.headers["Content-Range"] = f"{head}/{int(total) + (1000 if mode == 'overtotal' else -1)}"
        if later and mode == "swap-same-etag":
            response.headers["ETag"], response.headers["Last-Modified"] = validators
            if content_range:
                response.headers["Content-Range"] = f"{content_range.rsplit('/', 1)[0]}/{(self.root / name).stat().st_size}"
        if mode == "drip" and response.status_code in (200, 206):
            response.direct_passthrough = False
            body = b"".join(response.iter_encoded())
            response.response = _dripping(body, self.drip_bytes, self.drip_interval, self.drip_for)
        return response


def _dripping(body: bytes, size: int, interval: float, limit: float):
    until = time.monotonic() + limit
    for at in range(0, len(body), size):
        if time.monotonic() > until:
            return  # shorter than Content-Length: the server drops the connection
        yield body[at:at + size]
        time.sleep(interval)


class Trickle:
    """A raw HTTP server that sends `answer` (status line, headers and body) `interval`
    seconds a byte, to every connection, for at most `limit` seconds each."""

    def __init__(self, answer: bytes, interval: float = 1.0, limit: float = 30.0):
        self.answer, self.interval, self.limit = answer, interval, limit
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/trickle.nff"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        until = time.monotonic() + self.limit
        with conn:
            try:
                conn.recv(65536)  # the request: whatever it asks, the answer is the same
                for byte in self.answer:
                    if self._stopped.is_set() or time.monotonic() > until:
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(self.interval)
            except OSError:
                return  # the client gave up

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
