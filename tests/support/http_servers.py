"""Real HTTP servers on loopback for the streaming tests: werkzeug's WSGI server (threaded),
serving files with werkzeug's own Range support (`send_file(conditional=True)`: 206,
Content-Range, If-Range, 416), or configured to ignore Range, cut responses short, redirect,
stall, or vanish. Every response's status, Range header and body bytes sent are logged."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response


@dataclass
class LogEntry:
    path: str
    range: str | None
    status: int
    sent: int = 0


@dataclass
class FileServer:
    root: Path
    cut_after: int = 1000  # /cut-once/ and /die/ stop sending after this many body bytes
    stall: float = 2.0  # /slow-once/ waits this long before its first answer
    log: list[LogEntry] = field(default_factory=list)
    _cut_done: set = field(default_factory=set)
    _stalled: set = field(default_factory=set)
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
        entry = LogEntry(request.path, request.headers.get("Range"), 0)
        self.log.append(entry)
        if mode == "redirect":
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
