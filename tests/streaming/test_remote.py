"""Remote decoding against real HTTP servers on loopback (werkzeug): Range-capable, ignoring
Range, redirecting, cutting a response short, stalling, dying mid-transfer."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nfcodec import container
from nfcodec.codec import EncodeConfig, decode_bytes, encode, info
from nfcodec.errors import ExitStatus, TruncatedFile
from nfcodec.remote import INITIAL_BYTES, RangeFetcher, RemoteError
from nfcodec.streaming import decode_url, info_url

from http_servers import FileServer

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "kodim23.png"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[Path, bytes]:
    """The bundled Kodak sample, encoded briefly (the default architecture, 4 stages), with
    float32 tables so that, as in a fully trained default file, stage 1 ends past the first
    request's 4 KiB."""
    root = tmp_path_factory.mktemp("served")
    encode(SAMPLE, root / "k.nff", EncodeConfig(steps=2, transform="none", dtype="f32"))
    data = (root / "k.nff").read_bytes()
    (root / "short.nff").write_bytes(data[: container.read_header(data).prefix_bytes(3) - 10])
    return root, data


@pytest.fixture()
def server(served):
    srv = FileServer(served[0], stall=2.5)
    yield srv
    srv.stop()


def test_the_sample_file_needs_more_than_the_first_request_for_stage_1(served):
    # what makes the byte-exactness below meaningful: the first request (INITIAL_BYTES) ends
    # inside stage 1, so "header + stages 1..k" is exactly what any width costs
    header = container.read_header(served[1])
    assert header.header_end < INITIAL_BYTES < header.prefix_bytes(1)


@pytest.mark.parametrize("width", [1, 2, 4])
def test_width_k_downloads_exactly_the_header_and_stages_1_to_k(served, server, width):
    data = served[1]
    header = container.read_header(data)
    result, stats = decode_url(server.url("range", "k.nff"), width=width)
    assert np.array_equal(result.pixels, decode_bytes(data, width=width).pixels)
    # a prefix fetched by design is not a truncated file
    assert (result.width, result.complete, result.widths_available, result.note) == (width, True, 4, None)
    assert stats.requests == 2 and stats.retries == 0
    assert stats.bytes_fetched == header.prefix_bytes(width) == server.bytes_sent()
    assert [e.status for e in server.log] == [206, 206]
    assert server.log[0].range == f"bytes=0-{INITIAL_BYTES - 1}"


def test_info_is_one_request(served, server):
    summary, stats = info_url(server.url("range", "k.nff"))
    assert stats.requests == 1 and server.bytes_sent() == INITIAL_BYTES
    local = info(served[1])
    strip = lambda stages: [{k: v for k, v in s.items() if k != "present"} for s in stages]  # noqa: E731
    assert strip(summary["stages"]) == strip(local["stages"]) and summary["file_size"] == local["file_size"]
    assert summary["widths_available"] == 0 and summary["bytes_present"] == INITIAL_BYTES


def test_a_server_that_ignores_range_is_read_once_and_only_as_far_as_needed(served, server):
    header = container.read_header(served[1])
    result, stats = decode_url(server.url("norange", "k.nff"), width=2)
    assert np.array_equal(result.pixels, decode_bytes(served[1], width=2).pixels)
    assert stats.requests == 1 and stats.statuses == [200]
    assert stats.bytes_fetched == header.prefix_bytes(2)


def test_redirects_are_followed_and_the_final_location_reused(served, server):
    result, stats = decode_url(server.url("redirect", "k.nff"), width=1)
    assert np.array_equal(result.pixels, decode_bytes(served[1], width=1).pixels)
    assert stats.statuses == [302, 206, 206] and stats.requests == 3


def test_a_cut_response_is_resumed_from_the_last_byte(served, server):
    header = container.read_header(served[1])
    result, stats = decode_url(server.url("cut-once", "k.nff"), width=3)
    assert np.array_equal(result.pixels, decode_bytes(served[1], width=3).pixels)
    assert stats.retries == 1
    assert server.log[1].range == f"bytes={server.cut_after}-{INITIAL_BYTES - 1}"  # resumed, not restarted
    assert stats.bytes_fetched == header.prefix_bytes(3)


