"""Progressive decoding from a byte stream: a reconstruction each time another stage arrives.

    for width, pixels in progressive_decode(stream):   # a file, a socket, an HTTP response,
        show(pixels)                                     # or any iterable of bytes

`StreamDecoder` is the push-style core (`feed(bytes)` returns the widths that became
decodable); `progressive_decode` pulls from a stream and yields (width, pixels) in order;
`follow_file` turns a file that is still being written (or downloaded) into such a stream.
Every byte goes through the same validation as a file on disk (nfcodec.container).
"""
from __future__ import annotations

import os
import time
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping

import numpy as np

from . import container
from .decoding import DecodeResult, Decoder, check_scale, decode_bytes, info
from .errors import TruncatedFile, UsageError
from .fsutil import input_file
from .remote import DEADLINE, READ_PIECE, FetchStats, RangeFetcher, fetch_header

MAX_HEADER_PREFIX = 8 + 12 + (1 << 20)  # signature + framing + the largest header (formats/nff.md, Limits)


class StreamDecoder:
    """Accumulates a file's bytes and decodes each width once its stage is complete."""

    def __init__(self, max_width: int | None = None, scale: float = 1.0, options: Mapping[str, Any] | None = None):
        if max_width is not None and max_width < 1:
            raise ValueError("max_width must be at least 1")
        self.buffer = bytearray()
        self.header: container.Header | None = None
        self.max_width = max_width
        self.scale, self.options = scale, options
        self.decoder: Decoder | None = None
        self.width = 0  # widths 1..width are decodable

    @property
    def target_width(self) -> int | None:
        """The last width this decoder wants (None until the header is known)."""
        if self.header is None:
            return None
        total = len(self.header.stages)
        return total if self.max_width is None else min(self.max_width, total)

    @property
    def done(self) -> bool:
        return self.target_width is not None and self.width >= self.target_width

    @property
    def bytes_wanted(self) -> int | None:
        """Bytes through the last wanted stage (None until the header is known)."""
        return None if self.header is None else self.header.prefix_bytes(self.target_width)

    def feed(self, data: bytes | bytearray | memoryview) -> list[int]:
        """Add bytes; returns the widths that became decodable (in order). Bytes beyond the
        last wanted stage are ignored (a stream may carry the rest of the file, or more)."""
        if self.done or not data:
            return []
        data = memoryview(data).cast("B")
        if self.header is None:
            # never hold more than the largest possible header before the header says more
            room = MAX_HEADER_PREFIX - len(self.buffer)
            self.buffer += data[:room]
            data = data[room:]
            need = container.header_bytes_needed(bytes(self.buffer[:16]))
            if need is None or len(self.buffer) < need:
                return []
            self.header = container.read_header(bytes(self.buffer[:need]))
            del self.buffer[self.bytes_wanted :]
        self.buffer += data[: max(0, self.bytes_wanted - len(self.buffer))]
        ready = []
        while self.width < self.target_width and len(self.buffer) >= self.header.prefix_bytes(self.width + 1):
            ready.append(self.width + 1)
            self.width += 1
        if ready:
            nff = container.read(bytes(self.buffer[: self.header.prefix_bytes(self.width)]))
            if self.decoder is None:
                self.decoder = Decoder(nff, self.scale, self.options)
            self.decoder.load(nff, self.width)
        return ready

    def render(self, width: int) -> np.ndarray:
        if self.decoder is None:
            raise TruncatedFile("no complete stage yet")
        return self.decoder.render(width)

    def result(self, width: int) -> DecodeResult:
        """Width `width` rendered, with what is known of the file so far."""
        total = len(self.header.stages)
        return DecodeResult(self.decoder, width, self.width, total, self.width == total, scale=float(self.scale))


