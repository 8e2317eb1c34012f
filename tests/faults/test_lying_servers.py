"""HTTP servers that lie (tests/support/http_servers.py): a range other than asked, a size that
disagrees with the file's header, another file on the second request, a drip of one byte a
second. Each gives its own one-line error, in time, with no output written, and never a
decode of bytes from two files."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import imageio.v3 as iio
import pytest
from cli_support import assert_one_line_error, run
from http_servers import FileServer, Trickle

from nfcodec import container
from nfcodec.codec import EncodeConfig, encode
from nfcodec.errors import ChunkChecksumError, ExitStatus
from nfcodec.remote import INITIAL_BYTES, RangeFetcher, RemoteError
from nfcodec.streaming import decode_url

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "kodim23.png"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """a.nff and b.nff: two crops, float32 tables, so stage 1 ends past the first request."""
    root = tmp_path_factory.mktemp("lying")
    pixels = iio.imread(SAMPLE)
    for name, crop in (("a", pixels[:96, :128]), ("b", pixels[200:296, 300:428])):
        iio.imwrite(root / f"{name}.png", crop)
        encode(root / f"{name}.png", root / f"{name}.nff", EncodeConfig(steps=1, transform="none", dtype="f32"))
    assert container.read_header((root / "a.nff").read_bytes()).prefix_bytes(1) > INITIAL_BYTES
    return root


@pytest.fixture()
def server(files):
    srv = FileServer(files, swaps={"a.nff": "b.nff"}, drip_bytes=1, drip_interval=1.0, drip_for=10.0)
    yield srv
    srv.stop()


# mode -> what the one-line error says; each needs its own check in nfcodec.remote
LIES = {
    "shift": "answered a range request with content-range 'bytes 100-4195/",  # start checked
    "overtotal": "the file's header says",  # total <= the header's file size
    "wobble": "the file changed on the server (",  # the same total in every response
    "swap": "the file changed on the server while it was being fetched",  # If-Range, then the ETag
    "swap-206": "the file changed on the server while it was being fetched",  # the ETag, If-Range ignored
}


@pytest.mark.parametrize("mode", LIES)
def test_a_lying_server_is_a_one_line_error_and_no_output(server, tmp_path, mode):
    out = tmp_path / "out.png"
    started = time.monotonic()
    result = run("decode", server.url(mode, "a.nff"), "--width", "1", "--retries", "0", "-o", str(out))
    assert_one_line_error(result, ExitStatus.DATA_ERROR, LIES[mode])
    assert time.monotonic() - started < 10 and not out.exists() and list(tmp_path.iterdir()) == []


def test_a_resumed_request_carries_if_range_and_a_changed_file_is_noticed(server):
    with pytest.raises(RemoteError, match="changed on the server while it was being fetched"):
        decode_url(server.url("swap", "a.nff"), width=1, retries=0)
    first, second = server.log
    etag = server._seen["a.nff"][1][0]
    assert etag and not etag.startswith("W/") and first.if_range is None
    # the client sent the first answer's strong ETag; the server, holding another file now,
    # answered 200 with all of it, which the client refused instead of skipping into it
    assert second.range == f"bytes={INITIAL_BYTES}-{container.read_header((server.root / 'a.nff').read_bytes()).prefix_bytes(1) - 1}"
    assert (second.if_range, second.status) == (etag, 200)


def test_another_file_under_the_same_validators_fails_its_crc_and_is_not_decoded(server):
    # no validator can catch this liar: the chunk's CRC does, since the switch is inside stage 1
    with pytest.raises(ChunkChecksumError):
        decode_url(server.url("swap-same-etag", "a.nff"), width=1, retries=0)
    assert [e.status for e in server.log] == [206, 206]


def test_a_body_that_drips_a_byte_a_second_is_given_up_at_the_deadline(server, tmp_path):
    out = tmp_path / "out.png"
    started = time.monotonic()
    result = run("decode", server.url("drip", "a.nff"), "--timeout", "5", "--deadline", "3", "--retries", "0", "-o", str(out))
    elapsed = time.monotonic() - started
    assert_one_line_error(result, ExitStatus.DATA_ERROR, "gave up after 3 s (the deadline)")
    # each byte comes within the 5 s timeout: only the deadline stops it (the server drips for 10 s)
    assert 3 <= elapsed < 4.5, elapsed
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_nfc_info_on_a_dripping_server_is_given_up_at_the_deadline(server):
    started = time.monotonic()
    result = run("info", server.url("drip", "a.nff"), "--timeout", "5", "--deadline", "2", "--retries", "0")
    assert_one_line_error(result, ExitStatus.DATA_ERROR, "gave up after 2 s (the deadline)")
    assert 2 <= time.monotonic() - started < 3.5


def test_a_server_that_drips_its_status_line_and_headers_is_given_up_at_the_deadline():
    trickle = Trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 99\r\n\r\n", interval=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"gave up after 2 s \(the deadline\), at byte 0$"):
            decode_url(trickle.url, width=1, timeout=5, retries=3, deadline=2)
        assert 2 <= time.monotonic() - started < 3
    finally:
        trickle.stop()


def test_the_deadline_counts_the_whole_download_not_each_request(files):
    # 1 KiB every 0.25 s: the header's request takes 0.75 s, stage 1's 2.25 s, each short of
    # the deadline; together they are not
    srv = FileServer(files, drip_bytes=1024, drip_interval=0.25, drip_for=30.0)
    try:
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"gave up after 2\.6 s \(the deadline\)"):
            decode_url(srv.url("drip", "a.nff"), width=1, timeout=5, retries=0, deadline=2.6)
        assert 2.6 <= time.monotonic() - started < 3.9
        assert len(srv.log) == 2  # the header arrived; stage 1 did not
    finally:
        srv.stop()


def test_a_server_that_never_completes_the_connection_is_given_up_at_the_deadline():
    """A listener whose backlog is full: the kernel drops further SYNs, so connecting hangs
    (as a black-holed host does); the deadline, not the 5 s timeout, ends it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # more than the backlog holds: later connects stay in SYN-SENT
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"gave up after 1 s \(the deadline\), at byte 0"):
            decode_url(f"http://127.0.0.1:{port}/a.nff", width=1, timeout=5, retries=3, deadline=1)
        assert time.monotonic() - started < 2.5
    finally:
        for sock in (*fillers, listener):
            sock.close()


def test_what_the_caller_does_with_the_bytes_is_not_counted_against_the_deadline(files):
    """A progressive decode renders each width inside the fetcher's callback. Here the first
    piece takes it 1.5 s, and the server sends 48 KiB over 2.4 s: past the 2 s deadline if the
    callback counted, 1.1 s short of it if not."""
    srv = FileServer(files, drip_bytes=2048, drip_interval=0.1, drip_for=30.0)
    pieces = []

    def slow_consumer(piece: bytes) -> None:
        if not pieces:
            time.sleep(1.5)
        pieces.append(len(piece))

    try:
        with RangeFetcher(srv.url("drip", "a.nff"), timeout=5, retries=0, deadline=2.0) as fetcher:
            fetcher.fetch_to(48 * 1024, on_data=slow_consumer)
            assert len(fetcher.data) == sum(pieces) == 48 * 1024
    finally:
        srv.stop()