def test_a_stalled_server_times_out_and_the_retry_succeeds(served, server):
    result, stats = decode_url(server.url("slow-once", "k.nff"), width=1, timeout=0.8)
    assert np.array_equal(result.pixels, decode_bytes(served[1], width=1).pixels)
    assert stats.retries >= 1


def test_a_truncated_copy_on_the_server_decodes_what_it_holds(served, server):
    result, _ = decode_url(server.url("range", "short.nff"))
    assert (result.width, result.complete, result.widths_available) == (2, False, 2)
    assert "server's copy is truncated" in result.note
    assert np.array_equal(result.pixels, decode_bytes(served[1], width=2).pixels)
    with pytest.raises(TruncatedFile):
        decode_url(server.url("range", "short.nff"), strict=True)


def test_416_means_the_server_copy_ends_there(served, server):
    short = (served[0] / "short.nff").read_bytes()
    with RangeFetcher(server.url("range", "short.nff")) as fetcher:
        fetcher.data = bytearray(short)  # as if every byte the server has were held already
        fetcher.fetch_to(len(short) + 100)
        assert fetcher.stats.statuses == [416] and fetcher.total == len(short)
        fetcher.expect_size(len(served[1]))
        assert fetcher.truncated


def test_giving_up_and_http_errors(served, server):
    with pytest.raises(RemoteError, match="HTTP 404"):
        decode_url(server.url("range", "missing.nff"))
    assert len(server.log) == 1  # a 404 is not retried
    with pytest.raises(RemoteError, match="gave up after 3 failed attempts"):
        decode_url(server.url("die", "k.nff"), retries=2, timeout=1.0)


def test_progressive_decoding_reports_every_width_as_it_arrives(served, server):
    seen = []
    result, stats = decode_url(server.url("range", "k.nff"), on_width=lambda r: seen.append((r.width, r.pixels)))
    assert [k for k, _ in seen] == [1, 2, 3, 4] and stats.requests == 2
    for k, pixels in seen:
        assert np.array_equal(pixels, decode_bytes(served[1], width=k).pixels)
    assert np.array_equal(result.pixels, seen[-1][1])


# ---- the command line ----------------------------------------------------------------------


def test_cli_decode_url_json_and_progressive(served, server, tmp_path):
    import imageio.v3 as iio
    from cli_support import run

    out = tmp_path / "w2.png"
    result = run("decode", server.url("range", "k.nff"), "--width", "2", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    js = json.loads(result.stdout)
    header = container.read_header(served[1])
    assert (js["width"], js["requests"], js["bytes_fetched"]) == (2, 2, header.prefix_bytes(2))
    assert np.array_equal(iio.imread(out), decode_bytes(served[1], width=2).pixels)
    live = tmp_path / "live.png"
    result = run("decode", server.url("range", "k.nff"), "--progressive", "-o", str(live))
    assert result.exit_code == 0, result.output
    assert result.stderr.count("wrote") == 4
    assert np.array_equal(iio.imread(live), decode_bytes(served[1]).pixels)
    result = run("info", server.url("range", "k.nff"), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["requests"] == 1


def test_cli_failures_are_one_line_and_leave_no_output(served, server, tmp_path):
    from cli_support import assert_one_line_error, run

    out = tmp_path / "never.png"
    result = run("decode", server.url("range", "nothing.nff"), "-o", str(out))
    assert_one_line_error(result, ExitStatus.DATA_ERROR, "404")
    result = run("decode", server.url("die", "k.nff"), "-o", str(out), "--retries", "1", "--timeout", "1")
    assert_one_line_error(result, ExitStatus.DATA_ERROR, "gave up")
    assert not out.exists() and not list(tmp_path.iterdir())
