"""Progressive decoding from byte streams: in-memory streams, tiny pieces, a growing file."""
from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest

from nfcodec import container
from nfcodec.codec import EncodeConfig, decode_bytes, encode_image
from nfcodec.errors import NffError, TruncatedFile
from nfcodec.modalities.image import ImageSignal
from nfcodec.streaming import StreamDecoder, follow_file, progressive_decode


@pytest.fixture(scope="module")
def nff(sample_pixels) -> bytes:
    signal = ImageSignal(sample_pixels[100:164, 200:296], 8)
    return encode_image(signal, EncodeConfig(stages=3, steps=3, transform="rpp")).data


def test_from_a_file_object_every_width_matches_a_whole_file_decode(nff):
    seen = list(progressive_decode(io.BytesIO(nff)))
    assert [k for k, _ in seen] == [1, 2, 3]
    for k, pixels in seen:
        assert np.array_equal(pixels, decode_bytes(nff, width=k).pixels)


def test_from_tiny_pieces_and_stopping_at_a_width(nff):
    pieces = [nff[i : i + 97] for i in range(0, len(nff), 97)]
    consumed = []

    def source():
        for p in pieces:
            consumed.append(len(p))
            yield p

    seen = list(progressive_decode(source(), max_width=2))
    assert [k for k, _ in seen] == [1, 2]
    header = container.read_header(nff)
    assert sum(consumed) < header.prefix_bytes(2) + 97  # stopped reading once width 2 was in
    assert np.array_equal(seen[-1][1], decode_bytes(nff, width=2).pixels)


def test_feed_reports_widths_and_ignores_bytes_past_what_it_wants(nff):
    decoder = StreamDecoder(max_width=1)
    assert decoder.feed(nff[:10]) == [] and decoder.header is None
    assert decoder.feed(nff[10:] + b"trailing garbage") == [1]
    assert decoder.done and len(decoder.buffer) == container.read_header(nff).prefix_bytes(1)


def test_streams_that_end_early_or_carry_garbage(nff):
    header = container.read_header(nff)
    with pytest.raises(TruncatedFile, match="before the first stage"):
        list(progressive_decode(io.BytesIO(nff[: header.prefix_bytes(1) - 1])))
    broken = bytearray(nff)
    broken[header.prefix_bytes(1) - 6] ^= 0xFF  # inside stage 1's chunk: its CRC fails
    with pytest.raises(NffError):
        list(progressive_decode(io.BytesIO(bytes(broken))))
    with pytest.raises(NffError):
        list(progressive_decode(io.BytesIO(b"GIF89a" + bytes(100))))


def test_follow_a_file_while_it_is_written(nff, tmp_path):
    path = tmp_path / "growing.nff"
    path.write_bytes(b"")
    header = container.read_header(nff)
    cuts = [0, header.header_end + 5, header.prefix_bytes(1) + 3, header.prefix_bytes(2), len(nff)]

    def writer():
        with open(path, "ab") as fh:
            for a, b in zip(cuts, cuts[1:]):
                time.sleep(0.05)
                fh.write(nff[a:b])
                fh.flush()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = [k for k, _ in progressive_decode(follow_file(path, poll=0.01, idle_timeout=5))]
    thread.join()
    assert seen == [1, 2, 3]


def test_cli_progressive_on_a_local_file(nff, tmp_path):
    import imageio.v3 as iio
    from cli_support import assert_one_line_error, run

    from nfcodec.errors import ExitStatus

    path = tmp_path / "f.nff"
    path.write_bytes(nff)
    out = tmp_path / "live.png"
    result = run("decode", str(path), "--progressive", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert np.array_equal(iio.imread(out), decode_bytes(nff).pixels)
    header = container.read_header(nff)
    cut = tmp_path / "cut.nff"
    cut.write_bytes(nff[: header.prefix_bytes(2) + 5])
    result = run("decode", str(cut), "--progressive", "-o", str(out), "--timeout", "0.3", "--json")
    assert result.exit_code == 0, result.output
    assert "decoded width 2 of 3" in result.stderr
    assert_one_line_error(run("decode", str(cut), "--progressive", "--strict", "-o", str(out)),
                          ExitStatus.USAGE_ERROR, "cannot be combined")
    assert_one_line_error(run("decode", str(path), "--progressive", "--width", "7", "-o", str(out)),
                          ExitStatus.USAGE_ERROR, "out of range")