def _pieces(stream: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(stream, "read", None)
    if read is None:
        yield from stream  # type: ignore[misc]
        return
    while True:
        piece = read(READ_PIECE)
        if not piece:
            return
        yield piece


def progressive_decode(
    stream: BinaryIO | Iterable[bytes], max_width: int | None = None, scale: float = 1.0, every_width: bool = True
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (width, pixels) as stages arrive from `stream` (an object with `read(n)`, or an
    iterable of byte strings), up to `max_width` (default: every stage); stops reading once it
    has that width. With every_width=False, when several stages arrive together only the
    largest is rendered. Raises TruncatedFile if the stream ends before the first stage."""
    decoder = StreamDecoder(max_width, scale)
    for piece in _pieces(stream):
        ready = decoder.feed(piece)
        for width in (ready if every_width else ready[-1:]):
            yield width, decoder.render(width)
        if decoder.done:
            return
    if decoder.width == 0:
        raise TruncatedFile(f"the stream ended after {len(decoder.buffer)} bytes, before the first stage was complete")


def follow_file(path: str | os.PathLike, poll: float = 0.05, idle_timeout: float = 30.0) -> Iterator[bytes]:
    """The bytes of a file that may still be growing (being written or downloaded), as they
    appear; ends when the file holds its whole `.nff` (NEND), or after `idle_timeout` seconds
    without growth. Close the generator to stop early."""
    with open(path, "rb") as fh:
        idle_since = time.monotonic()
        held = 0
        expected: int | None = None
        head = bytearray()
        while expected is None or held < expected:
            piece = fh.read(READ_PIECE)
            if piece:
                held += len(piece)
                idle_since = time.monotonic()
                if expected is None:
                    head += piece[: max(0, MAX_HEADER_PREFIX - len(head))]
                    need = container.header_bytes_needed(bytes(head[:16])) if len(head) >= 16 else None
                    if need is not None and len(head) >= need:
                        expected = container.read_header(bytes(head[:need])).file_size
                yield piece
            elif time.monotonic() - idle_since > idle_timeout:
                return
            else:
                time.sleep(poll)


def decode_growing_file(
    path: str | os.PathLike,
    width: int | None = None,
    scale: float = 1.0,
    idle_timeout: float = 30.0,
    on_width: Callable[[DecodeResult], None] | None = None,
    options: Mapping[str, Any] | None = None,
) -> DecodeResult:
    """Decode a local file that may still be growing (a download in progress): `on_width(result)`
    (`result.width`, `result.pixels`, `result.write(path)`) as each stage completes, until the
    file is complete, `width` is in, or the file has not grown for `idle_timeout` seconds.
    Returns the last width decoded."""
    input_file(path)
    stream = StreamDecoder(width, scale, options)
    last: DecodeResult | None = None
    seen = 0
    for piece in follow_file(path, idle_timeout=idle_timeout):
        seen += len(piece)
        ready = stream.feed(piece)
        if stream.header is not None and width is not None and width > len(stream.header.stages):
            raise UsageError(f"width {width} is out of range: the file has {len(stream.header.stages)} stage(s)")
        for k in ready:
            last = stream.result(k)
            if on_width is not None:
                on_width(last)
        if stream.done and width is not None:
            break  # the width asked for is in: no need to wait for the rest
    if stream.header is None or last is None:
        raise TruncatedFile(f"truncated file: no complete stage in {path} ({seen} bytes)")
    total = len(stream.header.stages)
    last.complete = os.path.getsize(path) >= stream.header.file_size
    last.widths_available = total if last.complete else last.width
    if not last.complete and last.width != (width or total):
        last.note = f"truncated file: decoded width {last.width} of {total}"
    return last


# ---- remote files ----------------------------------------------------------------------------


def decode_url(
    url: str,
    width: int | None = None,
    scale: float = 1.0,
    timeout: float = 10.0,
    retries: int = 4,
    on_width: Callable[[DecodeResult], None] | None = None,
    strict: bool = False,
    options: Mapping[str, Any] | None = None,
    deadline: float = DEADLINE,
) -> tuple[DecodeResult, FetchStats]:
    """Decode width `width` (default: all) of a remote `.nff`, fetching the header with one
    Range request and stages 1..width with a second (strict: the whole file). With `on_width`,
    the download is decoded as it arrives: `on_width(result)` for every width as soon as its
    stage is complete. `timeout` bounds each wait for the server, `deadline` the download."""
    check_scale(scale)
    with RangeFetcher(url, timeout=timeout, retries=retries, deadline=deadline) as fetcher:
        header = fetch_header(fetcher)
        total = len(header.stages)
        if width is not None and not 1 <= width <= total:
            raise UsageError(f"width {width} is out of range: the file has {total} stage(s)")
        if strict and width not in (None, total):
            raise UsageError("--strict decodes whole files: leave out --width")
        width = total if width is None else width
        end = header.file_size if strict else header.prefix_bytes(width)
        last: DecodeResult | None = None  # the last width the progressive decode rendered
        if on_width is None:
            fetcher.fetch_to(end)
        else:
            stream = StreamDecoder(width, scale, options)

            def feed(piece: bytes) -> None:
                nonlocal last
                for k in stream.feed(piece):
                    last = stream.result(k)
                    on_width(last)

            feed(bytes(fetcher.data))
            fetcher.fetch_to(end, on_data=feed)
        if last is not None and last.width == width and not strict:
            # the asked-for width is already rendered: do not decode it a second time
            result = last
            result.complete = len(fetcher.data) >= header.file_size
            result.note = None if result.complete else f"truncated file: decoded width {width} of {total}"
        else:
            result = decode_bytes(bytes(fetcher.data[:end]), width=width, scale=scale, strict=strict, options=options)
        if not strict:
            # what was fetched is a prefix by design: describe the remote file, not the prefix
            held = len(fetcher.data)
            result.complete = not fetcher.truncated
            result.widths_available = sum(1 for k in range(1, total + 1) if header.prefix_bytes(k) <= held) if fetcher.truncated else total
            if not fetcher.truncated:
                result.note = None
            elif result.note:
                result.note = f"the server's copy is truncated ({held} of {header.file_size} bytes): " + result.note.removeprefix("truncated file: ")
        return result, fetcher.stats


def info_url(url: str, timeout: float = 10.0, retries: int = 4, deadline: float = DEADLINE) -> tuple[dict[str, Any], FetchStats]:
    """`nfcodec.info` of a remote file from its header alone (one request for typical files)."""
    with RangeFetcher(url, timeout=timeout, retries=retries, deadline=deadline) as fetcher:
        fetch_header(fetcher)
        return info(bytes(fetcher.data)), fetcher.stats
